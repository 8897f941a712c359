"""The HTTP probe against a loopback server whose answers a test writes: what the probe concludes from them.

Each handler is the server: it receives every request the probe sent (as an `httpx2.Request`, a plain
record of method, URL, headers and body) and returns the answer to write back (an `httpx2.Response`),
so a claim like "the credentials never went to the other host" is proven by the requests it saw. The
server is a real one (asyncio, HTTP/1.1 with keep-alive, on 127.0.0.1); a handler that raises `Drop`
closes the connection without answering. What needs the demo API's routes (timeouts, resets,
refused connections) stays in test_engine_http.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
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
from core.probes import http_session, tls
from core.probes.base import ProbeContext
from core.probes.http import HttpProbe
from core.report import to_json
from core.results import ProbeError, RateLimited, Status

Handler = Callable[[httpx2.Request], httpx2.Response]
ROOT = Path(__file__).resolve().parent.parent


class Drop(Exception):
    """Raised by a handler: the server closes the connection without an answer."""


class Loopback:
    """A real HTTP/1.1 server on 127.0.0.1 that answers with `handler` and keeps what it received."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.seen: list[httpx2.Request] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.connections_closed = 0
        """Connections that ended (the client closed them, or a handler dropped them)."""

    async def __aenter__(self) -> Loopback:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._answer(reader, writer)
        except asyncio.CancelledError:
            pass  # the test is over (asyncio 3.11 logs a handler that ends cancelled: it ends normally)
        finally:
            self._handlers.discard(task)
            self.connections_closed += 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, Drop):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                request_line, *lines = head.split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                fields = [tuple(line.split(":", 1)) for line in lines if line]
                headers = [(name.strip(), value.strip()) for name, value in fields]
                length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
                body = await reader.readexactly(length) if length else b""
                host = next(v for n, v in headers if n.lower() == "host")
                url = target if target.startswith("http://") else f"http://{host}{target}"  # a proxy's: absolute
                client_port = writer.get_extra_info("peername")[1]
                headers.append(("x-test-client-port", str(client_port)))
                request = httpx2.Request(method, url, headers=headers, content=body)
                self.seen.append(request)
                response = self.handler(request)
                content = b"".join(response.stream)  # type: ignore[arg-type]  # as given: never decoded
                status = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
                written = "".join(f"{n}: {v}\r\n" for n, v in response.headers.items() if n != "content-length")
                writer.write(f"{status}{written}Content-Length: {len(content)}\r\n\r\n".encode() + content)
                await writer.drain()


def answer(
    status: int, *, body: Any = None, content: bytes = b"", headers: dict[str, str] | None = None
) -> httpx2.Response:
    """The answer a handler returns: status, headers and the body bytes to send as they are."""
    headers = dict(headers or {})
    if body is not None:
        content = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    return httpx2.Response(status, headers=headers, content=content)


def no_shared_client() -> httpx2.AsyncClient:
    raise AssertionError("an HTTP probe never uses the engine's shared httpx2 client")


def make_probe(url: str, **service: Any) -> HttpProbe:
    """The probe the engine would build for an HTTP service of `url` (close it with `aclose`)."""
    config = make_config({"api": {"kind": "http", "url": url, **service}})
    ctx = ProbeContext(
        service_name="api",
        http=no_shared_client,
        log=lambda level, message, source: None,
        publish=lambda event: None,
        redact=config.redact,
    )
    service_config = config.services["api"]
    assert isinstance(service_config, HttpService)
    return HttpProbe(service_config, ctx)


@contextlib.asynccontextmanager
async def probe_for(handler: Handler, **service: Any) -> AsyncIterator[tuple[HttpProbe, list[httpx2.Request]]]:
    """An HttpProbe of a loopback server answering with `handler`; the list fills with every request it got."""
    async with Loopback(handler) as server:
        probe = make_probe(f"{server.url}/health", **service)
        try:
            yield probe, server.seen
        finally:
            await probe.aclose()


