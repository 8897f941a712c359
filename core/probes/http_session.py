"""The HTTP API probe's connection pool: one aiohttp session per service, one TLS context for all.

Why aiohttp and not httpx2 (which the MCP transports and the engine's shared client use): a plain
HTTP probe is the one request Lookout makes thousands of times a second, and aiohttp's client costs
about a third of httpx2's CPU per request (`bench/engine.py`; README "Two HTTP stacks"). The MCP
SDK's transports need httpx2 whatever we do, so the two stacks live side by side: this module is
the only place the probe touches aiohttp's client, and `core.probes.http_errors` the only place
its exceptions become reasons.

What a probe sees is what httpx2 gave it:

* a pool of its own per service (a request never looks at another service's connections; a
  service's next probe reuses the connection its last one left open while it is kept alive), or,
  with `fresh_connection: true`, a new connection per request, closed once the answer is read
  (as blackbox_exporter does: a warm connection can hide a broken TLS handshake or listener);
* idle connections closed after KEEPALIVE_EXPIRY seconds (httpx2's expiry): aiohttp's connector
  closes them on a timer of its own, so a fleet on long intervals keeps no socket open between
  probes;
* one TLS context, built once for every service with httpx2's own defaults (same CA store);
* proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), read once per
  probe, as httpx2's `trust_env` did; no netrc credentials, no DNS cache (a changed address is
  seen by the next new connection);
* cookies a server sets kept for that service's next requests (httpx2's client kept them too);
* bodies left encoded (`auto_decompress=False`): `core.probes.http_body` inflates them itself,
  never past the service's `max_body`;
* a response head past the limits (a line over MAX_FIELD bytes, more than MAX_HEADERS fields) is
  refused by the parser and becomes a reason ("response headers too large"), not a memory cost.
"""

from __future__ import annotations

import asyncio.sslproto
import logging
import os
import ssl
import urllib.request
from dataclasses import dataclass
from functools import cache
from typing import Any

import aiohttp
import httpx2
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from core import __version__
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


TLS_READ_BUFFER = 32 * 1024
"""Bytes asyncio's TLS layer reads into at once, per connection (see `tls_context`)."""


@cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context every service's connections are verified with: httpx2's defaults (the system's CA store,
    or SSL_CERT_FILE / SSL_CERT_DIR when set), as every probe had before.

    Made at the first HTTP probe, which is also when asyncio's TLS read buffer is made smaller, for the whole
    process: asyncio (3.11, 3.12) gives every TLS connection a zero-filled buffer of `SSLProtocol.max_size`,
    256 KiB, resident as long as the connection lives. A fleet keeps one connection per HTTPS service alive,
    so 1000 HTTPS services held ~250 MB in these buffers alone (measured: 500 kept connections, +109 MB;
    with 32 KiB, +40 MB). The size is only how much one read takes: a TLS record is at most 16 KiB, bodies
    are capped well before it matters. httpx2's TLS (anyio's, over ssl.MemoryBIO) has no such buffer.
    A smaller size already set is left alone.
    """
    protocol: Any = getattr(asyncio.sslproto, "SSLProtocol", None)
    if protocol is not None and getattr(protocol, "max_size", 0) > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER
    return httpx2.create_ssl_context(verify=True)


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
    return found


def _bypassed(host: str, environment: dict[str, str]) -> bool:
    """NO_PROXY names `host` (urllib's own matching; typeshed does not list the function)."""
    bypass: Any = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009
    return bool(bypass(host, environment))


class ServiceSession:
    """One service's aiohttp session, opened at its first request and closed with its probe.

    `reset` and `aclose` close it (and its connections); the next request opens a new one. Must be
    used from one event loop, the engine's.
    """

    def __init__(self, *, fresh_connection: bool) -> None:
        self._fresh = fresh_connection
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._environment: dict[str, str] | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def session(self) -> aiohttp.ClientSession:
        """The open session (made now if there is none)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                ssl=tls_context(),
                limit=2,  # one request at a time; a second connection only while a redirect changes origin
                keepalive_timeout=None if self._fresh else KEEPALIVE_EXPIRY,
                force_close=self._fresh,
                use_dns_cache=False,
                # getaddrinfo in a thread, as httpx2 (anyio) resolved: never c-ares, even where aiodns is installed.
                resolver=aiohttp.ThreadedResolver(),
                # aiohttp rounds a timeout of 5 s or more up to a whole second (fewer timer wake-ups);
                # httpx2 fired at the limit, and reasons cite it ("timed out after 10s"): keep it exact.
                timeout_ceil_threshold=EXACT_TIMEOUTS_BELOW,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                cookie_jar=aiohttp.CookieJar(unsafe=True),  # httpx2 kept cookies for IP-address hosts too
                skip_auto_headers=("Content-Type",),  # httpx2 sent no Content-Type the service did not set
                auto_decompress=False,
                trust_env=False,  # proxies are looked up here (proxy_for), never netrc credentials
                max_line_size=MAX_FIELD,
                max_field_size=MAX_FIELD,
                max_headers=MAX_HEADERS,
            )
            # aiohttp sends an idempotent request a second time when its connection breaks. A probe must
            # see the first failure: the engine's retry policy decides about another try (and counts it).
            # No public switch exists for this: the attribute is the one its own retry check reads.
            self._session._retry_connection = False
        return self._session

    def timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """Each phase bounded by `seconds`, as httpx2's Timeout(seconds) bounded each (connect, read)."""
        found = self._timeouts.get(seconds)
        if found is None:
            found = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
            )
        return found

    def proxy_for(self, url: URL) -> str | None:
        """The proxy the environment names for `url` (None: connect directly), read once per session."""
        key = (url.scheme, url.host or "")
        if key in self._proxies:
            return self._proxies[key]
        if self._environment is None:
            self._environment = _proxy_environment()
        environment = self._environment
        proxy = environment.get(url.scheme) or environment.get("all")
        if proxy and url.host and _bypassed(url.host, environment):
            proxy = None
        if proxy and "://" not in proxy:
            proxy = f"http://{proxy}"
        if proxy and not proxy.lower().startswith(("http://", "https://")):
            raise ProbeError(f"unsupported proxy URL scheme: {proxy.partition('://')[0]}", retryable=False)
        self._proxies[key] = proxy or None
        return self._proxies[key]

    async def aclose(self) -> None:
        session, self._session = self._session, None
        self._proxies.clear()
        self._environment = None
        if session is not None and not session.closed:
            try:
                await session.close()
            except Exception:  # closing sockets nobody uses failed: nothing to tell anyone
                logger.debug("closing an HTTP session failed", exc_info=True)
