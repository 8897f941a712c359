"""The loopback HTTP API (core/demo/http_api.py) as pytest fixtures, one server for the whole session."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest

from core.demo.http_api import Recorder, create_http_api
from core.demo.serve import serve_in_thread, start_reset_server


@dataclass
class HttpApi:
    url: str
    recorder: Recorder

    def count(self, route: str, key: str) -> int:
        return self.recorder.count(route, key)

    def times(self, route: str, key: str) -> list[float]:
        return self.recorder.times(route, key)


@pytest.fixture(scope="session")
def http_api() -> Iterator[HttpApi]:
    app = create_http_api()
    served = serve_in_thread(app)
    try:
        yield HttpApi(served.url, app.state.recorder)
    finally:
        served.stop()


@pytest.fixture
def unique_key() -> str:
    """Isolates one test's counters and quotas on the shared server."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def reset_url() -> Iterator[str]:
    server = start_reset_server()
    try:
        yield server.url
    finally:
        server.stop()


# -- a hostile HTTP server: raw asyncio, so it can send what no framework would -----------------

BODY_PREFIX = b'{"status": "ok", "pad": "'
BODY_SUFFIX = b'"}'
PIECE = 1024 * 1024
BOMB_CHUNK = 64 * 1024
"""A bomb's compressed bytes go out in chunks this large (~64 MiB of zeros each): one network read."""


def json_body_pieces(size: int) -> Iterator[bytes]:
    """A JSON object of exactly `size` bytes ({"status": "ok", "pad": "000..."}), 1 MiB at a time, made lazily."""
    pad = max(0, size - len(BODY_PREFIX) - len(BODY_SUFFIX))
    yield BODY_PREFIX
    while pad > 0:
        piece = min(pad, PIECE)
        yield b"0" * piece
        pad -= piece
    yield BODY_SUFFIX


def encoded_pieces(size: int, encoding: str) -> Iterator[bytes]:
    """The body above, compressed on the fly as a server would stream it (nothing is built in advance)."""
    if encoding in ("identity", "br"):  # "br" is a lie: the bytes are plain, as no decoder should guess
        yield from json_body_pieces(size)
        return
    wbits = {"gzip": 31, "deflate": 15, "rawdeflate": -15}[encoding]
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    pending = bytearray()
    for piece in json_body_pieces(size):
        pending += compressor.compress(piece)
        if len(pending) >= BOMB_CHUNK:
            yield bytes(pending)
            pending.clear()
    pending += compressor.flush()
    yield bytes(pending)


class HostileHttp:
    """A raw asyncio server on 127.0.0.1, in its own thread and event loop (compressing a bomb is CPU work
    that must not stall the engine under test). Counts per key what it saw and sent.

    GET /body/{key}?size=N[&encoding=gzip|deflate|rawdeflate|br]
        200 with a JSON body of N bytes (decoded), written lazily; identity bodies carry a
        Content-Length, encoded ones end when the connection closes. Writing stops as soon as the
        client goes away.
    GET /reset/{key}
        reads the request, then resets the connection (SO_LINGER 0).
    """

    def __init__(self) -> None:
        self.url = ""
        self.requests: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        """Body bytes written (compressed, for encoded bodies) per key."""
        self.disconnected: set[str] = set()
        """Keys whose body the client stopped reading before its end."""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), name="hostile-http", daemon=True)

    def start(self) -> HostileHttp:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile HTTP server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        target = urlsplit(head.split(b" ", 2)[1].decode("latin-1"))
        route, _, key = target.path.strip("/").partition("/")
        query = dict(parse_qsl(target.query))
        self.requests[key] += 1
        try:
            if route == "reset":
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif route == "body":
                await self._body(writer, key, int(query.get("size", "0")), query.get("encoding", "identity"))
        except (ConnectionError, OSError):
            self.disconnected.add(key)
        finally:
            writer.close()

    async def _body(self, writer: asyncio.StreamWriter, key: str, size: int, encoding: str) -> None:
        wire = "deflate" if encoding == "rawdeflate" else encoding  # raw deflate is sent labelled "deflate"
        length_or_encoding = f"Content-Length: {size}" if encoding == "identity" else f"Content-Encoding: {wire}"
        headers = ["HTTP/1.1 200 OK", "Content-Type: application/json", "Connection: close", length_or_encoding]
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
        for chunk in encoded_pieces(size, encoding):
            writer.write(chunk)
            await writer.drain()
            self.sent[key] += len(chunk)


@pytest.fixture
def hostile_http() -> Iterator[HostileHttp]:
    server = HostileHttp().start()
    try:
        yield server
    finally:
        server.stop()
