"""Reloading services.yaml into a running engine: on request (a key, SIGHUP) and when the file changes.

`reload_from_file(engine)` is the one call every trigger makes: it loads the
file with the normal loader and hands the result to `Engine.reload`. A file
with errors is refused with the loader's own `file:line: message` text, logged
as an ERROR event, and the running fleet goes on untouched.

The environment is the process's own: a reload interpolates `${VAR}` from the
environment Lookout started with (a running process's environment does not
change when a shell exports something); a new token needs a restart.

`ConfigWatcher` polls the file's identity (mtime, size, inode) instead of
using `watchfiles`: that would bring a native dependency to watch one small
file, where a stat a second costs nothing and a second's delay is fine. Polling
also sees what inotify-style watchers can miss for a single file: an editor
that saves by writing a new file and renaming it over the old one.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.clock import Clock, SystemClock
from core.config import ConfigError, load_config
from core.engine import Engine, ReloadReport
from core.events import LogLevel

logger = logging.getLogger(__name__)

POLL_INTERVAL = 1.0
"""Seconds between two looks at the file. A change applies at the second look that sees it (so within 2 s)."""

FileIdentity = tuple[int, int, int, int, int]
"""(device, inode, size, mtime ns, ctime ns): changes whenever the file is written or replaced."""


async def reload_from_file(engine: Engine, path: str | Path | None = None) -> ReloadReport | ConfigError:
    """Load `path` (default: the file the engine's config came from) and reload the engine with it.

    Returns what the reload did, or the ConfigError that refused it (also logged as ERROR events, so
    the log shows why nothing changed). The file is read and validated off the event loop: a big
    config never stalls probing.
    """
    target = Path(path) if path is not None else engine.config.path
    if target is None:
        error = ConfigError.single("lookout", "this fleet did not come from a file: there is nothing to reload")
        _log_refusal(engine, error)
        return error
    try:
        config = await asyncio.to_thread(load_config, target)
    except ConfigError as error:
        _log_refusal(engine, error)
        return error
    return await engine.reload(config)


def _log_refusal(engine: Engine, error: ConfigError) -> None:
    """One line per problem, each with its `file:line`, as `lookout --check` prints them."""
    count = len(error.issues)
    engine.log(LogLevel.ERROR, f"config not reloaded ({count} problem{'s' if count != 1 else ''}); the fleet runs on")
    for issue in error.issues:
        engine.log(LogLevel.ERROR, str(issue))


def file_identity(path: Path) -> FileIdentity | None:
    """What tells one version of the file from the next; None while it is missing (mid-save, or deleted)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class ConfigWatcher:
    """Calls `on_change` when the file at `path` has changed and then held still for one poll.

    Editors save in several steps (truncate and write, or write a temporary file and rename it),
    so a change is acted on only once two looks in a row agree: a half-written file is not loaded
    (and if one were, the loader would refuse it and the next poll would bring the whole). A file
    that disappears is waited for; its return counts as a change. `on_change` runs in the
    watcher's own task, one at a time; its exceptions are its own and do not stop the watching.
    """

    def __init__(
        self,
        path: str | Path,
        on_change: Callable[[], Awaitable[object]],
        *,
        clock: Clock | None = None,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.path = Path(path)
        self._on_change = on_change
        self._clock = clock or SystemClock()
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.changes = 0
        """How many times `on_change` was called."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._watch(file_identity(self.path)), name="lookout:config-watcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _watch(self, seen: FileIdentity | None) -> None:
        pending: FileIdentity | None = None
        while True:
            await self._clock.sleep(self._interval)
            now = file_identity(self.path)
            if now is None or now == seen:
                pending = None
                continue
            if now != pending:
                pending = now  # changed since the last look: let it settle for one more poll
                continue
            seen, pending = now, None
            self.changes += 1
            try:
                await self._on_change()
            except Exception:  # a failing reload is reported, and the next change is still watched for
                logger.exception("reloading %s failed", self.path)
