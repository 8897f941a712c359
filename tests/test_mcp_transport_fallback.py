"""A `url` without a transport: streamable HTTP first, then SSE on 400/404/405, as MCP clients do.

Against the SDK's own SSE server on loopback (the demo's docs server): an untyped url finds it and
says so ("sse (fallback)"), keeps using SSE without asking HTTP again, and detects anew after a
failure; a typed `transport: http` never falls back, and neither does a 401.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import idle_engine, make_config
from starlette.responses import PlainTextResponse

from core.config.models import McpClientEntry, McpService
from core.demo.mcp_servers import asgi_app
from core.demo.serve import serve_in_thread
from core.report import render_json
from core.results import Status


class CountingSse:
    """The docs demo server over SSE, counting POSTs to its SSE URL (streamable-HTTP tries) and SSE GETs."""

    def __init__(self) -> None:
        self.app = asgi_app("docs", "sse")
        self.http_tries = 0
        self.sse_opens = 0
        self.refuse_sse = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/sse":
            if scope["method"] == "POST":
                self.http_tries += 1
            elif scope["method"] == "GET":
                self.sse_opens += 1
                if self.refuse_sse:
                    await PlainTextResponse("gone", status_code=503)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


@pytest.fixture
def sse_server() -> Iterator[tuple[CountingSse, str]]:
    server = CountingSse()
    served = serve_in_thread(server)
    try:
        yield server, f"{served.url}/sse"
    finally:
        served.stop()


async def test_an_untyped_url_falls_back_to_sse_and_says_so(sse_server) -> None:
    server, url = sse_server
    config = make_config({"legacy": {"kind": "mcp", "url": url}}, timeout="10s")
    async with idle_engine(config) as engine:
        first = (await engine.run_once()).get("legacy")
        tries_after_first = server.http_tries
        second = await engine.run_once()
    assert first.status is Status.UP, first.reason
    assert first.details.transport == "sse (fallback)"
    assert first.details.tool_count > 0
    # The SDK's era probe then `initialize`: both POSTs refused (405), then SSE answered.
    assert tries_after_first >= 1 and server.sse_opens == 1
    # Remembered: the second probe (a live session) asked HTTP nothing more.
    assert second.get("legacy").status is Status.UP and server.http_tries == tries_after_first
    entry = json.loads(render_json(second))["services"][0]
    assert entry["transport"] == "sse (fallback)" and entry["auth"] is None


async def test_a_fresh_session_reuses_the_detected_transport_until_a_failure(sse_server) -> None:
    server, url = sse_server
    config = make_config(
        {"legacy": {"kind": "mcp", "url": url, "session": "fresh"}}, timeout="10s", retry={"attempts": 1}
    )
    async with idle_engine(config) as engine:
        await engine.run_once()
        tries = server.http_tries
        again = (await engine.run_once()).get("legacy")
        assert again.status is Status.UP and server.http_tries == tries  # straight to SSE
        server.refuse_sse = True
        failed = (await engine.run_once()).get("legacy")
        assert failed.status is Status.DOWN
        server.refuse_sse = False
        recovered = (await engine.run_once()).get("legacy")
    # The failing probe went straight to SSE (remembered); its reason is SSE's own.
    assert failed.reason == "HTTP 503 Service Unavailable during the handshake"
    assert recovered.status is Status.UP and recovered.details.transport == "sse (fallback)"
    assert server.http_tries > tries  # after the failure HTTP was tried first again


async def test_a_typed_http_url_does_not_fall_back(sse_server) -> None:
    server, url = sse_server
    config = make_config({"typed": {"kind": "mcp", "transport": "http", "url": url}}, timeout="10s")
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("typed")
    assert service.status is Status.DOWN
    assert service.reason.startswith("HTTP 405 Method Not Allowed during the handshake"), service.reason
    assert server.sse_opens == 0


async def test_a_streamable_http_server_answers_an_untyped_url_over_http(mcp_http_url) -> None:
    config = make_config({"modern": {"kind": "mcp", "url": mcp_http_url}}, timeout="10s")
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("modern")
    assert service.status is Status.UP and service.details.transport == "http"


def test_only_an_untyped_url_falls_back() -> None:
    url = "http://127.0.0.1:9/mcp"
    assert McpService(url=url).sse_fallback
    assert not McpService(url=url, transport="http").sse_fallback
    assert McpService(url=url) != McpService(url=url, transport="http")
    assert McpService(**McpClientEntry(url=url).as_service()).sse_fallback
    assert not McpService(**McpClientEntry(url=url, type="http").as_service()).sse_fallback
    assert McpService(**McpClientEntry(url=url, type="sse").as_service()).transport == "sse"
