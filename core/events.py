"""The typed events the engine publishes: its one way out, besides snapshots.

Every change the engine makes (a result, a status or breaker transition, a
rate-limit update, an inventory change, a pause, an operator's reset, a probe
starting) and every log line is one event, published once, in order. The
engine stamps each with `seq`, counting up from 1 with no gaps, so a consumer
can tell that it missed something and resync from a snapshot (which carries
the seq it is consistent with). Events are frozen: every consumer may keep them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from core.ratelimit import RateLimit
from core.results import ProbeResult, Status
from core.sanitize import LOG_LIMIT, NAME_LIMIT, REASON_LIMIT, clean_line


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
    seq: int = 0
    """Stamped by the engine as it publishes (0: not published yet), as on every event."""


@dataclass(frozen=True, slots=True)
class ProbeStarted:
    """A probe of one service begins (before any attempt waits for a fleet slot).

    `schedule_lag` is how late the start is against the schedule, in seconds of
    the monotonic clock (actual start - due time): the measure of a scheduler
    that keeps its promises. None for a probe nobody scheduled (an operator's
    "probe now", a `run_once`), which has no due time to be late against.
    """

    at: datetime
    service: str
    schedule_lag: float | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ProbeCompleted:
    at: datetime
    service: str
    result: ProbeResult
    seq: int = 0


@dataclass(frozen=True, slots=True)
class StatusChanged:
    at: datetime
    service: str
    old: Status
    new: Status
    reason: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ReasonChanged:
    """Still down (or degraded), but for another reason than at the last probe."""

    at: datetime
    service: str
    status: Status
    reason: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class BreakerChanged:
    at: datetime
    service: str
    old: str
    new: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class RateLimitsUpdated:
    at: datetime
    service: str
    limits: tuple[RateLimit, ...]
    seq: int = 0


@dataclass(frozen=True, slots=True)
class InventoryChanged:
    """An MCP server's tools (or resources, prompts) changed between probes."""

    at: datetime
    service: str
    kind: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ToolsUnapproved:
    """An MCP server lists tools that differ from the ones approved (its pin): published when a probe
    first finds such a difference, and again when the difference itself changes; not at every probe.

    `changed` names each tool with the fields that differ ("search: description, annotations.destructiveHint").
    The service is degraded until someone approves (`lookout tools approve NAME`, or the TUI's action);
    its next probe then finds it up again.
    """

    at: datetime
    service: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    approved_at: datetime | None = None
    """When the tools compared against were approved (or first seen)."""
    seq: int = 0


@dataclass(frozen=True, slots=True)
class PauseChanged:
    """An operator paused a service's schedule, or resumed it."""

    at: datetime
    service: str
    paused: bool
    seq: int = 0


@dataclass(frozen=True, slots=True)
class OperatorReset:
    """An operator closed the service's breaker and opened its rate-limit gate ("try it now")."""

    at: datetime
    service: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    """The engine took a new config (`Engine.reload`): which services it started, restarted, stopped and kept.

    Names come from the config, not from a server, so they pass as they are. Fleet-wide, not about one
    service: a view that files events by service finds `service` None.
    """

    at: datetime
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    path: str | None = None
    """The config file it came from (None for a config built in code)."""
    service: None = None
    seq: int = 0


Event = (
    LogEvent
    | ProbeStarted
    | ProbeCompleted
    | StatusChanged
    | ReasonChanged
    | BreakerChanged
    | RateLimitsUpdated
    | InventoryChanged
    | ToolsUnapproved
    | PauseChanged
    | OperatorReset
    | ConfigReloaded
)

OBSERVATIONS: tuple[type[Event], ...] = (ProbeStarted, ProbeCompleted, LogEvent)
"""Raw observations, many and each superseded by the next: a recorder that falls behind may sample
these. Every other event is a transition of some service's state, which no recorder may lose."""


def safe_event(event: Event, redact: Callable[[str], str]) -> Event:
    """The event as it may leave the engine: every text in it redacted, then made safe, then clipped.

    Log lines carry stderr and servers' log notifications verbatim, inventory
    changes carry tool and prompt names, rate limits carry a resource name from
    a response header: all of it is the monitored server's text. Results are
    made safe where they are built (the pipeline), so a ProbeCompleted passes as is.
    """
    if isinstance(event, LogEvent):
        return replace(event, message=clean_line(redact(event.message), LOG_LIMIT))
    if isinstance(event, InventoryChanged):
        return replace(
            event,
            kind=clean_line(event.kind, NAME_LIMIT),
            added=safe_names(event.added, redact),
            removed=safe_names(event.removed, redact),
            changed=safe_names(event.changed, redact),
        )
    if isinstance(event, ToolsUnapproved):
        return replace(
            event,
            added=safe_names(event.added, redact),
            removed=safe_names(event.removed, redact),
            changed=safe_names(event.changed, redact),
        )
    if isinstance(event, StatusChanged | ReasonChanged):
        return replace(event, reason=clean_line(redact(event.reason), REASON_LIMIT))
    if isinstance(event, RateLimitsUpdated):
        return replace(event, limits=safe_limits(event.limits, redact))
    return event


def safe_names(names: tuple[str, ...], redact: Callable[[str], str]) -> tuple[str, ...]:
    return tuple(clean_line(redact(name), NAME_LIMIT) for name in names)


def safe_limits(limits: tuple[RateLimit, ...], redact: Callable[[str], str] | None = None) -> tuple[RateLimit, ...]:
    """Rate limits with their resource names (read from a server's headers) safe to show."""
    shown = redact or (lambda text: text)
    return tuple(_safe_limit(limit, shown) for limit in limits)


def _safe_limit(limit: RateLimit, redact: Callable[[str], str]) -> RateLimit:
    resource = clean_line(redact(limit.resource), NAME_LIMIT)
    return limit if resource == limit.resource else replace(limit, resource=resource)
