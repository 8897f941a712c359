"""Starting alert evaluation for a running engine: the one call serve and the TUI make.

Alerts are evaluated only by the process that records the history file (it
holds the file's lock), so two processes watching one fleet never alert twice.
Any other process logs once why its alerts are off. The sink is the delivery
side's outbox; this module only decides, it never delivers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from core.alerts.dispatcher import Dispatcher
from core.alerts.evaluator import AlertEvaluator
from core.alerts.incidents import load_closed_since, load_open
from core.alerts.notification import NotificationSink
from core.alerts.silences import POLL_INTERVAL, SilencePoller
from core.engine import Engine
from core.events import ConfigReloaded, Event
from core.history.store import HistoryStore

NOT_RECORDING = "this process does not record the history file"


@dataclass
class AlertRuntime:
    evaluator: AlertEvaluator
    silences: SilencePoller
    dispatcher: Dispatcher | None = None
    """The outbox this runtime delivers through (None when the caller gave its own sink)."""

    async def aclose(self) -> None:
        """After the engine stopped: evaluate what is queued, stop the timer and the silence poller, then
        stop delivering (what is still pending stays in the outbox for the next start)."""
        await self.evaluator.aclose()
        await asyncio.to_thread(self.silences.stop)
        if self.dispatcher is not None:
            await self.dispatcher.aclose()


class _ChannelReloader:
    """A recorder that hands a reloaded config's channels to the dispatcher as the event is published,
    before the evaluator (whose worker runs later) can queue a notification for a new channel."""

    def __init__(self, engine: Engine, dispatcher: Dispatcher) -> None:
        self._engine = engine
        self._dispatcher = dispatcher

    def record(self, event: Event) -> None:
        if isinstance(event, ConfigReloaded):
            alerts = self._engine.config.alerts
            self._dispatcher.reconfigure(alerts.channels if alerts is not None else {})


FLAP_RECALL = 10
"""Closed incidents of the last this-many flap windows are read back at start: a flap's whole run, in practice."""


def _recall_since(engine: Engine) -> float | None:
    """From when closed incidents matter to flap damping (None: no rule damps flaps, nothing to read)."""
    alerts = engine.config.alerts
    windows = [rule.flap_window for rule in alerts.rules if rule.flap_window] if alerts is not None else []
    if not windows:
        return None
    return engine.clock.now().timestamp() - FLAP_RECALL * max(windows)


def alerts_off_line(why: str) -> str:
    return f"alerts are off: {why} (only the process recording the history evaluates alerts)"


async def start_alerts(
    engine: Engine,
    history: HistoryStore | None,
    sink: NotificationSink | None,
    *,
    log: Callable[[str], None],
    why_not: str = NOT_RECORDING,
    poll_interval: float = POLL_INTERVAL,
) -> AlertRuntime | None:
    """Evaluate the config's alert rules into `sink`, recording incidents into `history`.

    Call on the running loop, before `engine.start()` so no event is missed. Without a
    history this process records (None, or a read-only store), alerts are off: when the
    config has rules, `log` says so once (with `why_not`) and None is returned. With a
    history and no rules yet, the evaluator still runs, so a reload that adds rules
    takes effect. Without a sink (no outbox to deliver through) nothing is evaluated.
    """
    if history is None or not history.recording:
        if engine.config.alerts is not None and engine.config.alerts.rules:
            log(alerts_off_line(why_not))
        return None
    dispatcher: Dispatcher | None = None
    if sink is None:
        alerts = engine.config.alerts
        dispatcher = Dispatcher(
            alerts.channels if alerts is not None else {},
            store=history,
            redact=engine.config.redact,
            log=engine.log,
            clock=engine.clock,
        )
        await dispatcher.start()
        engine.add_recorder(_ChannelReloader(engine, dispatcher))
        sink = dispatcher
    restored = await asyncio.to_thread(load_open, history.path)
    since = _recall_since(engine)
    recalled = await asyncio.to_thread(load_closed_since, history.path, since) if since is not None else []
    poller = SilencePoller(history.path, interval=poll_interval, warn=log)
    await asyncio.to_thread(poller.start)
    evaluator = AlertEvaluator(
        engine, sink, store=history, restored=restored, recalled=recalled, silences=lambda: poller.current, log=log
    )
    engine.add_recorder(evaluator)
    evaluator.start()
    return AlertRuntime(evaluator, poller, dispatcher)
