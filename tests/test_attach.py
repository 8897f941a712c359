"""The monitor attaches to a running `lookout serve` instead of starting a second engine.

The headless parts first (finding the daemon by its history lock, reading its
fleet document back into snapshots), then the whole path: a real `lookout serve`
subprocess over a loopback fleet (an HTTP API and an SDK MCP server over stdio),
and the monitor app with the source the CLI picks, driven by the pilot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from fixtures_mcp import stdio_service, tagged_processes
from fleet_samples import NOW, fleet
from test_history_tui import render
from test_serve_prometheus import CONDITION_LIMIT, ROOT, SERVE_OPTIONS, WRAPPER, Serve
from test_tui import summary, wait_for

from core.details import McpDetails
from core.events import LogEvent
from core.history.lock import acquire_lock
from core.numbers import format_ms
from core.results import ProbeResult, Status
from core.serve.api import FLEET_RECENT, fleet_document, result_json, status_document
from core.serve.client import ServerEvent, find_serve, parse_fleet
from core.snapshot import FleetSnapshot, ProbeTally, ServiceInfo, ServiceSnapshot
from tui.app import LookoutApp
from tui.attached import AttachedSource
from tui.cli import attached_source, build_parser, main
from tui.logpane import LogPane
from tui.panels import FleetTable, McpTable, RateLimitTable
from tui.screens import DetailScreen

# -- headless: finding the daemon, reading its documents --------------------------------------------


def test_find_serve_names_only_a_live_holder_with_an_address(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    assert find_serve(db) is None  # no lock file at all
    lock = acquire_lock(db)
    assert find_serve(db) is None  # held, but by a monitor: nothing to attach to
    lock.set_address("http://127.0.0.1:9321")
    assert find_serve(db) == "http://127.0.0.1:9321"
    lock.release()
    assert find_serve(db) is None  # released: the file may still exist, nobody holds it


def test_a_dead_holders_address_is_not_trusted(tmp_path: Path) -> None:
    """A daemon killed with -9 leaves its lock file's content; the flock went with it."""
    db = tmp_path / "history.db"
    (tmp_path / "history.db.lock").write_text(json.dumps({"pid": 1, "address": "http://127.0.0.1:9321"}))
    assert find_serve(db) is None


def test_cli_attaches_unless_told_otherwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "history.db"
    lock = acquire_lock(db)
    lock.set_address("http://127.0.0.1:9321")
    try:
        source = attached_source(build_parser().parse_args(["--history", str(db)]))
        assert isinstance(source, AttachedSource) and source.url == "http://127.0.0.1:9321"
        assert attached_source(build_parser().parse_args(["--history", str(db), "--standalone"])) is None
        assert attached_source(build_parser().parse_args(["--history", str(db), "--no-history"])) is None
        monkeypatch.delenv("LOOKOUT_ATTACH_TOKEN", raising=False)
        with pytest.raises(ValueError, match="LOOKOUT_ATTACH_TOKEN"):
            attached_source(build_parser().parse_args(["--history", str(db), "--token-env", "LOOKOUT_ATTACH_TOKEN"]))
    finally:
        lock.release()
    assert attached_source(build_parser().parse_args(["--history", str(db)])) is None


