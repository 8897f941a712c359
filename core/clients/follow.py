"""`lookout --discover`: monitor every client's servers, and follow their files as they change.

The fleet is rebuilt from a fresh discovery whenever one of the watched places changes
(a file edited, created or deleted), and handed to `Engine.reload`, as a services.yaml
reload is: unchanged services keep their state and sessions. Each place is watched with
core.reload's ConfigWatcher (a stat a second, settling for one poll), one per place,
including places where no file exists yet: a client installed later is picked up.
A deleted file is waited for, as ConfigWatcher waits for a services.yaml being saved; its
servers leave the fleet at the next change of any watched file (or a restart).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from core.clients.discover import Discovery, discover, discovered_config, environment_context, lint_discovery
from core.clients.lint import as_warnings
from core.clients.model import LoadContext
from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import Config
from core.engine import Engine
from core.events import LogLevel
from core.reload import ConfigWatcher


def fleet_of(discovery: Discovery, ctx: LoadContext) -> Config:
    """The discovered fleet, its lint findings and unreadable files added as warnings."""
    config = discovered_config(discovery)
    extra = as_warnings(lint_discovery(discovery, ctx))
    extra += [
        ConfigIssue(issue.file, issue.line, issue.path, f"warning: not read: {issue.message}")
        for error in discovery.errors
        for issue in error.issues
    ]
    return replace(config, warnings=[*config.warnings, *extra])


def discovered_fleet(ctx: LoadContext | None = None) -> Config:
    context = ctx or environment_context()
    return fleet_of(discover(context), context)


class DiscoveryFollower:
    """Reloads `engine` with a fresh discovery when any watched client file changes."""

    def __init__(self, engine: Engine, ctx: LoadContext | None = None, *, interval: float = 1.0) -> None:
        self.engine = engine
        self.ctx = ctx or environment_context()
        self._interval = interval
        self._watchers: list[ConfigWatcher] = []
        self._lock = asyncio.Lock()
        self.reloads = 0
        """Changes acted on (a refused one included)."""

    def start(self) -> None:
        for path in discover(self.ctx).watched:
            watcher = ConfigWatcher(path, self.reload, clock=self.engine.clock, interval=self._interval)
            watcher.start()
            self._watchers.append(watcher)

    async def stop(self) -> None:
        watchers, self._watchers = self._watchers, []
        await asyncio.gather(*(watcher.stop() for watcher in watchers))

    async def reload(self) -> None:
        """Rediscover and reload. A file that no longer reads (a half-typed edit) refuses the reload, as a
        broken services.yaml does: its servers are not dropped, the fleet runs on, the log says why."""
        async with self._lock:  # two files saved together: one reload after the other, never interleaved
            self.reloads += 1
            try:
                discovery = await asyncio.to_thread(discover, self.ctx)
                issues = [issue for error in discovery.errors for issue in error.issues]
                if issues:
                    raise ConfigError(issues)
                config = fleet_of(discovery, self.ctx)
            except ConfigError as error:
                self.engine.log(LogLevel.ERROR, "client configs not reloaded; the fleet runs on")
                for issue in error.issues:
                    self.engine.log(LogLevel.ERROR, str(issue))
                return
            await self.engine.reload(config)
