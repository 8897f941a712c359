"""Reading a running `lookout serve` from another process: find it, parse its status, follow its events.

A monitor opened on a history file that a daemon records into attaches to that
daemon instead of starting a second engine (which would probe every service
twice and spawn every MCP server twice). The daemon's documents cross a process
boundary, so they are read as hostile text once more (clean_tree) before they
become the snapshot records the panels render.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2

from core.alerts.evaluator import AlertView
from core.alerts.health import ChannelHealth, DeliveryView, NotificationRecord
from core.alerts.notification import Notification
from core.alerts.overview import AlertsOverview
from core.details import Details, HttpDetails, McpDetails, ServerInfo, ToolChange, ToolInfo
from core.history.lock import read_holder
from core.history.paths import lock_path
from core.kinds.auth import auth_from_json
from core.ratelimit import RateLimit
from core.results import Check, ProbeResult, Status
from core.sanitize import REASON_LIMIT, clean_line, clean_tree
from core.snapshot import (
    BreakerSnapshot,
    FleetSnapshot,
    LatencyStats,
    ProbeTally,
    ServiceInfo,
    ServiceLive,
    ServiceSnapshot,
)

FLEET_PATH = "/api/v1/fleet"
_EPOCH = datetime.fromtimestamp(0, UTC)
_DEFAULT_BREAKER = BreakerSnapshot()
ALERTS_PATH = "/api/v1/alerts"
EVENTS_PATH = "/api/v1/events"
SERVICES_PATH = "/api/v1/services"


def find_serve(db_path: Path) -> str | None:
    """The address of the live daemon recording into `db_path`, or None (nobody holds its lock, or a holder
    that is not a daemon). The lock is tested, not trusted from the file: a dead holder's flock is gone."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        held = True
    except OSError:
        return None
    else:
        held = False
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    if not held:
        return None
    address = read_holder(db_path).address
    return address if address and address.startswith(("http://", "https://")) else None


def parse_fleet(document: Mapping[str, Any]) -> FleetSnapshot:
    """The daemon's fleet document (the --once JSON report, plus `paused`, `live` and `mcp_details` per
    service) as a snapshot: the records the panels read, with the daemon's tallies, percentiles, uptime and
    newest results (core.serve.api.live_json). A document without `live` (an older daemon) gives the last
    result only."""
    doc: dict[str, Any] = clean_tree(dict(document))
    taken_at = parse_time(doc.get("generated_at")) or datetime.now().astimezone()
    services = tuple(_service(item, taken_at) for item in doc.get("services", ()) if isinstance(item, dict))
    config = doc.get("config")
    seq = doc.get("seq")
    return FleetSnapshot(
        taken_at=taken_at,
        services=services,
        config_path=config if isinstance(config, str) else None,
        seq=seq if isinstance(seq, int) else 0,
    )


