"""The dispatcher: the outbox's sink on one side, every channel's deliveries on the other.

`enqueue` (the evaluator's `NotificationSink`) returns at once: it submits one
pending row per channel to the history writer (durable within its 1 s batch)
and puts the same delivery on the channel's in-memory lane, so delivery never
waits for a commit. Each channel has one lane worked by one task, strictly in
order (a "resolved" never overtakes its "firing"): its head is delivered through
the channel's breaker and retries (core.alerts.delivery); a failed round leaves
it pending and tries again after a growing backoff (capped at BACKOFF_CAP), for
as long as the retention. A notification that could not be delivered when it
was decided (it failed a round, waited behind one that did, was decided while
its channel was failing, or was left by the previous run) is marked late, in its
row and in what is sent (`late: true`).

Alertmanager lanes also keep the incidents whose firing alert was delivered and
not yet resolved, and re-send them every `resend`; those are marked in the
outbox, so after a restart the resends resume at once, and pending rows of the
previous run are delivered (late). Delivery is at-least-once: a row delivered
but not yet committed when Lookout was killed is delivered again after the
restart, with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeGuard

from core.alerts.channels import Channel, build_channel
from core.alerts.channels.settings import ChannelBase
from core.alerts.delivery import ChannelGuard, RoundResult, round_backoff
from core.alerts.health import ChannelHealth, DeliveryView, NotificationRecord, NotificationStats
from core.alerts.notification import Notification, Transition
from core.alerts.outbox import (
    ABANDONED,
    DELIVERED,
    PENDING,
    Attempted,
    Delivered,
    Enqueued,
    Pruned,
    StoredOutbox,
    read_outbox,
)
from core.breaker import HALF_OPEN, OPEN
from core.clock import Clock, SystemClock
from core.events import LogLevel
from core.history.rows import Write
from core.history.store import HistoryStore
from core.wake import Wake

if TYPE_CHECKING:
    from core.alerts.channels.alertmanager import Alertmanager

BACKOFF_BASE = 5.0
"""Seconds before the second round of an undelivered notification; doubled each round after."""
BACKOFF_CAP = 300.0
DEFAULT_RETENTION = 30 * 86400.0
"""Delivered rows are kept this long (the record `recent` and the TUI read); pending ones are given up after it."""
PRUNE_EVERY = 3600.0
RECENT_KEEP = 200

Log = Callable[[LogLevel, str], None]


def _no_log(level: LogLevel, text: str) -> None:
    return None


def _alertmanager(channel: Channel) -> TypeGuard[Alertmanager]:
    """Whether `channel` is an Alertmanager one (it keeps firing alerts and re-sends them), asked without
    importing that module: a class never loaded has no instances, and a daemon with no Alertmanager channel
    never loads it (nor httpx2, which it posts with)."""
    module = sys.modules.get("core.alerts.channels.alertmanager")
    return module is not None and isinstance(channel, module.Alertmanager)


@dataclass
class _Delivery:
    notification: Notification
    channel: str
    created: float
    state: str = PENDING
    attempts: int = 0
    rounds: int = 0
    due: float = 0.0
    """On the clock's monotonic scale: when the next round may run."""
    delivered_at: float | None = None
    late: bool = False
    last_error: str = ""

    def view(self) -> DeliveryView:
        return DeliveryView(self.channel, self.state, self.attempts, self.delivered_at, self.late, self.last_error)


@dataclass
class _Lane:
    settings: ChannelBase
    channel: Channel
    guard: ChannelGuard
    queue: deque[_Delivery] = field(default_factory=deque)
    wake: Wake = field(default_factory=Wake)
    firing: dict[str, Notification] = field(default_factory=dict)
    """Alertmanager: incident id -> its firing notification, re-sent until resolved."""
    resend_due: float | None = None
    last_error: str = ""
    last_success: float | None = None
    last_failure: float | None = None
    failing: bool = False


