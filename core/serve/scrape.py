"""/metrics from a cache refreshed in the background, so a scrape costs the daemon nothing it must wait for.

prometheus_client renders ~25 series per service one sample at a time: for
1,000 services that is a fraction of a second of CPU. Rendering at scrape time
would make the scrape that slow. Instead, once scraped, the cache keeps a
rendering of each format asked for fresh: a refresher task renders it again
every `period`, and a scrape answers with the latest one. A rendering runs on
the event loop in steps of a few services, yielding in between
(core.serve.metrics.render_pieces_in_steps), so probing never waits for more than a
step; a worker thread did worse, as the loop then waited for the interpreter
lock after each of its short sleeps. The period grows with the cost of a
rendering (at most ~10% of a core goes to it, up to MAX_PERIOD), and the
refresher stops when nobody has scraped for a while. Each rendering is gzipped
in a worker thread (zlib works without the interpreter lock), piece by piece:
Prometheus asks for gzip, and a fifteenth of the bytes is that much less for
the loop to send. Only the gzipped rendering is kept (~90 KB for 1,000
services, against ~1.7 MB of text): a scraper that does not take gzip is
answered with it decompressed, in a worker thread too.
A scrape finding nothing fresh enough (the first, or after an idle spell)
renders and waits; concurrent scrapes share that one rendering.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.exposition import choose_encoder

from core.collector import collections_paused
from core.serve.metrics import MetricsFrame, render_pieces_in_steps

MIN_PERIOD = 5.0
"""Seconds between refreshes at least: no scraper needs fresher figures than every 5 s."""
COST_FACTOR = 10.0
"""The period is at least this many times the last rendering's duration (so it takes <= ~10% of a core)."""
MAX_PERIOD = 30.0
"""...but never longer than this: figures older than a usual scrape interval would mislead."""
IDLE_AFTER = 300.0
"""The refresher stops when nobody has scraped for this long (a scraper that went away costs nothing)."""


GZIP_LEVEL = 6
GZIP_WBITS = 31
"""zlib's window bits for a gzip header and trailer (16 + the largest window)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    gzipped: bytes
    """The exposition gzip-compressed, as Prometheus asks for it: ~15x fewer bytes to keep and to send."""
    content_type: str
    at: float

    @property
    def body(self) -> bytes:
        """The exposition itself (decompressed: a worker thread's job for a fleet's worth)."""
        return gzip.decompress(self.gzipped)


def gzipped(pieces: list[bytes]) -> bytes:
    """The pieces, joined, gzip-compressed (as `gzip.compress` makes it, mtime 0) without ever joining them
    uncompressed: a fleet's text is ~1.7 MB, made again every few seconds. Run in a worker thread: zlib lets
    go of the interpreter while it works."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    parts = [compressor.compress(piece) for piece in pieces]
    parts.append(compressor.flush())
    return b"".join(parts)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (`gzip;q=0` refuses it)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip()
            return not quality or _quality(quality) > 0
    return False


def _quality(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 1.0


class ScrapeCache:
    """The latest rendering of /metrics per format; `frame()` is called on the loop, `render` in a thread."""

    def __init__(self, frame: Callable[[], MetricsFrame], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._frame = frame
        self._clock = clock
        self._cache: dict[str, Rendered] = {}
        self._accepts: dict[str, str] = {}
        """An Accept header per format scraped, to refresh each format as it was asked for."""
        self._inflight: dict[str, asyncio.Task[Rendered]] = {}
        self._last_scrape = 0.0
        self._render_seconds = 0.0
        self._refresher: asyncio.Task[None] | None = None
        self.renders = 0

    @property
    def period(self) -> float:
        return min(MAX_PERIOD, max(MIN_PERIOD, COST_FACTOR * self._render_seconds))

    async def get(self, accept: str) -> Rendered:
        key = choose_encoder(accept)[1]
        now = self._clock()
        self._last_scrape = now
        self._accepts[key] = accept
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh(), name="lookout:metrics-refresh")
        cached = self._cache.get(key)
        if cached is not None and now - cached.at <= self.period + self._render_seconds + 1.0:
            return cached
        return await self._render(key)

    async def _render(self, key: str) -> Rendered:
        """A new rendering of format `key`; one at a time per format, shared by whoever asks meanwhile.

        It runs as its own task, so a scraper that hangs up does not cancel it for the others.
        """
        task = self._inflight.get(key)
        if task is None:
            task = self._inflight[key] = asyncio.create_task(self._render_now(key), name="lookout:metrics-render")
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _render_now(self, key: str) -> Rendered:
        frame = self._frame()
        began = time.perf_counter()
        with collections_paused():
            pieces, content_type = await render_pieces_in_steps(frame, self._accepts[key])
        del frame  # its snapshot shares the result rings' columns (core.ring): not held while zlib works
        compressed = await asyncio.to_thread(gzipped, pieces)
        del pieces
        self._render_seconds = time.perf_counter() - began
        self.renders += 1
        rendered = self._cache[key] = Rendered(compressed, content_type, self._clock())
        return rendered

    async def _refresh(self) -> None:
        while self._clock() - self._last_scrape < IDLE_AFTER:
            await asyncio.sleep(self.period)
            for key in list(self._accepts):
                await self._render(key)

    async def aclose(self) -> None:
        """Stop refreshing; a rendering under way is waited for (a worker thread cannot be cancelled)."""
        tasks = [task for task in (self._refresher, *self._inflight.values()) if task is not None]
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        await asyncio.gather(*tasks, return_exceptions=True)