def _service(item: dict[str, Any], now: datetime) -> ServiceSnapshot:
    name = str(item.get("name", ""))
    status = _status(item.get("status"))
    reason = str(item.get("reason") or "")
    checked_at = parse_time(item.get("checked_at"))
    latency = _number(item.get("latency_ms"))
    info = ServiceInfo(
        name=name,
        kind=str(item.get("kind", "")),
        target=str(item.get("target", "")),
        tags=tuple(str(tag) for tag in item.get("tags") or ()),
        depends_on=tuple(str(dep) for dep in item.get("depends_on") or ()),
        transport=item.get("transport") if isinstance(item.get("transport"), str) else None,
    )
    result = None
    if checked_at is not None:
        result = ProbeResult(
            service=name,
            started_at=checked_at,
            status=status,
            reason=reason,
            latency_ms=latency,
            attempts=int(item.get("attempts") or 0),
            contacted=bool(item.get("contacted")),
            http_status=item.get("http_status") if isinstance(item.get("http_status"), int) else None,
            timings={str(k): float(v) for k, v in (item.get("timings_ms") or {}).items() if _number(v) is not None},
            checks=tuple(
                Check(condition=str(c.get("condition", "")), ok=bool(c.get("ok")), message=str(c.get("message", "")))
                for c in item.get("checks") or ()
                if isinstance(c, dict)
            ),
        )
    given = item.get("breaker")
    breaker: dict[str, Any] = given if isinstance(given, dict) else {}
    retry_in = _number(breaker.get("retry_in_s"))
    live = _dict(item.get("live"))
    more = _dict(live.get("breaker"))
    details = _details(item)
    recent = tuple(_result(name, brief) for brief in live.get("recent") or () if isinstance(brief, dict))
    return ServiceSnapshot(
        info=replace(info, interval=_number(live.get("interval_s")) or info.interval),
        status=status,
        reason=reason,
        tally=ProbeTally(
            probes=_whole(live.get("probes")),
            consecutive_failures=_whole(live.get("consecutive_failures")),
            retries=_whole(live.get("retries")),
            last_checked=checked_at,
            details=details,
        )
        if live
        else ProbeTally(last_checked=checked_at, details=details),
        last_result=result,
        history=with_newest(recent, result),
        latency=_latency(_dict(live.get("latency")))
        if live
        else LatencyStats(last_ms=latency, samples=int(latency is not None)),
        uptime=_number(live.get("uptime")),
        breaker=BreakerSnapshot(
            state=str(breaker.get("state", "closed")),
            failures=int(breaker.get("failures") or 0),
            fail_max=int(breaker.get("fail_max") or 5),
            reset_timeout=_number(more.get("reset_timeout_s")) or _DEFAULT_BREAKER.reset_timeout,
            opened_at=parse_time(more.get("opened_at")),
            retry_at=parse_time(more.get("retry_at"))
            or (now + timedelta(seconds=retry_in) if retry_in is not None else None),
            trial_in_flight=bool(more.get("trial_in_flight")),
            last_error=str(more.get("last_error") or ""),
        ),
        breaker_history=tuple(
            (when, str(change.get("old", "")), str(change.get("new", "")))
            for change in live.get("breaker_history") or ()
            if isinstance(change, dict) and (when := parse_time(change.get("at"))) is not None
        ),
        live=ServiceLive(
            paused=bool(item.get("paused")),
            probing=bool(live.get("probing")),
            rate_limits=tuple(_limit(limit) for limit in item.get("rate_limits") or () if isinstance(limit, dict)),
            gate_until=parse_time(item.get("rate_limited_until")),
            next_probe_at=parse_time(live.get("next_probe_at")),
        ),
    )


def _details(item: dict[str, Any]) -> Details | None:
    """The kind's findings: an MCP server's in full, an HTTP API's refusal (`auth`) when there was one."""
    auth = auth_from_json(item.get("auth"))
    mcp = _mcp_details(item.get("mcp_details"))
    if mcp is not None:
        return replace(mcp, auth=auth)
    return HttpDetails(auth=auth) if auth is not None else None


def parse_result(name: str, brief: Mapping[str, Any]) -> ProbeResult:
    """A result in brief (core.serve.api.result_json), as a probe_completed event carries it: made safe
    again, like every document read from the daemon."""
    return _result(name, clean_tree(dict(brief)))


def _result(name: str, brief: Mapping[str, Any]) -> ProbeResult:
    """One of `live.recent`, already made safe with its document; a time that does not parse reads as the epoch."""
    return ProbeResult(
        service=name,
        started_at=parse_time(brief.get("at")) or _EPOCH,
        status=_status(brief.get("status")),
        reason=str(brief.get("reason") or ""),
        latency_ms=_number(brief.get("latency_ms")),
        attempts=_whole(brief.get("attempts")),
        contacted=bool(brief.get("contacted")),
        http_status=brief.get("http_status") if isinstance(brief.get("http_status"), int) else None,
    )


def with_newest(history: tuple[ProbeResult, ...], newest: ProbeResult | None) -> tuple[ProbeResult, ...]:
    """`history` ending with the service's last result in full (its timings and checks, as the engine keeps
    it): in place of its brief copy, or after it when the brief has not arrived yet."""
    if newest is None:
        return history
    if history and history[-1].started_at == newest.started_at:
        return (*history[:-1], newest)
    if history and history[-1].started_at > newest.started_at:
        return history
    return (*history, newest)


