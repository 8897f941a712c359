"""`lookout --discover`: monitor every client's servers, and follow their files as they change.

The fleet is rebuilt from a fresh discovery whenever one of the watched places changes
(a file edited, created or deleted), and handed to `Engine.reload`, as a services.yaml
reload is: unchanged services keep their state and sessions. Each place is watched with
core.reload's ConfigWatcher (a stat a second, settling for one poll), one per place,
including places where no file exists yet: a client installed later is picked up.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from core.clients.discover import Discovery, discover, discovered_config, environment_context, lint_discovery
from core.clients.model import LoadContext
from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import Config
from core.engine import Engine
from core.events import LogLevel
from core.reload import ConfigWatcher


def fleet_of(discovery: Discovery, ctx: LoadContext) -> Config:
    """The discovered fleet, its lint findings and unreadable files added as warnings."""
    config = discovered_config(discovery)
    extra = [
        ConfigIssue(str(f.file), f.line, f.server, f"warning: {f.kind}: {f.message}")
        for f in lint_discovery(discovery, ctx)
    ]
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

    def start(self) -> None:
        for path in discover(self.ctx).watched:
            watcher = ConfigWatcher(path, self.reload, clock=self.engine.clock, interval=self._interval)
            watcher.start()
            self._watchers.append(watcher)

    async def stop(self) -> None:
        watchers, self._watchers = self._watchers, []
        await asyncio.gather(*(watcher.stop() for watcher in watchers))

    async def reload(self) -> None:
        """Rediscover and reload; a discovery that yields no valid fleet is refused and logged."""
        async with self._lock:  # two files saved together: one reload after the other, never interleaved
            try:
                config = await asyncio.to_thread(discovered_fleet, self.ctx)
            except ConfigError as error:
                self.engine.log(LogLevel.ERROR, "client configs not reloaded; the fleet runs on")
                for issue in error.issues:
                    self.engine.log(LogLevel.ERROR, str(issue))
                return
            await self.engine.reload(config)
            self.reloads += 1