async def attempt(probe: HttpProbe) -> Any:
    return await probe.attempt(Deadline(5.0))


async def test_an_expected_answer_is_up_with_every_check_passed() -> None:
    async with probe_for(
        lambda request: answer(200, body={"status": "ok", "db": "up"}),
        expect={"status": [200], "body": {"status": "ok"}, "max_latency": "5s"},
    ) as (probe, seen):
        outcome = await attempt(probe)
    assert outcome.status is Status.UP and outcome.reason == "" and outcome.http_status == 200
    assert [(c.condition, c.ok) for c in outcome.checks] == [
        ("status is 200", True),
        ('body contains {"status": "ok"}', True),
        ("latency at most 5s", True),
    ]
    assert len(seen) == 1 and seen[0].headers["accept-encoding"] == "gzip, deflate"
    assert seen[0].headers["user-agent"].startswith("lookout/")
    assert outcome.details == HttpDetails(http_version="HTTP/1.1")


@pytest.mark.parametrize(("code", "retryable"), [(503, True), (408, True), (404, False)])
async def test_an_unexpected_status_is_down_and_retried_only_if_it_may_pass(code: int, retryable: bool) -> None:
    async with probe_for(lambda request: answer(code)) as (probe, _):
        with pytest.raises(ProbeError) as raised:
            await attempt(probe)
    failure = raised.value
    phrase = httpx2.codes.get_reason_phrase(code)
    assert failure.reason == f"HTTP {code} {phrase} (expected 200)"
    assert (failure.retryable, failure.http_status) == (retryable, code)
    assert [(c.condition, c.ok) for c in failure.checks] == [("status is 200", False)]


async def test_a_body_that_does_not_contain_the_subset_is_down_and_final() -> None:
    async with probe_for(
        lambda request: answer(200, body={"status": "degraded", "db": "up"}),
        expect={"body": {"status": "ok"}},
    ) as (probe, _):
        with pytest.raises(ProbeError) as raised:
            await attempt(probe)
    assert raised.value.reason == "body mismatch: status is 'degraded', expected 'ok'"
    assert raised.value.retryable is False
    assert [c.ok for c in raised.value.checks] == [True, False]


async def test_a_body_that_is_not_json_cannot_match() -> None:
    async with probe_for(
        lambda request: answer(200, content=b"<html>ok</html>", headers={"content-type": "text/html"}),
        expect={"body": {"status": "ok"}},
    ) as (probe, _):
        with pytest.raises(ProbeError, match=r"^response body is not valid JSON$"):
            await attempt(probe)


async def test_a_gzip_bomb_is_read_only_up_to_max_body() -> None:
    inflated = json.dumps({"status": "ok", "pad": "0" * 5_000_000}).encode()
    bomb = gzip.compress(inflated)
    async with probe_for(
        lambda request: answer(
            200, content=bomb, headers={"content-encoding": "gzip", "content-type": "application/json"}
        ),
        expect={"body": {"status": "ok"}},
        max_body="64KiB",
    ) as (probe, _):
        with pytest.raises(ProbeError) as raised:
            await attempt(probe)
    assert raised.value.reason == "body larger than 64 KiB"
    assert raised.value.details == HttpDetails(body_truncated_at=64 * 1024)


async def test_a_redirect_to_another_origin_does_not_carry_credentials() -> None:
    async with Loopback(lambda request: answer(200)) as elsewhere:
        redirect = answer(302, headers={"location": f"{elsewhere.url}/health"})
        async with probe_for(lambda request: redirect, headers={"Authorization": "Bearer sk-test-0123456789"}) as (
            probe,
            seen,
        ):
            with pytest.raises(ProbeError) as raised:
                await attempt(probe)
    assert raised.value.reason == "HTTP 302 redirect to 127.0.0.1: not following with credentials to another host"
    assert raised.value.retryable is False
    assert len(seen) == 1 and elsewhere.seen == []  # the other origin (another port) saw nothing