def test_fleet_document_reads_back_into_what_the_panels_show() -> None:
    sample = fleet()
    flapping = tuple((NOW - timedelta(minutes=k), "closed" if k % 2 else "open", "open" if k % 2 else "closed")
                     for k in range(8, 0, -1))  # fmt: skip
    first = dataclasses.replace(sample.services[0], breaker_history=flapping)  # more than the 5 that cross
    original = dataclasses.replace(sample, services=(first, *sample.services[1:]))
    parsed = parse_fleet(json.loads(json.dumps(fleet_document(original, recent=True))))  # as it crosses the wire
    assert [s.name for s in parsed.services] == [s.name for s in original.services]
    for before, after in zip(original.services, parsed.services, strict=True):
        assert (after.status, after.reason, after.kind, after.target) == (
            before.status,
            before.reason,
            before.kind,
            before.target,
        )
        assert after.paused == before.paused
        assert after.details == (before.details if isinstance(before.details, McpDetails) else None)
        assert after.breaker.state == before.breaker.state
        assert after.breaker.failures == before.breaker.failures
        assert [(r.resource, r.limit, r.remaining) for r in after.rate_limits] == [
            (r.resource, r.limit, r.remaining) for r in before.rate_limits
        ]
        if before.last_result is not None and before.last_result.latency_ms is not None:
            assert after.latency.last_ms == pytest.approx(before.last_result.latency_ms, abs=0.1)
        # what the detail screen and the sparklines read: the daemon's tallies, percentiles, ring and schedule
        assert (after.probes, after.retries, after.consecutive_failures) == (
            before.probes,
            before.retries,
            before.consecutive_failures,
        )
        assert after.uptime == before.uptime
        for field in ("p50_ms", "p95_ms", "p99_ms", "last_ms"):
            expected = getattr(before.latency, field)
            assert getattr(after.latency, field) == (pytest.approx(expected, abs=0.1) if expected is not None else None)
        assert after.latency.samples == before.latency.samples
        # the ring, then the last result in full where the sample's last result is newer than its ring
        assert [(r.started_at, r.status, r.attempts, r.latency_ms) for r in after.history[: len(before.history)]] == [
            (r.started_at, r.status, r.attempts, round(r.latency_ms, 1) if r.latency_ms is not None else None)
            for r in before.history
        ]
        assert [r.reason for r in after.history[: len(before.history)]] == [r.reason for r in before.history]
        if before.last_result is not None:
            assert after.history[-1] is after.last_result
        assert after.breaker_history == before.breaker_history[-5:]
        assert after.next_probe_at == before.next_probe_at
        assert (after.breaker.retry_at, after.breaker.opened_at) == (before.breaker.retry_at, before.breaker.opened_at)
    assert len(parsed.services[0].breaker_history) == 5
    busy = [s for s in original.services if s.probes]
    assert busy and all(s.latency.p95_ms is not None for s in busy)  # the sample fleet has figures to carry


def test_fleet_document_is_bounded_per_service() -> None:
    """A full ring (120 results) crosses as the newest 60, and only when asked for: the document a monitor
    re-reads on every event carries no results but the last."""
    results = tuple(
        ProbeResult("api", NOW - timedelta(seconds=30 * (120 - i)), Status.DOWN, reason=f"HTTP 503 #{i}", attempts=2)
        for i in range(120)
    )
    api = ServiceSnapshot(
        info=ServiceInfo("api", "http", "http://127.0.0.1:9/x"),
        status=Status.DOWN,
        reason=results[-1].reason,
        tally=ProbeTally(probes=120, last_checked=results[-1].started_at),
        last_result=results[-1],
        history=results,
    )
    snapshot = FleetSnapshot(taken_at=NOW, services=(api,))
    seeded = json.loads(json.dumps(fleet_document(snapshot, recent=True)))
    recent = seeded["services"][0]["live"]["recent"]
    assert len(recent) == FLEET_RECENT == 60
    parsed = parse_fleet(seeded).services[0]
    assert [r.reason for r in parsed.history] == [f"HTTP 503 #{i}" for i in range(60, 120)]
    plain = json.loads(json.dumps(fleet_document(snapshot)))
    assert "recent" not in plain["services"][0]["live"]
    [last] = parse_fleet(plain).services[0].history
    assert last.reason == "HTTP 503 #119"
    assert status_document(snapshot)["services"][0].keys() == (
        plain["services"][0].keys() - {"paused", "live"}
    )  # the status document stays the --once report: the extras are the fleet's only


# -- the whole path: a real daemon, the monitor attached to it --------------------------------------


