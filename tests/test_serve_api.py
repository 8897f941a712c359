"""`lookout serve`'s HTTP face, in process: a real Daemon (engine + uvicorn) on loopback, a real HTTP client.

The fleet is the loopback HTTP API (tests/fixtures_http.py). Tests wait for
conditions (every service has a result), never for a length of time.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from helpers import make_config

from core.config import Config
from core.engine import Engine
from core.report import to_json
from core.serve.auth import AuthError, require_token
from core.serve.command import main as serve_main
from core.serve.daemon import Daemon, Listen
from core.serve.readiness import waiting_for

pytestmark = pytest.mark.slow  # each test runs a real daemon (uvicorn and the engine) for a second or more

SECRET = "s3cr3t-in-the-config-4711"
TOKEN = "bearer-token-0815-never-served"
CONDITION_LIMIT = 30.0
"""How long a test waits for a condition before failing (a bound on failure, not a measured time)."""


def http(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "http", "url": url, "interval": "1s", **extra}


def fleet(api_url: str, key: str, *, defaults: dict[str, Any] | None = None, **more: dict[str, Any]) -> Config:
    services = {
        "up": http(f"{api_url}/ok/{key}", tags=["core"]),
        "broken": http(f"{api_url}/status/{key}/503"),
        "secretive": http(f"{api_url}/echo/{key}?api_key=${{SECRET}}", headers={"X-Api-Key": "${SECRET}"}),
        **more,
    }
    return make_config(services, env={"SECRET": SECRET}, **(defaults or {}))


@asynccontextmanager
async def running(config: Config, *, token: str | None = None, history: Any = None) -> AsyncIterator[Daemon]:
    log = io.StringIO()
    daemon = Daemon(config, listen=Listen("127.0.0.1", 0), token=token, stream=log, history=history)
    task = asyncio.create_task(daemon.run())
    while daemon.port is None and not task.done():
        await asyncio.sleep(0)
    try:
        yield daemon
    finally:
        daemon.stop()
        await task


def client(daemon: Daemon, token: str | None = None) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(base_url=daemon.listen.url(daemon.port), headers=headers, trust_env=False, timeout=10)


async def probed(daemon: Daemon, *names: str) -> None:
    """Wait until each named service (default: all) has a result."""
    wanted = set(names or daemon.engine.names)
    async with asyncio.timeout(CONDITION_LIMIT):
        while True:
            snapshot = daemon.engine.snapshot()
            if all(s.last_result is not None for s in snapshot.services if s.name in wanted):
                return
            await asyncio.sleep(0.05)


def shape(value: Any) -> Any:
    """The JSON document's structure: keys (recursively) and types, not values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if value is not None else None


def keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value and isinstance(value[0], dict) else []
    return None


async def test_status_is_the_once_json_document_with_a_schema_version(http_api, unique_key) -> None:
    config = fleet(http_api.url, unique_key)
    async with Engine(config) as once_engine:
        once = to_json(await once_engine.run_once())
    async with running(config) as daemon, client(daemon) as http_client:
        await probed(daemon)
        answer = await http_client.get("/api/v1/status")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    document = answer.json()
    assert document.pop("schema_version") == 1
    assert keys(document) == keys(once)
    assert [s["name"] for s in document["services"]] == ["up", "broken", "secretive"]
    by_name = {s["name"]: s for s in document["services"]}
    assert by_name["up"]["status"] == "up"
    assert by_name["broken"]["status"] == "down"
    assert document["status"] == "down"


class History:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def summary(self, name: str) -> dict[str, Any] | None:
        self.asked.append(name)
        return {"uptime": {"24h": 0.5}}


