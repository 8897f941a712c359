"""One connection to an MCP server, owned by a task of its own.

The SDK's client is a stack of anyio context managers: it must be entered and
left in the same task. A persistent session outlives any one probe (each probe
runs in whichever task the engine uses), so a dedicated owner task enters the
client, hands it over, and leaves it when asked to close or when cancelled.
Closing is bounded: the SDK's own shutdown (stdin close, SIGTERM, SIGKILL to the
process group) gets a few seconds, then the owner is cancelled, then the
process group is killed outright. Nothing outlives `close()`.

Over streamable HTTP the SDK turns an HTTP error status into a JSON-RPC error
and drops the status. A monitor needs it (a 401 is not worth a retry, a 503
is), so the session watches every POST's answer: a 4xx is remembered, and an
authentication refusal during the handshake ends the connection at once, so
the SDK's era fallback does not repeat a request the server already refused.

A `url` written without a transport is tried as streamable HTTP first; when its
POSTs are answered 400, 404 or 405 (an SSE-only server, as MCP clients and the
Inspector assume) the same session tries the legacy SSE transport. A 401 or 403
never falls back: that is the credentials, not the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx2

from core.config import McpService
from core.probes.auth.token_health import HEALTH_HEADERS
from core.probes.mcp import sdk
from core.probes.mcp.stdio import ServerProcess, stdio_transport
from core.probes.tls import tls_context

if TYPE_CHECKING:
    from mcp import Client

CLOSE_GRACE = 4.0
"""The SDK waits up to ~2s for a server to exit after stdin closes, then escalates; allow for that."""
FINAL_REFUSALS = frozenset({401, 403, 407, 429})
"""Answers no era fallback can change: the credentials are wrong, or the server said "not now",
whatever the method. Asking again at once (the SDK's fallback to `initialize`) would only spend a
request the server refused."""
FALLBACK_STATUSES = frozenset({400, 404, 405})
"""A streamable-HTTP POST answered with one of these may mean an SSE-only server: try SSE next."""


class HttpRefused(Exception):
    """The server refused us at the HTTP level (e.g. 401) before the handshake was done."""

    def __init__(self, status: int, phrase: str) -> None:
        super().__init__(f"HTTP {status} {phrase}".strip())
        self.status = status
        self.phrase = phrase


class McpSession:
    def __init__(
        self,
        service: McpService,
        *,
        mode: str,
        timeout: float,
        on_stderr: Callable[[str], None],
        on_message: Callable[[Any], Any],
        on_log: Callable[[Any], Any],
        transports: tuple[str, ...] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """`transports`: the ones to try in order (default: the service's own); `headers`: what every HTTP
        request sends (default: the service's), e.g. with a bearer token added."""
        self.service = service
        self.mode = mode
        self.timeout = timeout
        self.transports = transports or (service.transport,)
        self.headers = dict(service.headers) if headers is None else headers
        self.transport = self.transports[0]
        """The transport in use (the one that answered, once open)."""
        self.fallback_from: tuple[int, str] | None = None
        """The HTTP error that made this session leave streamable HTTP for SSE, if it did."""
        self.www_authenticate = ""
        """The `WWW-Authenticate` header of the last 401/403 seen (server text, unsanitized)."""
        self.health_headers: dict[str, str] = {}
        """The token-health headers (GitHub's expiry and scopes) of the last successful POST."""
        self.process = ServerProcess() if service.transport == "stdio" else None
        self._on_stderr = on_stderr
        self._on_message = on_message
        self._on_log = on_log
        self._ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.started_at = 0.0
        self.transport_ready_at: float | None = None
        self.connected_at: float | None = None
        self.failure: BaseException | None = None
        """What ended the session from the inside (transport died), if anything."""
        self.http_error: tuple[int, str] | None = None
        """(status, reason phrase) of the last POST answered with an HTTP error; cleared by a success."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> Client:
        """Connect and negotiate. The caller bounds this with its own deadline (and calls close())."""
        self.started_at = time.perf_counter()
        self._task = asyncio.create_task(self._own(), name=f"mcp-session:{self.service.name}")
        return await asyncio.shield(self._ready)

    async def close(self) -> None:
        """Leave the session and make sure the server is gone. Never raises, always bounded."""
        self._closing.set()
        task = self._task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=CLOSE_GRACE)
            if not done:
                task.cancel()
                await asyncio.wait({task}, timeout=CLOSE_GRACE)
        if self.process is not None:
            self.process.kill_group()
        if not self._ready.done():
            self._ready.cancel()

    @property
    def client(self) -> Client | None:
        return (
            self._ready.result()
            if self._ready.done() and not self._ready.cancelled() and not self._ready.exception()
            else None
        )

    @property
    def finished(self) -> bool:
        return self._task is not None and self._task.done()

    # -- what the connection learned ------------------------------------------------------------

    @property
    def connect_ms(self) -> float | None:
        if self.transport_ready_at is None:
            return None
        return (self.transport_ready_at - self.started_at) * 1000

    @property
    def handshake_ms(self) -> float | None:
        if self.connected_at is None or self.transport_ready_at is None:
            return None
        return (self.connected_at - self.transport_ready_at) * 1000

    def era(self) -> str:
        client = self.client
        if client is None:
            return "handshake"
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS  # loaded: there is a client

        return "modern" if client.protocol_version in MODERN_PROTOCOL_VERSIONS else "handshake"

    async def ping(self) -> None:
        """Liveness on an open session: `ping` in the handshake era, `server/discover` after it."""
        client = self._require()
        if self.era() == "handshake":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await client.session.send_ping()
        else:
            await client.session.send_discover(client.protocol_version)

    def _require(self) -> Client:
        client = self.client
        if client is None:
            raise RuntimeError("the session is not open")
        return client

    # -- the owner task -------------------------------------------------------------------------

    async def _own(self) -> None:
        try:
            for index, transport in enumerate(self.transports):
                self.transport = transport
                try:
                    await self._serve(transport)
                    break
                except Exception:
                    if index + 1 >= len(self.transports) or not self._may_fall_back():
                        raise
                    self.fallback_from, self.http_error = self.http_error, None
                    self.transport_ready_at = None
                    self.started_at = time.perf_counter()
        except BaseException as exc:
            if not self._ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    self._ready.cancel()
                else:
                    self._ready.set_exception(exc)
            elif not self._closing.is_set():
                self.failure = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if self._ready.done() and not self._ready.cancelled():
                self._ready.exception()  # mark retrieved: failures are reported by the probe, not by asyncio

    async def _serve(self, transport: str) -> None:
        """Connect over `transport`, hand the client over, and hold the session until asked to close.

        A stdio server is spawned before the SDK is loaded: it boots (importing its own SDK, often) while
        we import ours. The network transports are the SDK's own, so they need it first."""
        if transport != "stdio":
            await sdk.load()
        async with self._timed(self._transport(transport)) as streams:
            await sdk.load()
            from mcp import Client
            from mcp_types import Implementation

            client = Client(
                _entered(streams),
                mode=self.mode,
                cache=None,  # a monitor must see the server, not a cache
                read_timeout_seconds=self.timeout,
                message_handler=self._handle_message,
                logging_callback=self._handle_log,
                client_info=Implementation(name="lookout", version=_version()),
            )
            async with client:
                self.connected_at = time.perf_counter()
                self._ready.set_result(client)
                await self._closing.wait()

    def _may_fall_back(self) -> bool:
        """Streamable HTTP failed before the handshake, with a status an SSE-only server answers."""
        return (
            not self._ready.done()
            and not self._closing.is_set()
            and self.connected_at is None
            and self.http_error is not None
            and self.http_error[0] in FALLBACK_STATUSES
        )

    def _transport(self, transport: str) -> Any:
        """The transport's context manager (the SDK's network transports need `sdk.load()` done first)."""
        if transport == "stdio":
            assert self.process is not None
            return stdio_transport(self.service, self.process, self._on_stderr)
        if transport == "sse":
            return self._sse_transport()
        return self._http_transport()

    @asynccontextmanager
    async def _sse_transport(self) -> AsyncIterator[Any]:
        """The legacy HTTP+SSE transport (2024-11-05 servers): the SDK's client, with the service's headers."""
        from mcp.client.sse import sse_client

        async with sse_client(
            self.service.url or "",
            headers=dict(self.headers) or None,
            timeout=self.timeout,
            sse_read_timeout=3600,
            httpx_client_factory=_sse_http_client,
        ) as streams:
            yield streams

    @asynccontextmanager
    async def _http_transport(self) -> AsyncIterator[Any]:
        """Streamable HTTP through httpx2, with the service's headers and every POST's status seen.

        TLS is verified with the process's one context (`core.probes.tls`): a client made with httpx2's
        defaults loads the CA store again, ~37 ms of CPU here, for every session."""
        from mcp.client.streamable_http import streamable_http_client

        client = httpx2.AsyncClient(
            headers=dict(self.headers),
            timeout=httpx2.Timeout(self.timeout, read=max(self.timeout, 30.0)),
            follow_redirects=False,
            event_hooks={"response": [self._observe_response]},
            verify=tls_context(),
        )
        async with client, streamable_http_client(self.service.url or "", http_client=client) as streams:
            yield streams

    async def _observe_response(self, response: httpx2.Response) -> None:
        if response.request.method != "POST":
            return  # the optional GET stream and the closing DELETE say nothing about the server's health
        status = response.status_code
        self.http_error = (status, response.reason_phrase) if status >= 400 else None
        if status in (401, 403):
            self.www_authenticate = response.headers.get("www-authenticate", "")
        elif status < 400:
            self.health_headers = {name: response.headers[name] for name in HEALTH_HEADERS if name in response.headers}
        if status in FINAL_REFUSALS and self.connected_at is None:
            raise HttpRefused(status, response.reason_phrase)

    @asynccontextmanager
    async def _timed(self, transport: Any) -> AsyncIterator[Any]:
        async with transport as streams:
            self.transport_ready_at = time.perf_counter()
            spawned_at = self.process.spawn_started_at if self.process is not None else None
            if spawned_at is not None and spawned_at < self.started_at:  # started early: it has booted since
                self.started_at = spawned_at
            yield streams

    async def _handle_message(self, message: Any) -> None:
        with contextlib.suppress(Exception):
            self._on_message(message)

    async def _handle_log(self, params: Any) -> None:
        with contextlib.suppress(Exception):
            self._on_log(params)


@asynccontextmanager
async def _entered(streams: Any) -> AsyncIterator[Any]:
    """A transport already entered, in the shape the SDK's `Client` takes; `_serve` leaves it, after the client."""
    yield streams


def _version() -> str:
    from core import __version__

    return __version__


def _sse_http_client(
    headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
) -> httpx2.AsyncClient:
    """The SDK's SSE client, as its own factory makes it, but verifying TLS with the process's one context.

    A client made with httpx2's defaults loads the CA store again: ~37 ms of CPU on this machine, for every
    session a remote MCP server is connected with (every probe of a `session: fresh` one)."""
    return httpx2.AsyncClient(
        headers=headers, timeout=timeout or httpx2.Timeout(30.0, read=300.0), auth=auth, verify=tls_context()
    )
