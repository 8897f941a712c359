"""HTTP connection pools per service, behind the engine's one shared httpx2 client.

That client now carries the MCP probes' side requests (OAuth token refresh, protected-resource and
authorization-server metadata after a refusal); plain HTTP API probes have their own aiohttp session
per service (core.probes.http_session), built on the same ideas as this module.

httpcore2's pool looks at every connection it holds and every request waiting in
it (closed? expired? a poll of the socket) whenever a request arrives or
finishes. With one pool for the whole fleet, a probe paid for the fleet: at
1000 services (256 in flight, as many kept alive) that scan was about half of a
probe's CPU, and it grew with the load. Here each service has a pool of its
own, found with one dict lookup, holding the one connection its probe uses (two
while a redirect leads to another origin): a request's scan is a step or two.

What a probe sees does not change: the same client sends it (headers,
timeouts, redirects, proxies from the environment), connections are verified
with one TLS context built once for all pools, and a service's next probe
reuses the connection its last one left open while that is kept alive (up to
httpx2's keep-alive expiry, 5 s idle: a service on a longer interval opens a
new connection each probe, as it did before unless another service had just
used the same origin). A service with `fresh_connection: true` sends each
request on a connection of its own, closed when the answer is read, as
blackbox_exporter does: a warm connection can hide a broken TLS handshake or
listener. A request that names no service (none do today) goes to a pool of
its origin.

An idle connection holds a file descriptor. A pool nobody asked anything for
longer than the keep-alive expiry only holds expired connections (never
reused), so every SWEEP_EVERY seconds such pools are closed and dropped: a
fleet on long intervals keeps no socket open between probes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Hashable

import httpx2

logger = logging.getLogger(__name__)

POOL = "lookout.pool"
"""Request extension: the name of the service the request is for (its pool)."""
FRESH = "lookout.fresh_connection"
"""Request extension: when true, the request goes on a new connection that is closed after it."""
SERVICE_LIMITS = httpx2.Limits(max_connections=2, max_keepalive_connections=1)
"""A service sends one request at a time: one connection kept, a second for a redirect to another origin."""
SWEEP_EVERY = 5.0
"""Seconds between looks for pools that are no longer used."""


class ServicePools(httpx2.AsyncBaseTransport):
    """A transport that routes each request to its service's pool (or to a pool that never keeps a connection)."""

    def __init__(
        self,
        *,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`max_connections` bounds the connections of a pool shared by requests that name no service; it
        should exceed the engine's concurrency, so such a request never waits in a pool for a connection."""
        self._shared_limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=8)
        self._ssl_context = ssl_context or httpx2.create_ssl_context(verify=True)
        self._clock = clock
        self._pools: dict[tuple[Hashable, bool], _Pool] = {}
        self._next_sweep = clock() + SWEEP_EVERY
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def pools(self) -> int:
        """Pools open now: one per service recently probed."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        extensions = request.extensions
        fresh = bool(extensions.get(FRESH))
        service = extensions.get(POOL)
        key = (service if service is not None else request.url.origin, fresh)
        pool = self._pools.get(key)
        if pool is None:
            limits = SERVICE_LIMITS if service is not None else self._shared_limits
            if fresh:
                limits = httpx2.Limits(max_connections=limits.max_connections, max_keepalive_connections=0)
            pool = self._pools[key] = _Pool(verify=self._ssl_context, limits=limits, trust_env=False)
        pool.last_used = now
        return await pool.handle_async_request(request)

    def _sweep(self, now: float) -> None:
        """Close the pools nobody asked anything for longer than the keep-alive expiry, and in use by nobody.

        They leave the table at once (a request arriving meanwhile gets a new pool, never one being closed)
        and are closed in a task of their own: the probe whose request came by does not wait for it, so
        its latency does not include closing other services' sockets.
        """
        self._next_sweep = now + SWEEP_EVERY
        expiry = SERVICE_LIMITS.keepalive_expiry or 0.0
        stale = [key for key, pool in self._pools.items() if now - pool.last_used > expiry and pool.unused()]
        if not stale:
            return
        closing = [self._pools.pop(key) for key in stale]
        task = asyncio.get_running_loop().create_task(_close_all(closing), name="lookout:close-http-pools")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*self._closing, return_exceptions=True)
        await _close_all(pools)


async def _close_all(pools: list[_Pool]) -> None:
    for pool in pools:
        try:
            await pool.aclose()
        except Exception:  # closing a socket nobody uses failed: nothing to tell anyone
            logger.debug("closing an unused connection pool failed", exc_info=True)


class _Pool(httpx2.AsyncHTTPTransport):
    """One service's pool: httpx2's own transport (so errors map to httpx2's exceptions as always)."""

    last_used = 0.0

    def unused(self) -> bool:
        """No request is using any of its connections (each idle, or already closed)."""
        return all(connection.is_idle() or connection.is_closed() for connection in self._pool.connections)