def _start_serve(directory: Path, api_url: str, tag: str, db: Path, *options: str, token: str = "") -> Serve:
    """`lookout serve` over a fleet that probes once an hour: every further result is one somebody asked for."""
    services = {
        "up": {"kind": "http", "url": f"{api_url}/ok/{uuid.uuid4().hex[:12]}", "interval": "1h"},
        "docs": stdio_service("docs", tag=tag, interval="1h"),
    }
    config = directory / "services.yaml"
    config.write_text(yaml.safe_dump({"services": services}, sort_keys=False))
    report = directory / "modules.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRAPPER,
            str(report),
            "serve",
            "-c",
            str(config),
            *SERVE_OPTIONS,
            "--history",
            str(db),
            *options,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **({"LOOKOUT_ATTACH_TOKEN": token} if token else {})},
        cwd=directory,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + CONDITION_LIMIT
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, f"serve exited early ({process.wait()})"
        message = json.loads(line)["message"]
        if message.startswith("listening on "):
            return Serve(process, message.removeprefix("listening on "), report, tag)


def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether `ancestor` started `pid` (directly or through its children), read from /proc."""
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                pid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def _recent(serve: Serve, name: str) -> int:
    return len(serve.get(f"/api/v1/services/{name}").json()["recent"])


def _fleet(serve: Serve) -> dict[str, Any]:
    return {item["name"]: item for item in serve.get("/api/v1/fleet").json()["services"]}


@pytest.mark.slow
async def test_monitor_attaches_to_serve_and_runs_no_engine(tmp_path: Path, http_api: Any) -> None:
    tag = uuid.uuid4().hex
    db = tmp_path / "history.db"
    serve = _start_serve(tmp_path, http_api.url, tag, db)
    try:
        source = attached_source(build_parser().parse_args(["--history", str(db)]))
        assert isinstance(source, AttachedSource) and source.url == serve.url
        app = LookoutApp(source, config_path=str(tmp_path / "services.yaml"))
        async with app.run_test(size=(140, 40)) as pilot:
            snapshot = source.snapshot
            await wait_for(
                lambda: {s.name: s.status for s in snapshot().services} == {"up": Status.UP, "docs": Status.UP},
                pilot,
                timeout=CONDITION_LIMIT,
            )
            await pilot.pause(0.2)
            assert f"attached to serve at {serve.url}" in summary(app)
            assert app._engine() is None  # no engine in this process: nothing to reload, nothing probing
            mcp = app.query_one(McpTable)
            await wait_for(lambda: str(mcp.get_row("docs")[0]) == "● up", pilot, timeout=CONDITION_LIMIT)
            docs = source.snapshot().get("docs")
            assert docs is not None and isinstance(docs.details, McpDetails) and docs.details.tool_count > 0
            found = docs.details
            assert str(mcp.get_row("docs")[6]) == f"{found.tool_count}/{found.resource_count}/{found.prompt_count}"
            limits = app.query_one(RateLimitTable)

            # r on a service: the daemon probes it, its own API shows the new result
            before = _recent(serve, "up")
            limits.focus()
            limits.move_cursor(row=limits.get_row_index("up\0"))
            await pilot.press("r")
            await wait_for(lambda: _recent(serve, "up") == before + 1, pilot, timeout=CONDITION_LIMIT)

            # space: the daemon pauses it, and the panel says so from the daemon's document
            await pilot.press("space")
            await wait_for(lambda: _fleet(serve)["up"]["paused"] is True, pilot, timeout=CONDITION_LIMIT)
            await wait_for(lambda: str(limits.get_row("up\0")[0]) == "‖ paused", pilot, timeout=CONDITION_LIMIT)
            await pilot.press("space")
            await wait_for(lambda: _fleet(serve)["up"]["paused"] is False, pilot, timeout=CONDITION_LIMIT)

            # the daemon's events reach the log pane
            log = app.query_one(LogPane)
            await wait_for(
                lambda: any(e.service == "up" and "paused" in e.message for e in log.events), pilot, timeout=5
            )

            # the MCP server the panels show is the daemon's: every one running descends from the daemon,
            # none was started by this process (whose only child is the daemon)
            servers = tagged_processes(tag)
            assert servers and all(_descends_from(pid, serve.process.pid) for pid in servers)
    finally:
        serve.stop()


@pytest.mark.slow
def test_action_routes_answer_for_known_services_only(tmp_path: Path, http_api: Any) -> None:
    tag = uuid.uuid4().hex
    serve = _start_serve(tmp_path, http_api.url, tag, tmp_path / "history.db")
    try:
        post = lambda path: httpx2.post(serve.url + path, trust_env=False, timeout=10)  # noqa: E731
        assert post("/api/v1/services/nope/probe").status_code == 404
        assert post("/api/v1/services/up/explode").status_code == 404
        assert post("/api/v1/services/up/pause").json() == {"service": "up", "action": "pause", "paused": True}
        assert post("/api/v1/services/up/resume").json()["paused"] is False
        assert post("/api/v1/services/up/reset").status_code == 200
        assert post("/api/v1/probe").json()["probing"] == ["up", "docs"]
        assert serve.get("/api/v1/services/up/probe").status_code == 404  # a GET is a read: no service so named
    finally:
        serve.stop()


@pytest.mark.slow
async def test_attaching_to_a_serve_that_asks_for_a_token(
    tmp_path: Path, http_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = uuid.uuid4().hex
    db = tmp_path / "history.db"
    serve = _start_serve(
        tmp_path, http_api.url, uuid.uuid4().hex, db, "--token-env", "LOOKOUT_ATTACH_TOKEN", token=token
    )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        # without the token: the monitor still attaches (no second engine), and its log says it was refused
        monkeypatch.delenv("LOOKOUT_ATTACH_TOKEN", raising=False)
        refused = attached_source(build_parser().parse_args(["--history", str(db)]))
        assert isinstance(refused, AttachedSource)
        await refused.start()
        try:
            assert refused.snapshot().services == ()
            assert any(isinstance(e, LogEvent) and "401" in e.message for e in refused.take_events())
        finally:
            await refused.stop()

        monkeypatch.setenv("LOOKOUT_ATTACH_TOKEN", token)
        source = attached_source(
            build_parser().parse_args(["--history", str(db), "--token-env", "LOOKOUT_ATTACH_TOKEN"])
        )
        assert isinstance(source, AttachedSource)
        await source.start()
        try:
            assert [s.name for s in source.snapshot().services] == ["up", "docs"]
            recent = lambda: len(serve.get("/api/v1/services/up", headers=headers).json()["recent"])  # noqa: E731
            deadline = time.monotonic() + CONDITION_LIMIT
            while recent() < 1:
                assert time.monotonic() < deadline, "the daemon never probed"
                await asyncio.sleep(0.05)
            before = recent()
            source.probe_now("up")
            while recent() != before + 1:
                assert time.monotonic() < deadline, "the probe asked for never happened"
                await asyncio.sleep(0.05)
        finally:
            await source.stop()
    finally:
        serve.stop()


@pytest.mark.slow
async def test_attached_detail_screen_shows_the_daemons_figures_even_with_a_broken_local_config(
    tmp_path: Path, http_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lookout` (the real main) in a directory whose services.yaml is broken still attaches; its detail screen
    shows the daemon's percentiles, probe count, retries and recorded history, not just the last result."""
    tag = uuid.uuid4().hex
    db = tmp_path / "history.db"
    serve = _start_serve(tmp_path, http_api.url, tag, db)
    here = tmp_path / "elsewhere"
    here.mkdir()
    (here / "services.yaml").write_text("services: [this is: not: a fleet\n")
    monkeypatch.chdir(here)
    monkeypatch.delenv("LOOKOUT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(here))
    try:
        # several results on the daemon, so percentiles and counts mean something
        for n in range(1, 5):
            httpx2.post(serve.url + "/api/v1/services/up/probe", trust_env=False, timeout=10)
            deadline = time.monotonic() + CONDITION_LIMIT
            while _recent(serve, "up") < n:
                assert time.monotonic() < deadline, "the daemon never probed"
                await asyncio.sleep(0.05)

        # the daemon's history writer commits about once a second: the file has them before the screen reads it
        deadline = time.monotonic() + CONDITION_LIMIT
        while _recorded_probes(serve, "up") < 4:
            assert time.monotonic() < deadline, "the daemon never recorded its results"
            await asyncio.sleep(0.1)

        # standalone reads the local file, and says what is wrong with it
        assert main(["--history", str(db), "--standalone"]) == 3

        started: list[LookoutApp] = []
        monkeypatch.setattr(LookoutApp, "run", lambda self, *args, **kwargs: started.append(self) or 0)
        assert main(["--history", str(db)]) == 0  # no config error: attached without reading it
        [app] = started
        source = app.source
        assert isinstance(source, AttachedSource) and source.url == serve.url

        async with app.run_test(size=(140, 50)) as pilot:
            await wait_for(lambda: _probes(source, "up") >= 4, pilot, timeout=CONDITION_LIMIT)
            table = app.query_one("#http", FleetTable)
            await wait_for(lambda: table.row_count == 1, pilot, timeout=CONDITION_LIMIT)
            table.focus()
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, DetailScreen) and screen.service_name == "up"
            await wait_for(lambda: screen.history_summary is not None, pilot, timeout=CONDITION_LIMIT)
            live = _fleet(serve)["up"]["live"]
            stats = live["latency"]
            expected = [
                f"p50 {format_ms(stats['p50_ms'])}",
                f"p95 {format_ms(stats['p95_ms'])}",
                f"({stats['samples']} samples)",
                f"of {live['probes']} probes",
                "History (recorded)",
                "Latency history",
            ]
            await wait_for(
                lambda: all(text in render(screen.sections) for text in expected), pilot, timeout=CONDITION_LIMIT
            )
            assert live["probes"] >= 4 and stats["samples"] >= 4
            recorded = screen.history_summary
            assert recorded is not None and recorded["windows"]["1h"]["probes"] >= 1  # the daemon's file, via its API

            # later results arrive by the event stream (the fleet re-read carries only the last): two more
            # probes, two more entries in the ring the sparkline and the recent table read
            before = len(_ring(source, "up"))
            for n in range(before + 1, before + 3):
                httpx2.post(serve.url + "/api/v1/services/up/probe", trust_env=False, timeout=10)
                await wait_for(lambda n=n: _recent(serve, "up") >= n, pilot, timeout=CONDITION_LIMIT)
            await wait_for(lambda: len(_ring(source, "up")) == before + 2, pilot, timeout=CONDITION_LIMIT)
            times = [r.started_at for r in _ring(source, "up")]
            assert times == sorted(times) and len(set(times)) == len(times)  # in order, none twice
    finally:
        serve.stop()


