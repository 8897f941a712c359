"""Hot reload against a real engine: loopback HTTP APIs, real stdio MCP servers, a real config file.

Each test writes services.yaml, reloads it (by the call every trigger makes, `reload_from_file`), and
checks what the fleet is afterwards: which services exist, which kept their state, their sessions
and server processes, which were stopped, and that a bad file changed nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures_mcp import stdio_service, tagged_processes
from helpers import FAST_DEFAULTS

from core.clock import FakeClock
from core.config import ConfigError, load_config
from core.engine import Engine, ReloadReport
from core.events import ConfigReloaded, LogEvent, LogLevel, ProbeCompleted, ProbeStarted
from core.loglines import log_line
from core.reload import ConfigWatcher, reload_from_file
from core.results import Status

BOUND = 30.0
"""Seconds a wait for a condition may take before the test fails (a hang becomes a failure)."""


def write_config(path: Path, services: dict[str, dict[str, Any]], **defaults: Any) -> Path:
    text = yaml.safe_dump({"defaults": {**FAST_DEFAULTS, **defaults}, "services": services}, sort_keys=False)
    path.write_text(text)
    return path


async def until(condition: Callable[[], bool], bound: float = BOUND) -> None:
    """Wait for `condition` to hold, checking often; the bound only turns a hang into a failure."""
    deadline = asyncio.get_running_loop().time() + bound
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def http(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "http", "url": url, **extra}


# -- the engine's reload ----------------------------------------------------------------------------


async def test_reload_adds_changes_removes_and_keeps_http_services(tmp_path, http_api, unique_key) -> None:
    base = f"{http_api.url}/ok/{unique_key}"
    path = write_config(
        tmp_path / "services.yaml",
        {"kept": http(f"{base}-kept"), "edited": http(f"{base}-edited"), "gone": http(f"{base}-gone")},
    )
    engine = Engine(load_config(path))
    view = engine.subscribe()
    try:
        await engine.run_once()
        await engine.run_once(["kept"])
        before = engine.snapshot().get("kept")
        assert before.tally.probes == 2
        write_config(
            path,
            {
                "new": http(f"{base}-new"),
                "kept": http(f"{base}-kept"),
                "edited": http(f"{base}-edited", interval="5s"),
            },
        )
        report = await reload_from_file(engine)
        assert report == ReloadReport(added=("new",), changed=("edited",), removed=("gone",), unchanged=("kept",))
        after = engine.snapshot()
        assert [s.name for s in after.services] == ["new", "kept", "edited"]  # the new file's order
        kept = after.get("kept")
        assert kept.tally.probes == 2 and kept.history == before.history  # state kept as it was
        assert after.get("edited").tally.probes == 0 and after.get("edited").status is Status.UNKNOWN  # afresh
        assert after.get("edited").interval == 5.0
        assert after.get("gone") is None and "gone" not in engine.names
        with pytest.raises(KeyError):
            engine.probe_now("gone")
        await engine.run_once()
        assert http_api.count("ok", f"{unique_key}-new") == 1
        assert http_api.count("ok", f"{unique_key}-gone") == 1  # only the probe before the reload
    finally:
        await engine.stop()
    reloads = [e for e in view.drain() if isinstance(e, ConfigReloaded)]
    assert len(reloads) == 1
    event = reloads[0]
    assert (event.added, event.changed, event.removed, event.unchanged) == (("new",), ("edited",), ("gone",), ("kept",))
    line = log_line(event)
    assert line is not None and line.level is LogLevel.INFO and line.service is None
    assert (
        line.message == f"config reloaded from {path}: 1 added (new), 1 changed (edited), 1 removed (gone), 1 unchanged"
    )


async def test_an_unchanged_file_changes_nothing_and_fleet_limits_resize_in_place(
    tmp_path, http_api, unique_key
) -> None:
    services = {"a": http(f"{http_api.url}/ok/{unique_key}-a"), "b": http(f"{http_api.url}/ok/{unique_key}-b")}
    path = write_config(tmp_path / "services.yaml", services, concurrency=4)
    engine = Engine(load_config(path))
    try:
        await engine.run_once()
        same = await reload_from_file(engine)
        assert same == ReloadReport(unchanged=("a", "b"))
        # Spelled differently, resolved the same (a default written out): still unchanged.
        write_config(path, {**services, "a": {**services["a"], "timeout": FAST_DEFAULTS["timeout"]}}, concurrency=1)
        report = await reload_from_file(engine)
        assert report == ReloadReport(unchanged=("a", "b"))
        assert engine.config.concurrency == 1
        assert all(s.tally.probes == 1 for s in engine.snapshot().services)  # nothing restarted
        snapshot = await engine.run_once()  # one slot for the fleet now: both still probe, one after the other
        assert [s.status for s in snapshot.services] == [Status.UP, Status.UP]
    finally:
        await engine.stop()


async def test_naming_an_mcp_urls_transport_is_a_change(tmp_path) -> None:
    """`url:` alone tries streamable HTTP then SSE; `transport: http` only HTTP. The two dump the same
    values, so a reload must also compare what the model keeps privately, or the probe is not rebuilt."""
    url = "http://127.0.0.1:9/mcp"
    path = write_config(tmp_path / "services.yaml", {"remote": {"kind": "mcp", "url": url}})
    engine = Engine(load_config(path))
    try:
        write_config(path, {"remote": {"kind": "mcp", "url": url, "transport": "http"}})
        assert await reload_from_file(engine) == ReloadReport(changed=("remote",))
        assert await reload_from_file(engine) == ReloadReport(unchanged=("remote",))
    finally:
        await engine.stop()


async def test_a_config_with_errors_is_refused_and_the_fleet_runs_on(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"api": http(f"{http_api.url}/ok/{unique_key}")})
    engine = Engine(load_config(path))
    view = engine.subscribe()
    try:
        await engine.run_once()
        before = engine.snapshot()
        path.write_text(
            "services:\n"
            "  api:\n"
            f"    url: {http_api.url}/ok/{unique_key}\n"
            "    kind: http\n"
            "  other:\n"
            "    kind: http\n"
            "    url: http://127.0.0.1:9/\n"
            "    interval: often\n"
        )
        outcome = await reload_from_file(engine)
        assert isinstance(outcome, ConfigError)
        assert str(outcome).startswith(f"{path}:8: services.other.interval: ")
        assert engine.names == ["api"] and engine.snapshot().services == before.services
        assert engine.config.path == path and engine.config.services["api"].url.endswith(unique_key)
    finally:
        await engine.stop()
    events = view.drain()
    assert not [e for e in events if isinstance(e, ConfigReloaded)]
    errors = [e.message for e in events if isinstance(e, LogEvent) and e.level is LogLevel.ERROR]
    assert errors[0] == "config not reloaded (1 problem); the fleet runs on"
    assert errors[1] == str(outcome.issues[0]) and errors[1].startswith(f"{path}:8: ")


async def test_a_missing_file_is_refused_too(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"api": http(f"{http_api.url}/ok/{unique_key}")})
    engine = Engine(load_config(path))
    try:
        path.unlink()
        outcome = await reload_from_file(engine)
        assert isinstance(outcome, ConfigError) and str(outcome) == f"{path}: no such file"
        assert engine.names == ["api"]
    finally:
        await engine.stop()


async def test_a_probe_in_flight_of_a_removed_service_is_cancelled(tmp_path, http_api, unique_key) -> None:
    path = write_config(
        tmp_path / "services.yaml",
        {
            "stuck": http(f"{http_api.url}/hang/{unique_key}", timeout="60s"),
            "ok": http(f"{http_api.url}/ok/{unique_key}"),
        },
        interval="1h",
    )
    engine = Engine(load_config(path))
    view = engine.subscribe()
    try:
        await engine.start()
        engine.probe_now("stuck")
        await until(lambda: http_api.count("hang", unique_key) == 1)  # the request is with the server
        assert engine.snapshot().get("stuck").probing
        write_config(path, {"ok": http(f"{http_api.url}/ok/{unique_key}")}, interval="1h")
        report = await asyncio.wait_for(reload_from_file(engine), BOUND)  # not held up by the 60 s attempt
        assert report == ReloadReport(removed=("stuck",), unchanged=("ok",))
        assert [s.name for s in engine.snapshot().services] == ["ok"]
    finally:
        await engine.stop()
    stuck = [e for e in view.drain() if getattr(e, "service", None) == "stuck"]
    assert any(isinstance(e, ProbeStarted) for e in stuck)
    assert not any(isinstance(e, ProbeCompleted) for e in stuck)  # cancelled, not reported as a result


async def test_a_probe_asked_for_just_before_its_service_is_removed_never_runs(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"gone": http(f"{http_api.url}/ok/{unique_key}")})
    engine = Engine(load_config(path))
    try:
        asked = asyncio.ensure_future(engine.run_once(["gone"]))  # begins only once the reload below yields
        report = await engine.reload(
            load_config(write_config(path, {"new": http(f"{http_api.url}/ok/{unique_key}-new")}))
        )
        assert report == ReloadReport(added=("new",), removed=("gone",))
        await asked
        assert http_api.count("ok", unique_key) == 0  # the removed service was not reopened behind the reload
    finally:
        await engine.stop()


async def test_a_reload_while_running_schedules_the_new_services(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"a": http(f"{http_api.url}/ok/{unique_key}-a")}, interval="1h")
    engine = Engine(load_config(path))
    try:
        await engine.start()
        await until(lambda: engine.snapshot().get("a").tally.probes == 1)
        write_config(
            path,
            {"a": http(f"{http_api.url}/ok/{unique_key}-a"), "b": http(f"{http_api.url}/ok/{unique_key}-b")},
            interval="1h",
        )
        assert await reload_from_file(engine) == ReloadReport(added=("b",), unchanged=("a",))
        await until(lambda: engine.snapshot().get("b").tally.probes == 1)  # its first probe, within the spread
        assert engine.snapshot().get("a").tally.probes == 1  # its schedule untouched: next in an hour
    finally:
        await engine.stop()


# -- the watcher ------------------------------------------------------------------------------------


async def test_the_watcher_acts_once_a_change_has_held_still_for_one_poll(tmp_path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text("one")
    clock = FakeClock()
    calls: list[str] = []

    async def changed() -> None:
        calls.append(path.read_text())

    watcher = ConfigWatcher(path, changed, clock=clock, interval=1.0)
    watcher.start()
    try:
        await clock.settle(sleepers=1)
        await clock.advance(1.0)
        assert calls == []  # nothing changed
        path.write_text("two, half")
        await clock.advance(1.0)
        assert calls == []  # seen once: maybe mid-save
        path.write_text("two, whole")
        os.utime(path, ns=(1, 1))  # a different identity even on a filesystem with coarse timestamps
        await clock.advance(1.0)
        assert calls == []  # changed again since: still settling
        await clock.advance(1.0)
        assert calls == ["two, whole"]  # held still for a poll: acted on, once
        await clock.advance(3.0)
        assert calls == ["two, whole"]
        path.unlink()
        await clock.advance(2.0)
        assert calls == ["two, whole"]  # gone (an editor mid-rename): waited for, not acted on
        path.write_text("three")
        await clock.advance(2.0)
        assert calls == ["two, whole", "three"] and watcher.changes == 2
    finally:
        await watcher.stop()


async def test_the_watcher_survives_a_failing_callback(tmp_path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text("one")
    clock = FakeClock()
    seen: list[str] = []

    async def changed() -> None:
        seen.append(path.read_text())
        raise RuntimeError("reload broke")

    watcher = ConfigWatcher(path, changed, clock=clock, interval=1.0)
    watcher.start()
    try:
        await clock.settle(sleepers=1)
        path.write_text("two")
        await clock.advance(2.0)
        path.write_text("three!")
        await clock.advance(2.0)
        assert seen == ["two", "three!"]
    finally:
        await watcher.stop()


async def test_the_watcher_reloads_the_engine_when_the_file_changes(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"a": http(f"{http_api.url}/ok/{unique_key}-a")}, interval="1h")
    engine = Engine(load_config(path))
    watcher = ConfigWatcher(path, lambda: reload_from_file(engine), interval=0.02)
    view = engine.subscribe()
    try:
        await engine.start()
        watcher.start()
        write_config(
            path,
            {"a": http(f"{http_api.url}/ok/{unique_key}-a"), "b": http(f"{http_api.url}/ok/{unique_key}-b")},
            interval="1h",
        )
        await until(lambda: engine.names == ["a", "b"])
        path.write_text("services: [not, a, mapping]\n")
        await until(lambda: any(isinstance(e, LogEvent) and e.level is LogLevel.ERROR for e in view.drain()))
        assert engine.names == ["a", "b"]
    finally:
        await watcher.stop()
        await engine.stop()


# -- MCP servers: sessions and processes ---------------------------------------------------------------


@pytest.mark.slow
async def test_unchanged_mcp_server_keeps_its_process_and_removed_ones_are_killed(
    tmp_path, http_api, unique_key
) -> None:
    kept_tag, gone_tag, edited_tag = (f"{unique_key}-{name}" for name in ("kept", "gone", "edited"))
    services = {
        "kept": stdio_service("docs", tag=kept_tag),
        "gone": stdio_service("docs", tag=gone_tag),
        "edited": stdio_service("docs", tag=edited_tag),
        "api": http(f"{http_api.url}/ok/{unique_key}"),
    }
    path = write_config(tmp_path / "services.yaml", services, interval="1h", timeout="15s")
    engine = Engine(load_config(path))
    try:
        await engine.start()
        await until(lambda: all(s.tally.probes for s in engine.snapshot().services))
        first = engine.snapshot()
        assert all(s.status is Status.UP for s in first.services), [s.reason for s in first.services]
        kept_pid = first.get("kept").details.pid
        edited_pid = first.get("edited").details.pid
        assert tagged_processes(kept_tag) == [kept_pid] and len(tagged_processes(gone_tag)) == 1
        edited = {**services["edited"], "description": "now described"}
        new = {
            "kept": services["kept"],
            "edited": edited,
            "api": services["api"],
            "added": stdio_service("docs", tag=gone_tag + "-new"),
        }
        write_config(path, new, interval="1h", timeout="15s")
        report = await reload_from_file(engine)
        assert report == ReloadReport(
            added=("added",), changed=("edited",), removed=("gone",), unchanged=("kept", "api")
        )
        assert tagged_processes(gone_tag) == []  # stopped with its service, before the reload returned
        assert edited_pid not in tagged_processes(edited_tag)  # the changed one's old server is gone too
        await until(lambda: engine.snapshot().get("added").tally.probes >= 1)
        engine.probe_now("kept")
        await until(lambda: engine.snapshot().get("kept").tally.probes == 2)
        await until(lambda: engine.snapshot().get("edited").tally.probes >= 1)  # its first probe, as at start
        after = engine.snapshot()
        kept = after.get("kept")
        assert kept.status is Status.UP and kept.details.pid == kept_pid  # the same server process, same session
        assert "handshake" not in kept.last_result.timings  # no new handshake: the open session was reused
        assert after.get("edited").details.pid != edited_pid and after.get("edited").status is Status.UP
        assert tagged_processes(kept_tag) == [kept_pid]
    finally:
        await engine.stop()
    assert tagged_processes(kept_tag) == tagged_processes(edited_tag) == tagged_processes(gone_tag + "-new") == []
