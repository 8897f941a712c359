"""The /metrics cache: a scrape answers from the latest rendering, and concurrent scrapes share one."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime

from core.results import Status
from core.serve.metrics import STEP_SERVICES, MetricsFrame, render
from core.serve.scrape import GZIP_LEVEL, MIN_PERIOD, ScrapeCache, accepts_gzip
from core.snapshot import FleetSnapshot, ServiceInfo, ServiceSnapshot

OPENMETRICS = "application/openmetrics-text;version=1.0.0"


class Fleet:
    """A frame source whose status the test changes, counting how often a frame was taken."""

    def __init__(self) -> None:
        self.status = Status.UP
        self.frames = 0

    def frame(self) -> MetricsFrame:
        self.frames += 1
        service = ServiceSnapshot(ServiceInfo("api", "http", "http://127.0.0.1/"), status=self.status)
        return MetricsFrame(FleetSnapshot(taken_at=datetime.now(UTC), services=(service,)), {})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _up(body: bytes) -> bool:
    return b'lookout_service_status{lookout_service_status="up",service="api"} 1.0' in body


async def test_a_fresh_rendering_is_served_from_the_cache_and_an_old_one_is_renewed() -> None:
    fleet, clock = Fleet(), Clock()
    cache = ScrapeCache(fleet.frame, clock=clock)
    try:
        first = await cache.get("")
        fleet.status = Status.DOWN
        again = await cache.get("")
        assert again is first and _up(again.body), "within the period: the cached rendering"
        clock.now += MIN_PERIOD + 2
        renewed = await cache.get("")
        assert renewed is not first and not _up(renewed.body)
        assert cache.renders == 2
    finally:
        await cache.aclose()


async def test_concurrent_scrapes_share_one_rendering_per_format() -> None:
    fleet = Fleet()
    cache = ScrapeCache(fleet.frame, clock=Clock())
    try:
        answers = await asyncio.gather(*(cache.get("") for _ in range(5)), *(cache.get(OPENMETRICS) for _ in range(5)))
    finally:
        await cache.aclose()
    assert cache.renders == 2 and fleet.frames == 2
    assert {answer.content_type.split(";")[0] for answer in answers} == {"text/plain", "application/openmetrics-text"}
    assert all(answer.body.rstrip().endswith(b"# EOF") for answer in answers[5:])


async def test_closing_stops_the_refresher() -> None:
    cache = ScrapeCache(Fleet().frame, clock=Clock())
    await cache.get("")
    await cache.aclose()
    assert cache._refresher is None


async def test_a_rendering_is_kept_gzipped_and_holds_exactly_the_exposition() -> None:
    """Only the gzipped bytes are kept, compressed piece by piece: they must decompress to prometheus_client's
    one-piece rendering, in both formats, across several slices of services."""
    services = tuple(
        ServiceSnapshot(ServiceInfo(f"api-{i}", "http", "http://127.0.0.1/"), status=Status.UP)
        for i in range(2 * STEP_SERVICES + 3)
    )
    frame = MetricsFrame(FleetSnapshot(taken_at=datetime(2026, 12, 7, tzinfo=UTC), services=services), {})
    cache = ScrapeCache(lambda: frame, clock=Clock())
    try:
        for accept in ("", OPENMETRICS):
            rendered = await cache.get(accept)
            expected, content_type = render(frame, accept)
            assert gzip.decompress(rendered.gzipped) == rendered.body == expected
            assert rendered.gzipped == gzip.compress(expected, compresslevel=GZIP_LEVEL, mtime=0)  # same bytes
            assert rendered.content_type == content_type
            assert len(rendered.gzipped) * 10 < len(expected)
    finally:
        await cache.aclose()


def test_accept_encoding() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("deflate, gzip;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("")


def test_renderings_pause_the_collector_and_the_last_one_resumes_it_as_it_was() -> None:
    """Overlapping renderings (two formats) pause automatic collection; the last to end restores it, once."""
    import gc

    from core.collector import collections_paused

    assert gc.isenabled()
    with collections_paused():
        assert not gc.isenabled()
        with collections_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the first rendering still runs"
    assert gc.isenabled()
    gc.disable()
    try:
        with collections_paused():
            pass
        assert not gc.isenabled(), "a process that had it off keeps it off"
    finally:
        gc.enable()