async def test_service_document_has_recent_results_and_the_history_summary(http_api, unique_key) -> None:
    history = History()
    async with running(fleet(http_api.url, unique_key), history=history) as daemon, client(daemon) as http_client:
        await probed(daemon)
        answer = await http_client.get("/api/v1/services/broken")
        missing = await http_client.get("/api/v1/services/nope%1b%5B31m")
    document = answer.json()
    assert answer.status_code == 200
    assert document["schema_version"] == 1
    assert document["service"]["name"] == "broken"
    assert document["service"]["http_status"] == 503
    assert document["recent"], "the results so far are listed"
    assert document["recent"][-1]["status"] == "down"
    assert document["history"] == {"uptime": {"24h": 0.5}}
    assert history.asked == ["broken"]
    assert missing.status_code == 404
    assert "\x1b" not in missing.text


async def test_without_a_history_store_the_key_is_left_out(http_api, unique_key) -> None:
    async with running(fleet(http_api.url, unique_key)) as daemon, client(daemon) as http_client:
        await probed(daemon, "up")
        document = (await http_client.get("/api/v1/services/up")).json()
    assert "history" not in document
    assert document["service"]["tags"] == ["core"]


async def test_a_daemon_embedded_in_a_program_leaves_its_garbage_collector_alone(http_api, unique_key) -> None:
    """Only `lookout serve`, which owns its process, freezes what it built at start (a process-wide setting)."""
    import gc

    before = gc.get_freeze_count()
    async with running(fleet(http_api.url, unique_key)) as daemon:
        await probed(daemon)
        assert gc.get_freeze_count() == before


async def test_the_second_freeze_waits_for_every_services_first_result_or_the_limit(http_api, unique_key) -> None:
    """`lookout serve` freezes at start and again once the fleet settled: then every service has its probe's
    session and connection, which live as long as the daemon. A service that never answers does not hold
    the second freeze back beyond the limit."""
    import gc

    from core.collector import YOUNG_THRESHOLD, freeze_once_settled

    thresholds = gc.get_threshold()
    try:
        gc.set_threshold(700, *thresholds[1:])
        async with running(fleet(http_api.url, unique_key)) as daemon:
            await freeze_once_settled(daemon.engine, limit=60.0, poll=0.05)
            assert all(service.probes > 0 for service in daemon.engine.snapshot().services)
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])  # young collections spaced
        stuck = http(f"{http_api.url}/hang/{unique_key}", timeout="5m")
        async with running(fleet(http_api.url, unique_key, stuck=stuck)) as daemon:
            await freeze_once_settled(daemon.engine, limit=0.5, poll=0.05)
            assert daemon.engine.snapshot().get("stuck").probes == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_young_collections_are_spaced_but_never_switched_on_nor_made_more_frequent() -> None:
    import gc

    from core.collector import YOUNG_THRESHOLD, space_young_collections

    thresholds = gc.get_threshold()
    try:
        for before, after in ((700, YOUNG_THRESHOLD), (YOUNG_THRESHOLD * 2, YOUNG_THRESHOLD * 2), (0, 0)):
            gc.set_threshold(before, *thresholds[1:])
            space_young_collections()
            assert gc.get_threshold() == (after, *thresholds[1:])
    finally:
        gc.set_threshold(*thresholds)


async def test_readyz_waits_for_first_results_or_the_startup_timeout(http_api, unique_key) -> None:
    stuck = http(f"{http_api.url}/hang/{unique_key}", timeout="5m")
    config = fleet(http_api.url, unique_key, defaults={"startup_timeout": "10m"}, stuck=stuck)
    async with running(config) as daemon, client(daemon) as http_client:
        await probed(daemon, "up", "broken", "secretive")
        health = await http_client.get("/healthz")
        ready = await http_client.get("/readyz")
        snapshot = daemon.engine.snapshot()
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "waiting_for": ["stuck"]}
    timeout = config.defaults.startup_timeout
    assert waiting_for(snapshot, config, timeout - 1) == ["stuck"]
    assert waiting_for(snapshot, config, timeout) == []


async def test_readyz_is_ready_once_every_service_has_a_result(http_api, unique_key) -> None:
    async with running(fleet(http_api.url, unique_key)) as daemon, client(daemon) as http_client:
        await probed(daemon)
        ready = await http_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True}


