"""Events the engine publishes. Views subscribe; the engine never waits on them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.ratelimit import RateLimit
from core.results import ProbeResult, Status


class LogLevel(enum.IntEnum):
    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A log line: engine news, or a stdio server's stderr (source "stderr")."""

    at: datetime
    level: LogLevel
    message: str
    service: str | None = None
    source: str = "engine"


@dataclass(frozen=True, slots=True)
class ProbeCompleted:
    at: datetime
    service: str
    result: ProbeResult


@dataclass(frozen=True, slots=True)
class StatusChanged:
    at: datetime
    service: str
    old: Status
    new: Status
    reason: str


@dataclass(frozen=True, slots=True)
class BreakerChanged:
    at: datetime
    service: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class RateLimitsUpdated:
    at: datetime
    service: str
    limits: tuple[RateLimit, ...]


@dataclass(frozen=True, slots=True)
class InventoryChanged:
    """An MCP server's tools (or resources, prompts) changed between probes."""

    at: datetime
    service: str
    kind: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()


Event = LogEvent | ProbeCompleted | StatusChanged | BreakerChanged | RateLimitsUpdated | InventoryChanged
