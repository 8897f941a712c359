"""The HTTP probe over an injected `httpx2.MockTransport`: what it concludes from an answer, without a socket.

Each handler is the server: it records what reached it, so a claim like "the
credentials never went to the other host" is proven by the requests it saw.
What needs a real socket (timeouts, resets, refused connections) stays in
test_engine_http.py against a loopback server.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from helpers import make_config
from rich.console import Console, Group

from core.config import HttpService
from core.deadline import Deadline
from core.details import HttpDetails
from core.engine import Engine
from core.probes.base import ProbeContext
from core.probes.http import HttpProbe
from core.report import to_json
from core.results import ProbeError, RateLimited, Status

Handler = Callable[[httpx2.Request], httpx2.Response]
ROOT = Path(__file__).resolve().parent.parent


def answer(
    status: int, *, body: Any = None, content: bytes = b"", headers: dict[str, str] | None = None
) -> httpx2.Response:
    """A response the probe streams as from the network (`content=` would hand it over already read)."""
    headers = dict(headers or {})
    if body is not None:
        content = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    return httpx2.Response(status, headers=headers, stream=httpx2.ByteStream(content))


def probe_for(handler: Handler, **service: Any) -> tuple[HttpProbe, list[httpx2.Request]]:
    """An HttpProbe whose shared client talks to `handler`; the list fills with every request it received."""
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return handler(request)

    config = make_config({"api": {"kind": "http", "url": "https://api.example.test/health", **service}})
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(record))
    ctx = ProbeContext(
        service_name="api",
        http=lambda: client,
        log=lambda level, message, source: None,
        publish=lambda event: None,
        redact=config.redact,
    )
    service = config.services["api"]
    assert isinstance(service, HttpService)
    return HttpProbe(service, ctx), seen


async def attempt(probe: HttpProbe) -> Any:
    return await probe.attempt(Deadline(5.0))


async def test_an_expected_answer_is_up_with_every_check_passed() -> None:
    probe, seen = probe_for(
        lambda request: answer(200, body={"status": "ok", "db": "up"}),
        expect={"status": [200], "body": {"status": "ok"}, "max_latency": "5s"},
    )
    outcome = await attempt(probe)
    assert outcome.status is Status.UP and outcome.reason == "" and outcome.http_status == 200
    assert [(c.condition, c.ok) for c in outcome.checks] == [
        ("status is 200", True),
        ('body contains {"status": "ok"}', True),
        ("latency at most 5s", True),
    ]
    assert len(seen) == 1 and seen[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(("code", "retryable"), [(503, True), (408, True), (404, False)])
async def test_an_unexpected_status_is_down_and_retried_only_if_it_may_pass(code: int, retryable: bool) -> None:
    probe, _ = probe_for(lambda request: answer(code))
    with pytest.raises(ProbeError) as raised:
        await attempt(probe)
    failure = raised.value
    phrase = httpx2.codes.get_reason_phrase(code)
    assert failure.reason == f"HTTP {code} {phrase} (expected 200)"
    assert (failure.retryable, failure.http_status) == (retryable, code)
    assert [(c.condition, c.ok) for c in failure.checks] == [("status is 200", False)]


async def test_a_body_that_does_not_contain_the_subset_is_down_and_final() -> None:
    probe, _ = probe_for(
        lambda request: answer(200, body={"status": "degraded", "db": "up"}),
        expect={"body": {"status": "ok"}},
    )
    with pytest.raises(ProbeError) as raised:
        await attempt(probe)
    assert raised.value.reason == "body mismatch: status is 'degraded', expected 'ok'"
    assert raised.value.retryable is False
    assert [c.ok for c in raised.value.checks] == [True, False]


async def test_a_body_that_is_not_json_cannot_match() -> None:
    probe, _ = probe_for(
        lambda request: answer(200, content=b"<html>ok</html>", headers={"content-type": "text/html"}),
        expect={"body": {"status": "ok"}},
    )
    with pytest.raises(ProbeError, match=r"^response body is not valid JSON$"):
        await attempt(probe)


async def test_a_gzip_bomb_is_read_only_up_to_max_body() -> None:
    inflated = json.dumps({"status": "ok", "pad": "0" * 5_000_000}).encode()
    bomb = gzip.compress(inflated)
    probe, _ = probe_for(
        lambda request: answer(
            200, content=bomb, headers={"content-encoding": "gzip", "content-type": "application/json"}
        ),
        expect={"body": {"status": "ok"}},
        max_body="64KiB",
    )
    with pytest.raises(ProbeError) as raised:
        await attempt(probe)
    assert raised.value.reason == "body larger than 64 KiB"
    assert raised.value.details == HttpDetails(body_truncated_at=64 * 1024)


async def test_a_redirect_to_another_host_does_not_carry_credentials() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "api.example.test":
            return answer(302, headers={"location": "https://elsewhere.example.test/health"})
        return answer(200)

    probe, seen = probe_for(handler, headers={"Authorization": "Bearer sk-test-0123456789"})
    with pytest.raises(ProbeError) as raised:
        await attempt(probe)
    assert raised.value.reason == (
        "HTTP 302 redirect to elsewhere.example.test: not following with credentials to another host"
    )
    assert raised.value.retryable is False
    assert [request.url.host for request in seen] == ["api.example.test"]  # the other host saw nothing


async def test_a_same_origin_redirect_is_followed_with_its_headers() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/health":
            return answer(301, headers={"location": "/v2/health"})
        return answer(200)

    probe, seen = probe_for(handler, headers={"Authorization": "Bearer sk-test-0123456789"})
    outcome = await attempt(probe)
    assert outcome.status is Status.UP
    assert [request.url.path for request in seen] == ["/health", "/v2/health"]
    assert seen[1].headers["authorization"] == "Bearer sk-test-0123456789"


async def test_429_is_rate_limited_not_down() -> None:
    probe, _ = probe_for(lambda request: answer(429, headers={"retry-after": "120"}))
    with pytest.raises(RateLimited) as raised:
        await attempt(probe)
    limited = raised.value
    assert limited.reason == "rate limited (HTTP 429)"
    assert limited.retryable is False and limited.until is not None


async def test_a_transport_failure_is_translated_by_the_shared_table() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    probe, _ = probe_for(handler)
    with pytest.raises(ProbeError, match=r"^connection closed before a complete response$"):
        await attempt(probe)


async def test_the_engine_takes_an_injected_transport_and_shows_the_checks() -> None:
    """Engine(http_transport=...): the checks reach the snapshot, the JSON report and the detail screen."""
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return answer(200, body={"status": "degraded"})

    config = make_config(
        {"api": {"kind": "http", "url": "https://api.example.test/health", "expect": {"body": {"status": "ok"}}}}
    )
    engine = Engine(config, http_transport=httpx2.MockTransport(handler))
    try:
        snapshot = await engine.run_once()
    finally:
        await engine.stop()
    assert seen == ["https://api.example.test/health"]
    service = snapshot.get("api")
    assert service is not None and service.status is Status.DOWN
    assert service.reason == "body mismatch: status is 'degraded', expected 'ok'"
    report = to_json(snapshot)["services"][0]
    assert report["checks"] == [
        {"condition": "status is 200", "ok": True, "message": "HTTP 200 OK"},
        {
            "condition": 'body contains {"status": "ok"}',
            "ok": False,
            "message": "body mismatch: status is 'degraded', expected 'ok'",
        },
    ]
    from tui.screens import detail_sections

    console = Console(width=120, record=True, color_system=None)
    console.print(Group(*detail_sections(service, snapshot.taken_at)))
    screen = console.export_text()
    assert "Checks" in screen
    assert "✓ pass  status is 200" in screen and "✗ fail  body contains" in screen


def test_an_http_only_fleet_never_imports_the_mcp_sdk() -> None:
    """The MCP package (and with it the heavy SDK) is imported only for a fleet with an MCP service."""
    code = (
        "import asyncio, sys, httpx2\n"
        "from core.config import parse_config\n"
        "from core.engine import Engine\n"
        "config = parse_config('services:\\n  api:\\n    kind: http\\n    url: https://api.example.test/\\n', env={})\n"
        "def handler(request):\n"
        "    return httpx2.Response(200, stream=httpx2.ByteStream(b''))\n"
        "async def main():\n"
        "    engine = Engine(config, http_transport=httpx2.MockTransport(handler))\n"
        "    snapshot = await engine.run_once()\n"
        "    await engine.stop()\n"
        "    assert snapshot.services[0].status.value == 'up', snapshot.services[0].reason\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types') or m == 'core.probes.mcp'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