async def _sse_events(response: httpx2.Response) -> AsyncIterator[tuple[str, dict[str, Any], str | None]]:
    name, ident, data = "", None, ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("id: "):
            ident = line.removeprefix("id: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and data:
            yield name, json.loads(data), ident
            name, ident, data = "", None, ""


async def test_events_stream_starts_from_a_snapshot_then_every_event_in_order(http_api, unique_key) -> None:
    async with running(fleet(http_api.url, unique_key)) as daemon, client(daemon) as http_client:
        seen: list[tuple[str, dict[str, Any]]] = []
        async with asyncio.timeout(CONDITION_LIMIT), http_client.stream("GET", "/api/v1/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for name, data, ident in _sse_events(response):
                seen.append((name, data))
                if name != "snapshot":
                    assert ident == str(data["seq"])
                if name == "status_changed" and data["service"] == "broken":
                    break
    first_name, first = seen[0]
    assert first_name == "snapshot"
    assert first["status"]["schema_version"] == 1
    seqs = [data["seq"] for name, data in seen[1:]]
    assert seqs == list(range(first["seq"] + 1, first["seq"] + 1 + len(seqs))), "no gap, no repeat"
    changed = seen[-1][1]
    assert changed["new"] == "down"
    assert changed["level"] == "error"
    assert "503" in changed["reason"]
    completed = [data for name, data in seen if name == "probe_completed"]
    assert completed and {"status", "latency_ms", "attempts"} <= set(completed[0]["result"])


async def test_a_bearer_token_is_required_when_configured(http_api, unique_key) -> None:
    async with running(fleet(http_api.url, unique_key), token=TOKEN) as daemon:
        async with client(daemon) as anonymous:
            refused = await anonymous.get("/api/v1/status")
            metrics_refused = await anonymous.get("/metrics")
        async with client(daemon, "wrong-token") as wrong:
            wrong_answer = await wrong.get("/api/v1/status")
        async with client(daemon, TOKEN) as allowed:
            answer = await allowed.get("/api/v1/status")
    assert refused.status_code == 401
    assert metrics_refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert wrong_answer.status_code == 401
    assert answer.status_code == 200


async def test_nothing_served_or_logged_contains_a_secret(http_api, unique_key, monkeypatch) -> None:
    monkeypatch.setenv("LOOKOUT_TEST_TOKEN", TOKEN)
    token = require_token("127.0.0.1", "LOOKOUT_TEST_TOKEN", os.environ)
    served: list[str] = []
    async with running(fleet(http_api.url, unique_key), token=token) as daemon, client(daemon, TOKEN) as http_client:
        await probed(daemon)
        for path in ("/metrics", "/api/v1/status", "/api/v1/services/secretive", "/readyz", "/healthz"):
            answer = await http_client.get(path)
            assert answer.status_code == 200, path
            served.append(answer.text)
        async with asyncio.timeout(CONDITION_LIMIT), http_client.stream("GET", "/api/v1/events") as response:
            async for name, data, _ in _sse_events(response):
                served.append(json.dumps(data))
                if name == "probe_completed" and data["service"] == "secretive":
                    break
        daemon.engine.probe_now("secretive")
    log = daemon.log._stream.getvalue()  # type: ignore[attr-defined]
    assert "secretive" in log and "***" in log, "the config summary is logged, masked"
    everything = "\n".join([*served, log])
    assert "secretive" in everything
    assert SECRET not in everything
    assert TOKEN not in everything


async def test_sigterm_is_lookouts_to_handle_not_uvicorns(http_api, unique_key) -> None:
    async with running(fleet(http_api.url, unique_key)) as daemon:
        await probed(daemon, "up")
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(CONDITION_LIMIT):
            while "SIGTERM: stopping" not in daemon.log._stream.getvalue():  # type: ignore[attr-defined]
                await asyncio.sleep(0.05)
    log = daemon.log._stream.getvalue()  # type: ignore[attr-defined]
    assert "engine stopped" in log
    assert "stopped on its own" not in log, "uvicorn's own handler did not take the signal"
    assert log.rstrip().endswith("stopped")


def _no_load(path: str | None) -> Config:
    raise AssertionError("the config must not even be loaded")


async def test_metrics_are_sent_gzipped_when_asked_and_plain_otherwise(http_api, unique_key) -> None:
    async with running(fleet(http_api.url, unique_key)) as daemon, client(daemon) as http_client:
        await probed(daemon)
        zipped = await http_client.get("/metrics", headers={"Accept-Encoding": "gzip"})
        plain = await http_client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.text == plain.text, "the same rendering, from the cache"
    assert 'lookout_service_status{lookout_service_status="down",service="broken"} 1.0' in plain.text


def test_a_non_loopback_bind_without_a_token_is_refused(capsys, monkeypatch) -> None:
    monkeypatch.delenv("LOOKOUT_NO_SUCH_TOKEN", raising=False)
    assert serve_main(["--listen", "0.0.0.0:0"], load=_no_load) == 2
    assert "--token-env" in capsys.readouterr().err
    assert serve_main(["--listen", "0.0.0.0:0", "--token-env", "LOOKOUT_NO_SUCH_TOKEN"], load=_no_load) == 2
    assert "LOOKOUT_NO_SUCH_TOKEN" in capsys.readouterr().err
    assert serve_main(["--listen", "nonsense"], load=_no_load) == 2


def test_a_taken_port_is_a_clear_error_before_anything_starts(capsys) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        assert (
            serve_main(
                ["--listen", f"127.0.0.1:{port}"], load=lambda path: make_config({"x": http("http://127.0.0.1:9/")})
            )
            == 1
        )
    finally:
        taken.close()
    assert f"cannot listen on http://127.0.0.1:{port}" in capsys.readouterr().err


def test_token_rules() -> None:
    assert require_token("127.0.0.1", None, {}) is None
    assert require_token("::1", None, {}) is None
    assert require_token("localhost", None, {}) is None
    assert require_token("0.0.0.0", "T", {"T": "abc"}) == "abc"
    assert require_token("127.0.0.1", "T", {"T": "abc"}) == "abc", "a token asked for is enforced on loopback too"
    with pytest.raises(AuthError):
        require_token("192.168.1.10", None, {})
    with pytest.raises(AuthError):
        require_token("::", "T", {"T": ""})


def test_listen_addresses() -> None:
    assert Listen.parse("127.0.0.1:9000") == Listen("127.0.0.1", 9000)
    assert Listen.parse("[::1]:9000") == Listen("::1", 9000)
    assert Listen.parse(":9000") == Listen("127.0.0.1", 9000)
    assert Listen("::1", 9000).url() == "http://[::1]:9000"


async def test_web_pages_cannot_read_or_change_a_loopback_daemon(http_api, unique_key) -> None:
    """DNS rebinding (a foreign Host name) and cross-site POSTs (an Origin header) are refused; local
    programs (no Origin, a loopback Host) are served as before."""
    async with running(fleet(http_api.url, unique_key)) as daemon, client(daemon) as http_client:
        rebound = await http_client.get("/api/v1/status", headers={"Host": "attacker.example"})
        assert rebound.status_code == 403 and "loopback host" in rebound.text
        cross_site = await http_client.post("/api/v1/services/up/pause", headers={"Origin": "https://attacker.example"})
        assert cross_site.status_code == 403
        assert daemon.engine.snapshot().get("up").paused is False
        assert (await http_client.get("/api/v1/status", headers={"Host": "localhost:9807"})).status_code == 200
        local = await http_client.post("/api/v1/services/up/pause")
        assert local.status_code < 300 and daemon.engine.snapshot().get("up").paused is True
