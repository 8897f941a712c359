"""The HTTP API probe's connection pool: one aiohttp session for the fleet, connections and cookies per service.

Why aiohttp and not httpx2 (which the MCP transports and the engine's shared client use): a plain
HTTP probe is the one request Lookout makes thousands of times a second, and aiohttp's client costs
about a third of httpx2's CPU per request (`bench/engine.py`; README "Two HTTP stacks"). The MCP
SDK's transports need httpx2 whatever we do, so the two stacks live side by side: this module is
the only place the probe touches aiohttp's client, and `core.probes.http_errors` the only place
its exceptions become reasons.

What a probe sees is what httpx2 gave it:

* connections of its own per service (a request never takes another service's connection; a
  service's next probe reuses the connection its last one left open while it is kept alive), or,
  with `fresh_connection: true`, a new connection per request, closed once the answer is read
  (as blackbox_exporter does: a warm connection can hide a broken TLS handshake or listener);
* idle connections closed after KEEPALIVE_EXPIRY seconds (httpx2's expiry): aiohttp's connector
  closes them on a timer of its own, so a fleet on long intervals keeps no socket open between
  probes;
* one TLS context, built at the first HTTPS request for every service with httpx2's own defaults (same CA
  store);
* proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), read once per
  probe, as httpx2's `trust_env` did; no netrc credentials, no DNS cache (a changed address is
  seen by the next new connection);
* cookies a server sets kept for that service's next requests, and only its own (httpx2's client
  kept them too);
* bodies left encoded (`auto_decompress=False`): `core.probes.http_body` inflates them itself,
  never past the service's `max_body`;
* a response head past the limits (a line over MAX_FIELD bytes, more than MAX_HEADERS fields) is
  refused by the parser and becomes a reason ("response headers too large"), not a memory cost.

How: a session of its own per service (an aiohttp ClientSession, its TCPConnector, CookieJar and
resolver) cost ~7 KB of a service's ~32 KB, about as much as its kept-alive connection's objects
(`bench/memory.py`). So the services of one event loop share one session and
connector (a second pair for `fresh_connection` services, whose connector closes every connection
after its answer), and each request runs in its service's scope (a context variable, set around
the request): the connector files the connection under a key that carries the service's mark
(`_ServiceRequest`), so only that service's next request finds it, and the session's cookie jar
hands each request to the service's own jar (`_ServiceCookies`), made when its server first sets a
cookie. Closing a service's session closes its idle connections and forgets its cookies; the
shared session is closed with the loop's last service session.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import urllib.request
import weakref
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from http.cookies import BaseCookie, Morsel, SimpleCookie
from types import MappingProxyType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractCookieJar, ClearCookiePredicate
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.typedefs import LooseCookies
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from core import __version__
from core.probes.tls import tls_context
from core.results import ProbeError

logger = logging.getLogger(__name__)

KEEPALIVE_EXPIRY = 5.0
"""Seconds an idle connection is kept (httpx2's default expiry, which probes had before)."""
MAX_FIELD = 100 * 1024
"""Bytes in the status line or one header line. httpx2's parser (h11, as httpcore sets it up) took a whole
head of up to 100 KiB, so a line of that size still passes (a 100k reason phrase is in the tests); aiohttp's
default, 8190, would refuse answers probes judged before. A response's head is bounded by this times
MAX_HEADERS, transiently."""
MAX_HEADERS = 128
"""Header fields in one response."""
USER_AGENT = f"lookout/{__version__}"
EXACT_TIMEOUTS_BELOW = 3601.0
"""Seconds: aiohttp ceils timeouts from this length on; a service's timeout is at most 1 h."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NO_CONTENT_TYPE = ("Content-Type",)
"""`skip_auto_headers` of a request that may carry a body: aiohttp would type it, httpx2 sent no Content-Type the
service did not set."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What the probe and `core.probes.auth` read of a response: the status line and the headers.

    The headers are case-insensitive, and a field a server sent twice reads as its values joined by
    ", " (as httpx2's `Headers.get` gave them), so a duplicated WWW-Authenticate or rate-limit header
    is judged as before.
    """

    status_code: int
    reason_phrase: str
    headers: CIMultiDictProxy[str]
    http_version: str

    @property
    def is_redirect(self) -> bool:
        return self.status_code in REDIRECT_STATUSES and "location" in self.headers

    @classmethod
    def of(cls, response: aiohttp.ClientResponse) -> HttpAnswer:
        joined: CIMultiDict[str] = CIMultiDict()
        for name, value in response.headers.items():
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
        version = response.version
        shown = f"HTTP/{version.major}.{version.minor}" if version is not None else "HTTP/1.1"
        return cls(response.status, response.reason or "", CIMultiDictProxy(joined), shown)


def _proxy_environment() -> dict[str, str]:
    """{"http": ..., "https": ..., "all": ..., "no": ...} from the environment, lowercase names first.

    urllib's `getproxies_environment` gives the same, but walks the whole environment to find them
    (~0.7 ms with a few dozen variables, once per service); these four are all a probe can use. As
    there, a CGI request's HTTP_PROXY (REQUEST_METHOD set) is ignored: a client can set it ("httpoxy").
    """
    found: dict[str, str] = {}
    for scheme in ("http", "https", "all", "no"):
        value = os.environ.get(f"{scheme}_proxy")
        if value is None and not (scheme == "http" and "REQUEST_METHOD" in os.environ):
            value = os.environ.get(f"{scheme.upper()}_PROXY")
        if value:
            found[scheme] = value
    return found or _NO_PROXY_ENVIRONMENT


_NO_PROXY_ENVIRONMENT: dict[str, str] = {}
"""What `_proxy_environment` gives when no proxy variable is set: one dict for every service (only ever read)."""


def _bypassed(host: str, environment: dict[str, str]) -> bool:
    """NO_PROXY names `host` (urllib's own matching; typeshed does not list the function)."""
    bypass: Any = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009
    return bool(bypass(host, environment))


class ServiceSession:
    """One service's part of the shared HTTP session: its connections, its cookies, its proxy lookups.

    Opened at its first request (which takes a share of its event loop's `_Pool`) and closed with its
    probe (the probe's `reset` and `aclose`): `aclose` closes its idle connections and forgets its cookies,
    and the next request starts afresh (new connections: the service gets a new mark). Must be used from
    one event loop, the engine's.
    """

    __slots__ = ("_environment", "_fresh", "_jar", "_keys", "_mark", "_pool", "_proxies")

    def __init__(self, *, fresh_connection: bool) -> None:
        self._fresh = fresh_connection
        self._pool: _Pool | None = None
        self._mark = next(_MARKS)
        """Set in the keys of this service's connections: no other service's request finds them."""
        self._keys: list[ConnectionKey] = []
        """The connection keys this service's requests used since it opened (one per origin it reached)."""
        self._jar: aiohttp.CookieJar | None = None
        """The cookies its servers set, made when the first one is (most services never get one)."""
        self._proxies: dict[tuple[str, str], str | None] | None = None
        """What `proxy_for` found, by (scheme, host): made only when the environment names a proxy."""
        self._environment: dict[str, str] | None = None

    async def request(self, method: str, url: URL, **options: Any) -> aiohttp.ClientResponse:
        """`ClientSession.request` on the shared session, in this service's scope (its connections, its cookies)."""
        pool = self._pool
        if pool is None or pool.session.closed:
            pool = self._pool = _Pool.share(self._fresh)
        if url.scheme == "https":
            options["ssl"] = tls_context()  # per request: a fleet of http:// services never loads the CA store
        scope = _SCOPE.set(self)
        try:
            return await pool.session.request(method, url, **options)
        finally:
            _SCOPE.reset(scope)

    def timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """Each phase bounded by `seconds`, as httpx2's Timeout(seconds) bounded each (connect, read)."""
        return _timeout(seconds)

    def proxy_for(self, url: URL) -> str | None:
        """The proxy the environment names for `url` (None: connect directly), read once per session."""
        environment = self._environment
        if environment is None:
            environment = self._environment = _proxy_environment()
        if not environment:
            return None
        if self._proxies is None:
            self._proxies = {}
        key = (url.scheme, url.host or "")
        if key in self._proxies:
            return self._proxies[key]
        proxy = environment.get(url.scheme) or environment.get("all")
        if proxy and url.host and _bypassed(url.host, environment):
            proxy = None
        if proxy and "://" not in proxy:
            proxy = f"http://{proxy}"
        if proxy and not proxy.lower().startswith(("http://", "https://")):
            raise ProbeError(f"unsupported proxy URL scheme: {proxy.partition('://')[0]}", retryable=False)
        self._proxies[key] = proxy or None
        return self._proxies[key]

    def _used(self, key: ConnectionKey) -> None:
        if key not in self._keys:
            self._keys.append(key)

    async def aclose(self) -> None:
        """Close this service's idle connections and forget its cookies; the shared session goes with its last user."""
        pool, self._pool = self._pool, None
        keys, self._keys = self._keys, []
        self._mark = next(_MARKS)  # a connection still in flight is never handed to this service again
        self._jar = None
        self._proxies = None
        self._environment = None
        if pool is not None:
            pool.connector.close_idle(keys)
            await pool.leave()


_MARKS = itertools.count(1)
_SCOPE: ContextVar[ServiceSession] = ContextVar("lookout_http_service")
"""The service whose request is running (set by `ServiceSession.request` around it, read by the connector's key
and the cookie jar below: both run inside the request, in its task)."""


class _ServiceRequest(aiohttp.ClientRequest):
    """A request whose connection key carries its service's mark, so the shared connector keeps each service's
    connections apart (a connection goes back to the pool under the key of the request that made it).

    The mark takes the key's `proxy_headers_hash` field, unused here: a probe never sends proxy headers. The key's
    other fields (host, port, TLS, proxy) are aiohttp's, as are the errors that cite them.
    """

    @property
    def connection_key(self) -> ConnectionKey:
        key = super().connection_key
        service = _SCOPE.get()
        marked = key._replace(proxy_headers_hash=service._mark)
        service._used(marked)
        return marked


class _SharedConnector(aiohttp.TCPConnector):
    """The loop's connector for every service's connections, which can close one service's idle ones."""

    def _release(self, key: ConnectionKey, protocol: ResponseHandler, *, should_close: bool = False) -> None:
        """Back to the pool, without the last answer's body stream: read to its end, it is nothing to anyone now
        (a kept connection held it, ~1 KB, until its next answer replaced it)."""
        super()._release(key, protocol, should_close=should_close)
        if protocol.transport is not None and not self.closed:
            protocol._payload = None

    def close_idle(self, keys: Sequence[ConnectionKey]) -> None:
        """Close the idle connections filed under `keys` (one service's): as closing its own connector did."""
        for key in keys:
            for protocol, _ in self._conns.pop(key, ()):
                protocol.close()


_NO_URL = URL()
"""A cookie set with no response URL (aiohttp's default): a cookie for every host."""


class _ServiceCookies(AbstractCookieJar):
    """The shared session's cookie jar: each request reads and feeds the jar of the service it runs for.

    A service's jar (`aiohttp.CookieJar`, unsafe: httpx2 kept cookies for IP-address hosts too) is made when its
    server first sets a cookie, so it costs nothing to the services that never get one.
    """

    @staticmethod
    def _jar() -> aiohttp.CookieJar | None:
        return _SCOPE.get()._jar

    @staticmethod
    def _made_jar() -> aiohttp.CookieJar:
        service = _SCOPE.get()
        if service._jar is None:
            service._jar = aiohttp.CookieJar(unsafe=True)
        return service._jar

    @property
    def unsafe(self) -> bool:
        return True

    @property
    def quote_cookie(self) -> bool:
        return True

    @property
    def cookies(self) -> MappingProxyType[tuple[str, str], SimpleCookie]:
        jar = self._jar()
        return jar.cookies if jar is not None else MappingProxyType({})

    @property
    def host_only_cookies(self) -> frozenset[tuple[str, str, str]]:
        jar = self._jar()
        return jar.host_only_cookies if jar is not None else frozenset()

    def __iter__(self) -> Iterator[Morsel[str]]:
        jar = self._jar()
        return iter(jar) if jar is not None else iter(())

    def __len__(self) -> int:
        jar = self._jar()
        return len(jar) if jar is not None else 0

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        jar = self._jar()
        if jar is not None:
            jar.clear(predicate)

    def clear_domain(self, domain: str) -> None:
        jar = self._jar()
        if jar is not None:
            jar.clear_domain(domain)

    def update_cookies(self, cookies: LooseCookies, response_url: URL = _NO_URL) -> None:
        self._made_jar().update_cookies(cookies, response_url)

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        if headers:
            self._made_jar().update_cookies_from_headers(headers, response_url)

    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        jar = self._jar()
        return jar.filter_cookies(request_url) if jar is not None else BaseCookie()


class _Pool:
    """An event loop's shared session and connector, for kept-alive services or for `fresh_connection` ones.

    Made by its first service session and closed when the last one closes (`leave`); a pool whose sessions were
    dropped unclosed goes with them (the registry holds it weakly), as a session of their own would have.
    """

    __slots__ = ("__weakref__", "connector", "key", "session", "users")

    _registry: weakref.WeakValueDictionary[tuple[asyncio.AbstractEventLoop, bool], _Pool] = (
        weakref.WeakValueDictionary()
    )

    def __init__(self, key: tuple[asyncio.AbstractEventLoop, bool]) -> None:
        fresh = key[1]
        self.key = key
        self.users = 0
        self.connector = _SharedConnector(
            # No TLS context here: each https request brings `tls_context()` (`request`), made at the first one.
            limit=0,  # the engine's concurrency bounds the requests in flight; a service makes one at a time
            keepalive_timeout=None if fresh else KEEPALIVE_EXPIRY,
            force_close=fresh,
            use_dns_cache=False,
            # getaddrinfo in a thread, as httpx2 (anyio) resolved: never c-ares, even where aiodns is installed.
            resolver=aiohttp.ThreadedResolver(),
            # aiohttp rounds a timeout of 5 s or more up to a whole second (fewer timer wake-ups);
            # httpx2 fired at the limit, and reasons cite it ("timed out after 10s"): keep it exact.
            timeout_ceil_threshold=EXACT_TIMEOUTS_BELOW,
        )
        self.session = aiohttp.ClientSession(
            connector=self.connector,
            headers={"User-Agent": USER_AGENT},
            cookie_jar=_ServiceCookies(),
            request_class=_ServiceRequest,
            auto_decompress=False,
            trust_env=False,  # proxies are looked up here (proxy_for), never netrc credentials
            max_line_size=MAX_FIELD,
            max_field_size=MAX_FIELD,
            max_headers=MAX_HEADERS,
        )
        # aiohttp sends an idempotent request a second time when its connection breaks. A probe must
        # see the first failure: the engine's retry policy decides about another try (and counts it).
        # No public switch exists for this: the attribute is the one its own retry check reads.
        self.session._retry_connection = False

    @classmethod
    def share(cls, fresh: bool) -> _Pool:
        """The running loop's pool of this kind (made now if it has none), with one more user."""
        key = (asyncio.get_running_loop(), fresh)
        pool = cls._registry.get(key)
        if pool is None or pool.session.closed:
            pool = cls._registry[key] = cls(key)
        pool.users += 1
        return pool

    async def leave(self) -> None:
        """One user fewer; the last one closes the session and its connector (and whatever they still hold)."""
        self.users -= 1
        if self.users > 0:
            return
        if self._registry.get(self.key) is self:
            del self._registry[self.key]  # first: a service opening while this closes gets a new pool
        try:
            await self.session.close()
        except Exception:  # closing sockets nobody uses failed: nothing to tell anyone
            logger.debug("closing the shared HTTP session failed", exc_info=True)


@lru_cache(maxsize=256)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    """One (frozen) ClientTimeout per distinct limit, shared by the services that have it."""
    return aiohttp.ClientTimeout(total=None, connect=seconds, sock_connect=seconds, sock_read=seconds)