async def test_a_redirect_to_another_origin_is_followed_when_the_service_sends_no_headers() -> None:
    async with Loopback(lambda request: answer(200)) as elsewhere:
        redirect = answer(307, headers={"location": f"{elsewhere.url}/moved"})
        async with probe_for(lambda request: redirect) as (probe, seen):
            outcome = await attempt(probe)
    assert outcome.status is Status.UP
    assert len(seen) == 1 and [request.url.path for request in elsewhere.seen] == ["/moved"]


async def test_a_same_origin_redirect_is_followed_with_its_headers() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/health":
            return answer(301, headers={"location": "/v2/health"})
        return answer(200)

    async with probe_for(handler, headers={"Authorization": "Bearer sk-test-0123456789"}) as (probe, seen):
        outcome = await attempt(probe)
    assert outcome.status is Status.UP
    assert [request.url.path for request in seen] == ["/health", "/v2/health"]
    assert seen[1].headers["authorization"] == "Bearer sk-test-0123456789"


async def test_a_303_turns_a_post_into_a_get_without_its_body() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/health":
            return answer(303, headers={"location": "/result"})
        return answer(200)

    async with probe_for(handler, method="POST", body='{"q": 1}') as (probe, seen):
        outcome = await attempt(probe)
    assert outcome.status is Status.UP
    sent = [(r.method, r.url.path, r.content) for r in seen]
    assert sent == [("POST", "/health", b'{"q": 1}'), ("GET", "/result", b"")]
    assert "content-type" not in seen[0].headers  # no type the service did not configure


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
async def test_no_request_carries_a_content_type_the_service_did_not_set(method: str) -> None:
    async with probe_for(lambda request: answer(200), method=method) as (probe, seen):
        outcome = await attempt(probe)
    assert outcome.status is Status.UP
    assert seen[0].method == method
    assert "content-type" not in seen[0].headers


async def test_more_than_five_redirects_is_down_and_final() -> None:
    async with probe_for(lambda request: answer(302, headers={"location": "/again"})) as (probe, seen):
        with pytest.raises(ProbeError) as raised:
            await attempt(probe)
    assert (raised.value.reason, raised.value.retryable) == ("more than 5 redirects", False)
    assert len(seen) == 6


async def test_429_is_rate_limited_not_down() -> None:
    async with probe_for(lambda request: answer(429, headers={"retry-after": "120"})) as (probe, _):
        with pytest.raises(RateLimited) as raised:
            await attempt(probe)
    limited = raised.value
    assert limited.reason == "rate limited (HTTP 429)"
    assert limited.retryable is False and limited.until is not None


async def test_a_connection_closed_without_an_answer_is_translated_by_the_shared_table() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise Drop

    async with probe_for(handler) as (probe, seen):
        with pytest.raises(ProbeError, match=r"^connection closed before a complete response$") as raised:
            await attempt(probe)
    assert raised.value.retryable is True
    assert len(seen) == 1, "sent once: another try is the engine's retry policy's decision, not the client's"


async def test_a_kept_connection_that_breaks_is_a_failure_not_a_silent_second_request() -> None:
    """aiohttp sends an idempotent request again when a reused connection breaks; a probe must see the break
    (the engine's retry policy decides, and counts the attempt), so the server gets the request once."""
    answered = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal answered
        answered += 1
        if answered > 1:
            raise Drop
        return answer(200)

    async with probe_for(handler) as (probe, seen):
        await attempt(probe)
        with pytest.raises(ProbeError, match=r"^connection closed before a complete response$"):
            await attempt(probe)
    assert len(seen) == 2 and seen[0].headers["x-test-client-port"] == seen[1].headers["x-test-client-port"]


async def test_a_connection_is_reused_by_the_next_probe_and_cookies_are_kept() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return answer(200, headers={"set-cookie": "session=abc; Path=/"})

    async with probe_for(handler) as (probe, seen):
        await attempt(probe)
        await attempt(probe)
    assert "cookie" not in seen[0].headers and seen[1].headers["cookie"] == "session=abc"