def _latency(given: dict[str, Any]) -> LatencyStats:
    return LatencyStats(
        last_ms=_number(given.get("last_ms")),
        p50_ms=_number(given.get("p50_ms")),
        p95_ms=_number(given.get("p95_ms")),
        p99_ms=_number(given.get("p99_ms")),
        samples=_whole(given.get("samples")),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mcp_details(given: Any) -> McpDetails | None:
    """An MCP server's findings as the fleet document carries them (`dataclasses.asdict` of McpDetails)."""
    if not isinstance(given, dict):
        return None

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def whole(value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def names(value: Any) -> tuple[str, ...]:
        return tuple(str(x) for x in value) if isinstance(value, list) else ()

    named = given.get("server")
    server: dict[str, Any] = named if isinstance(named, dict) else {}
    tools = [tool for tool in given.get("tools") or () if isinstance(tool, dict)]
    return McpDetails(
        transport=text(given.get("transport")),
        session=text(given.get("session")),
        protocol_version=text(given.get("protocol_version")),
        era=text(given.get("era")),
        server=ServerInfo(
            name=text(server.get("name")), title=text(server.get("title")), version=text(server.get("version"))
        ),
        capabilities=names(given.get("capabilities")),
        instructions_chars=whole(given.get("instructions_chars")),
        tools=tuple(
            ToolInfo(
                name=str(tool.get("name", "")),
                description=str(tool.get("description") or ""),
                input_schema=tool["input_schema"] if isinstance(tool.get("input_schema"), dict) else {},
            )
            for tool in tools
        ),
        resources=names(given.get("resources")),
        resource_templates=names(given.get("resource_templates")),
        prompts=names(given.get("prompts")),
        context_chars=whole(given.get("context_chars")),
        context_tokens=whole(given.get("context_tokens")),
        inventory_limits=names(given.get("inventory_limits")),
        cold_start=_number(given.get("cold_start")),
        pid=given.get("pid") if isinstance(given.get("pid"), int) else None,
        stderr_lines=given.get("stderr_lines") if isinstance(given.get("stderr_lines"), int) else None,
        pin=text(given.get("pin")),
        tools_fingerprint=text(given.get("tools_fingerprint")),
        tool_changes=tuple(
            ToolChange(
                tool=str(change.get("tool", "")),
                change=str(change.get("change", "")),
                field=str(change.get("field") or ""),
                approved=str(change.get("approved") or ""),
                now=str(change.get("now") or ""),
            )
            for change in given.get("tool_changes") or ()
            if isinstance(change, dict)
        ),
    )


def _limit(item: dict[str, Any]) -> RateLimit:
    def whole(key: str) -> int | None:
        value = item.get(key)
        return value if isinstance(value, int) else None

    return RateLimit(
        resource=str(item.get("resource", "")),
        limit=whole("limit"),
        remaining=whole("remaining"),
        used=whole("used"),
        reset_at=parse_time(item.get("reset_at")),
        exhausts_at=parse_time(item.get("exhausts_at")),
        source=str(item.get("source", "")),
    )


def _status(value: Any) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.UNKNOWN


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from the daemon's JSON (`Z` or an offset), or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_alerts(document: Mapping[str, Any]) -> AlertsOverview:
    """The daemon's /api/v1/alerts document as the overview its own monitor would show. An entry that does not
    parse is left out (a newer daemon's, or a damaged one): the rest still shows."""
    doc: dict[str, Any] = clean_tree(dict(document))
    off = doc.get("off")
    channels = tuple(_channel(item) for item in doc.get("channels") or () if isinstance(item, dict))
    recent: list[NotificationRecord] = []
    for item in doc.get("notifications") or ():
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
            recent.append(
                NotificationRecord(
                    Notification.from_json(item["notification"]),
                    tuple(_delivery(view) for view in item.get("deliveries") or () if isinstance(view, dict)),
                )
            )
    given = doc.get("services")
    states: dict[str, tuple[AlertView, ...]] = {}
    for name, views in (given if isinstance(given, dict) else {}).items():
        states[str(name)] = tuple(
            AlertView(
                rule=str(view.get("rule", "")),
                state=str(view.get("state", "")),
                since=_unix(view.get("since")) or 0.0,
                detail=str(view.get("detail") or ""),
            )
            for view in views or ()
            if isinstance(view, dict)
        )
    return AlertsOverview(channels, tuple(recent), states, off if isinstance(off, str) else None)


def _channel(item: dict[str, Any]) -> ChannelHealth:
    given = item.get("breaker")
    breaker: dict[str, Any] = given if isinstance(given, dict) else {}
    return ChannelHealth(
        name=str(item.get("name", "")),
        type=str(item.get("type", "")),
        state=str(item.get("state", "")),
        last_error=clean_line(str(item.get("last_error") or ""), REASON_LIMIT),
        last_success=_unix(item.get("last_success")),
        last_failure=_unix(item.get("last_failure")),
        pending=_whole(item.get("pending")),
        firing=_whole(item.get("firing")),
        breaker=BreakerSnapshot(
            state=str(breaker.get("state", "closed")),
            failures=_whole(breaker.get("failures")),
            fail_max=_whole(breaker.get("fail_max")) or 5,
            retry_at=parse_time(breaker.get("retry_at")),
        ),
    )


def _delivery(item: dict[str, Any]) -> DeliveryView:
    return DeliveryView(
        channel=str(item.get("channel", "")),
        state=str(item.get("state", "")),
        attempts=_whole(item.get("attempts")),
        delivered_at=_unix(item.get("delivered_at")),
        late=bool(item.get("late")),
        last_error=clean_line(str(item.get("last_error") or ""), REASON_LIMIT),
    )


def _unix(value: Any) -> float | None:
    when = parse_time(value)
    return when.timestamp() if when is not None else None


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One SSE message from /api/v1/events: its name and its JSON data."""

    name: str
    data: dict[str, Any]


class ServeClient:
    """HTTP to one daemon: the fleet document, actions, and the event stream. Loopback or given URL only."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        # trust_env=False: a proxy from the environment must not see (or break) traffic to our own daemon.
        self._http = httpx2.AsyncClient(base_url=self.url, headers=self._headers, trust_env=False, timeout=10.0)
        self._sync: httpx2.Client | None = None
        """For `summary`, made on first use (only a monitor's detail screen asks)."""

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._sync is not None:
            self._sync.close()

    def summary(self, name: str) -> dict[str, Any] | None:
        """The daemon's history summary of one service (uptime and percentiles by window), or None when it
        records none. Blocking: the detail screen calls it from a worker thread, as it calls a local store."""
        if self._sync is None:
            self._sync = httpx2.Client(base_url=self.url, headers=self._headers, trust_env=False, timeout=10.0)
        response = self._sync.get(f"{SERVICES_PATH}/{quote(name, safe='')}")
        response.raise_for_status()
        summary = clean_tree(response.json()).get("history")
        return summary if isinstance(summary, dict) else None

    async def fleet(self, *, recent: bool = False) -> FleetSnapshot:
        """The fleet document as a snapshot; with `recent`, each service's history is its newest results."""
        response = await self._http.get(FLEET_PATH, params={"recent": "1"} if recent else None)
        response.raise_for_status()
        return parse_fleet(response.json())

    async def alerts(self) -> AlertsOverview:
        response = await self._http.get(ALERTS_PATH)
        response.raise_for_status()
        return parse_alerts(response.json())

    async def action(self, path: str) -> dict[str, Any]:
        """POST an action (`/api/v1/probe`, `/api/v1/services/NAME/pause`...); the daemon's answer."""
        response = await self._http.post(path)
        response.raise_for_status()
        answer: dict[str, Any] = clean_tree(response.json())
        return answer

    async def events(self) -> AsyncIterator[ServerEvent]:
        """The daemon's event stream until it ends; a read timeout is off (keepalives arrive every 15 s)."""
        timeout = httpx2.Timeout(10.0, read=None)
        async with self._http.stream("GET", EVENTS_PATH, timeout=timeout) as response:
            response.raise_for_status()
            name, data = "message", ""
            async for line in response.aiter_lines():
                if not line:
                    if data:
                        with contextlib.suppress(ValueError):
                            parsed = json.loads(data)
                            if isinstance(parsed, dict):
                                yield ServerEvent(name, parsed)
                    name, data = "message", ""
                elif line.startswith("event:"):
                    name = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data += line.removeprefix("data:").strip()