def _recorded_probes(serve: Serve, name: str) -> int:
    """Probes of the last hour in the daemon's history file, as its status API reads them."""
    document = httpx2.get(f"{serve.url}/api/v1/services/{name}", trust_env=False, timeout=10).json()
    return int(document.get("history", {}).get("windows", {}).get("1h", {}).get("probes", 0))


def _ring(source: AttachedSource, name: str) -> tuple[ProbeResult, ...]:
    service = source.snapshot().get(name)
    return service.history if service is not None else ()


def _probes(source: AttachedSource, name: str) -> int:
    service = source.snapshot().get(name)
    return service.probes if service is not None else 0


def test_every_live_field_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("`live`, per service in `/api/v1/fleet`") :]
    section = section[: section.index("\n\n")]
    opened = ((NOW, "closed", "open"),)
    api = dataclasses.replace(next(s for s in fleet().services if s.history), breaker_history=opened)
    live = fleet_document(FleetSnapshot(taken_at=NOW, services=(api,)), recent=True)["services"][0]["live"]
    fields = {*live, *live["latency"], *live["breaker"], *live["breaker_history"][0], *live["recent"][-1]}
    missing = {name for name in fields if f"`{name}`" not in section}
    assert not missing, f"served in /api/v1/fleet's live but not in the README: {sorted(missing)}"


