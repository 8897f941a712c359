"""The daemon: the engine, its HTTP server and its log, in one event loop, stopped by Lookout's signals.

uvicorn's `Server.serve` installs its own SIGINT/SIGTERM handlers, which would
stop the HTTP server and leave the engine (and its server processes) running;
`_Server` keeps it from installing any. The daemon's `signals` table is the one
place a signal gets a meaning: SIGTERM and SIGINT stop, in order, the engine
(every probe, session and child process, and the event streams with it), then
the HTTP server (bounded by GRACE), then the log. SIGHUP reloads the config file
(core.reload: unchanged services keep running as they are; a file with errors is
refused and logged, and the fleet runs on), as does a change of the file while
`watch` is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import uvicorn

from core.collector import freeze_once_settled
from core.config import Config
from core.engine import Engine
from core.events import LogLevel
from core.reload import ConfigWatcher, reload_from_file
from core.serve import DEFAULT_HOST, DEFAULT_PORT
from core.serve.api import HistoryProvider
from core.serve.app import create_app
from core.serve.counters import MetricsRecorder
from core.serve.logs import LogWriter, note
from core.serve.metrics import MetricsFrame
from core.serve.scrape import ScrapeCache

if TYPE_CHECKING:
    from core.alerts.health import NotificationStats
    from core.alerts.notification import NotificationSink
    from core.alerts.overview import AlertsOverview
    from core.alerts.runtime import AlertRuntime
    from core.history import HistoryRecorder, HistoryStore

GRACE = 3.0
"""Seconds open HTTP requests get to finish once the daemon stops."""
LOG_QUEUE = 10_000
"""Events the log may have unwritten before it loses some (and says how many)."""


class ListenError(ValueError):
    """--listen is not HOST:PORT."""


@dataclass(frozen=True, slots=True)
class Listen:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, text: str) -> Listen:
        """`HOST:PORT`, `[IPv6]:PORT`, or `:PORT` (loopback). Port 0 takes any free port."""
        host, sep, port_text = text.rpartition(":")
        if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ListenError(f"--listen {text!r}: expected HOST:PORT, e.g. {DEFAULT_HOST}:{DEFAULT_PORT}")
        host = host.removeprefix("[").removesuffix("]") or DEFAULT_HOST
        return cls(host, int(port_text))

    def url(self, port: int | None = None) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port if port is None else port}"


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: the daemon's are in charge."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(listen: Listen) -> socket.socket:
    """The listening socket, bound before anything starts, so a taken port is a clear error and port 0 works."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((listen.host, listen.port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class Daemon:
    """`lookout serve`: construct, then `await run()` until a stop signal (or `stop()`)."""

    def __init__(
        self,
        config: Config,
        *,
        listen: Listen | None = None,
        token: str | None = None,
        log_format: str = "plain",
        stream: TextIO | None = None,
        history: HistoryProvider | None = None,
        record_into: HistoryStore | None = None,
        watch: bool = True,
        alert_sink: NotificationSink | None = None,
        alerts_off: str | None = None,
        freeze_after_start: bool = False,
    ) -> None:
        """`record_into`: the history file this daemon records into (it holds its lock): the rings start from
        it, every event goes into it, and the status API reads summaries from it unless `history` says
        otherwise. `watch`: reload when the config file changes (SIGHUP reloads either way).
        `alert_sink`: where alert notifications go (the outbox); alerts are evaluated only when this daemon
        records the history, else one log line says why they are off (`alerts_off`). `freeze_after_start`:
        `gc.freeze()` once started and once the fleet settled (core.collector), a process-wide setting, so only
        `lookout serve` (which owns its process) asks for it, never a program embedding a Daemon."""
        self.freeze_after_start = freeze_after_start
        self.config_path: Path | None = config.path
        self.engine = Engine(config)
        self.counts = MetricsRecorder()
        self.engine.add_recorder(self.counts)
        self.listen = listen or Listen()
        self.history = history if history is not None else record_into
        self.record_into = record_into
        self._recorder: HistoryRecorder | None = None
        self.alert_sink = alert_sink
        self._alerts_off = alerts_off
        self.alerts: AlertRuntime | None = None
        self.log = LogWriter(stream or sys.stdout, log_format)
        self.signals: dict[signal.Signals, Callable[[], None]] = {
            signal.SIGTERM: partial(self.stop, "SIGTERM"),
            signal.SIGINT: partial(self.stop, "SIGINT"),
            signal.SIGHUP: self.request_reload,
        }
        """What each signal does while `run` runs."""
        self.alert_stats: Callable[[], NotificationStats] | None = None
        """The alert dispatcher's `stats` when this daemon delivers alerts: /metrics shows them."""
        self.port: int | None = None
        """The port actually bound (with --listen HOST:0, the one the system chose)."""
        self.failed = False
        """True when `run` ended because the HTTP server stopped, not because it was asked to."""
        self._token = token
        self._stop = asyncio.Event()
        self._watcher = ConfigWatcher(self.config_path, self._reload) if watch and self.config_path else None
        self._reloads: set[asyncio.Task[object]] = set()

    def request_reload(self) -> None:
        """SIGHUP: reload the config file now, in the background (reloads run one at a time)."""
        if self.config_path is None or self._stop.is_set():
            return
        self.log.write(note("SIGHUP: reloading the config"))
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(self._reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload(self) -> object:
        """What the reload did (logged by the engine as a `config reloaded` line), or why it was refused."""
        return await reload_from_file(self.engine, self.config_path)

    def stop(self, why: str = "") -> None:
        """Ask `run` to stop (idempotent); it returns once everything is released."""
        if not self._stop.is_set() and why:
            self.log.write(note(f"{why}: stopping"))
        self._stop.set()

    async def run(self) -> None:
        """Serve until stopped. Raises OSError before starting anything if the address cannot be bound."""
        sock = bind(self.listen)
        self.port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        started = loop.time()
        scrapes = ScrapeCache(
            lambda: MetricsFrame(
                self.engine.snapshot(), self.counts.copy(), self.alert_stats() if self.alert_stats else None
            )
        )
        app = create_app(
            self.engine,
            scrapes,
            running_for=lambda: loop.time() - started,
            token=self._token,
            history=self.history,
            alerts=self.alerts_overview,
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=int(GRACE),
        )
        server = _Server(config)
        printer = asyncio.create_task(self.log.follow(self.engine.subscribe(maxsize=LOG_QUEUE)))
        for signum, handler in self.signals.items():
            loop.add_signal_handler(signum, handler)
        serving: asyncio.Task[None] | None = None
        freezing: asyncio.Task[None] | None = None
        try:
            self._log_config()
            if self.record_into is not None:
                from core.history.recording import attach_history

                self._recorder = await attach_history(self.engine, self.record_into)
                if self.record_into.lock is not None:  # a monitor opened on this file can find the daemon
                    self.record_into.lock.set_address(self.listen.url(self.port))
            # Always (not only when the config has rules): a reload that adds an `alerts:` block takes effect.
            from core.alerts.runtime import NOT_RECORDING, start_alerts

            self.alerts = await start_alerts(
                self.engine,
                self.record_into,
                self.alert_sink,
                log=self._note,
                why_not=self._alerts_off or NOT_RECORDING,
            )
            if self.alerts is not None and self.alerts.dispatcher is not None:
                self.alert_stats = self.alerts.dispatcher.stats
            await self.engine.start()
            if self.freeze_after_start:
                # What the daemon built to start, and what each service's first probe opened, lives as long as
                # it does: out of the cyclic collector's sight (core.collector).
                freezing = asyncio.create_task(freeze_once_settled(self.engine), name="lookout:gc-freeze")
            if self._watcher is not None:
                self._watcher.start()
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            self.log.write(note(f"listening on {self.listen.url(self.port)}"))
            stopping = asyncio.create_task(self._stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if serving.done() and not self._stop.is_set():
                self.failed = True
                self.log.write(note("the HTTP server stopped on its own: stopping", level=LogLevel.ERROR))
        finally:
            if freezing is not None:
                freezing.cancel()
                await asyncio.gather(freezing, return_exceptions=True)
            if self._watcher is not None:
                await self._watcher.stop()
            for reload in list(self._reloads):
                reload.cancel()
            await asyncio.gather(*self._reloads, return_exceptions=True)
            await self.engine.stop()  # ends every event stream too, so open /api/v1/events requests finish
            if self.alerts is not None:
                await self.alerts.aclose()  # its last incident writes go in before the recorder's final flush
            if self._recorder is not None:
                await self._recorder.aclose()  # the last events are written before the file is closed
            await scrapes.aclose()
            server.should_exit = True
            if serving is not None:
                await asyncio.gather(serving, return_exceptions=True)
            await printer
            sock.close()
            for signum in self.signals:
                loop.remove_signal_handler(signum)
            self.log.write(note("stopped"))

    def alerts_overview(self) -> AlertsOverview:
        """What /api/v1/alerts shows: this daemon's channels, notifications and alert states, or why it has none."""
        from core.alerts.overview import build_overview
        from core.alerts.runtime import NOT_RECORDING, alerts_off_line

        off = alerts_off_line(self._alerts_off or NOT_RECORDING)
        return build_overview(self.alerts, self.engine.names, off=off)

    def _note(self, message: str) -> None:
        self.log.write(note(message))

    def _log_config(self) -> None:
        """What is monitored, as the snapshot names it: targets are masked there (no secret reaches a log)."""
        snapshot = self.engine.snapshot()
        self.log.write(note(f"config {self.config_path}: {len(snapshot.services)} services"))
        for warning in self.engine.config.warnings:
            self.log.write(note(str(warning), level=LogLevel.WARNING))
        for service in snapshot.services:
            kind = f"{service.kind}/{service.transport}" if service.transport else service.kind
            self.log.write(note(f"{service.name}: {kind} {service.target}"))
