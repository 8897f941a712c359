"""/metrics from a cache refreshed off the event loop, so a scrape costs the daemon nothing it must wait for.

prometheus_client renders ~25 series per service one sample at a time: for
1,000 services that is a fraction of a second of CPU, longer still while it
shares the interpreter with a busy engine. Rendering at scrape time would make
the scrape that slow. Instead, once scraped, the cache keeps a rendering of each
format asked for fresh: a refresher task renders it again (in a worker thread,
over a frame taken on the loop) every `period`, and a scrape answers with the
latest one. The period grows with the cost of a rendering (at most ~10% of a
core goes to it, up to MAX_PERIOD), and the refresher stops when nobody has
scraped for a while. Each rendering is gzipped in the thread too: Prometheus
asks for gzip, and a fifteenth of the bytes is that much less for the loop to
send. A scrape finding nothing fresh enough (the first, or after an idle
spell) renders and waits; concurrent scrapes share that one rendering.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.exposition import choose_encoder

from core.serve.metrics import MetricsFrame, render

MIN_PERIOD = 5.0
"""Seconds between refreshes at least: no scraper needs fresher figures than every 5 s."""
COST_FACTOR = 10.0
"""The period is at least this many times the last rendering's duration (so it takes <= ~10% of a core)."""
MAX_PERIOD = 30.0
"""...but never longer than this: figures older than a usual scrape interval would mislead."""
IDLE_AFTER = 300.0
"""The refresher stops when nobody has scraped for this long (a scraper that went away costs nothing)."""


GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    gzipped: bytes
    """The body gzip-compressed, as Prometheus asks for it: ~15x fewer bytes for the event loop to send."""
    content_type: str
    at: float


def render_both(frame: MetricsFrame, accept: str) -> tuple[bytes, bytes, str]:
    """(body, gzipped body, content type): both made in the worker thread, neither on the loop."""
    with yielding_to_the_loop():
        body, content_type = render(frame, accept)
        return body, gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0), content_type


SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the GIL while another waits for it, during a rendering (Python's default: 5 ms)."""
_quiet_lock = threading.Lock()
_quiet_holders = 0
_quiet_restore: tuple[bool, float] = (True, 0.005)


@contextlib.contextmanager
def yielding_to_the_loop() -> Iterator[None]:
    """Render in a worker thread without stalling the event loop, which shares the GIL with it.

    Two things made a rendering stall the loop for up to ~0.7 s at 1000 services: the cyclic garbage
    collector, which the rendering's ~100k short-lived objects set off and which then walks the whole heap
    (every result in every history ring) holding the GIL; and the GIL itself, which the loop waits up to
    the switch interval for after each of its many short waits. So while any rendering runs, automatic
    collection is paused (the rendering's objects are freed by reference counting the moment it ends;
    collection resumes after, as before) and the switch interval is 1 ms. Both are process-wide settings:
    counted, so overlapping renderings restore them once, when the last one ends.
    """
    global _quiet_holders, _quiet_restore
    with _quiet_lock:
        if _quiet_holders == 0:
            _quiet_restore = (gc.isenabled(), sys.getswitchinterval())
            gc.disable()
            sys.setswitchinterval(SWITCH_INTERVAL)
        _quiet_holders += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_holders -= 1
            if _quiet_holders == 0:
                enabled, interval = _quiet_restore
                sys.setswitchinterval(interval)
                if enabled:
                    gc.enable()


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
        body, gzipped, content_type = await asyncio.to_thread(render_both, frame, self._accepts[key])
        self._render_seconds = time.perf_counter() - began
        self.renders += 1
        rendered = self._cache[key] = Rendered(body, gzipped, content_type, self._clock())
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