def cookie_per_path(request: httpx2.Request) -> httpx2.Response:
    """Sets a cookie naming the path asked for: whose cookie comes back says whose jar it was in."""
    return answer(200, headers={"set-cookie": f"who={request.url.path.strip('/')}; Path=/"})


def port_of(request: httpx2.Request) -> int:
    return int(request.headers["x-test-client-port"])


async def test_services_on_one_server_share_no_connection_and_no_cookie() -> None:
    """The fleet shares one aiohttp session: each service still gets only its own connections and cookies."""
    async with Loopback(cookie_per_path) as server:
        one, two = make_probe(f"{server.url}/one"), make_probe(f"{server.url}/two")
        try:
            for probe in (one, two, one, two):
                assert (await attempt(probe)).status is Status.UP
        finally:
            await one.aclose()
            await two.aclose()
    first_one, first_two, again_one, again_two = server.seen
    assert "cookie" not in first_one.headers and "cookie" not in first_two.headers
    assert again_one.headers["cookie"] == "who=one" and again_two.headers["cookie"] == "who=two"
    assert port_of(first_one) == port_of(again_one) and port_of(first_two) == port_of(again_two)
    assert port_of(first_one) != port_of(first_two)


async def test_resetting_a_service_closes_its_connection_and_forgets_its_cookies_not_another_services() -> None:
    """What the breaker's opening does (`reset`): that service starts afresh, the others keep what they have."""
    async with Loopback(cookie_per_path) as server:
        one, two = make_probe(f"{server.url}/one"), make_probe(f"{server.url}/two")
        try:
            await attempt(one)
            await attempt(two)
            await one.reset()
            for _ in range(60):
                if server.connections_closed:
                    break
                await asyncio.sleep(0.05)
            assert server.connections_closed == 1
            await attempt(one)
            await attempt(two)
        finally:
            await one.aclose()
            await two.aclose()
        for _ in range(60):
            if server.connections_closed == 3:
                break
            await asyncio.sleep(0.05)
        assert server.connections_closed == 3, "every connection closed with the last service"
    first_one, first_two, again_one, again_two = server.seen
    assert "cookie" not in again_one.headers and port_of(again_one) != port_of(first_one)
    assert again_two.headers["cookie"] == "who=two" and port_of(again_two) == port_of(first_two)


async def test_a_duplicated_header_is_read_as_its_values_joined() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            401, headers=[("www-authenticate", 'Bearer error="invalid_token"'), ("www-authenticate", "Basic")]
        )

    async with probe_for(handler) as (probe, _):
        with pytest.raises(ProbeError) as raised:
            await attempt(probe)
    assert raised.value.reason == "unauthorized: HTTP 401 Unauthorized: invalid_token"


async def test_headers_past_the_size_limit_are_a_reason_not_a_memory_cost() -> None:
    huge = http_session.MAX_FIELD + 1
    async with probe_for(lambda request: answer(200, headers={"x-huge": "a" * huge})) as (probe, _):
        with pytest.raises(ProbeError, match=r"^response headers too large$"):
            await attempt(probe)
    many = {f"x-{n}": "a" for n in range(http_session.MAX_HEADERS + 1)}
    async with probe_for(lambda request: answer(200, headers=many)) as (probe, _):
        with pytest.raises(ProbeError, match=r"^response headers too large$"):
            await attempt(probe)
    under = {"x-big": "a" * 60_000, **{f"x-{n}": "a" for n in range(100)}}  # within both: judged as usual
    async with probe_for(lambda request: answer(200, headers=under)) as (probe, _):
        assert (await attempt(probe)).status is Status.UP


