"""The daemon's log lines and the event stream's JSON: one formatter's wording, typed fields, no raw controls."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from core.bus import Resync
from core.events import BreakerChanged, LogEvent, LogLevel, ProbeStarted, StatusChanged
from core.results import Status
from core.serve.api import event_json
from core.serve.logs import LogWriter, format_line
from core.snapshot import FleetSnapshot, ServiceInfo, ServiceSnapshot

AT = datetime(2026, 11, 25, 3, 0, 0, 123000, tzinfo=UTC)


def test_plain_and_json_lines_word_an_event_as_the_log_pane_does() -> None:
    plain, as_json = io.StringIO(), io.StringIO()
    event = StatusChanged(AT, "api", Status.UP, Status.DOWN, "HTTP 503", seq=7)
    LogWriter(plain, "plain").item(event)
    LogWriter(as_json, "json").item(event)
    LogWriter(plain, "plain").item(ProbeStarted(AT, "api", 0.01, seq=8))  # no log line for a probe start
    assert plain.getvalue() == "2026-11-25T03:00:00.123Z error   api: up -> down: HTTP 503\n"
    record = json.loads(as_json.getvalue())
    assert record == {
        "ts": "2026-11-25T03:00:00.123Z",
        "level": "error",
        "service": "api",
        "source": "engine",
        "seq": 7,
        "message": "up -> down: HTTP 503",
    }


def test_a_log_line_is_one_line_whatever_the_server_said() -> None:
    line = LogEvent(AT, LogLevel.WARNING, "a\nb\x1b[31m", service="mcp", source="stderr")
    assert "\n" not in format_line(line, "json")
    assert json.loads(format_line(line, "json"))["message"] == line.message


def test_events_as_json_carry_their_typed_fields() -> None:
    name, data = event_json(BreakerChanged(AT, "api", "closed", "open", seq=3))
    assert name == "breaker_changed"
    assert data == {
        "at": "2026-11-25T03:00:00.123000Z",
        "service": "api",
        "old": "closed",
        "new": "open",
        "seq": 3,
        "level": "error",
        "text": "breaker closed -> open",
    }
    name, data = event_json(LogEvent(AT, LogLevel.INFO, "engine started", seq=1))
    assert (name, data["level"], data["message"]) == ("log_event", "info", "engine started")


def test_a_resync_carries_a_fresh_status_document_and_what_was_lost() -> None:
    service = ServiceSnapshot(ServiceInfo("api", "http", "http://127.0.0.1/"), status=Status.DOWN)
    name, data = event_json(Resync(FleetSnapshot(taken_at=AT, services=(service,), seq=41), dropped=12))
    assert name == "resync"
    assert data["dropped"] == 12 and data["seq"] == 41
    assert data["status"]["schema_version"] == 1
    assert data["status"]["services"][0]["status"] == "down"
