"""`lookout history` output: the uptime table and the incident list, as text or JSON.

Pure functions of what the queries returned, so the CLI, tests and the bench
render the same thing. Text read back from the file is made safe again before
it reaches a terminal: the file is outside our control once written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.durations import format_duration
from core.history.queries import WINDOWS, Incident
from core.sanitize import NAME_LIMIT, REASON_LIMIT, clean_line


def latency_window(since: float) -> str:
    """The window whose latency the table shows: the longest one within `--since` (at least 1h)."""
    label = WINDOWS[0][0]
    for name, seconds in WINDOWS:
        if seconds <= since:
            label = name
    return label


def render_json(summaries: Sequence[dict[str, Any]], incidents: Sequence[Incident], since: float, now: float) -> str:
    document = {
        "generated_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "since_s": since,
        "services": list(summaries),
        "incidents": [incident.as_json(now) for incident in incidents],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def render_table(summaries: Sequence[dict[str, Any]], incidents: Sequence[Incident], since: float, now: float) -> str:
    latency = latency_window(since)
    header = ["SERVICE", *(f"UP {label}" for label, _ in WINDOWS), f"P50 {latency}", "P95", "P99"]
    rows = [header]
    for summary in summaries:
        windows = summary["windows"]
        rows.append(
            [
                clean_line(summary["service"], NAME_LIMIT),
                *(_percent(windows[label]["uptime"]) for label, _ in WINDOWS),
                *(_ms(windows[latency][key]) for key in ("p50_ms", "p95_ms", "p99_ms")),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [_line(row, widths) for row in rows]
    lines.append("")
    lines.append(f"Incidents in the last {format_duration(since)}: {len(incidents) or 'none'}")
    for incident in incidents:
        end = "ongoing" if incident.ended is None else _when(incident.ended)
        lines.append(
            f"  {clean_line(incident.service, NAME_LIMIT)}  {incident.status:<8}  {_when(incident.started)} -> {end}"
            f"  ({format_duration(incident.duration(now))})  {clean_line(incident.reason, REASON_LIMIT)}"
        )
    return "\n".join(lines)


def _line(row: list[str], widths: list[int]) -> str:
    """The service name left-aligned, the figures right-aligned."""
    cells = (cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
    return "  ".join(cells).rstrip()


def _percent(value: float | None) -> str:
    if value is None:
        return "-"
    return "100%" if value >= 1 else f"{min(value * 100, 99.99):.2f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
