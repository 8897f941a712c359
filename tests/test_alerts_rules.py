"""Alert rules against a real engine probing a real loopback HTTP service whose health the test sets.

Time is a FakeClock: `for`, reminders, flap windows and maintenance windows move when the
test says, never with the wall clock. The sink is a list: it is where the evaluator's
decisions go, not the thing under test.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures_alert_rules import FAST, ListSink, Upstream

from core.alerts.evaluator import AlertEvaluator
from core.alerts.notification import Transition
from core.alerts.runtime import AlertRuntime, start_alerts
from core.alerts.silences import add_silence, expire_silence
from core.clock import FakeClock
from core.config import ConfigError, parse_config
from core.config.loader import Config
from core.engine import Engine
from core.history import open_history
from core.history.store import HistoryStore
from core.serve.daemon import Daemon, Listen

THURSDAY = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def config_for(services: dict[str, dict[str, Any]], alerts: dict[str, Any]) -> Config:
    text = yaml.safe_dump({"defaults": FAST, "services": services, "alerts": alerts}, sort_keys=False)
    return parse_config(text, source="test.yaml", env={})


def alerts_with(*rules: dict[str, Any], maintenance: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
        "rules": [{"channels": ["hook"], **rule} for rule in rules],
    }
    if maintenance:
        block["maintenance"] = maintenance
    return block


@dataclass
class Rig:
    engine: Engine
    clock: FakeClock
    sink: ListSink
    evaluator: AlertEvaluator

    async def probe(self, *names: str) -> None:
        await self.engine.run_once(list(names) or None)
        await self.evaluator.join()

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.evaluator.join()


@asynccontextmanager
async def rig(
    config: Config, *, clock: FakeClock | None = None, history: HistoryStore | None = None
) -> AsyncIterator[Rig]:
    """An idle engine (probes only when told) with the evaluator recording, wired as serve wires it."""
    clock = clock or FakeClock(THURSDAY)
    engine = Engine(config, clock=clock)
    sink = ListSink()
    runtime: AlertRuntime | None = None
    if history is not None:
        runtime = await start_alerts(engine, history, sink, log=print, poll_interval=0.05)
        assert runtime is not None
        evaluator = runtime.evaluator
    else:
        evaluator = AlertEvaluator(engine, sink)
        engine.add_recorder(evaluator)
        evaluator.start()
    try:
        yield Rig(engine, clock, sink, evaluator)
    finally:
        await engine.stop()
        if runtime is not None:
            await runtime.aclose()
        else:
            await evaluator.aclose()


async def flap_once(r: Rig, upstream: Upstream, key: str) -> None:
    """Down for 30 s, then up for 30 s."""
    upstream.set(503, key)
    await r.probe()
    await r.advance(30)
    upstream.set(200, key)
    await r.probe()
    await r.advance(30)


def one(upstream: Upstream, key: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "http", "url": upstream.at(key), **extra}


# -- incidents -----------------------------------------------------------------------------------


async def test_an_outage_sends_exactly_one_firing_and_one_resolved(upstream: Upstream) -> None:
    config = config_for(
        {"api": one(upstream, "outage")}, alerts_with({"name": "api-down", "when": "down", "successes": 2})
    )
    async with rig(config) as r:
        await r.probe()
        upstream.set(503, "outage")
        for _ in range(5):
            await r.probe()
            await r.advance(1)
        assert r.sink.transitions() == [Transition.FIRING]
        upstream.set(200, "outage")
        await r.probe()
        assert r.sink.transitions() == [Transition.FIRING], "one good probe of two needed"
        await r.probe()
        await r.probe()
    assert r.sink.transitions() == [Transition.FIRING, Transition.RESOLVED]
    firing, resolved = r.sink.sent
    assert firing.incident_id == resolved.incident_id
    assert (firing.status, firing.previous_status, firing.severity) == ("down", "up", "critical")
    assert "503" in firing.reason
    assert (resolved.status, resolved.previous_status) == ("up", "down")
    assert firing.channels == ("hook",) and firing.key != resolved.key


async def test_without_send_resolved_only_the_firing_goes_out(upstream: Upstream) -> None:
    rule = {"name": "r", "when": "down", "send_resolved": False}
    async with rig(config_for({"api": one(upstream, "quiet-resolve")}, alerts_with(rule))) as r:
        upstream.set(503, "quiet-resolve")
        await r.probe()
        upstream.set(200, "quiet-resolve")
        await r.probe()
    assert r.sink.transitions() == [Transition.FIRING]


async def test_failures_counts_bad_probes_in_a_row(upstream: Upstream) -> None:
    rule = {"name": "r", "when": "down", "failures": 3}
    async with rig(config_for({"api": one(upstream, "failures")}, alerts_with(rule))) as r:
        upstream.set(503, "failures")
        await r.probe()
        await r.probe()
        upstream.set(200, "failures")
        await r.probe()  # a good probe starts the count again
        upstream.set(503, "failures")
        await r.probe()
        await r.probe()
        assert r.sink.sent == []
        assert [v.detail for v in r.evaluator.alert_state("api")] == ["2/3 failures"]
        await r.probe()
        assert r.sink.transitions() == [Transition.FIRING]
        assert [v.state for v in r.evaluator.alert_state("api")] == ["firing"]


async def test_for_fires_once_the_condition_held_that_long_even_between_probes(upstream: Upstream) -> None:
    rule = {"name": "r", "when": "degraded", "for": "2m"}
    async with rig(config_for({"api": one(upstream, "for")}, alerts_with(rule))) as r:
        upstream.set(503, "for")
        await r.probe()
        await r.advance(60)
        assert r.sink.sent == []
        assert [v.detail for v in r.evaluator.alert_state("api")] == ["fires in 1m"]
        await r.advance(61)  # no probe in between: the timer on the engine's clock decides
    assert r.sink.transitions() == [Transition.FIRING]
    assert r.sink.sent[0].severity == "warning"


async def test_reminders_repeat_while_firing(upstream: Upstream) -> None:
    rule = {"name": "r", "when": "down", "repeat": "1h"}
    async with rig(config_for({"api": one(upstream, "repeat")}, alerts_with(rule))) as r:
        upstream.set(503, "repeat")
        await r.probe()
        await r.advance(3600 * 2 + 30)
        upstream.set(200, "repeat")
        await r.probe()
    assert r.sink.transitions() == [Transition.FIRING, Transition.REMINDER, Transition.REMINDER, Transition.RESOLVED]
    assert [n.sequence for n in r.sink.sent] == [0, 1, 2, 0]
    assert len({n.key for n in r.sink.sent}) == 4


async def test_a_service_flapping_every_probe_says_firing_then_flapping_once_then_stable(upstream: Upstream) -> None:
    rule = {"name": "r", "when": "down", "flap_window": "10m"}
    async with rig(config_for({"api": one(upstream, "flap")}, alerts_with(rule))) as r:
        for _ in range(6):
            await flap_once(r, upstream, "flap")
        assert r.sink.transitions() == [Transition.FIRING, Transition.RESOLVED, Transition.FLAPPING]
        await r.advance(9 * 60)
        assert r.sink.transitions()[-1] is Transition.FLAPPING, "not closed for a whole window yet"
        await r.advance(60)
    assert r.sink.transitions() == [Transition.FIRING, Transition.RESOLVED, Transition.FLAPPING, Transition.STABLE]
    assert "5 reopenings" in r.sink.sent[-1].reason


# -- inhibition ----------------------------------------------------------------------------------


async def test_a_dependency_outage_alerts_once_for_the_root_naming_the_dependant(upstream: Upstream) -> None:
    services = {
        "db": one(upstream, "root"),
        "app": one(upstream, "dependant", depends_on=["db"]),
        "web": one(upstream, "dependant2", depends_on=["app"]),
    }
    async with rig(config_for(services, alerts_with({"name": "r", "when": "degraded"}))) as r:
        upstream.set(503, "root", "dependant", "dependant2")
        await r.probe()
        await r.probe()
        assert r.sink.transitions() == [Transition.FIRING]
        root = r.sink.sent[0]
        assert root.service == "db" and root.dependants == ("app", "web")
        assert [v.state for v in r.evaluator.alert_state("app")] == ["inhibited"]
        # The root recovers first; app still fails on its own: now it alerts, as the root of web.
        upstream.set(200, "root")
        await r.probe()
    assert [(n.service, n.transition, n.dependants) for n in r.sink.sent[1:]] == [
        ("db", Transition.RESOLVED, ()),
        ("app", Transition.FIRING, ("web",)),
    ]


async def test_a_dependant_probed_before_its_root_waits_for_the_root_s_result(upstream: Upstream) -> None:
    services = {"db": one(upstream, "late-root"), "app": one(upstream, "early-dependant", depends_on=["db"])}
    async with rig(config_for(services, alerts_with({"name": "r", "when": "down"}))) as r:
        upstream.set(503, "late-root", "early-dependant")
        await r.probe("app")
        await r.advance(0.5)
        assert r.sink.sent == [], "app waits (at most one interval of db) to learn whether db is down"
        await r.probe("db")
        assert [(n.service, n.dependants) for n in r.sink.sent] == [("db", ("app",))]


async def test_a_dependant_whose_root_stays_silent_alerts_after_one_interval(upstream: Upstream) -> None:
    services = {"db": one(upstream, "mute-root"), "app": one(upstream, "lone-dependant", depends_on=["db"])}
    async with rig(config_for(services, alerts_with({"name": "r", "when": "down"}))) as r:
        upstream.set(503, "lone-dependant")
        await r.probe("app")
        await r.advance(2)
        assert r.sink.sent == []
        await r.advance(2)  # db's interval (1s) and timeout (2s) passed without a result from it
    assert [(n.service, n.transition) for n in r.sink.sent] == [("app", Transition.FIRING)]


# -- silences and maintenance --------------------------------------------------------------------


async def test_a_silence_stops_notifications_not_probes_and_the_firing_follows_when_it_ends(
    upstream: Upstream, tmp_path: Path
) -> None:
    history = open_history(tmp_path / "history.db")
    clock = FakeClock(datetime.now(UTC))
    config = config_for({"api": one(upstream, "silenced", tags=["team-a"])}, alerts_with({"name": "r", "when": "down"}))
    try:
        silence = add_silence(history.path, "tag:team-a", 7200, "deploy", now=clock.now().timestamp())
        async with rig(config, clock=clock, history=history) as r:
            await wait_for(lambda: r.evaluator._silences() != ())  # the poller read it
            upstream.set(503, "silenced")
            before = upstream.hits.get("silenced", 0)
            for _ in range(3):
                await r.probe()
                await r.advance(1)
            assert upstream.hits["silenced"] == before + 3, "probes go on"
            assert r.sink.sent == []
            assert [v.state for v in r.evaluator.alert_state("api")] == ["silenced"]
            await asyncio.to_thread(history.flush)
            assert open_incidents(history.path) == [("r", "api", 0)], "recorded, not sent"
            assert expire_silence(history.path, silence.id, now=clock.now().timestamp())
            await wait_for(lambda: r.evaluator._silences() == ())
            await r.advance(1)
            assert r.sink.transitions() == [Transition.FIRING]
    finally:
        history.close()


@pytest.mark.slow
async def test_a_silence_written_by_another_process_is_picked_up(upstream: Upstream, tmp_path: Path) -> None:
    history = open_history(tmp_path / "history.db")
    clock = FakeClock(datetime.now(UTC) + timedelta(minutes=5))  # the other process's silence started before
    config = config_for({"api": one(upstream, "cli-silence")}, alerts_with({"name": "r", "when": "down"}))
    try:
        async with rig(config, clock=clock, history=history) as r:
            done = await asyncio.to_thread(
                subprocess.run,
                [
                    sys.executable,
                    "-m",
                    "tui.cli",
                    "silence",
                    "api",
                    "2h",
                    "--reason",
                    "deploy",
                    "--history",
                    str(history.path),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("silence 1: api for 2h")
            await wait_for(lambda: r.evaluator._silences() != ())
            upstream.set(503, "cli-silence")
            await r.probe()
            await r.advance(1)
            assert r.sink.sent == []
    finally:
        history.close()


async def test_a_maintenance_window_holds_notifications_until_it_ends(upstream: Upstream) -> None:
    window = {"services": ["api"], "every": "thursday", "start": "00:00", "duration": "1h", "timezone": "UTC"}
    alerts = alerts_with({"name": "r", "when": "down"}, maintenance=[window])
    async with rig(config_for({"api": one(upstream, "window"), "other": one(upstream, "window2")}, alerts)) as r:
        upstream.set(503, "window", "window2")
        await r.probe()
        assert [n.service for n in r.sink.sent] == ["other"], "the window selects api only"
        assert [v.state for v in r.evaluator.alert_state("api")] == ["maintenance"]
        await r.advance(3500)
        assert [n.service for n in r.sink.sent] == ["other"]
        await r.advance(101)  # past 01:00: still down, so now it is said
    assert [(n.service, n.transition) for n in r.sink.sent] == [
        ("other", Transition.FIRING),
        ("api", Transition.FIRING),
    ]


# -- restarts and reloads ------------------------------------------------------------------------


def open_incidents(path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT rule, service, sent FROM alert_incidents WHERE closed IS NULL").fetchall()
    return [(str(a), str(b), int(c)) for a, b, c in rows]


async def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("comes_back", ["down", "up"])
async def test_an_incident_spanning_a_restart_is_neither_fired_again_nor_left_open(
    upstream: Upstream, tmp_path: Path, comes_back: str
) -> None:
    key = f"restart-{comes_back}"
    config = config_for({"api": one(upstream, key)}, alerts_with({"name": "r", "when": "down"}))
    path = tmp_path / "history.db"
    history = open_history(path)
    try:
        async with rig(config, history=history) as first:
            upstream.set(503, key)
            await first.probe()
        assert first.sink.transitions() == [Transition.FIRING]
    finally:
        history.close()
    assert open_incidents(path) == [("r", "api", 1)]

    history = open_history(path)
    try:
        async with rig(config, history=history, clock=FakeClock(THURSDAY.replace(hour=5))) as second:
            if comes_back == "down":
                await second.probe()
                await second.advance(5)
                assert second.sink.sent == [], "still down: the incident goes on, its FIRING was sent"
                assert [v.state for v in second.evaluator.alert_state("api")] == ["firing"]
            upstream.set(200, key)
            await second.probe()
    finally:
        history.close()
    assert second.sink.transitions() == [Transition.RESOLVED]
    assert second.sink.sent[0].incident_id == first.sink.sent[0].incident_id
    assert open_incidents(path) == []


async def test_a_flap_spanning_a_restart_stays_quiet_and_ends_with_one_stable(
    upstream: Upstream, tmp_path: Path
) -> None:
    """Flap damping remembers across a restart: the next reopening within the window says nothing (no new
    FIRING), and once closed for a whole window one STABLE counts the reopenings of both runs."""
    config = config_for(
        {"api": one(upstream, "flap-restart")}, alerts_with({"name": "r", "when": "down", "flap_window": "10m"})
    )
    path = tmp_path / "history.db"

    history = open_history(path)
    try:
        async with rig(config, history=history) as first:
            for _ in range(3):
                await flap_once(first, upstream, "flap-restart")
        assert first.sink.transitions() == [Transition.FIRING, Transition.RESOLVED, Transition.FLAPPING]
    finally:
        history.close()

    history = open_history(path)
    try:
        async with rig(config, history=history, clock=FakeClock(first.clock.now() + timedelta(minutes=1))) as second:
            upstream.set(503, "flap-restart")
            await second.probe()
            assert second.sink.sent == [], "still flapping after the restart: a reopening is counted, not told"
            assert [v.state for v in second.evaluator.alert_state("api")] == ["flapping"]
            await second.advance(30)
            upstream.set(200, "flap-restart")
            await second.probe()
            await second.advance(10 * 60)
    finally:
        history.close()
    assert second.sink.transitions() == [Transition.STABLE]
    assert "3 reopenings" in second.sink.sent[0].reason


async def test_a_reload_keeps_open_incidents_of_rules_that_stay(upstream: Upstream) -> None:
    services = {"api": one(upstream, "reload")}
    rules = [{"name": "stays", "when": "down"}, {"name": "goes", "when": "degraded"}]
    async with rig(config_for(services, alerts_with(*rules))) as r:
        upstream.set(503, "reload")
        await r.probe()
        assert sorted(n.rule for n in r.sink.sent) == ["goes", "stays"]
        changed = alerts_with({"name": "stays", "when": "down", "successes": 1, "repeat": "1h"})
        await r.engine.reload(config_for(services, changed))
        await r.probe()
        assert [(n.rule, n.transition) for n in r.sink.sent[2:]] == [("goes", Transition.RESOLVED)]
        upstream.set(200, "reload")
        await r.probe()
    stays = [n for n in r.sink.sent if n.rule == "stays"]
    assert [n.transition for n in stays] == [Transition.FIRING, Transition.RESOLVED]
    assert stays[0].incident_id == stays[1].incident_id


# -- configuration -------------------------------------------------------------------------------

ALERTS_YAML = """\
services:
  api: {kind: http, url: "http://127.0.0.1:9/x"}
