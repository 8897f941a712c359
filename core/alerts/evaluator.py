"""The evaluator: the engine's events in, notifications out, once per incident.

A recorder (core.recorder.QueuedRecorder), so it sees every transition in
order and never stalls the engine. Per (rule, service) it keeps one `Track`:

- pending: bad observations in a row are counted against `failures`, or timed
  against `for` (checked at each observation and each tick of the engine's
  clock, so a FakeClock test moves it);
- firing: the incident opened; one FIRING is sent (when nothing holds it back,
  see below); a REMINDER every `repeat` while it stays open;
- resolved: after `successes` good observations in a row; one RESOLVED with
  `send_resolved`, and only if its FIRING was sent.

Flap damping (opt-in, `flap_window`): an incident that reopens within the
window of the last one closing says FLAPPING instead of FIRING; later
reopenings in the window are recorded and counted but say nothing, nor do their
closings; once it stays closed for a whole window, one STABLE is sent. The
first incident's RESOLVED is sent as usual: when it closed nothing said yet
that it would flap.

What holds a notification back, and what happens after:
- inhibition (core.alerts.inhibition): the FIRING of a service whose
  dependency is down waits; the root's notification names it. If the root
  recovers first and the service is still failing, its FIRING is sent then.
- a silence or a maintenance window: the incident is opened and recorded, its
  FIRING waits. If the silence ends while the incident is still open, the
  FIRING is sent then (at the next tick), so nobody is left unaware of an
  ongoing outage; if it closed during the silence, nothing is ever sent about
  it. Reminders and STABLE wait likewise. A RESOLVED for a FIRING that was
  sent is always sent, even during a silence: a receiver must never be left
  holding an alert that no longer holds (a zombie, Gatus #1111).

Decisions on new events are taken when the recorder's queue drains (and at
each tick), so the results of one probing round are all known first: a root
and its dependant failing in the same round alert as one.

State across restarts: every incident is written to the history file with what
was already sent (core.alerts.incidents). At start the open ones come back
`restored`: a first good observation closes them (RESOLVED if their FIRING was
sent); a bad one continues them, without a second FIRING. The recently closed
ones come back `recalled`, replayed into flap damping's state (when the last
closed, whether it was flapping), so a restart does not break a flap's quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.alerts.config import AlertsSettings, Rule
from core.alerts.incidents import Incident, incident_id
from core.alerts.inhibition import FAILING, INHIBITED_CONDITIONS, dependants_of, edges, inhibiting_root, walk
from core.alerts.notification import Notification, NotificationSink, Transition
from core.alerts.rules import Observation, observe
from core.alerts.silences import Silence
from core.alerts.windows import windows_holding
from core.durations import format_duration
from core.events import ConfigReloaded, Event, ProbeCompleted
from core.recorder import QueuedRecorder
from core.results import Status

if TYPE_CHECKING:
    from core.config import Config, ServiceConfig
    from core.engine import Engine
    from core.history import HistoryStore

TICK = 1.0
"""Seconds of the engine's clock between timed checks (`for`, reminders, flap windows, silences ending)."""
UNSAMPLED = 1 << 62
"""The recorder's queue never samples results away: every probe counts toward `failures` and `successes`
(evaluating one is a few dictionary lookups, so the queue does not grow while the loop runs)."""


@dataclass(slots=True)
class Track:
    """One rule's view of one service."""

    bad: int = 0
    bad_since: float | None = None
    good: int = 0
    last_bad: bool = False
    reason: str = ""
    incident: Incident | None = None
    last_closed: float | None = None
    last_incident: str = ""
    flapping: bool = False
    reopenings: int = 0
    """Reopenings counted silently while flapping."""


@dataclass(frozen=True, slots=True)
class AlertView:
    """What a view shows of one rule about one service."""

    rule: str
    state: str
    """firing, pending, silenced, maintenance, inhibited or flapping."""
    since: float
    detail: str = ""