async def test_an_idle_connection_is_closed_after_the_keepalive_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet on long intervals keeps no socket open between probes: the pool lets idle ones go."""
    monkeypatch.setattr(http_session, "KEEPALIVE_EXPIRY", 0.2)
    async with Loopback(lambda request: answer(200)) as server:
        probe = make_probe(f"{server.url}/health")
        try:
            await attempt(probe)
            for _ in range(60):
                if server.connections_closed:
                    break
                await asyncio.sleep(0.05)
            assert server.connections_closed == 1, "still open 3 s after a 0.2 s keep-alive expiry"
            await attempt(probe)  # a new connection, as a probe after a long interval gets
        finally:
            await probe.aclose()
    assert len(server.seen) == 2


async def test_https_is_verified_with_the_shared_context_and_its_connection_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One TLS context for every service (httpx2's defaults: SSL_CERT_FILE is honoured), a kept-alive
    TLS connection reused by the next probe, and asyncio's per-connection TLS buffer made small."""
    import asyncio.sslproto

    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    tls.tls_context.cache_clear()
    try:
        async with Loopback(lambda request: answer(200), tls=server_context) as server:
            one, two = make_probe(f"{server.url}/a"), make_probe(f"{server.url}/b")
            try:
                for probe in (one, two, one, two):
                    outcome = await attempt(probe)
                    assert outcome.status is Status.UP
                    assert outcome.details == HttpDetails(http_version="HTTP/1.1")
            finally:
                await one.aclose()
                await two.aclose()
        assert tls.tls_context() is tls.tls_context()  # built once, for all
    finally:
        tls.tls_context.cache_clear()  # the next test's context trusts what it should, not this CA
    ports = {p: {int(r.headers["x-test-client-port"]) for r in server.seen if r.url.path == p} for p in ("/a", "/b")}
    assert len(ports["/a"]) == 1 and len(ports["/b"]) == 1 and ports["/a"] != ports["/b"]
    assert asyncio.sslproto.SSLProtocol.max_size <= tls.TLS_READ_BUFFER


async def test_proxies_from_the_environment_are_used_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As httpx2's trust_env did: HTTP_PROXY carries a probe's request; NO_PROXY exempts a host."""
    async with Loopback(lambda request: answer(200)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with probe_for(lambda request: answer(500)) as (probe, seen):
            outcome = await attempt(probe)
        assert outcome.status is Status.UP and seen == []
        assert [str(request.url) for request in proxy.seen] == [probe.service.url]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with probe_for(lambda request: answer(200)) as (probe, seen):
            await attempt(probe)
        assert len(seen) == 1 and len(proxy.seen) == 1


async def test_the_engine_probes_a_loopback_server_and_shows_the_checks() -> None:
    """The checks reach the snapshot, the JSON report and the detail screen."""
    async with Loopback(lambda request: answer(200, body={"status": "degraded"})) as server:
        service = {"kind": "http", "url": f"{server.url}/health", "expect": {"body": {"status": "ok"}}}
        config = make_config({"api": service})
        engine = Engine(config)
        try:
            snapshot = await engine.run_once()
        finally:
            await engine.stop()
    assert [str(request.url) for request in server.seen] == [f"{server.url}/health"]
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
        "import asyncio, sys\n"
        "from core.config import parse_config\n"
        "from core.engine import Engine\n"
        "async def answer(reader, writer):\n"
        "    await reader.readuntil(b'\\r\\n\\r\\n')\n"
        "    writer.write(b'HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n')\n"
        "    await writer.drain()\n"
        "    writer.close()\n"
        "async def main():\n"
        "    server = await asyncio.start_server(answer, '127.0.0.1', 0)\n"
        "    port = server.sockets[0].getsockname()[1]\n"
        "    text = f'services:\\n  api:\\n    kind: http\\n    url: http://127.0.0.1:{port}/\\n'\n"
        "    engine = Engine(parse_config(text, env={}))\n"
        "    snapshot = await engine.run_once()\n"
        "    await engine.stop()\n"
        "    server.close()\n"
        "    assert snapshot.services[0].status.value == 'up', snapshot.services[0].reason\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types') or m == 'core.probes.mcp'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
