"""Connection pools per service, and `fresh_connection`: proven by the client ports a real server saw."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx2
import pytest
from helpers import idle_engine, make_config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.demo.serve import ServedApp, serve_in_thread
from core.probes.http_pools import FRESH, POOL, SWEEP_EVERY, ServicePools
from core.results import Status


class PortLog:
    """A loopback server that remembers the client port of every request, by path."""

    def __init__(self, served: ServedApp, ports: dict[str, list[int]]) -> None:
        self.url = served.url
        self.ports = ports


@pytest.fixture(scope="module")
def port_log() -> Iterator[PortLog]:
    ports: dict[str, list[int]] = {}

    async def seen(request: Request) -> JSONResponse:
        assert request.client is not None
        ports.setdefault(request.url.path, []).append(request.client.port)
        return JSONResponse({"status": "ok"})

    served = serve_in_thread(Starlette(routes=[Route("/{key}", seen)]))
    try:
        yield PortLog(served, ports)
    finally:
        served.stop()


async def probe_times(port_log: PortLog, services: dict[str, dict], rounds: int) -> None:
    async with idle_engine(make_config(services)) as engine:
        for _ in range(rounds):
            snapshot = await engine.run_once()
            assert all(s.status is Status.UP for s in snapshot.services)


async def test_a_service_reuses_its_kept_alive_connection(port_log: PortLog) -> None:
    await probe_times(port_log, {"kept": {"kind": "http", "url": f"{port_log.url}/kept"}}, rounds=4)
    assert len(port_log.ports["/kept"]) == 4
    assert len(set(port_log.ports["/kept"])) == 1, "four probes in a row went over one kept-alive connection"


async def test_fresh_connection_opens_a_new_connection_for_every_probe(port_log: PortLog) -> None:
    service = {"kind": "http", "url": f"{port_log.url}/fresh", "fresh_connection": True}
    await probe_times(port_log, {"fresh": service}, rounds=4)
    assert len(set(port_log.ports["/fresh"])) == 4


async def test_each_service_has_a_connection_of_its_own(port_log: PortLog) -> None:
    """Services sharing an origin do not share connections: a probe's latency does not depend on whether
    another service happened to leave a warm connection behind."""
    services = {name: {"kind": "http", "url": f"{port_log.url}/{name}"} for name in ("one", "two")}
    async with idle_engine(make_config(services)) as engine:
        for name in ("one", "two", "one", "two"):
            await engine.run_once([name])
    one, two = port_log.ports["/one"], port_log.ports["/two"]
    assert len(set(one)) == 1 and len(set(two)) == 1, "each kept its own connection alive"
    assert set(one) != set(two)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_pools_unused_past_the_keepalive_expiry_are_closed(port_log: PortLog) -> None:
    """Many services on long intervals must not hold a socket each: an unused pool goes with its connections."""
    clock = Clock()
    pools = ServicePools(max_connections=10, clock=clock)
    async with httpx2.AsyncClient(transport=pools) as client:
        assert (await client.get(f"{port_log.url}/sweep", extensions={POOL: "a"})).status_code == 200
        assert (await client.get(f"{port_log.url}/sweep", extensions={POOL: "b", FRESH: True})).status_code == 200
        assert pools.pools == 2
        clock.now += SWEEP_EVERY + 1
        assert (await client.get(f"{port_log.url}/sweep", extensions={POOL: "a"})).status_code == 200
        assert pools.pools == 1, "both pools, unused for 6 s, were closed; a's is a new one"
        clock.now += SWEEP_EVERY + 1
        assert (await client.get(f"{port_log.url}/sweep", extensions={POOL: "b"})).status_code == 200
        assert pools.pools == 1
    ports = port_log.ports["/sweep"]
    assert ports[0] != ports[2], "a's pool was closed with its connection: its next request had a new one"


async def test_a_pool_in_use_is_never_swept(port_log: PortLog) -> None:
    clock = Clock()
    pools = ServicePools(max_connections=10, clock=clock)
    client = httpx2.AsyncClient(transport=pools)
    held_stream = client.stream("GET", f"{port_log.url}/held", extensions={POOL: "a"})
    async with client, held_stream as held:  # its connection stays busy
        clock.now += SWEEP_EVERY + 1
        assert (await client.get(f"{port_log.url}/held", extensions={POOL: "b"})).status_code == 200
        assert pools.pools == 2
        await held.aread()
        assert held.status_code == 200


async def test_a_request_naming_no_service_goes_to_its_origins_pool(port_log: PortLog) -> None:
    client = httpx2.AsyncClient(transport=ServicePools(max_connections=10))
    async with client:
        for _ in range(2):
            assert (await client.get(f"{port_log.url}/anonymous")).status_code == 200
    assert len(set(port_log.ports["/anonymous"])) == 1


async def test_requests_arriving_while_a_sweep_closes_pools_get_pools_that_stay_open(port_log: PortLog) -> None:
    clock = Clock()
    pools = ServicePools(max_connections=10, clock=clock)
    async with httpx2.AsyncClient(transport=pools) as client:
        names = [f"s{n}" for n in range(20)]
        for name in names:
            assert (await client.get(f"{port_log.url}/overlap", extensions={POOL: name})).status_code == 200
        clock.now += SWEEP_EVERY + 1
        answers = await asyncio.gather(
            *(client.get(f"{port_log.url}/overlap", extensions={POOL: name}) for name in names * 2)
        )
        assert [answer.status_code for answer in answers] == [200] * 40
        assert pools.pools == 20
