"""How an event reads in a log: the one formatter every log view shares.

The engine publishes a transition once, as a typed event; it no longer writes
a second, log-line copy of it. A view that shows a log (the TUI's log pane,
`lookout --once --verbose`) turns events into lines here, so every log view
words a transition the same way, and a consumer that wants the data (history,
alerts, /metrics) reads typed fields instead of parsing text.
"""

from __future__ import annotations

from core.breaker import OPEN
from core.bus import Resync, ViewItem
from core.events import (
    BreakerChanged,
    ConfigReloaded,
    Event,
    InventoryChanged,
    LogEvent,
    LogLevel,
    OperatorReset,
    PauseChanged,
    ReasonChanged,
    StatusChanged,
    ToolsUnapproved,
)
from core.results import Status
from core.sanitize import LOG_LIMIT, clean_line

STATUS_LEVEL = {Status.UP: LogLevel.INFO, Status.DEGRADED: LogLevel.WARNING}
"""A transition into any other status (down, unknown) is an error."""


def describe(event: Event) -> tuple[LogLevel, str] | None:
    """(level, text) of the log line for `event`; None for events no log shows (results, probe starts)."""
    if isinstance(event, LogEvent):
        return event.level, event.message
    if isinstance(event, StatusChanged):
        why = f": {event.reason}" if event.reason else ""
        return STATUS_LEVEL.get(event.new, LogLevel.ERROR), f"{event.old.value} -> {event.new.value}{why}"
    if isinstance(event, ReasonChanged):
        return LogLevel.DEBUG, f"still {event.status.value}: {event.reason}"
    if isinstance(event, BreakerChanged):
        return (LogLevel.ERROR if event.new == OPEN else LogLevel.INFO), f"breaker {event.old} -> {event.new}"
    if isinstance(event, InventoryChanged):
        return LogLevel.WARNING, f"{event.kind} changed: {_inventory_diff(event)}"
    if isinstance(event, ToolsUnapproved):
        return LogLevel.WARNING, f"tools differ from the approved ones: {_unapproved(event)}"
    if isinstance(event, PauseChanged):
        return LogLevel.INFO, "paused" if event.paused else "resumed"
    if isinstance(event, OperatorReset):
        return LogLevel.INFO, "breaker and rate-limit gate reset by operator"
    if isinstance(event, ConfigReloaded):
        return LogLevel.INFO, _reload_summary(event)
    return None


def log_line(event: ViewItem) -> LogEvent | None:
    """What a view reads as a log line (when, level, service, text), or None if no log shows it.

    A log event is its own line. Any other line is built from the event's
    fields, which the engine already made safe; the joined text is clipped to a
    log line's limit like any other. Where the view lost events (a `Resync`), the
    line says how many, so a quiet stretch is never mistaken for a quiet fleet.
    """
    if isinstance(event, LogEvent):
        return event
    if isinstance(event, Resync):
        message = f"{event.dropped} events dropped, resynced"
        return LogEvent(at=event.snapshot.taken_at, level=LogLevel.WARNING, message=message, seq=event.snapshot.seq)
    described = describe(event)
    if described is None:
        return None
    level, text = described
    return LogEvent(at=event.at, level=level, message=clean_line(text, LOG_LIMIT), service=event.service, seq=event.seq)


def _inventory_diff(event: InventoryChanged) -> str:
    parts = []
    if event.added:
        parts.append("added " + ", ".join(event.added))
    if event.removed:
        parts.append("removed " + ", ".join(event.removed))
    if event.changed:
        parts.append("changed " + ", ".join(event.changed))
    return "; ".join(parts)


def _unapproved(event: ToolsUnapproved) -> str:
    parts = [f"added {', '.join(event.added)}"] if event.added else []
    if event.removed:
        parts.append("removed " + ", ".join(event.removed))
    parts += [f"changed {change}" for change in event.changed]
    return "; ".join(parts) + f" (approve with `lookout tools approve {event.service}`)"


RELOAD_NAMES_SHOWN = 5
"""Names listed per group in a reload's log line; a bigger group says how many more (the line stays a line)."""


def _reload_summary(event: ConfigReloaded) -> str:
    """ "config reloaded: 1 added (c), 1 changed (b), 1 removed (d), 3 unchanged": what moved, by name."""
    parts = []
    for word, names in (("added", event.added), ("changed", event.changed), ("removed", event.removed)):
        if names:
            shown = ", ".join(names[:RELOAD_NAMES_SHOWN])
            more = f", +{len(names) - RELOAD_NAMES_SHOWN} more" if len(names) > RELOAD_NAMES_SHOWN else ""
            parts.append(f"{len(names)} {word} ({shown}{more})")
    parts.append(f"{len(event.unchanged)} unchanged")
    source = f" from {event.path}" if event.path else ""
    return f"config reloaded{source}: " + ", ".join(parts)