class Dispatcher:
    """Implements `NotificationSink`. Construct, `await start()`, `enqueue(...)` from the loop, `await aclose()`."""

    def __init__(
        self,
        channels: Mapping[str, ChannelBase],
        store: HistoryStore | None = None,
        *,
        redact: Callable[[str], str] = str,
        log: Log = _no_log,
        clock: Clock | None = None,
        retention: float = DEFAULT_RETENTION,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        retry_initial: float | None = None,
    ) -> None:
        """`store`: the history file this process records into (None: deliveries live in memory only).
        `log`: one line per delivery outcome (the engine's `log`, so the daemon's log and the TUI show it)."""
        self._clock = clock or SystemClock()
        self._store = store
        self._log = log
        self._retention = retention
        self._backoff = (backoff_base, backoff_cap)
        self._redact = redact
        self._retry_initial = retry_initial
        self._lanes: dict[str, _Lane] = {name: self._lane(name, settings) for name, settings in channels.items()}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closers: set[asyncio.Task[None]] = set()
        self._recent: OrderedDict[str, tuple[Notification, dict[str, _Delivery]]] = OrderedDict()
        self._counts: dict[tuple[str, str], int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._closing = False

    # -- the sink ------------------------------------------------------------------------------
    def enqueue(self, notification: Notification) -> None:
        """Queue `notification` for each of its channels: durable (a pending row), and at once in memory."""
        body = json.dumps(notification.to_json(), separators=(",", ":"))
        now = self._clock.now().timestamp()
        for name in dict.fromkeys(notification.channels):
            lane = self._lanes.get(name)
            if lane is None:
                self._log(LogLevel.WARNING, f"alert {notification.key}: no channel named {name!r}")
                continue
            if not lane.channel.accepts(notification) or self._known(notification.key, name):
                continue
            # Decided while its channel fails: it will not arrive when decided, whatever happens next.
            delivery = _Delivery(notification, name, now, due=self._clock.monotonic(), late=lane.failing)
            self._submit(
                Enqueued(notification.key, name, notification.incident_id, notification.transition.value, body, now)
            )
            self._remember(delivery)
            lane.queue.append(delivery)
            lane.wake.set()

    # -- life ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Read what the previous run left (pending rows, firing Alertmanager alerts), then start delivering."""
        if self._started:
            return
        self._started = True
        if self._store is not None and self._store.recording:
            self._submit(Pruned(self._clock.now().timestamp() - self._retention))
            await asyncio.to_thread(self._store.flush)
            try:
                stored = await asyncio.to_thread(read_outbox, self._store.path, RECENT_KEEP)
            except sqlite3.Error as error:
                self._log(LogLevel.ERROR, f"alerts: the outbox could not be read ({error}); nothing resumed")
            else:
                self._resume(stored)
        for name in self._lanes:
            self._start_worker(name)
        if self._store is not None:
            self._tasks.append(asyncio.create_task(self._prune(), name="alerts:prune"))

    def _resume(self, stored: StoredOutbox) -> None:
        """Take over the previous run's rows; what this run enqueued already (before `start`) stays as it is."""
        fresh = {(item.notification.key, item.channel) for lane in self._lanes.values() for item in lane.queue}
        for row in reversed(stored.recent):
            if (row.notification.key, row.channel) not in fresh:
                self._remember(
                    _Delivery(
                        row.notification,
                        row.channel,
                        row.created,
                        state=row.state,
                        attempts=row.attempts,
                        delivered_at=row.delivered_at,
                        late=row.late,
                        last_error=row.last_error,
                    )
                )
        now = self._clock.monotonic()
        waiting: dict[str, list[_Delivery]] = {}
        for row in stored.pending:
            if row.channel not in self._lanes or (row.notification.key, row.channel) in fresh:
                continue
            delivery = self._delivery(row.notification.key, row.channel)
            if delivery is None:  # older than the recent ones read: listed again as it is delivered
                delivery = _Delivery(row.notification, row.channel, row.created)
                self._remember(delivery)
            delivery.state, delivery.attempts, delivery.late, delivery.due = PENDING, row.attempts, True, now
            delivery.last_error = row.last_error
            waiting.setdefault(row.channel, []).append(delivery)
        for key, _ in fresh:
            self._recent.move_to_end(key)  # this run's own stay the newest
        for name, rows in waiting.items():
            lane = self._lanes[name]
            lane.queue = deque([*rows, *lane.queue])
            lane.wake.set()
        for row in stored.firing:
            target = self._lanes.get(row.channel)
            if target is not None and _alertmanager(target.channel):
                target.firing[row.notification.incident_id] = row.notification
                target.resend_due = now
                target.wake.set()
        resumed = sum(len(rows) for rows in waiting.values())
        if resumed or stored.firing:
            self._log(
                LogLevel.INFO,
                f"alerts: {resumed} undelivered notifications from before the restart, "
                f"{len(stored.firing)} firing Alertmanager alerts resumed",
            )

    async def aclose(self) -> None:
        """Stop delivering (pending rows stay in the outbox for the next start) and close the channels."""
        self._closing = True
        tasks = [*self._tasks, *self._workers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._closers, return_exceptions=True)
        self._tasks.clear()
        self._workers.clear()
        for lane in self._lanes.values():
            with contextlib.suppress(Exception):
                await lane.channel.aclose()

    def reconfigure(self, channels: Mapping[str, ChannelBase]) -> None:
        """Take a reloaded config's channels (call on the event loop).

        An unchanged channel keeps everything (its lane, breaker, firing alerts). A changed one gets a new
        channel and breaker but keeps its queue and firing alerts (a delivery cut short is sent again: at
        least once). A removed one stops; its pending rows stay in the outbox, delivered if a later config
        (or the next start) names it again. A new one starts empty.
        """
        for name in [name for name in self._lanes if name not in channels]:
            self._retire(self._lanes.pop(name))
        for name, settings in channels.items():
            old = self._lanes.get(name)
            if old is not None and old.settings == settings:
                continue
            lane = self._lane(name, settings)
            if old is not None:
                self._retire(old)
                lane.queue = deque(item for item in old.queue if lane.channel.accepts(item.notification))
                if _alertmanager(lane.channel):
                    lane.firing, lane.resend_due = old.firing, old.resend_due
            self._lanes[name] = lane
            if self._started and not self._closing:
                self._start_worker(name)

    def _lane(self, name: str, settings: ChannelBase) -> _Lane:
        options = {} if self._retry_initial is None else {"retry_initial": self._retry_initial}
        return _Lane(
            settings,
            build_channel(name, settings, self._redact, self._clock.now),
            ChannelGuard(name, settings, self._clock, **options),
        )

    def _start_worker(self, name: str) -> None:
        self._workers[name] = asyncio.create_task(self._work(self._lanes[name]), name=f"alerts:{name}")

    def _retire(self, lane: _Lane) -> None:
        """Stop a lane's worker and close its channel, in the background."""
        worker = self._workers.pop(lane.channel.name, None)
        if worker is not None:
            worker.cancel()  # now, not in the background: it must not finish a delivery its successor retries

        async def close() -> None:
            if worker is not None:
                await asyncio.gather(worker, return_exceptions=True)
            with contextlib.suppress(Exception):
                await lane.channel.aclose()

        if self._started:
            task = asyncio.get_running_loop().create_task(close())
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    # -- the lanes -----------------------------------------------------------------------------
    async def _work(self, lane: _Lane) -> None:
        while not self._closing:
            now = self._clock.monotonic()
            if lane.resend_due is not None and lane.firing and now >= lane.resend_due:
                await self._resend(lane)
                continue
            head = lane.queue[0] if lane.queue else None
            if head is not None and now >= head.due:
                await self._deliver(lane, head)
                continue
            waits = [head.due] if head is not None else []
            if lane.firing and lane.resend_due is not None:
                waits.append(lane.resend_due)
            lane.wake.clear()
            await self._clock.wait(lane.wake, (min(waits) - now) if waits else 3600.0)

    async def _deliver(self, lane: _Lane, delivery: _Delivery) -> None:
        notification = delivery.notification
        late = delivery.late
        result = await lane.guard.run(lambda: lane.channel.send(notification, late=late))
        delivery.attempts += result.attempts
        self._count(lane, "retried", max(0, result.attempts - 1))
        now = self._clock.now().timestamp()
        if result.error is None:
            with contextlib.suppress(ValueError):
                lane.queue.remove(delivery)
            delivery.state, delivery.delivered_at, delivery.late, delivery.last_error = DELIVERED, now, late, ""
            firing = _alertmanager(lane.channel) and notification.transition is Transition.FIRING
            resolves = notification.incident_id if notification.transition is Transition.RESOLVED else None
            self._submit(Delivered(notification.key, delivery.channel, now, delivery.attempts, late, firing, resolves))
            self._succeeded(lane, now)
            self._count(lane, "delivered")
            if _alertmanager(lane.channel):
                self._track_firing(lane, lane.channel, notification)
            shown_late = " (late)" if late else ""
            self._log(
                LogLevel.INFO,
                f"alert {delivery.channel}: delivered {notification.key}{shown_late} in {result.elapsed * 1000:.0f} ms",
            )
            return
        delivery.rounds += 1
        for waiting in lane.queue:  # everything behind it waits too: none of it arrives when it was decided
            waiting.late = True
        wait = self._next_wait(delivery.rounds)
        delivery.due = self._clock.monotonic() + wait
        delivery.last_error = result.error
        self._submit(Attempted(notification.key, delivery.channel, delivery.attempts, now + wait, result.error))
        self._failed(lane, now, result)
        level = LogLevel.DEBUG if result.refused else LogLevel.WARNING
        self._log(
            level,
            f"alert {delivery.channel}: {notification.key} not delivered ({result.error}); next try in {wait:.0f}s",
        )

    def _track_firing(self, lane: _Lane, channel: Alertmanager, notification: Notification) -> None:
        if notification.transition is Transition.FIRING:
            lane.firing[notification.incident_id] = notification
            if lane.resend_due is None:
                lane.resend_due = self._clock.monotonic() + channel.resend_every
        elif notification.transition is Transition.RESOLVED:
            lane.firing.pop(notification.incident_id, None)
        if not lane.firing:
            lane.resend_due = None

    async def _resend(self, lane: _Lane) -> None:
        channel = lane.channel
        assert _alertmanager(channel)
        firing = list(lane.firing.values())
        result = await lane.guard.run(lambda: channel.resend(firing))
        self._count(lane, "retried", max(0, result.attempts - 1))
        now = self._clock.now().timestamp()
        lane.resend_due = self._clock.monotonic() + channel.resend_every
        if result.error is None:
            self._succeeded(lane, now)
            self._count(lane, "resent")
            return
        self._failed(lane, now, result)
        self._log(
            LogLevel.DEBUG if result.refused else LogLevel.WARNING,
            f"alert {channel.name}: resend of {len(firing)} firing alerts failed ({result.error})",
        )

    def _next_wait(self, rounds: int) -> float:
        return round_backoff(rounds, *self._backoff)

    def _succeeded(self, lane: _Lane, now: float) -> None:
        lane.last_success, lane.failing, lane.last_error = now, False, ""

    def _failed(self, lane: _Lane, now: float, result: RoundResult) -> None:
        if result.refused:
            self._count(lane, "refused")
            return
        lane.last_failure, lane.failing, lane.last_error = now, True, result.error or ""
        self._count(lane, "failed")

    async def _prune(self) -> None:
        while not self._closing:
            await self._clock.sleep(PRUNE_EVERY)
            before = self._clock.now().timestamp() - self._retention
            self._submit(Pruned(before))
            for lane in self._lanes.values():
                stale = [item for item in lane.queue if item.created < before]
                for item in stale:
                    item.state = ABANDONED
                    lane.queue.remove(item)
                    self._log(LogLevel.ERROR, f"alert {item.channel}: gave up on {item.notification.key}")

    # -- bookkeeping -------------------------------------------------------------------------
    def _submit(self, op: Write) -> None:
        if self._store is not None:
            self._store.submit(op)

    def _count(self, lane: _Lane, result: str, n: int = 1) -> None:
        if n:
            key = (lane.channel.name, result)
            self._counts[key] = self._counts.get(key, 0) + n

    def _remember(self, delivery: _Delivery) -> None:
        key = delivery.notification.key
        entry = self._recent.get(key)
        if entry is None:
            entry = self._recent[key] = (delivery.notification, {})
        entry[1][delivery.channel] = delivery
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_KEEP:
            self._recent.popitem(last=False)

    def _delivery(self, key: str, channel: str) -> _Delivery | None:
        entry = self._recent.get(key)
        return entry[1].get(channel) if entry else None

    def _known(self, key: str, channel: str) -> bool:
        return self._delivery(key, channel) is not None or any(
            item.notification.key == key for item in self._lanes[channel].queue
        )

    # -- what views read ---------------------------------------------------------------------
    def recent(self, n: int = 20) -> list[NotificationRecord]:
        """The last `n` notifications, newest first, each with its outcome per channel."""
        records = []
        for notification, deliveries in reversed(self._recent.values()):
            views = tuple(item.view() for item in deliveries.values())
            records.append(NotificationRecord(notification, views))
            if len(records) >= n:
                break
        return records

    def channel_health(self) -> dict[str, ChannelHealth]:
        health = {}
        for name, lane in self._lanes.items():
            breaker = lane.guard.breaker.snapshot()
            state = "open" if breaker.state in (OPEN, HALF_OPEN) else "failing" if lane.failing else "ok"
            health[name] = ChannelHealth(
                name=name,
                type=lane.channel.type,
                state=state,
                last_error=lane.last_error,
                last_success=lane.last_success,
                last_failure=lane.last_failure,
                pending=len(lane.queue),
                firing=len(lane.firing),
                breaker=breaker,
            )
        return health

    def stats(self) -> NotificationStats:
        """Counts since start and the pending backlog: what `/metrics` renders."""
        return NotificationStats(
            counts=dict(self._counts), pending={name: len(lane.queue) for name, lane in self._lanes.items()}
        )