async def test_rings_follow_the_event_stream_by_seq() -> None:
    """The attached monitor's per-service results: seeded from a document with `recent` (as of its seq), then
    one per probe_completed event newer than what it holds; a re-seed keeps the events after its seq."""
    source = AttachedSource("http://127.0.0.1:9")  # never contacted: documents and events are handed in

    def result(k: int) -> ProbeResult:
        return ProbeResult("api", NOW + timedelta(seconds=30 * k), Status.UP, latency_ms=float(k), attempts=1)

    def document(seq: int, ks: list[int], *, recent: bool) -> FleetSnapshot:
        last = result(ks[-1])
        api = ServiceSnapshot(
            info=ServiceInfo("api", "http", "http://127.0.0.1:9/x"),
            status=Status.UP,
            reason="",
            tally=ProbeTally(probes=len(ks), last_checked=last.started_at),
            last_result=last,
            history=tuple(result(k) for k in ks),
        )
        wire = json.loads(json.dumps(fleet_document(FleetSnapshot(NOW, (api,), seq=seq), recent=recent)))
        return parse_fleet(wire)

    def event(seq: int, k: int) -> ServerEvent:
        return ServerEvent("probe_completed", {"service": "api", "seq": seq, "result": result_json(result(k))})

    def latencies() -> list[float | None]:
        service = source.snapshot().get("api")
        return [r.latency_ms for r in service.history] if service else []

    try:
        source._snapshot = source._adopt(document(10, [1, 2, 3], recent=True), seeded=True)
        assert latencies() == [1.0, 2.0, 3.0]
        source._on_event(event(9, 3))  # already in the document: not twice
        source._on_event(event(11, 4))
        source._on_event(event(12, 5))
        source._snapshot = source._adopt(document(12, [1, 2, 3, 4, 5], recent=False), seeded=False)
        assert latencies() == [1.0, 2.0, 3.0, 4.0, 5.0]
        source._on_event(event(13, 6))  # the stream ran ahead of the next document: kept through a re-seed
        source._snapshot = source._adopt(document(12, [2, 3, 4, 5], recent=True), seeded=True)
        assert latencies() == [2.0, 3.0, 4.0, 5.0, 6.0]
        source._on_event(ServerEvent("resync", {"dropped": 3}))
        assert source._seed_wanted  # events were lost: the next read asks for `recent` again
        for seq in range(14, 14 + FLEET_RECENT):
            source._on_event(event(seq, seq))
        source._snapshot = source._adopt(document(14 + FLEET_RECENT, [100], recent=False), seeded=False)
        assert len(latencies()) == FLEET_RECENT + 1  # the ring's 60, then the document's last result in full
        source._snapshot = source._adopt(FleetSnapshot(NOW, ()), seeded=False)
        assert source._rings == {}  # a service gone from the daemon's fleet takes its ring with it
    finally:
        await source.stop()


