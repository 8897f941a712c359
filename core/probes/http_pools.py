"""HTTP connection pools per origin, behind the engine's one shared client.

httpcore2's pool checks every connection it holds (closed? expired? a poll of
the socket) whenever a request arrives or finishes. With one pool for the
whole fleet, a probe paid for the fleet's idle connections: at 1000 services
that scan was about half of a probe's CPU. Here each origin (scheme, host,
port) has a pool of its own, so a request only ever looks at its origin's few
connections, and the pool is found with one dict lookup.

What a probe sees does not change: the same client sends it (headers,
timeouts, redirects, proxies from the environment), connections are verified
with one TLS context built once for all pools, and a connection is reused
while it is kept alive, exactly as in one shared pool. A service with
`fresh_connection: true` sends each request on a connection of its own, closed
when the answer is read, as blackbox_exporter does: a warm keep-alive
connection can hide a broken TLS handshake or listener.

An idle connection holds a file descriptor. A pool whose origin has not been
asked anything for longer than the keep-alive expiry only holds expired
connections (never reused), so every SWEEP_EVERY seconds such pools are closed
and dropped: a fleet of many origins on long intervals keeps no more sockets
open than one shared pool did.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

import httpx2

FRESH = "lookout.fresh_connection"
"""Request extension: when true, the request goes on a new connection that is closed after it."""
KEEPALIVE_PER_ORIGIN = 8
"""Idle connections one origin's pool keeps: enough for a burst of probes of services sharing an origin,
few enough that a request's pool scan stays short."""
SWEEP_EVERY = 5.0
"""Seconds between looks for pools that are no longer used."""

_Key = tuple[bool, bytes, bytes, int | None]


class OriginPools(httpx2.AsyncBaseTransport):
    """A transport that routes each request to its origin's pool (or to a pool that never keeps a connection)."""

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_per_origin: int = KEEPALIVE_PER_ORIGIN,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`max_connections` bounds each origin's connections (open at once); it should exceed the engine's
        concurrency, so a request never waits in a pool for a connection."""
        self._limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=keepalive_per_origin)
        self._fresh_limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=0)
        self._ssl_context = ssl_context or httpx2.create_ssl_context(verify=True)
        self._clock = clock
        self._pools: dict[_Key, _Pool] = {}
        self._next_sweep = clock() + SWEEP_EVERY

    @property
    def pools(self) -> int:
        """Pools open now (one per origin recently asked, and per origin asked for fresh connections)."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        now = self._clock()
        if now >= self._next_sweep:
            await self._sweep(now)
        url = request.url
        fresh = bool(request.extensions.get(FRESH))
        key = (fresh, url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            limits = self._fresh_limits if fresh else self._limits
            pool = self._pools[key] = _Pool(verify=self._ssl_context, limits=limits, trust_env=False)
        pool.last_used = now
        return await pool.handle_async_request(request)

    async def _sweep(self, now: float) -> None:
        """Close the pools nobody asked anything for longer than the keep-alive expiry, and in use by nobody."""
        self._next_sweep = now + SWEEP_EVERY
        expiry = self._limits.keepalive_expiry or 0.0
        stale = [key for key, pool in self._pools.items() if now - pool.last_used > expiry and pool.unused()]
        for key in stale:
            await self._pools.pop(key).aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


class _Pool(httpx2.AsyncHTTPTransport):
    """One origin's pool: httpx2's own transport (so errors map to httpx2's exceptions as always)."""

    last_used = 0.0

    def unused(self) -> bool:
        """No request is using any of its connections (each idle, or already closed)."""
        return all(connection.is_idle() or connection.is_closed() for connection in self._pool.connections)
