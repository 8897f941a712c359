"""Reading an HTTP response body with a hard cap on the bytes kept, decompressed size included.

A monitored server is not trusted to send a body of sane size: a 1 GiB answer, or
a 1 MB gzip stream that inflates to 1 GiB, must not cost Lookout more than the
cap. An HTTP client's own decoder (httpx's, aiohttp's) inflates a whole network chunk at once (no max_length),
so one 64 KiB compressed chunk can become ~64 MB before any check could run.
Here the raw bytes (aiohttp's session is told not to decompress) are inflated by
hand, never producing more than the room left under the cap; past it, reading
stops and the response is closed without draining the rest (the connection is
dropped, not returned to the pool).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import aiohttp
    import httpx2


ACCEPT_ENCODING = "gzip, deflate"
"""The only encodings this module decodes: asked for explicitly, so a server has no reason to send others."""

_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS
"""wbits that accept a gzip or a zlib header (auto-detected)."""


@dataclass(frozen=True, slots=True)
class CappedBody:
    """What was read of a body: at most `cap` bytes of decoded content."""

    content: bytes
    truncated_at: int | None = None
    """The cap, when the body went on past it (the rest was not read)."""
    problem: str = ""
    """Why the content could not be decoded (an unsupported or corrupt encoding); empty if it could."""

    @property
    def complete(self) -> bool:
        return self.truncated_at is None and not self.problem


class _Decoder(Protocol):
    def feed(self, data: bytes, room: int) -> bytes:
        """Decode `data`, returning at most `room` bytes (more would be past the cap and never kept)."""
        ...


class _Identity:
    """No encoding: bytes pass through."""

    def feed(self, data: bytes, room: int) -> bytes:
        return data[:room]


class _Inflate:
    """gzip or deflate, inflated at most `room` bytes per call (zlib's max_length), the rest kept compressed.

    HTTP's "deflate" is meant to be zlib-wrapped, yet some servers send a raw
    deflate stream: like browsers, fall back to raw when the zlib header is wrong.
    """

    def __init__(self, encoding: str) -> None:
        self._raw_fallback = encoding == "deflate"
        self._inflater = zlib.decompressobj(_GZIP_OR_ZLIB)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        # max_length 0 would mean "unlimited": always ask for at least one byte. Input left over
        # (unconsumed_tail) is only left when `room` bytes came out, i.e. the cap is reached.
        try:
            out = self._inflater.decompress(data, max(1, room))
        except zlib.error:
            if not (self._raw_fallback and not self._started):
                raise
            self._raw_fallback = False
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, max(1, room))
        self._started = True
        return out


_IDENTITY = _Identity()
"""It keeps no state: one for every body sent without an encoding."""


def _decoder_for(content_encoding: str) -> _Decoder | str:
    """The decoder for a Content-Encoding header, or why there is none."""
    if not content_encoding:
        return _IDENTITY
    codings = [part.strip().lower() for part in content_encoding.split(",") if part.strip()]
    codings = [coding for coding in codings if coding != "identity"]
    if not codings:
        return _IDENTITY
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflate(codings[0])
    return f"unsupported Content-Encoding {', '.join(codings)[:40]!r}"


async def read_capped(response: httpx2.Response, cap: int) -> CappedBody:
    """Read an httpx2 `response` (sent with stream=True) up to `cap` decoded bytes, then close it.

    For the fetches that stay on httpx2 (OAuth metadata, token refresh). Network errors propagate (the
    caller turns them into reasons); a corrupt or unsupported encoding does not: it is reported in
    `problem`, since a status-only check does not need the body at all.
    """
    chunks = response.aiter_raw()
    try:
        body, _ = await _capped(chunks, response.headers.get("content-encoding", ""), cap)
        return body
    finally:
        await chunks.aclose()
        await response.aclose()


async def read_capped_aio(response: aiohttp.ClientResponse, content_encoding: str, cap: int) -> CappedBody:
    """Read an aiohttp `response`'s raw body up to `cap` decoded bytes, then let its connection go.

    A body read to its end returns the connection to the service's pool; any other ending (the cap
    reached, an encoding that cannot be decoded, an error) closes it, unread bytes and all.
    """
    done = False
    try:
        stream = response.content
        if stream.is_eof():
            # The whole body came in with the head (a small answer usually does): what the loop below would read
            # in one chunk is taken at once, with no async iteration. An error the stream holds is raised here too.
            body, done = _capped_chunks(_whole(stream.read_nowait()), content_encoding, cap)
        else:
            body, done = await _capped(stream.iter_any(), content_encoding, cap)
        return body
    finally:
        if done:
            response.release()
        else:
            response.close()


def _whole(data: bytes) -> tuple[bytes, ...]:
    """A body read at once, as the chunks `iter_any` would have given (none for an empty body)."""
    return (data,) if data else ()


async def _capped(chunks: AsyncIterator[bytes], content_encoding: str, cap: int) -> tuple[CappedBody, bool]:
    """(what was kept of `chunks`, decoded, at most `cap` bytes; whether the body was read to its end)."""
    decoder = _decoder_for(content_encoding)
    if isinstance(decoder, str):
        return CappedBody(b"", problem=decoder), False
    content = bytearray()
    async for raw in chunks:
        stop = _take(decoder, content, raw, cap)
        if stop is not None:
            return stop, False
    return CappedBody(bytes(content)), True


def _capped_chunks(chunks: tuple[bytes, ...], content_encoding: str, cap: int) -> tuple[CappedBody, bool]:
    """`_capped` over chunks already in hand."""
    decoder = _decoder_for(content_encoding)
    if isinstance(decoder, str):
        return CappedBody(b"", problem=decoder), False
    content = bytearray()
    for raw in chunks:
        stop = _take(decoder, content, raw, cap)
        if stop is not None:
            return stop, False
    return CappedBody(bytes(content)), True


def _take(decoder: _Decoder, content: bytearray, raw: bytes, cap: int) -> CappedBody | None:
    """Decode one chunk into `content`; the body as kept when reading must stop here (past the cap, corrupt)."""
    try:
        # One byte past the cap is asked for: it tells a body of exactly `cap` bytes from a longer one.
        content += decoder.feed(raw, cap + 1 - len(content))
    except zlib.error as exc:
        return CappedBody(bytes(content), problem=f"corrupt compressed body: {exc}")
    if len(content) > cap:
        return CappedBody(bytes(content[:cap]), truncated_at=cap)
    return None