async def test_attached_approval_is_written_into_the_daemons_history_file(tmp_path: Path) -> None:
    """An attached monitor approves a changed tool list where the daemon keeps its pins (its history file),
    guarded by the fingerprint it showed; without a known history file it says how to approve instead."""
    from core.pins.prints import ToolPrint, ToolSet
    from core.pins.store import PinStore

    def listed(*names: str) -> ToolSet:
        return ToolSet.of(ToolPrint(name, {"name": f"hash-of-{name}"}, {"name": name}) for name in names)

    path = tmp_path / "history.db"
    daemon_side = PinStore(path)
    daemon_side.observe("docs", listed("search"), 100.0)
    changed = daemon_side.observe("docs", listed("search", "delete_all"), 110.0)
    assert changed.pending
    source = AttachedSource("http://127.0.0.1:9")  # the probe it asks for after approving fails quietly
    try:
        assert "lookout tools approve docs" in await source.approve_tools("docs", changed.seen_fingerprint)
        source.silences_path = path
        assert "changed meanwhile" in await source.approve_tools("docs", "not-what-was-shown")
        assert daemon_side.get("docs") == changed  # nothing approved on a stale fingerprint
        message = await source.approve_tools("docs", changed.seen_fingerprint)
        assert message == "approved the 2 tools docs lists now"
        record = daemon_side.get("docs")
        assert record is not None and not record.pending and record.approved_fingerprint == changed.seen_fingerprint
    finally:
        await source.stop()
        daemon_side.close()