class AlertEvaluator(QueuedRecorder):
    """Turns the engine's events into notifications for `sink`; records incidents into `store`.

    `silences` returns the silences currently known (the SilencePoller's latest read).
    Call `start()` once on the running loop (the timer), `aclose()` after the engine stopped.
    """

    def __init__(
        self,
        engine: Engine,
        sink: NotificationSink,
        *,
        store: HistoryStore | None = None,
        restored: Iterable[Incident] = (),
        recalled: Iterable[Incident] = (),
        silences: Callable[[], tuple[Silence, ...]] = tuple,
        log: Callable[[str], None] | None = None,
        tick: float = TICK,
    ) -> None:
        super().__init__(max_observations=UNSAMPLED)
        self._engine = engine
        self._sink = sink
        self._store = store
        self._silences = silences
        self._log = log or (lambda message: None)
        self._tick = tick
        self._ticker: asyncio.Task[None] | None = None
        self._tracks: dict[tuple[str, str], Track] = {}
        self._statuses: dict[str, Status] = {}
        self._retired: dict[str, ServiceConfig] = {}
        """Services a reload removed: their incidents' RESOLVED still names their kind and tags."""
        self._dirty: set[str] = set()
        """Services whose events were handled since the last evaluation."""
        self._result_seq: dict[str, int] = {}
        """The seq of each service's latest result: which results came after an incident opened."""
        self._previous: dict[str, Status] = {}
        self._sink_failed = False
        self.sent: int = 0
        """Notifications handed to the sink."""
        self._configure(engine.config)
        for incident in recalled:
            self._recall(incident)
        for incident in restored:
            self._restore(incident)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        """Start the timer (on the running loop)."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop(), name="alerts:tick")

    async def aclose(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await super().aclose()

    async def _tick_loop(self) -> None:
        clock = self._engine.clock
        while True:
            await clock.sleep(self._tick)
            try:
                self.evaluate()
            except Exception as error:  # one bad tick must not end the timer
                self.failures += 1
                self.last_error = error

    # -- events -------------------------------------------------------------------
    async def handle(self, event: Event) -> None:
        if isinstance(event, ConfigReloaded):
            self._reconfigure(self._engine.config, event.at.timestamp())
        service = event.service
        if service is not None and service in self._services:
            at = event.at.timestamp()
            if isinstance(event, ProbeCompleted):
                self._status_seen(service, event.result.status)
                self._result_seq[service] = event.seq
            for rule in self._rules_for.get(service, ()):
                seen = observe(rule, event)
                if seen is not None:
                    self._observe(rule, service, seen, at, event.seq)
            self._dirty.add(service)
        if self.backlog <= 1:
            touched, self._dirty = self._dirty, set()
            self.evaluate(touched)

    def _status_seen(self, service: str, status: Status) -> None:
        current = self._statuses.get(service)
        if status is Status.UNKNOWN or status is current:
            return
        if current is not None:
            self._previous[service] = current
        self._statuses[service] = status

    def _observe(self, rule: Rule, service: str, seen: Observation, at: float, seq: int) -> None:
        track = self._tracks.setdefault((rule.name, service), Track())
        incident = track.incident
        if seen.bad:
            track.good = 0
            track.last_bad = True
            track.reason = seen.reason
            if incident is not None:
                incident.restored = False  # still bad after a restart: it goes on, its FIRING already said
                incident.reason = seen.reason
                incident.status = self._status_word(service, rule)
                return
            track.bad += 1
            if track.bad_since is None:
                track.bad_since = at
            if rule.for_ is not None:
                if at - track.bad_since >= rule.for_:
                    self._open(rule, service, track, at, seq)
            elif track.bad >= rule.threshold_failures:
                self._open(rule, service, track, at, seq)
            return
        track.bad = 0
        track.bad_since = None
        track.last_bad = False
        if incident is None:
            return
        track.good += 1
        if incident.restored or track.good >= rule.successes:
            self._close(rule, service, track, at)

    # -- incidents ----------------------------------------------------------------
    def _open(self, rule: Rule, service: str, track: Track, at: float, seq: int) -> None:
        self._maybe_stable(rule, service, track, at)
        opening = Transition.FIRING
        quiet = False
        window = rule.flap_window
        if window is not None and track.last_closed is not None and at - track.last_closed <= window:
            if track.flapping:
                quiet = True
                track.reopenings += 1
            else:
                track.flapping = True
                opening = Transition.FLAPPING
        incident = Incident(
            id=incident_id(rule.name, service, at),
            rule=rule.name,
            service=service,
            opened=at,
            status=self._status_word(service, rule),
            previous_status=self._previous.get(service, Status.UNKNOWN).value,
            reason=track.reason,
            opening=opening,
            sent=quiet,
            quiet=quiet,
            opened_seq=seq,
        )
        track.incident = incident
        track.bad = 0
        track.bad_since = None
        track.good = 0
        self._persist(incident)

    def _close(self, rule: Rule | None, service: str, track: Track, at: float, reason: str = "") -> None:
        incident = track.incident
        if incident is None:
            return
        incident.closed = at
        said_firing = incident.sent and not incident.quiet and incident.opening is Transition.FIRING
        channels = self._resolved_channels(rule)
        if rule is not None and said_firing and channels:
            status = self._statuses.get(service, Status.UP)
            self._send(
                rule,
                service,
                incident.id,
                Transition.RESOLVED,
                since=incident.opened,
                status=status.value if status is not Status.UNKNOWN else Status.UP.value,
                previous=incident.status,
                reason=reason,
                channels=channels,
            )
        track.incident = None
        track.good = 0
        track.last_closed = at
        track.last_incident = incident.id
        self._persist(incident)

    def _resolved_channels(self, rule: Rule | None) -> tuple[str, ...]:
        """Where a RESOLVED goes: the rule's channels with `send_resolved`; without it, still its Alertmanager
        channels, because Alertmanager is re-sent a firing alert until it hears the end (it would never stop)."""
        if rule is None:
            return ()
        if rule.send_resolved:
            return tuple(rule.channels)
        stateful = self._stateful_channels()
        return tuple(name for name in rule.channels if name in stateful)

    def _stateful_channels(self) -> frozenset[str]:
        """Channels that keep an alert firing until told it resolved (Alertmanager)."""
        return frozenset(name for name, channel in self._settings.channels.items() if channel.type == "alertmanager")

    def _maybe_stable(self, rule: Rule, service: str, track: Track, now: float) -> None:
        window = rule.flap_window
        if not track.flapping or window is None or track.incident is not None or track.last_closed is None:
            return
        if now - track.last_closed < window:
            return
        track.flapping = False
        reopenings, track.reopenings = track.reopenings, 0
        if self._muted(service, now):
            return
        self._send(
            rule,
            service,
            track.last_incident,
            Transition.STABLE,
            since=track.last_closed,
            status=self._statuses.get(service, Status.UP).value,
            previous=Status.DOWN.value if rule.when == "down" else Status.DEGRADED.value,
            reason=f"closed for {format_duration(window)} after {reopenings + 1} reopenings",
        )

    def evaluate(self, services: set[str] | None = None) -> None:
        """Timed checks and held-back notifications: for every track at each tick; when the queue drains,
        only for the services events touched and those related to them by `depends_on` (whose
        inhibition may have changed), so a large fleet costs per event what one service costs."""
        now = self._engine.clock.now().timestamp()
        for (name, service), track in self._tracks_of(services):
            rule = self._rules.get(name)
            if rule is None:
                continue
            if track.incident is None:
                held_long = track.bad_since is not None and rule.for_ is not None and now - track.bad_since >= rule.for_
                if track.last_bad and held_long:
                    self._open(rule, service, track, now, self._result_seq.get(service, 0))
                self._maybe_stable(rule, service, track, now)
            incident = track.incident
            if incident is None or incident.restored:
                continue
            if not incident.sent:
                if self._inhibitor(rule, service) is not None or self._muted(service, now):
                    continue
                if self._round_pending(rule, service, incident, now):
                    continue
                if self._send(
                    rule,
                    service,
                    incident.id,
                    incident.opening,
                    since=incident.opened,
                    status=incident.status,
                    previous=incident.previous_status,
                    reason=incident.reason,
                ):
                    incident.sent = True
                    incident.last_sent = now
                    self._persist(incident)
            elif rule.repeat is not None and not incident.quiet and incident.last_sent is not None:
                if now - incident.last_sent < rule.repeat:
                    continue
                if self._inhibitor(rule, service) is not None or self._muted(service, now):
                    continue
                if self._send(
                    rule,
                    service,
                    incident.id,
                    Transition.REMINDER,
                    since=incident.opened,
                    status=incident.status,
                    previous=incident.previous_status,
                    reason=incident.reason,
                    sequence=incident.reminders + 1,
                ):
                    incident.reminders += 1
                    incident.last_sent = now
                    self._persist(incident)

    def _tracks_of(self, services: set[str] | None) -> list[tuple[tuple[str, str], Track]]:
        if services is None:
            return list(self._tracks.items())
        wanted = set(services)
        for service in services:  # direct neighbours; those further along the graph at the next tick
            wanted.update(self._needs.get(service, ()), self._needed_by.get(service, ()))
        found = []
        for service in sorted(wanted):
            for rule in self._rules_for.get(service, ()):
                track = self._tracks.get((rule.name, service))
                if track is not None:
                    found.append(((rule.name, service), track))
        return found

    # -- what holds notifications back --------------------------------------------
    def _inhibitor(self, rule: Rule, service: str) -> str | None:
        if rule.condition not in INHIBITED_CONDITIONS:
            return None
        return inhibiting_root(service, self._needs, self._statuses)

    def _round_pending(self, rule: Rule, service: str, incident: Incident, now: float) -> bool:
        """Wait for the services related by `depends_on` (either way) that look healthy to report after this
        incident opened, each at most one interval and probe: a dependant must know whether its root is down
        before it alerts, and a root's alert names the dependants failing with it. Related services are
        probed on their own schedules, so without this the order of one round would decide who alerts.
        Like Alertmanager's group_wait, this delays a FIRING by at most one interval of a related service."""
        if rule.condition not in INHIBITED_CONDITIONS:
            return False
        for other in itertools.chain(walk(service, self._needs), walk(service, self._needed_by)):
            if self._statuses.get(other) in FAILING or self._result_seq.get(other, 0) > incident.opened_seq:
                continue
            config = self._services.get(other)
            if config is None:
                continue
            bound = config.interval * 1.1 + config.timeout * config.retry.attempts
            if now - incident.opened < bound:
                return True
        return False

    def _muted(self, service: str, now: float) -> str | None:
        """Why notifications about `service` are held back now ("silenced", "maintenance"), or None."""
        config = self._services.get(service)
        tags = tuple(config.tags) if config is not None else ()
        if any(s.active(now) and s.covers(service, tags) for s in self._silences()):
            return "silenced"
        if self._settings.maintenance and config is not None:
            when = datetime.fromtimestamp(now, UTC)
            if windows_holding(self._settings.maintenance, service, tags, config.kind, when):
                return "maintenance"
        return None

    # -- sending ------------------------------------------------------------------
    def _send(
        self,
        rule: Rule,
        service: str,
        incident: str,
        transition: Transition,
        *,
        since: float,
        status: str,
        previous: str,
        reason: str,
        sequence: int = 0,
        channels: tuple[str, ...] | None = None,
    ) -> bool:
        """Queue one notification to the rule's channels (or `channels`, a subset: a RESOLVED without
        `send_resolved` still goes to Alertmanager)."""
        config = self._services.get(service) or self._retired.get(service)
        dependants: tuple[str, ...] = ()
        if rule.condition in INHIBITED_CONDITIONS and transition is not Transition.RESOLVED:
            dependants = dependants_of(service, self._needed_by, self._statuses)
        notification = Notification(
            incident_id=incident,
            transition=transition,
            rule=rule.name,
            service=service,
            kind=config.kind if config is not None else "",
            severity=rule.effective_severity,
            status=status,
            previous_status=previous,
            reason=reason,
            since=since,
            at=self._engine.clock.now().timestamp(),
            channels=tuple(rule.channels) if channels is None else channels,
            transport=getattr(config, "transport", None),
            tags=tuple(config.tags) if config is not None else (),
            dependants=dependants,
            sequence=sequence,
        )
        return self._enqueue(notification)

    def _enqueue(self, notification: Notification) -> bool:
        try:
            self._sink.enqueue(notification)
        except Exception as error:  # the sink is durable and never raises; if it does, try again at the next tick
            if not self._sink_failed:
                self._sink_failed = True
                self._log(f"alerts: could not queue a notification ({type(error).__name__}: {error})")
            return False
        self.sent += 1
        return True

    def _persist(self, incident: Incident) -> None:
        if self._store is not None:
            self._store.submit(incident.write())

    def _status_word(self, service: str, rule: Rule) -> str:
        status = self._statuses.get(service)
        if status is None or status is Status.UNKNOWN or status is Status.UP:
            return Status.DOWN.value if rule.when == "down" else Status.DEGRADED.value
        return status.value

    # -- configuration ------------------------------------------------------------
    def _configure(self, config: Config) -> None:
        self._settings = config.alerts or AlertsSettings()
        self._services = dict(config.services)
        self._rules = {rule.name: rule for rule in self._settings.rules}
        self._rules_for: dict[str, list[Rule]] = {
            name: [rule for rule in self._settings.rules if rule.selects(name, service.tags, service.kind)]
            for name, service in config.services.items()
        }
        self._needs, self._needed_by = edges(config.services)

    def _reconfigure(self, config: Config, at: float) -> None:
        """A reloaded config: rules are keyed by name, so open incidents of rules that still exist (and
        still select their service) go on; those of removed rules or services close (RESOLVED if sent)."""
        old_rules, old_services = self._rules, self._services
        self._configure(config)
        self._retired = {name: old_services[name] for name in old_services if name not in self._services}
        for (name, service), track in list(self._tracks.items()):
            rule = self._rules.get(name)
            if rule is not None and rule in self._rules_for.get(service, ()):
                continue
            self._close(old_rules.get(name), service, track, at, reason="no longer watched by this rule")
            del self._tracks[(name, service)]

    def _restore(self, incident: Incident) -> None:
        rule = self._rules.get(incident.rule)
        if rule is None or rule not in self._rules_for.get(incident.service, ()):
            # Its rule or service is gone from the config: close it. Its channels are unknown, so only the
            # Alertmanager ones hear it (an alert they were re-sent would otherwise be re-sent forever).
            incident.closed = self._engine.clock.now().timestamp()
            if incident.sent and not incident.quiet and incident.opening is Transition.FIRING:
                self._resolve_orphan(incident)
            self._persist(incident)
            return
        track = self._tracks.setdefault((incident.rule, incident.service), Track())
        track.incident = incident
        track.last_bad = True
        track.reason = incident.reason

    def _recall(self, incident: Incident) -> None:
        """Replay one closed incident of the last run (oldest first) into its track's flap state, so a restart
        in the middle of a flap neither says FIRING for the next reopening nor forgets to say STABLE. A
        STABLE the last run already sent has the same key, which the outbox takes once."""
        rule = self._rules.get(incident.rule)
        if rule is None or rule.flap_window is None or incident.closed is None:
            return
        if rule not in self._rules_for.get(incident.service, ()):
            return
        track = self._tracks.setdefault((incident.rule, incident.service), Track())
        if incident.opening is Transition.FLAPPING:
            track.flapping, track.reopenings = True, 0
        elif incident.quiet:
            track.flapping = True
            track.reopenings += 1
        else:
            track.flapping, track.reopenings = False, 0
        track.last_closed = incident.closed
        track.last_incident = incident.id

    def _resolve_orphan(self, incident: Incident) -> None:
        """A RESOLVED for a restored incident whose rule or service left the config, to every Alertmanager
        channel (a receiver that never had it ignores it: Alertmanager keeps a resolved alert briefly)."""
        channels = tuple(sorted(self._stateful_channels()))
        if not channels:
            return
        at = self._engine.clock.now().timestamp()
        notification = Notification(
            incident_id=incident.id,
            transition=Transition.RESOLVED,
            rule=incident.rule,
            service=incident.service,
            kind="",
            severity="",
            status=Status.UNKNOWN.value,
            previous_status=incident.status,
            reason="no longer watched by this rule",
            since=incident.opened,
            at=at,
            channels=channels,
        )
        self._enqueue(notification)

    # -- for views ----------------------------------------------------------------
    def alert_state(self, service: str) -> tuple[AlertView, ...]:
        """The rules with something to say about `service` now: firing (or held back, and why) or pending."""
        now = self._engine.clock.now().timestamp()
        views: list[AlertView] = []
        for rule in self._rules_for.get(service, ()):
            track = self._tracks.get((rule.name, service))
            if track is None:
                continue
            incident = track.incident
            if incident is not None:
                held = self._muted(service, now)
                inhibitor = self._inhibitor(rule, service)
                if held is not None:
                    state = held
                elif inhibitor is not None:
                    state = "inhibited"
                elif track.flapping:
                    state = "flapping"
                else:
                    state = "firing"
                detail = f"by {inhibitor}" if state == "inhibited" and inhibitor else ""
                views.append(AlertView(rule.name, state, incident.opened, detail))
            elif track.last_bad and track.bad_since is not None:
                if rule.for_ is not None:
                    left = max(0.0, rule.for_ - (now - track.bad_since))
                    detail = f"fires in {format_duration(left)}"
                else:
                    detail = f"{track.bad}/{rule.threshold_failures} failures"
                views.append(AlertView(rule.name, "pending", track.bad_since, detail))
        return tuple(views)