alerts:
  channels:
    hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
  rules:
    - name: api-down
      when: down
      for: 2m
      failures: 3
      channels: [hook]
    - name: quota
      when: {rate_limit_below: 10%}
      channels: [hok]
      services: [apx]
  maintenance:
    - every: [sunday, funday]
      start: "02:00"
      duration: 1h
      timezone: Mars/Base
"""


def test_alert_config_errors_name_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(ALERTS_YAML, source="services.yaml", env={})
    shown = [str(issue) for issue in caught.value.issues]
    assert (
        shown[0] == "services.yaml:7: alerts.rules[0]: give either `for` (a duration) or `failures` (a count), not both"
    )
    assert shown[1].startswith("services.yaml:17: alerts.maintenance[0].every[1]:")
    assert shown[2] == (
        "services.yaml:20: alerts.maintenance[0].timezone: 'Mars/Base' is not a known time zone "
        "(use names like UTC or Europe/Berlin)"
    )
    fixed = ALERTS_YAML.replace("      failures: 3\n", "").replace(", funday", "").replace("Mars/Base", "UTC")
    with pytest.raises(ConfigError) as caught:
        parse_config(fixed, source="services.yaml", env={})
    assert [str(issue) for issue in caught.value.issues] == [
        "services.yaml:13: alerts.rules[1].channels[0]: unknown channel 'hok' (did you mean 'hook'?)",
        "services.yaml:14: alerts.rules[1].services[0]: unknown service 'apx' (did you mean 'api'?)",
    ]
    good = parse_config(fixed.replace("hok", "hook").replace("apx", "api"), source="services.yaml", env={})
    assert good.alerts is not None
    rule = good.alerts.rules[0]
    assert (rule.for_, rule.threshold_failures, rule.successes, rule.send_resolved) == (120.0, 1, 1, True)
    assert good.alerts.rules[1].effective_severity == "warning"
    assert good.alerts.maintenance[0].every == ["sunday"]
    assert parse_config("services:\n  api: {kind: http, url: 'http://127.0.0.1:9'}\n", env={}).alerts is None


def test_a_rule_name_appears_once() -> None:
    text = (
        ALERTS_YAML.replace("      failures: 3\n", "")
        .split("  maintenance:")[0]
        .replace("name: quota", "name: api-down")
    )
    text = text.replace("hok", "hook").replace("apx", "api")
    with pytest.raises(ConfigError, match=r"test.yaml:11: alerts.rules\[1\].name: duplicate rule name 'api-down'"):
        parse_config(text, source="test.yaml", env={})


# -- wiring: lookout serve -------------------------------------------------------------------------


@asynccontextmanager
async def serving(config: Config, **kwargs: Any) -> AsyncIterator[tuple[Daemon, io.StringIO]]:
    log = io.StringIO()
    daemon = Daemon(config, listen=Listen("127.0.0.1", 0), stream=log, watch=False, **kwargs)
    task = asyncio.create_task(daemon.run())
    while daemon.port is None and not task.done():
        await asyncio.sleep(0)
    try:
        yield daemon, log
    finally:
        daemon.stop()
        await task


@pytest.mark.slow
async def test_serve_recording_the_history_alerts_into_its_sink(upstream: Upstream, tmp_path: Path) -> None:
    services = {"api": one(upstream, "serve", interval="100ms")}
    config = config_for(services, alerts_with({"name": "r", "when": "down", "successes": 2}))
    history = open_history(tmp_path / "history.db")
    sink = ListSink()
    try:
        upstream.set(503, "serve")
        async with serving(config, record_into=history, alert_sink=sink):
            await wait_for(lambda: sink.transitions() == [Transition.FIRING])
            upstream.set(200, "serve")
            await wait_for(lambda: len(sink.sent) == 2)
    finally:
        history.close()
    assert sink.transitions() == [Transition.FIRING, Transition.RESOLVED]
    assert open_incidents(history.path) == []


async def test_serve_without_the_history_says_once_why_alerts_are_off(upstream: Upstream) -> None:
    config = config_for({"api": one(upstream, "serve-off")}, alerts_with({"name": "r", "when": "down"}))
    sink = ListSink()
    async with serving(config, alert_sink=sink, alerts_off="--no-history") as (daemon, log):
        await daemon.engine.run_once()
    assert daemon.alerts is None and sink.sent == []
    lines = [line for line in log.getvalue().splitlines() if "alerts are off" in line]
    assert len(lines) == 1 and "--no-history" in lines[0]


# -- the other conditions ------------------------------------------------------------------------


async def test_rate_limit_below_fires_on_a_low_quota_and_names_the_resource(http_api: Any, unique_key: str) -> None:
    url = f"{http_api.url}/github/{unique_key}/rate_limit?limit=10&used=7"
    rule = {"name": "quota", "when": {"rate_limit_below": "50%"}}
    async with rig(config_for({"gh": {"kind": "http", "url": url}}, alerts_with(rule))) as r:
        await r.probe()
    assert r.sink.transitions() == [Transition.FIRING]
    assert r.sink.sent[0].reason == "rate limit core: 20% left (below 50%)"
    assert r.sink.sent[0].severity == "warning"


async def test_breaker_open_fires_when_the_breaker_opens_and_resolves_when_it_closes(upstream: Upstream) -> None:
    service = one(upstream, "breaker", breaker={"fail_max": 2, "reset_timeout": "30s"})
    async with rig(config_for({"api": service}, alerts_with({"name": "cb", "when": "breaker_open"}))) as r:
        upstream.set(503, "breaker")
        await r.probe()
        assert r.sink.sent == [], "one failure: the breaker is still closed"
        await r.probe()
        assert r.sink.transitions() == [Transition.FIRING]
        assert r.sink.sent[0].reason == "circuit breaker open"
        upstream.set(200, "breaker")
        await r.advance(31)  # half-open: the next probe is the trial
        await r.probe()
    assert r.sink.transitions() == [Transition.FIRING, Transition.RESOLVED]


async def test_a_silenced_root_still_keeps_its_dependants_quiet(upstream: Upstream, tmp_path: Path) -> None:
    history = open_history(tmp_path / "history.db")
    clock = FakeClock(datetime.now(UTC))
    services = {"db": one(upstream, "silent-root"), "app": one(upstream, "silent-dep", depends_on=["db"])}
    try:
        silence = add_silence(history.path, "db", 3600, "db migration", now=clock.now().timestamp())
        async with rig(
            config_for(services, alerts_with({"name": "r", "when": "down"})), clock=clock, history=history
        ) as r:
            await wait_for(lambda: r.evaluator._silences() != ())
            upstream.set(503, "silent-root", "silent-dep")
            await r.probe()
            await r.advance(10)
            assert r.sink.sent == [], "the root is silenced, its dependant inhibited"
            assert expire_silence(history.path, silence.id, now=clock.now().timestamp())
            await wait_for(lambda: r.evaluator._silences() == ())
            await r.advance(1)
            assert [(n.service, n.transition, n.dependants) for n in r.sink.sent] == [
                ("db", Transition.FIRING, ("app",))
            ]
    finally:
        history.close()


async def test_a_reload_removing_a_firing_service_resolves_its_incident(upstream: Upstream) -> None:
    both = {"api": one(upstream, "kept"), "old": one(upstream, "removed", tags=["legacy"])}
    rules = alerts_with({"name": "r", "when": "down"})
    async with rig(config_for(both, rules)) as r:
        upstream.set(503, "kept", "removed")
        await r.probe()
        assert sorted(n.service for n in r.sink.sent) == ["api", "old"]
        await r.engine.reload(config_for({"api": both["api"]}, rules))
        await r.evaluator.join()
    resolved = r.sink.sent[2:]
    assert [(n.service, n.transition, n.kind, n.tags) for n in resolved] == [
        ("old", Transition.RESOLVED, "http", ("legacy",))
    ]
    assert resolved[0].reason == "no longer watched by this rule"
