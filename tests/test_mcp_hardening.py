"""MCP probes against servers that misbehave on purpose: slow starts, hangs, refusals, floods, endless lists.

Every server here is real: SDK servers over stdio (core/demo/mcp_servers.py), a Starlette app
on loopback that refuses at the HTTP level, and shell scripts that count their own starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fixtures_mcp import stdio_service, tagged_processes
from helpers import idle_engine, make_config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from core.demo.mcp_servers import asgi_app
from core.demo.serve import serve_in_thread
from core.events import LogEvent
from core.probes.line_throttle import BURST
from core.results import Status

pytestmark = pytest.mark.slow  # misbehaving MCP server processes, some hanging until a timeout

STARTING = "waiting for the server to start and answer the handshake"


async def test_cold_start_has_its_own_limit(tag) -> None:
    # A server that takes 3s to start is healthy when the cold start may take 15s, though a live probe gets 1s.
    slow = stdio_service("slow-start", "--delay", "3", tag=tag)
    config = make_config(
        {
            "patient": {**slow, "startup_timeout": "15s"},
            "impatient": {**slow, "startup_timeout": "1s"},
        },
        timeout="1s",
    )
    async with idle_engine(config) as engine:
        first = await engine.run_once()
        again = (await engine.run_once(["patient"])).get("patient")
    assert first.get("patient").status is Status.UP, first.get("patient").reason
    assert again.status is Status.UP, again.reason  # the live session now answers within `timeout`
    assert first.get("impatient").reason == f"timed out after 1s {STARTING}"
    assert tagged_processes(tag) == []


async def test_a_hang_on_a_live_session_names_the_stage(tag) -> None:
    config = make_config({"hangs": stdio_service("hang-on-list", tag=tag)}, timeout="2s", startup_timeout="30s")
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("hangs")
    assert service.status is Status.DOWN
    assert service.reason == "timed out after 2s waiting for tools/list"
    assert tagged_processes(tag) == []


async def test_exit_before_the_handshake_is_not_retried(tmp_path) -> None:
    starts = tmp_path / "starts.log"
    script = f'echo started >> "{starts}"; echo "error: missing API key" >&2; exit 1'
    config = make_config(
        {"exits": {"kind": "mcp", "command": "sh", "args": ["-c", script]}},
        retry={"attempts": 3, "initial": "10ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        first = (await engine.run_once()).get("exits")
        second = (await engine.run_once()).get("exits")
    assert first.reason == second.reason == "process exited with code 1: error: missing API key"
    assert first.last_result.attempts == second.last_result.attempts == 1
    assert starts.read_text().splitlines() == ["started", "started"]  # one spawn per probe, not three


class RefusingServer:
    """An HTTP endpoint answering every MCP request with a fixed status, counting the requests per path."""

    def __init__(self) -> None:
        self.requests: dict[int, int] = {}

    async def handle(self, request: Request) -> Response:
        status = int(request.path_params["status"])
        if request.method == "POST":
            self.requests[status] = self.requests.get(status, 0) + 1
        return PlainTextResponse("no", status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{status:int}/mcp", self.handle, methods=["GET", "POST", "DELETE"])])


@pytest.fixture
def refusing() -> Iterator[tuple[RefusingServer, str]]:
    server = RefusingServer()
    served = serve_in_thread(server.app())
    try:
        yield server, served.url
    finally:
        served.stop()


async def test_http_client_errors_are_final_server_errors_are_retried(refusing) -> None:
    server, base = refusing
    config = make_config(
        {str(status): {"kind": "mcp", "url": f"{base}/{status}/mcp"} for status in (401, 403, 404, 429, 503)},
        retry={"attempts": 3, "initial": "10ms", "jitter": 0},
        timeout="10s",
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    found = {s.name: (s.reason, s.last_result.attempts) for s in snapshot.services}
    assert found == {
        "401": ("unauthorized: HTTP 401 Unauthorized during the handshake", 1),
        "403": ("unauthorized: HTTP 403 Forbidden during the handshake", 1),
        # A url without a transport falls back to SSE after a 404 (an SSE-only server); that 404s too.
        "404": (
            "HTTP 404 Not Found during the handshake (over SSE, after streamable HTTP answered HTTP 404 Not Found)",
            1,
        ),
        "429": (found["429"][0], 1),
        "503": ("HTTP 503 Service Unavailable during the handshake", 3),
    }
    # "Not now" is no outage: degraded, never retried, and the gate holds further requests.
    limited = snapshot.get("429")
    assert limited.status is Status.DEGRADED and limited.gate_until is not None
    assert limited.reason.startswith("rate limited (HTTP 429): not sending requests until ")
    # A refusal of credentials ends the connection at once; a 404 to `server/discover` may only mean a
    # handshake-era gateway, so the SDK's one fallback to `initialize` is allowed, and then it stops.
    assert server.requests == {401: 1, 403: 1, 404: 2, 429: 1, 503: 6}


class RevocableServer:
    """The demo MCP server over streamable HTTP, which starts refusing every POST when told to."""

    def __init__(self) -> None:
        self.app = asgi_app("docs", "http")
        self.refuse_with: int | None = None
        self.refused = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self.refuse_with is not None:
            self.refused += 1
            await PlainTextResponse("token revoked", status_code=self.refuse_with)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def test_credentials_revoked_on_a_live_session_are_not_retried() -> None:
    server = RevocableServer()
    served = serve_in_thread(server)
    try:
        config = make_config(
            {"remote": {"kind": "mcp", "url": f"{served.url}/mcp"}},
            retry={"attempts": 3, "initial": "10ms", "jitter": 0},
            timeout="10s",
        )
        async with idle_engine(config) as engine:
            first = (await engine.run_once()).get("remote")
            server.refuse_with = 401
            second = (await engine.run_once()).get("remote")
    finally:
        served.stop()
    assert first.status is Status.UP, first.reason
    assert second.reason == "unauthorized: HTTP 401 Unauthorized during server/discover"
    assert second.last_result.attempts == 1 and server.refused == 1


async def test_tool_list_past_the_item_cap_is_degraded(tag) -> None:
    server = stdio_service("many-tools", "--count", "100000", "--page-size", "1000", tag=tag)
    config = make_config({"huge": server}, timeout="30s")
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("huge")
    assert service.status is Status.DEGRADED
    assert service.reason == "tool list capped at 5000 (the server offers more)"
    assert service.details.tool_count == 5000


async def test_inventory_past_the_byte_cap_is_degraded(tag) -> None:
    # 2,000 tools of 10 KB each: 20 MB of descriptions, twice the cap.
    server = stdio_service(
        "many-tools", "--count", "2000", "--description-bytes", "10000", "--page-size", "100", tag=tag
    )
    config = make_config({"wordy": server}, timeout="30s")
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("wordy")
    assert service.status is Status.DEGRADED
    assert service.reason == "inventory capped at 10 MiB during tools/list (the server offers more)"
    assert 900 < service.details.tool_count < 1100


async def test_pagination_that_never_ends_is_degraded(tag) -> None:
    config = make_config({"endless": stdio_service("endless-cursor", tag=tag)}, timeout="30s")
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("endless")
    assert service.status is Status.DEGRADED
    assert service.reason == "tools/list pagination did not end after 500 pages"
    assert service.details.tool_count == 500


async def test_server_log_flood_is_rate_limited(tag) -> None:
    lines = 5000
    server = stdio_service("log-flood", "--era", "legacy", "--log-lines", str(lines), tag=tag)
    config = make_config({"flood": server}, timeout="60s")
    async with idle_engine(config) as engine:
        events = engine.subscribe(maxsize=100_000)
        started = time.monotonic()
        service = (await engine.run_once()).get("flood")
        elapsed = time.monotonic() - started
    assert service.status is Status.UP, service.reason
    logs = [e for e in events.drain() if isinstance(e, LogEvent) and e.source == "server"]
    relayed = [e for e in logs if e.message.startswith("sync step ")]
    summaries = [e for e in logs if e.message.endswith("more server log lines not shown)")]
    held_back = sum(int(e.message.strip("(").split()[0]) for e in summaries)
    # At most a burst a second is relayed, however long the flood lasts; the rest is counted, not lost.
    assert len(relayed) <= BURST * (elapsed + 1) < lines
    assert summaries and len(relayed) + held_back == lines
