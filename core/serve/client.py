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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from core.details import McpDetails, ServerInfo, ToolInfo
from core.history.lock import read_holder
from core.history.paths import lock_path
from core.ratelimit import RateLimit
from core.results import Check, ProbeResult, Status
from core.sanitize import clean_tree
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
EVENTS_PATH = "/api/v1/events"


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
    """The daemon's fleet document (the --once JSON report, plus `paused` and `mcp_details` per service) as a
    snapshot. Not kept: percentiles, uptime and sparkline history (the daemon's /api/v1/services/NAME has
    them); latency is the last one."""
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
    return ServiceSnapshot(
        info=info,
        status=status,
        reason=reason,
        tally=ProbeTally(last_checked=checked_at, details=_mcp_details(item.get("mcp_details"))),
        last_result=result,
        history=(result,) if result is not None else (),
        latency=LatencyStats(last_ms=latency, samples=1 if latency is not None else 0),
        breaker=BreakerSnapshot(
            state=str(breaker.get("state", "closed")),
            failures=int(breaker.get("failures") or 0),
            fail_max=int(breaker.get("fail_max") or 5),
            retry_at=now + timedelta(seconds=retry_in) if retry_in is not None else None,
        ),
        live=ServiceLive(
            paused=bool(item.get("paused")),
            rate_limits=tuple(_limit(limit) for limit in item.get("rate_limits") or () if isinstance(limit, dict)),
            gate_until=parse_time(item.get("rate_limited_until")),
        ),
    )


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


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One SSE message from /api/v1/events: its name and its JSON data."""

    name: str
    data: dict[str, Any]


class ServeClient:
    """HTTP to one daemon: the fleet document, actions, and the event stream. Loopback or given URL only."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # trust_env=False: a proxy from the environment must not see (or break) traffic to our own daemon.
        self._http = httpx2.AsyncClient(base_url=self.url, headers=headers, trust_env=False, timeout=10.0)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fleet(self) -> FleetSnapshot:
        response = await self._http.get(FLEET_PATH)
        response.raise_for_status()
        return parse_fleet(response.json())

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
