"""The status API's documents: the `--once --format json` report, one service in depth, events as JSON.

`/api/v1/status` is the very document `lookout --once --format json` prints
(core.report.to_json), plus `schema_version`, so a script written against one
reads the other. Everything comes from a snapshot or a typed event, both made
safe by the engine; it is made safe once more on the way out (clean_tree).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.bus import Resync, ViewItem
from core.details import McpDetails
from core.loglines import describe
from core.report import to_json
from core.results import ProbeResult
from core.sanitize import REASON_LIMIT, clean_line, clean_tree
from core.selection import restrict
from core.snapshot import FleetSnapshot, ServiceSnapshot

if TYPE_CHECKING:
    from core.alerts.overview import AlertsOverview

SCHEMA_VERSION = 1
"""Bumped when a field of the API's documents changes meaning or goes away (new fields do not bump it)."""
RECENT_RESULTS = 50
"""Results listed by /api/v1/services/NAME, newest last (the snapshot keeps a bounded history)."""
FLEET_RECENT = 60
"""Results per service in /api/v1/fleet's `live.recent` (asked for with `?recent=1`): as many as the detail
screen's sparkline draws. An attached monitor asks for them once per connection and keeps them up to date
from the event stream, so the document it re-reads whenever something happened stays small."""
BREAKER_TRANSITIONS = 5
"""Breaker transitions per service in `live.breaker_history`, newest last: what the detail screen lists."""


class HistoryProvider(Protocol):
    """What the status API asks the history store for (uptime, latency percentiles, incidents)."""

    def summary(self, name: str) -> dict[str, Any] | None: ...


def status_document(snapshot: FleetSnapshot) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, **to_json(snapshot)}


def service_document(
    snapshot: FleetSnapshot, name: str, history: HistoryProvider | None = None
) -> dict[str, Any] | None:
    """One service as the report shows it, plus its recent results and (with a store) its history summary."""
    service = snapshot.get(name)
    if service is None:
        return None
    report = to_json(restrict(snapshot, [name]))
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": report["generated_at"],
        "service": report["services"][0],
        "recent": [result_json(result) for result in service.history[-RECENT_RESULTS:]],
    }
    if history is not None:
        document["history"] = history.summary(name)
    cleaned: dict[str, Any] = clean_tree(document)
    return cleaned


def fleet_document(snapshot: FleetSnapshot, *, recent: bool = False) -> dict[str, Any]:
    """/api/v1/fleet: the status document plus what an attached monitor draws besides: per service `paused`,
    `live` (live_json; with `recent`, its newest results too) and, for MCP servers, `mcp_details` (the MCP
    panel and detail screen read all of it); and the snapshot's `seq`, which the results are as of."""
    document = status_document(snapshot)  # made safe by the report already: only what is added here is cleaned
    for item, service in zip(document["services"], snapshot.services, strict=True):
        item["paused"] = service.paused
        item["live"] = clean_tree(live_json(service, recent=recent))
        if isinstance(service.details, McpDetails):
            item["mcp_details"] = clean_tree(dataclasses.asdict(service.details))
    document["seq"] = snapshot.seq
    return document


def live_json(service: ServiceSnapshot, *, recent: bool = False) -> dict[str, Any]:
    """What a monitor shows of a service beyond the status document: tallies, the daemon's latency
    percentiles and uptime over its ring, the schedule, the breaker in full and, with `recent`, the newest
    `FLEET_RECENT` results. The `live` object of /api/v1/fleet: bounded, whatever the fleet's age."""
    latency, breaker = service.latency, service.breaker
    live: dict[str, Any] = {
        "probes": service.probes,
        "retries": service.retries,
        "consecutive_failures": service.consecutive_failures,
        "uptime": service.uptime,
        "latency": {
            "last_ms": _round(latency.last_ms),
            "p50_ms": _round(latency.p50_ms),
            "p95_ms": _round(latency.p95_ms),
            "p99_ms": _round(latency.p99_ms),
            "samples": latency.samples,
        },
        "interval_s": service.interval,
        "next_probe_at": _iso(service.next_probe_at),
        "probing": service.probing,
        "breaker": {
            "reset_timeout_s": breaker.reset_timeout,
            "opened_at": _iso(breaker.opened_at),
            "retry_at": _iso(breaker.retry_at),
            "trial_in_flight": breaker.trial_in_flight,
            "last_error": clean_line(breaker.last_error, REASON_LIMIT),
        },
        "breaker_history": [
            {"at": _iso(when), "old": old, "new": new}
            for when, old, new in service.breaker_history[-BREAKER_TRANSITIONS:]
        ],
    }
    if recent:
        live["recent"] = [result_json(result) for result in service.history[-FLEET_RECENT:]]
    return live


