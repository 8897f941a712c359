"""The one TLS context every probe verifies servers with, made at the first HTTPS connection.

Its own module: the HTTP probes' aiohttp session and the MCP transports' httpx2 clients share it, and
an MCP-only run imports neither stack for it. An HTTP probe asks for it per https request; a remote MCP
session asks when it connects, whatever its URL's scheme (its client is made before any redirect, and
the MCP transports follow an http -> https upgrade on the same host).
"""

from __future__ import annotations

import asyncio.sslproto
import ssl
from functools import cache
from typing import Any

TLS_READ_BUFFER = 32 * 1024
"""Bytes asyncio's TLS layer reads into at once, per connection (see `tls_context`)."""


@cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context every service's connections are verified with, HTTP probes' and MCP transports'
    alike: httpx2's defaults (the system's CA store, or SSL_CERT_FILE / SSL_CERT_DIR when set).

    Made at the first HTTPS request (loading the CA store costs ~1-2 MB of OpenSSL's memory, which a fleet of
    http:// services never needs), which is also when asyncio's TLS read buffer is made smaller, for the whole
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
    import httpx2  # here: a fleet of http:// services never loads it

    return httpx2.create_ssl_context(verify=True)
