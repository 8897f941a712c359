"""One notification: what the evaluator decided to say, and what every channel renders.

A frozen record with no behaviour beyond naming itself: the evaluator builds it,
the outbox stores it (`to_json` / `from_json`, so it survives a restart byte for
byte), every channel renders it its own way. Its `key` is the idempotency key a
receiver can dedupe on: delivery is at-least-once, so the same key may arrive
twice when a receiver took a message but its answer was lost, never two keys for
one transition.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

BODY_VERSION = 1
"""Version of the JSON document (`to_json`): the webhook body and the outbox's stored form."""


class Transition(enum.StrEnum):
    FIRING = "firing"
    """An incident opened: the rule's threshold was met."""
    RESOLVED = "resolved"
    """The incident closed after the rule's `successes` good probes (sent with `send_resolved`)."""
    REMINDER = "reminder"
    """Still firing after `repeat`; `sequence` counts the reminders of one incident."""
    FLAPPING = "flapping"
    """With `flap_window`: an incident reopened within the window of closing."""
    STABLE = "stable"
    """With `flap_window`: a flapping service stayed closed for the whole window."""
    TEST = "test"
    """`lookout alerts test CHANNEL`: not about any incident."""


@dataclass(frozen=True, slots=True)
class Notification:
    incident_id: str
    """Stable across restarts: names the rule, the service and when the incident opened."""
    transition: Transition
    rule: str
    service: str
    kind: str
    """The service's kind ("http", "mcp")."""
    severity: str
    status: str
    """The service's status when this was decided ("down", "degraded", "up", ...)."""
    previous_status: str
    reason: str
    """Why, already made safe by the engine (bounded, control sequences stripped, secrets redacted)."""
    since: float
    """Unix seconds when the incident opened."""
    at: float
    """Unix seconds when this notification was decided."""
    channels: tuple[str, ...]
    """The channel names (from `alerts.channels`) this goes to."""
    transport: str | None = None
    tags: tuple[str, ...] = ()
    dependants: tuple[str, ...] = ()
    """Services failing because this one is (their own alerts were inhibited): named here instead."""
    sequence: int = 0
    """Counts repeats of one transition within an incident (reminders, reopenings while flapping)."""
    links: dict[str, str] = field(default_factory=dict)
    """Named URLs a person can follow (the status API's page for the service, when served)."""

    @property
    def key(self) -> str:
        """The idempotency key: incident and transition (and which repeat)."""
        base = f"{self.incident_id}:{self.transition.value}"
        return f"{base}:{self.sequence}" if self.sequence else base

    @property
    def summary(self) -> str:
        """One line a person reads first: "github is down: connection refused"."""
        if self.transition is Transition.RESOLVED:
            return f"{self.service} is {self.status} again (was {self.previous_status})"
        if self.transition is Transition.FLAPPING:
            return f"{self.service} is flapping ({self.rule}): {self.reason}"
        if self.transition is Transition.STABLE:
            return f"{self.service} is stable again ({self.rule})"
        if self.transition is Transition.TEST:
            return "Lookout test notification"
        return f"{self.service} is {self.status}: {self.reason}" if self.reason else f"{self.service} is {self.status}"

    def to_json(self) -> dict[str, Any]:
        """The documented, versioned JSON document (the webhook body; the outbox stores it)."""
        return {
            "version": BODY_VERSION,
            "key": self.key,
            "incident_id": self.incident_id,
            "transition": self.transition.value,
            "rule": self.rule,
            "service": self.service,
            "kind": self.kind,
            "transport": self.transport,
            "tags": list(self.tags),
            "severity": self.severity,
            "status": self.status,
            "previous_status": self.previous_status,
            "reason": self.reason,
            "summary": self.summary,
            "since": self.since,
            "at": self.at,
            "sequence": self.sequence,
            "dependants": list(self.dependants),
            "channels": list(self.channels),
            "links": dict(self.links),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        """Read back what `to_json` wrote (the outbox after a restart)."""
        return cls(
            incident_id=str(data["incident_id"]),
            transition=Transition(data["transition"]),
            rule=str(data["rule"]),
            service=str(data["service"]),
            kind=str(data["kind"]),
            severity=str(data["severity"]),
            status=str(data["status"]),
            previous_status=str(data["previous_status"]),
            reason=str(data["reason"]),
            since=float(data["since"]),
            at=float(data["at"]),
            channels=tuple(str(name) for name in data.get("channels") or ()),
            transport=None if data.get("transport") is None else str(data["transport"]),
            tags=tuple(str(tag) for tag in data.get("tags") or ()),
            dependants=tuple(str(name) for name in data.get("dependants") or ()),
            sequence=int(data.get("sequence") or 0),
            links={str(k): str(v) for k, v in (data.get("links") or {}).items()},
        )


class NotificationSink(Protocol):
    """Where the evaluator puts what it decided (the outbox)."""

    def enqueue(self, notification: Notification) -> None:
        """Queue `notification` for delivery to each of its channels, durably; return at once (never block)."""
