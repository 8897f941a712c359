"""The engine: one scheduler, one task per service, bounded concurrency.

It owns time and state; views only read. Each service runs on its own
interval (with jitter, so a fleet does not probe in lockstep); a global
semaphore bounds how many attempts run at once (taken per attempt, never held
through a retry's back-off sleep); a second, CPU-sized one bounds how many
server processes are starting at once; every probe goes through the service's
pipeline (gate -> breaker -> retry -> probe). A hung service costs at most its
own deadline and one concurrency slot: it never delays another service's
schedule. `reload(config)` takes a new config while running: what did not
change keeps its state, sessions and processes (see core.reload for the
triggers).

    async with Engine(load_config("services.yaml")) as engine:
        snapshot = await engine.run_once()
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from core import __version__
from core.breaker import ServiceBreaker
from core.bus import EventBus, ViewSubscription
from core.clock import Clock, SystemClock
from core.collector import collections_paused
from core.config import Config, ServiceConfig
from core.config.summary import LazySummary
from core.durations import format_duration
from core.events import (
    BreakerChanged,
    ConfigReloaded,
    Event,
    LogEvent,
    LogLevel,
    OperatorReset,
    PauseChanged,
    ProbeCompleted,
    ProbeStarted,
    RateLimitsUpdated,
    ReasonChanged,
    StatusChanged,
    safe_event,
    safe_limits,
)
from core.kinds import kind_named
from core.limits import ResizableSemaphore
from core.pipeline import PipelineHooks, ServicePipeline
from core.probes.base import Probe, ProbeContext, default_max_starting
from core.processes import reap_orphans_async
from core.ratelimit import RateLimit
from core.recorder import Recorder
from core.results import ProbeResult, RateLimited, Status
from core.snapshot import FleetSnapshot, ServiceInfo, ServiceSnapshot
from core.state import ServiceState, apply_dependencies
from core.wake import Wake

if TYPE_CHECKING:
    import httpx2

    from core.pins.store import PinStore

logger = logging.getLogger(__name__)

INTERVAL_JITTER = 0.1
"""Each wait is the interval +/- 10%: a fleet started together drifts apart."""
FIRST_PROBE_SPREAD = 1.0
"""At start, probes are spread over up to this many seconds, not fired at once."""


@dataclass
class _Service:
    """Everything the engine keeps for one service."""

    config: ServiceConfig
    state: ServiceState
    pipeline: ServicePipeline
    probe: Probe
    wake: Wake = field(default_factory=Wake)
    task: asyncio.Task[None] | None = None
    next_due: float = 0.0
    inflight: asyncio.Task[Any] | None = None
    """The task running this service's probe now (its loop, or a `run_once`): what a reload cancels. Also what
    keeps a second probe of the service from starting meanwhile (set and cleared with no await in between
    its check, the start, and the result's recording: a flag does what a lock did, without the coroutines)."""
    retired: bool = False
    """Stopped by a reload: a probe asked for before it (a `run_once` not yet begun) must not reopen it."""


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What `Engine.reload` did, by service name (each in the order of the config it came from)."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


class Engine:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
        pins: PinStore | None = None,
    ) -> None:
        """`clock` tells the time and does the scheduler's waiting; `uniform(a, b)` draws the jitter.
        Both are injectable so a test can run the schedule on a fake clock, exactly. `pins`: the tool
        pins MCP inventories are compared with (see `use_pins`)."""
        self._config = config
        self._clock = clock or SystemClock()
        self._uniform = uniform
        self._bus = EventBus(self.snapshot)
        self._seq = 0
        self._recorders: list[Recorder] = []
        self._failed_recorders: set[int] = set()
        self._outbox: deque[Event] = deque()
        self._delivering = False
        self._running = False
        self._http: httpx2.AsyncClient | None = None
        self._pins = pins
        self._semaphore = ResizableSemaphore(config.concurrency)
        self._start_slots = ResizableSemaphore(_max_starting(config))
        self._reloading = asyncio.Lock()
        self._retired_http: dict[httpx2.AsyncClient, asyncio.Task[None]] = {}
        with collections_paused():
            self._services: dict[str, _Service] = {
                name: self._build_service(name, service, config) for name, service in config.services.items()
            }

    # -- lifecycle -----------------------------------------------------------
    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start probing every service on its own schedule."""
        if self._running:
            return
        self._running = True
        self._schedule(list(self._services.values()))
        self._log(LogLevel.INFO, f"engine started: {len(self._services)} services", None)

    async def stop(self) -> None:
        """Stop probing and release everything: tasks, sessions, child processes, sockets.

        Waits for a reload under way to finish first, so no service it starts outlives the stop.
        """
        async with self._reloading:
            await self._stop()

    async def _stop(self) -> None:
        tasks = [s.task for s in self._services.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for service in self._services.values():
            service.task = None
        await asyncio.gather(*(self._close_probe(s.probe) for s in self._services.values()))
        await reap_orphans_async()  # what the servers orphaned (a `setsid` helper) goes with them
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        for client, closing in list(self._retired_http.items()):
            closing.cancel()
            await asyncio.gather(closing, return_exceptions=True)
            await client.aclose()
        self._retired_http.clear()
        if self._running:
            self._running = False
            self._log(LogLevel.INFO, "engine stopped", None)
        self._bus.close()

    # -- what views and callers use ----------------------------------------
    @property
    def config(self) -> Config:
        return self._config

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def names(self) -> list[str]:
        return list(self._services)

    @property
    def seq(self) -> int:
        """The seq of the last event published (0: none yet)."""
        return self._seq

    def subscribe(self, *, maxsize: int = 1000) -> ViewSubscription:
        """Subscribe a view: `.snapshot` is the fleet now, then every event after it, in order.

        A view may fall behind: it holds at most `maxsize` unread events, and
        if it lets more arrive it loses them (counted in `.dropped`) and reads a
        `Resync` with a fresh snapshot where they would have been. It never
        slows the engine. A consumer that must see every event is a recorder.
        """
        return self._bus.subscribe(maxsize)

    def add_recorder(self, recorder: Recorder) -> None:
        """Call `recorder.record(event)` for every event from now on, in order, before any view sees it.

        `record` runs inside the engine's publish and must return at once (see
        core.recorder); if it raises, that is logged once and the engine goes on.
        """
        self._recorders.append(recorder)

    def seed_history(self, name: str, results: Iterable[ProbeResult]) -> None:
        """Start a service's history ring (sparklines, percentiles, uptime) from stored results, oldest first.

        For a monitor that restarts with a history file: it shows what it saw before instead of an empty
        chart. Only the ring is seeded; status, counters and events start fresh, since nothing was probed
        yet by this engine. Call before `start`; a name not in the config is ignored (it was removed).
        """
        if self._running:
            raise RuntimeError("seed_history is for a stopped engine: call it before start()")
        service = self._services.get(name)
        if service is not None:
            service.state.seed(results)

    @property
    def pins(self) -> PinStore | None:
        return self._pins

    def use_pins(self, pins: PinStore | None) -> None:
        """Compare every MCP server's tools with `pins` from its next probe on (None: keep no pins).

        Without pins a changed tool list is only logged; with them it is degraded until approved.
        """
        self._pins = pins

    def snapshot(self) -> FleetSnapshot:
        own = {name: (s.state.status, s.state.reason) for name, s in self._services.items()}
        deps = {name: s.state.depends_on for name, s in self._services.items() if s.state.depends_on}
        effective = apply_dependencies(own, deps)
        services: list[ServiceSnapshot] = []
        for name, service in self._services.items():
            status, reason = effective[name]
            services.append(service.state.snapshot(service.pipeline.breaker.snapshot, status=status, reason=reason))
        path = str(self._config.path) if self._config.path else None
        return FleetSnapshot(taken_at=self._clock.now(), services=tuple(services), config_path=path, seq=self._seq)

    async def run_once(self, names: Iterable[str] | None = None, *, timeout: float | None = None) -> FleetSnapshot:
        """Probe the named services (default: all) now, concurrently, and wait for them.

        `timeout` bounds the whole run: a service still being probed then is
        cancelled and reported down with that reason, so a check never hangs.
        """
        targets = [self._service(name) for name in (names if names is not None else self._services)]
        tasks = {asyncio.create_task(self._probe(service)): service for service in targets}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in pending:
                service = tasks[task]
                self._record(
                    service,
                    ProbeResult(
                        service=service.config.name,
                        started_at=self._clock.now(),
                        status=Status.DOWN,
                        reason=f"no answer within the overall time limit ({format_duration(timeout or 0)})",
                    ),
                )
        return self.snapshot()

    def probe_now(self, name: str | None = None) -> None:
        """Ask for a probe at once (of one service, or all); returns without waiting."""
        targets = [self._service(name)] if name is not None else list(self._services.values())
        for service in targets:
            if self._running:
                service.wake.set()
            else:
                task = asyncio.ensure_future(self.run_once([service.config.name]))
                task.add_done_callback(_consume)

    def pause(self, name: str) -> None:
        self._set_paused(self._service(name), True)

    def resume(self, name: str) -> None:
        self._set_paused(self._service(name), False)

    def toggle_pause(self, name: str) -> bool:
        service = self._service(name)
        self._set_paused(service, not service.state.paused)
        return service.state.paused

    def reset_breaker(self, name: str) -> None:
        """Close the breaker and open the rate-limit gate: the operator says "try it now"."""
        service = self._service(name)
        service.pipeline.reset_guards()
        service.state.set_live(gate_until=None)  # and the breaker, closed: the state's next snapshot is new
        self._publish(OperatorReset(at=self._clock.now(), service=name))
        service.wake.set()  # the operator wants to know now whether it works again, not in an interval

    def log(self, level: LogLevel, message: str) -> None:
        """A fleet-wide log line from outside the engine (a refused reload): redacted and published like its own."""
        self._log(level, message, None)

    async def reload(self, config: Config) -> ReloadReport:
        """Take a new config without a restart: what did not change keeps running as it is.

        A service whose validated config (defaults applied, environment interpolated) equals the
        running one keeps everything: state, history, breaker, rate-limit gate, open MCP session and
        server process. A changed one is stopped and started afresh; a removed one is stopped (its
        probe in flight cancelled, its session closed, its processes killed) and leaves the
        snapshot; a new one is scheduled as at start. Fleet-wide settings apply in place: the
        concurrency and start-slot limits are resized (attempts already running finish; the new
        limit holds for what starts next), and a changed concurrency gives HTTP probes a new
        connection pool sized for it (the old one is closed once no attempt can still use it).
        Reloads run one at a time. Publishes one `ConfigReloaded`.
        """
        async with self._reloading:
            old = self._services
            unchanged = tuple(n for n, c in config.services.items() if n in old and _same(old[n].config, c))
            changed = tuple(n for n, c in config.services.items() if n in old and not _same(old[n].config, c))
            added = tuple(n for n in config.services if n not in old)
            removed = tuple(n for n in old if n not in config.services)
            # Built before anything stops: a service that cannot be built leaves the running fleet as it was.
            with collections_paused():
                fresh = {n: self._build_service(n, config.services[n], config) for n in (*changed, *added)}
            await self._retire([old[n] for n in (*changed, *removed)])
            concurrency_changed = config.concurrency != self._config.concurrency
            self._config = config
            self._semaphore.resize(config.concurrency)
            self._start_slots.resize(_max_starting(config))
            if concurrency_changed:
                self._retire_http()
            for name in unchanged:
                old[name].state.set_info(self._info(name, config.services[name], config))  # masked with new secrets
            self._services = {n: fresh[n] if n in fresh else old[n] for n in config.services}
            if self._running:
                self._schedule(list(fresh.values()))
            report = ReloadReport(added=added, changed=changed, removed=removed, unchanged=unchanged)
            path = str(config.path) if config.path else None
            self._publish(
                ConfigReloaded(
                    at=self._clock.now(), added=added, changed=changed, removed=removed, unchanged=unchanged, path=path
                )
            )
            return report

    # -- internals -----------------------------------------------------------
    async def _retire(self, services: list[_Service]) -> None:
        """Stop services for good: loop and probe in flight cancelled, probe closed, its processes gone."""
        for service in services:
            service.retired = True  # first: no probe may begin on them while this waits
        tasks = {t for s in services for t in (s.task, s.inflight) if t is not None and t is not asyncio.current_task()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for service in services:
            service.task = None
            service.state.set_live(probing=False)
        if services:
            await asyncio.gather(*(self._close_probe(s.probe) for s in services))
            await reap_orphans_async()

    def _retire_http(self) -> None:
        """Size the HTTP pool for the new concurrency: new attempts get a new client; the old one is closed
        once the longest attempt timeout has passed (an attempt never uses its client longer)."""
        if self._http is None:
            return
        client, self._http = self._http, None
        grace = max((s.timeout for s in self._config.services.values()), default=0.0) + 1.0
        self._retired_http[client] = asyncio.create_task(self._close_later(client, grace))

    async def _close_later(self, client: httpx2.AsyncClient, delay: float) -> None:
        await self._clock.sleep(delay)
        self._retired_http.pop(client, None)
        await client.aclose()

    def _build_service(self, name: str, config: ServiceConfig, fleet: Config) -> _Service:
        """A service as new: its probe, breaker, gate and pipeline, built from its config; no state yet.

        What it shares with the fleet it reaches through the engine (the HTTP client, the redaction of
        the current config, the resizable slots), so a reload can change those without rebuilding it.
        """
        context = ProbeContext(
            service_name=name,
            http=self._ensure_http,
            log=partial(self._service_log, name),
            publish=self._publish,
            redact=self._redact,
            now=self._clock.now,
            start_slots=self._start_slots,
            pins=lambda: self._pins,
            probe_now=partial(self._wake, name),
        )
        probe = kind_named(config.kind).probe_factory()(config, context)
        breaker = ServiceBreaker(
            name,
            config.breaker,
            clock=self._clock,
            on_change=partial(self._breaker_changed, name),
            neutral=(RateLimited,),
        )
        hooks = PipelineHooks(
            log=partial(self._service_log, name),
            rate_limits_changed=partial(self._rate_limits_changed, name),
            redact=self._redact,
        )
        pipeline = ServicePipeline(config, probe, breaker, hooks, now=self._clock.now, slot=self._semaphore)
        state = ServiceState(info=self._info(name, config, fleet))
        return _Service(config=config, state=state, pipeline=pipeline, probe=probe)

    def _info(self, name: str, config: ServiceConfig, fleet: Config) -> ServiceInfo:
        """What views show about the service's identity, masked with its fleet's secrets."""
        return ServiceInfo(
            name=name,
            kind=config.kind,
            target=kind_named(config.kind).describe_target(config, fleet.redactor),
            interval=config.interval,
            tags=tuple(config.tags),
            depends_on=tuple(config.depends_on),
            transport=getattr(config, "transport", None),
            config_summary=LazySummary(config, fleet),
        )

    def _redact(self, text: str) -> str:
        """The current config's redaction (a reload may bring new secrets): looked up at each call."""
        return self._config.redact(text)

    def _schedule(self, services: list[_Service]) -> None:
        """Start the loops of services new to a running engine; their first probes spread over a second."""
        now = self._clock.monotonic()
        spread = min(FIRST_PROBE_SPREAD, min((s.config.interval for s in services), default=1))
        for service in services:
            service.next_due = now + self._uniform(0, spread)
            service.task = asyncio.create_task(self._service_loop(service), name=f"lookout:{service.state.name}")

    def _ensure_http(self) -> httpx2.AsyncClient:
        """The httpx2 client the MCP probes' side requests share (OAuth token refresh, authorization metadata
        after a refusal), made on first use (and again after `stop`). HTTP API probes do not use it: they share
        an aiohttp session, with connections of their own (core.probes.http_session). Imported here: a fleet
        without MCP servers never loads httpx2, nor the CA store its client's TLS context reads."""
        if self._http is None:
            import httpx2

            self._http = httpx2.AsyncClient(
                verify=True,
                follow_redirects=False,
                limits=httpx2.Limits(
                    max_connections=max(10, self._config.concurrency * 2), max_keepalive_connections=10
                ),
                headers={"User-Agent": f"lookout/{__version__}"},
            )
        return self._http

    def _service(self, name: str) -> _Service:
        try:
            return self._services[name]
        except KeyError:
            raise KeyError(f"no service named {name!r}") from None

    async def _service_loop(self, service: _Service) -> None:
        while True:
            delay = service.next_due - self._clock.monotonic()
            if delay > 0 and not service.wake.is_set():
                paused = service.state.paused
                service.state.set_next_probe_at(None if paused else self._clock.now() + timedelta(seconds=delay))
                await self._clock.wait(service.wake, delay)
            forced = service.wake.is_set()
            service.wake.clear()
            if forced or not service.state.paused:
                await self._probe(service)
            service.next_due = self._next_due(service)

    def _next_due(self, service: _Service) -> float:
        interval = service.config.interval * (1 + self._uniform(-INTERVAL_JITTER, INTERVAL_JITTER))
        due = self._clock.monotonic() + interval
        now_wall = self._clock.now()
        quiet_until = service.pipeline.quiet_until
        if quiet_until is not None:
            # A down service asked for quiet (5xx + Retry-After): wait longer, as far as the pipeline allowed.
            due = max(due, self._clock.monotonic() + (quiet_until - now_wall).total_seconds())
        for wake_at in (service.pipeline.breaker.retry_at(), service.pipeline.gate.blocked_until()):
            if wake_at is not None:
                # Try again as soon as the breaker admits a trial or the rate limit resets.
                due = min(due, self._clock.monotonic() + max(0.0, (wake_at - now_wall).total_seconds()) + 0.05)
        return due

    async def _probe(self, service: _Service) -> ProbeResult | None:
        if service.retired:
            return None  # gone with a reload: its probe is closed and its processes killed, and stay so
        if service.inflight is not None:
            return None  # a probe of this service is already running: that one answers
        # The fleet slot is the pipeline's to take, per attempt.
        service.inflight = asyncio.current_task()
        service.state.set_probing(True)
        self._seq += 1
        if self._heard():  # the event is built only for someone: its seq is counted either way
            self._enqueue(
                ProbeStarted(
                    at=self._clock.now(),
                    service=service.config.name,
                    schedule_lag=self._lag(service),
                    seq=self._seq,
                )
            )
        try:
            result = await service.pipeline.run()
        finally:
            service.state.set_probing(False)
            service.inflight = None
        self._record(service, result)
        return result

    def _lag(self, service: _Service) -> float | None:
        """How late a scheduled probe starts (monotonic seconds); None for a probe nobody scheduled.

        Scheduled means: run by the service's own loop, at or after its due time.
        A probe asked for early (an operator's "probe now") or by `run_once` has
        no due time to be late against.
        """
        if asyncio.current_task() is not service.task:
            return None
        late = self._clock.monotonic() - service.next_due
        return late if late >= 0 else None

    def _record(self, service: _Service, result: ProbeResult) -> None:
        state = service.state
        old_status, old_reason = state.status, state.reason
        state.record(result)
        gate_until = service.pipeline.gate.blocked_until()
        if gate_until != state.gate_until:
            state.set_live(gate_until=gate_until)
        now = self._clock.now()
        self._seq += 1
        if self._heard():  # a result is made safe where it is built (the pipeline): nothing to clean here
            self._enqueue(ProbeCompleted(at=now, service=state.name, result=result, seq=self._seq))
        if result.status is not old_status:
            self._publish(
                StatusChanged(at=now, service=state.name, old=old_status, new=result.status, reason=result.reason)
            )
        elif result.reason != old_reason and result.status is not Status.UP:
            self._publish(ReasonChanged(at=now, service=state.name, status=result.status, reason=result.reason))

    def _set_paused(self, service: _Service, paused: bool) -> None:
        if service.state.paused == paused:
            return
        service.state.set_live(paused=paused)
        self._publish(PauseChanged(at=self._clock.now(), service=service.state.name, paused=paused))
        if not paused and self._running:
            service.wake.set()  # resuming probes at once: the operator wants to see it now

    def _wake(self, name: str) -> None:
        """A probe's own request for a probe now; only a running schedule takes it (a `run_once` has none)."""
        service = self._services.get(name)
        if self._running and service is not None and not service.retired:
            service.wake.set()

    def _breaker_changed(self, name: str, old: str, new: str) -> None:
        now = self._clock.now()
        self._services[name].state.breaker_changed(now, old, new)
        self._publish(BreakerChanged(at=now, service=name, old=old, new=new))

    def _rate_limits_changed(self, name: str, limits: tuple[RateLimit, ...]) -> None:
        self._services[name].state.set_live(rate_limits=safe_limits(limits))  # resource names are server text
        self._publish(RateLimitsUpdated(at=self._clock.now(), service=name, limits=limits))

    def _service_log(self, service: str, level: LogLevel, message: str, source: str = "engine") -> None:
        """A probe's or pipeline's log line about its own service."""
        self._log(level, message, service, source)

    def _log(self, level: LogLevel, message: str, service: str | None, source: str = "engine") -> None:
        self._publish(
            LogEvent(
                at=self._clock.now(),
                level=level,
                message=self._config.redact(message),
                service=service,
                source=source,
            )
        )

    def _publish(self, event: Event) -> None:
        """Every event leaves through here, once: made safe, numbered, recorded, then fanned out to views.

        The choke point for server text in events, and the one place seq is
        assigned, so seq order is publish order. The state the event reports
        is already changed when it is published (everything here is
        synchronous), so a snapshot taken between two events is consistent
        with the seq before it.
        """
        self._seq += 1
        if self._heard():
            self._enqueue(replace(safe_event(event, self._config.redact), seq=self._seq))

    def _heard(self) -> bool:
        """Whether anyone takes events now (a recorder or a view). When nobody does, an event is only counted:
        its seq is taken, nothing is built (a view subscribing later starts from a snapshot of that seq)."""
        return bool(self._recorders) or self._bus.has_views

    def _enqueue(self, event: Event) -> None:
        """Deliver a safe, numbered event, after those already waiting."""
        self._outbox.append(event)
        if self._delivering:
            return  # published from inside a delivery (a recorder acting on the engine): it goes next, in order
        self._delivering = True
        try:
            while self._outbox:
                self._deliver(self._outbox.popleft())
        finally:
            self._delivering = False

    def _deliver(self, event: Event) -> None:
        for recorder in self._recorders:
            try:
                recorder.record(event)
            except Exception as error:  # a recorder's bug is its own: the engine and the other consumers go on
                if id(recorder) not in self._failed_recorders:
                    self._failed_recorders.add(id(recorder))
                    self._log(
                        LogLevel.ERROR,
                        f"recorder {type(recorder).__name__} failed: {type(error).__name__}: {error} "
                        "(its later failures are not logged)",
                        None,
                    )
        self._bus.publish(event)

    async def _close_probe(self, probe: Probe) -> None:
        try:
            await probe.aclose()
        except Exception:  # shutdown must finish even if one probe misbehaves
            logger.exception("closing a probe failed")


def _max_starting(config: Config) -> int:
    return config.defaults.max_starting or default_max_starting()


def _same(old: ServiceConfig, new: ServiceConfig) -> bool:
    """The same resolved config: same kind and every value equal (not which fields the file spelled out)."""
    return (
        type(old) is type(new)
        and old.model_dump() == new.model_dump()
        and old.__pydantic_private__ == new.__pydantic_private__  # e.g. whether an MCP url named its transport
    )


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