def alerts_document(overview: AlertsOverview, generated_at: datetime) -> dict[str, Any]:
    """`/api/v1/alerts`: channel health, recent notifications (newest first) and each service's alert state.

    Times are ISO 8601 like the other documents; each notification's `notification` is the webhook body
    itself (core.alerts.notification, its own `version`), with one delivery per channel beside it.
    """
    from core.alerts.overview import outcome

    document = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _iso(generated_at),
        "enabled": overview.off is None,
        "off": overview.off,
        "channels": [
            {
                "name": health.name,
                "type": health.type,
                "state": health.state,
                "last_error": clean_line(health.last_error, REASON_LIMIT),
                "last_success": _iso(_time(health.last_success)),
                "last_failure": _iso(_time(health.last_failure)),
                "pending": health.pending,
                "firing": health.firing,
                "breaker": {
                    "state": health.breaker.state,
                    "failures": health.breaker.failures,
                    "fail_max": health.breaker.fail_max,
                    "retry_at": _iso(health.breaker.retry_at),
                },
            }
            for health in overview.channels
        ],
        "notifications": [
            {
                "notification": record.notification.to_json(),
                "deliveries": [
                    {
                        "channel": view.channel,
                        "outcome": outcome(view),
                        "state": view.state,
                        "attempts": view.attempts,
                        "delivered_at": _iso(_time(view.delivered_at)),
                        "late": view.late,
                        "last_error": clean_line(view.last_error, REASON_LIMIT),
                    }
                    for view in record.deliveries
                ],
            }
            for record in overview.recent
        ],
        "services": {
            name: [
                {"rule": view.rule, "state": view.state, "since": _iso(_time(view.since)), "detail": view.detail}
                for view in views
            ]
            for name, views in overview.states.items()
        },
    }
    cleaned: dict[str, Any] = clean_tree(document)
    return cleaned


def _time(unix: float | None) -> datetime | None:
    return datetime.fromtimestamp(unix, UTC) if unix is not None else None


def result_json(result: ProbeResult) -> dict[str, Any]:
    """A probe result in brief: what a chart or an incident list needs, not the kind's full findings."""
    return {
        "at": _iso(result.started_at),
        "status": result.status.value,
        "reason": clean_line(result.reason, REASON_LIMIT),
        "latency_ms": _round(result.latency_ms),
        "attempts": result.attempts,
        "contacted": result.contacted,
        "http_status": result.http_status,
    }


def event_json(item: ViewItem) -> tuple[str, dict[str, Any]]:
    """(SSE event name, data) for one item of a view: the event's typed fields, plus its log wording."""
    if isinstance(item, Resync):
        data = {"dropped": item.dropped, "seq": item.snapshot.seq, "status": status_document(item.snapshot)}
        return "resync", data
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        fields[field.name] = result_json(value) if isinstance(value, ProbeResult) else _plain(value)
    described = describe(item)
    if described is not None:
        fields["level"], fields["text"] = described[0].label, described[1]
    cleaned: dict[str, Any] = clean_tree(fields)
    return _event_name(type(item).__name__), cleaned


def _event_name(class_name: str) -> str:
    """ProbeCompleted -> probe_completed."""
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in class_name).lstrip("_")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, enum.Enum):
        return value.value if not isinstance(value, int) else value.name.lower()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
