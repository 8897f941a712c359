"""The engine's two limits and the attempt deadline: fleet slots per attempt, process starts, one deadline.

Against real loopback sockets and real child processes. The one probe written here
(`SlowCleanupProbe`) stands in for any probe that needs a moment to tidy up after
its own timeout: the pipeline's deadline contract is the thing under test there.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import idle_engine, make_config

from core.breaker import ServiceBreaker
from core.deadline import Deadline
from core.demo.fleet import unused_port
from core.durations import format_duration
from core.pipeline import PipelineHooks, ServicePipeline
from core.results import ProbeError, ProbeOutcome


@pytest.mark.slow
async def test_refused_fleet_never_queues_behind_retry_sleeps() -> None:
    # Services on a closed port, 3 attempts each with back-off: every refusal is instant, so the whole run is
    # a few seconds of sleeping. Holding a fleet slot through the sleeps (16 slots here, ~2s of back-off per
    # service) needed 400 / 16 x 2s = 50s, and most services timed out in the queue as "no answer within the
    # overall time limit". (bench/refused_fleet.py runs 1000 services with the default 256 slots.)
    url = f"http://127.0.0.1:{unused_port()}/health"
    services = {f"svc-{i:04d}": {"kind": "http", "url": url} for i in range(400)}
    config = make_config(
        services,
        concurrency=16,
        timeout="10s",
        retry={"attempts": 3, "initial": "500ms", "max": "2s", "multiplier": 2, "jitter": "500ms"},
        breaker={"fail_max": 10, "reset_timeout": "30s"},
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once(timeout=20)
    reasons = {s.reason for s in snapshot.services}
    assert reasons == {"connection refused"}, sorted(reasons)[:3]
    assert {s.last_result.attempts for s in snapshot.services} == {3}


def _start_counter(log: Path) -> dict[str, object]:
    """A stdio 'server' that records its start and end, takes a second to start, then fails before the handshake."""
    script = f'echo + >> "{log}"; sleep 1; echo - >> "{log}"; echo "error: not configured" >&2; exit 1'
    return {"kind": "mcp", "command": "sh", "args": ["-c", script]}


@pytest.mark.slow
async def test_at_most_max_starting_processes_start_at_once(tmp_path) -> None:
    log = tmp_path / "starts.log"
    services = {f"mcp-{i}": _start_counter(log) for i in range(10)}
    # Ten starts of a second each through two slots: the last pair waits about 4s for its turn, longer than
    # its startup_timeout. Waiting for a slot is Lookout's queue, not the server's time: no false timeouts.
    config = make_config(services, max_starting=2, timeout="1s", startup_timeout="3s")
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once(timeout=60)
    reasons = {s.reason for s in snapshot.services}
    assert reasons == {"process exited with code 1: error: not configured"}, reasons
    starting, most = 0, 0
    for mark in log.read_text().split():
        starting += 1 if mark == "+" else -1
        most = max(most, starting)
    assert log.read_text().count("+") == 10
    assert most == 2


class SlowCleanupProbe:
    """Times out by its own deadline, then tidies up for `cleanup` seconds before reporting which stage ran out."""

    def __init__(self, *, cleanup: float, paused: bool) -> None:
        self.cleanup = cleanup
        self.paused = paused

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        try:
            async with asyncio.timeout(deadline.remaining()):
                await asyncio.Event().wait()  # a server that never answers
        except TimeoutError:
            if self.paused:
                with deadline.paused():
                    await asyncio.sleep(self.cleanup)
            else:
                await asyncio.sleep(self.cleanup)
            raise ProbeError(f"timed out after {format_duration(deadline.budget)} waiting for the answer") from None
        raise AssertionError("unreachable")

    async def reset(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def _run(probe: SlowCleanupProbe) -> str:
    config = make_config({"svc": {"kind": "http", "url": "http://127.0.0.1:9/"}}, timeout="1s")
    service = config.services["svc"]
    hooks = PipelineHooks(log=lambda level, message: None, rate_limits_changed=lambda limits: None, redact=str)
    pipeline = ServicePipeline(
        service, probe, ServiceBreaker("svc", service.breaker), hooks, now=lambda: datetime.now(UTC)
    )
    result = await pipeline.run()
    return result.reason


@pytest.mark.slow
async def test_the_probes_own_timeout_reason_wins_over_the_backstop() -> None:
    # The probe's own error (which stage ran out) must win: within the backstop's grace without asking, and
    # for longer when the probe pauses the deadline for work on its own account (as the MCP probe does to kill
    # a hung server). Two clocks racing 50ms apart lost the stage under load.
    quick, slow = SlowCleanupProbe(cleanup=0.3, paused=False), SlowCleanupProbe(cleanup=1.5, paused=True)
    reasons = await asyncio.gather(_run(quick), _run(slow))
    assert reasons == ["timed out after 1s waiting for the answer"] * 2


class DeafProbe:
    """Ignores its deadline and waits for ever: only the pipeline's backstop ends its attempt."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def reset(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _pipeline(probe: DeafProbe, timeout: str) -> ServicePipeline:
    config = make_config({"svc": {"kind": "http", "url": "http://127.0.0.1:9/"}}, timeout=timeout)
    service = config.services["svc"]
    hooks = PipelineHooks(log=lambda level, message: None, rate_limits_changed=lambda limits: None, redact=str)
    return ServicePipeline(service, probe, ServiceBreaker("svc", service.breaker), hooks, now=lambda: datetime.now(UTC))


async def test_the_backstop_ends_an_attempt_that_ignores_its_deadline() -> None:
    async with asyncio.timeout(60):  # a bound on a broken backstop (the test would hang), not a timing claim
        results = await asyncio.gather(_pipeline(DeafProbe(), "200ms").run(), _pipeline(DeafProbe(), "300ms").run())
    assert [(r.status.value, r.reason) for r in results] == [
        ("down", "timed out after 200ms"),
        ("down", "timed out after 300ms"),
    ]


async def test_a_cancel_from_outside_is_not_taken_for_the_backstop() -> None:
    # A shutdown cancels the probe's task: that must propagate, not become a "timed out" result.
    probe = DeafProbe()
    task = asyncio.create_task(_pipeline(probe, "30s").run())
    await probe.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_deadline_pauses_and_stage_limits() -> None:
    now = [100.0]
    deadline = Deadline(10, clock=lambda: now[0])
    moves: list[float] = []
    deadline.watch(lambda: moves.append(deadline.remaining()))
    now[0] += 4
    with deadline.paused():
        now[0] += 30  # queueing on Lookout's own account does not count
        assert deadline.remaining() == 6 and deadline.is_paused
    assert deadline.remaining() == 6 and not deadline.is_paused
    assert moves == [6, 6]  # stopped, then restarted: the backstop re-armed both times
    stage = deadline.within(2)
    assert (stage.budget, stage.remaining()) == (2, 2)
    assert deadline.within(60).remaining() == 6  # a stage never outlives the attempt
