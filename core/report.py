"""Headless reports of a fleet snapshot: a table for people, JSON for machines,
and the monitoring-plugins format that Nagios, Icinga and Zabbix checks read.

Everything here renders a `FleetSnapshot` and nothing else; secrets were
masked before the snapshot was taken, and server text made safe where it
entered the engine. Every string is made safe once more on its way out (a
service name from the config may hold an escape too), and every report is
bounded: a monitor's output must not grow with what a server chose to say.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core import __version__
from core.durations import format_duration
from core.kinds import find_kind
from core.numbers import format_ms
from core.ratelimit import RateLimit
from core.results import Status
from core.sanitize import NAME_LIMIT, REASON_LIMIT, clean_line, clean_tree, clip
from core.snapshot import FleetSnapshot, ServiceSnapshot

EXIT_LABEL = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
NAGIOS_REASON_LIMIT = 200
"""The reason quoted in the nagios status line: the line a pager or a chat notification shows."""
NAGIOS_LINE_LIMIT = 4096
"""Any nagios line, the first (status and perfdata) included; perfdata past it is left out whole."""
NAGIOS_SERVICE_LINES = 100
"""Services listed in the long output; the rest are counted."""


def exit_code(snapshot: FleetSnapshot) -> int:
    """monitoring-plugins convention: 0 all up, 1 something degraded, 2 something down, 3 unknown."""
    return snapshot.overall.severity


# -- JSON ---------------------------------------------------------------------


def to_json(snapshot: FleetSnapshot) -> dict[str, Any]:
    """The report as data; every string safe (`json.dumps` would pass C1 controls and DEL through raw)."""
    counts = snapshot.counts()
    report = {
        "lookout": __version__,
        "generated_at": _iso(snapshot.taken_at),
        "config": snapshot.config_path,
        "status": snapshot.overall.value,
        "exit_code": exit_code(snapshot),
        "counts": {status.value: counts[status] for status in Status},
        "services": [_service_json(service, snapshot.taken_at) for service in snapshot.services],
    }
    cleaned: dict[str, Any] = clean_tree(report)
    return cleaned


def render_json(snapshot: FleetSnapshot) -> str:
    return json.dumps(to_json(snapshot), indent=2, ensure_ascii=False)


def _service_json(service: ServiceSnapshot, now: datetime) -> dict[str, Any]:
    result = service.last_result
    breaker = service.breaker
    data: dict[str, Any] = {
        "name": service.name,
        "kind": service.kind,
        "target": service.target,
        "status": service.status.value,
        "reason": clean_line(service.reason, REASON_LIMIT),
        "latency_ms": _round(result.latency_ms) if result else None,
        "attempts": result.attempts if result else 0,
        "contacted": result.contacted if result else False,
        "http_status": result.http_status if result else None,
        "checked_at": _iso(service.last_checked),
        "tags": list(service.tags),
        "depends_on": list(service.depends_on),
        "breaker": {
            "state": breaker.state,
            "failures": breaker.failures,
            "fail_max": breaker.fail_max,
            "retry_in_s": _round(breaker.retry_in(now)),
        },
        "rate_limits": [_limit_json(limit) for limit in service.rate_limits],
        "rate_limited_until": _iso(service.gate_until),
        "timings_ms": {stage: _round(ms) for stage, ms in (result.timings.items() if result else ())},
        "checks": [
            {"condition": check.condition, "ok": check.ok, "message": check.message}
            for check in (result.checks if result else ())
        ],
    }
    kind = find_kind(service.kind)
    if kind is not None:
        data.update(kind.report_fields(service))
    return data


def _limit_json(limit: RateLimit) -> dict[str, Any]:
    return {
        "resource": limit.resource,
        "limit": limit.limit,
        "remaining": limit.remaining,
        "used": limit.used,
        "reset_at": _iso(limit.reset_at),
        "exhausts_at": _iso(limit.exhausts_at),
        "source": limit.source,
    }


# -- nagios -------------------------------------------------------------------


def render_nagios(snapshot: FleetSnapshot) -> str:
    """`LOOKOUT CRITICAL - summary | perfdata`, then one line per service not up.

    Perfdata follows the monitoring-plugins guidelines: 'label'=value[UOM];warn;crit;min;max.
    Bounded whatever the servers said: the status line quotes at most
    `NAGIOS_REASON_LIMIT` characters of a reason, no line exceeds
    `NAGIOS_LINE_LIMIT`, and at most `NAGIOS_SERVICE_LINES` services are listed.
    """
    code = exit_code(snapshot)
    counts = snapshot.counts()
    summary = ", ".join(
        f"{counts[s]} {s.value}" for s in (Status.DOWN, Status.DEGRADED, Status.UNKNOWN, Status.UP) if counts[s]
    )
    worst = [s for s in snapshot.services if s.status is not Status.UP]
    headline = f"LOOKOUT {EXIT_LABEL[code]} - {summary or 'no services'}"
    if worst:
        first = worst[0]
        reason = _nagios_text(first.reason, NAGIOS_REASON_LIMIT)
        headline += f": {_nagios_text(first.name, NAME_LIMIT)} {first.status.value}" + (
            f" ({reason})" if reason else ""
        )
    lines = [_with_perfdata(clip(headline, NAGIOS_LINE_LIMIT), snapshot.services)]
    for service in worst[:NAGIOS_SERVICE_LINES]:
        reason = _nagios_text(service.reason, REASON_LIMIT)
        line = f"{_nagios_text(service.name, NAME_LIMIT)}: {service.status.value}" + (f" - {reason}" if reason else "")
        lines.append(clip(line, NAGIOS_LINE_LIMIT))
    if len(worst) > NAGIOS_SERVICE_LINES:
        lines.append(f"… and {len(worst) - NAGIOS_SERVICE_LINES} more services not up")
    return "\n".join(lines)


def _nagios_text(text: str, limit: int) -> str:
    """Safe, one line, and without "|": Nagios reads whatever follows a "|" as performance data."""
    return clean_line(text.replace("|", "¦"), limit)


def _with_perfdata(headline: str, services: tuple[ServiceSnapshot, ...]) -> str:
    items = [item for service in services for item in _perfdata(service)]
    line = headline
    for number, item in enumerate(items):
        joined = f"{line} | {item}" if number == 0 else f"{line} {item}"
        if len(joined) > NAGIOS_LINE_LIMIT:
            break  # a cut perfdata item would be a wrong number: leave the rest out whole
        line = joined
    return line


def _perfdata(service: ServiceSnapshot) -> list[str]:
    items: list[str] = []
    latency = service.last_result.latency_ms if service.last_result else None
    if latency is not None:
        items.append(f"{_label(service.name + ' latency')}={latency:.0f}ms;;;0")
    for limit in service.rate_limits:
        if limit.remaining is None:
            continue
        maximum = "" if limit.limit is None else str(limit.limit)
        items.append(f"{_label(f'{service.name} {limit.resource} remaining')}={limit.remaining};;;0;{maximum}")
    return items


def _label(text: str) -> str:
    return "'" + _nagios_text(text, NAME_LIMIT).replace("'", "").replace("=", "_") + "'"


# -- table --------------------------------------------------------------------

_COLOURS = {Status.UP: "32", Status.DEGRADED: "33", Status.DOWN: "31", Status.UNKNOWN: "35"}


def render_table(snapshot: FleetSnapshot, *, width: int = 100, colour: bool = False) -> str:
    """A table sized to the terminal; reasons are cut with an ellipsis, never mid-word silently."""
    now = snapshot.taken_at
    headers = ["STATUS", "SERVICE", "KIND", "LATENCY", "BREAKER", "RATE LIMIT", "REASON"]
    rows = [_table_row(service, now) for service in snapshot.services]
    fixed = [max(len(headers[i]), *(len(row[i]) for row in rows)) if rows else len(headers[i]) for i in range(6)]
    reason_width = max(12, width - sum(fixed) - 2 * 6)
    lines = [_join([h.ljust(w) for h, w in zip(headers, fixed, strict=False)] + ["REASON"])]
    for service, row in zip(snapshot.services, rows, strict=True):
        cells = [cell.ljust(w) for cell, w in zip(row[:6], fixed, strict=False)]
        if colour:
            cells[0] = f"\x1b[{_COLOURS[service.status]}m{cells[0]}\x1b[0m"
        lines.append(_join([*cells, ellipsize(row[6], reason_width)]).rstrip())
        kind = find_kind(service.kind)
        extra = kind.summary_line(service) if kind is not None else ""
        if extra:
            lines.append("  " + ellipsize(extra, width - 2))
    counts = snapshot.counts()
    lines.append("")
    lines.append(
        "  ".join(f"{counts[s]} {s.value}" for s in Status if counts[s] or s is Status.UP)
        + f"   (checked {len(snapshot.services)} services"
        + (f" from {clean_line(snapshot.config_path, None)})" if snapshot.config_path else ")")
    )
    return "\n".join(lines)


def _join(cells: list[str]) -> str:
    return "  ".join(cells)


def _table_row(service: ServiceSnapshot, now: datetime) -> list[str]:
    result = service.last_result
    latency = format_ms(result.latency_ms if result else None)
    breaker = service.breaker.state
    if service.breaker.state == "open":
        retry = service.breaker.retry_in(now)
        breaker += f" ({format_duration(retry)})" if retry is not None else ""
    elif service.breaker.failures:
        breaker += f" {service.breaker.failures}/{service.breaker.fail_max}"
    cells = [
        f"{service.status.symbol} {service.status.value}",
        service.name,
        f"{service.kind}/{service.transport}" if service.transport else service.kind,
        latency,
        breaker,
        _rate_cell(service.rate_limits),
    ]
    return [*(clean_line(cell, NAME_LIMIT) for cell in cells), clean_line(service.reason, REASON_LIMIT)]


def _rate_cell(limits: tuple[RateLimit, ...]) -> str:
    known = [limit for limit in limits if limit.remaining is not None]
    if not known:
        return "-"
    lowest = min(known, key=lambda lim: lim.fraction_remaining if lim.fraction_remaining is not None else 1.0)
    total = f"/{lowest.limit}" if lowest.limit is not None else ""
    return f"{lowest.resource} {lowest.remaining}{total}"


def ellipsize(text: str, width: int) -> str:
    """Cut to `width` characters, at a word boundary when one is near, marking the cut with …"""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
