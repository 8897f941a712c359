"""The daemon's HTTP routes, as a Starlette app over a running engine.

Every handler reads: a snapshot, the metrics cache, or a view of the event
stream. None waits on a probe, and the one expensive thing, rendering /metrics,
runs in a worker thread (core.serve.scrape), so a scrape of a large fleet never
delays the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from core.alerts.overview import AlertsOverview
from core.engine import Engine
from core.sanitize import NAME_LIMIT, clean_line
from core.serve.api import (
    HistoryProvider,
    alerts_document,
    event_json,
    fleet_document,
    service_document,
    status_document,
)
from core.serve.auth import BearerAuth, LoopbackGuard
from core.serve.readiness import waiting_for
from core.serve.scrape import ScrapeCache, accepts_gzip

EVENTS_QUEUE = 1000
"""Events one /api/v1/events client may have unread before it loses some (and gets a resync)."""
KEEPALIVE = 15.0
"""Seconds between SSE comments on a quiet stream, so proxies keep it open and a gone client is noticed."""


def create_app(
    engine: Engine,
    scrapes: ScrapeCache,
    *,
    running_for: Callable[[], float],
    token: str | None = None,
    history: HistoryProvider | None = None,
    alerts: Callable[[], AlertsOverview] | None = None,
) -> ASGIApp:
    """The routes over `engine`; `running_for()` is seconds since the daemon started (for /readyz);
    `alerts()` reads the alerting side now (None: this app has none, /api/v1/alerts says alerts are off)."""

    async def metrics(request: Request) -> Response:
        rendered = await scrapes.get(request.headers.get("accept", ""))
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            return Response(rendered.gzipped, media_type=rendered.content_type, headers=headers)
        body = await asyncio.to_thread(lambda: rendered.body)
        return Response(body, media_type=rendered.content_type, headers={"Vary": "Accept-Encoding"})

    async def status(request: Request) -> Response:
        return _json(status_document(engine.snapshot()))

    async def service(request: Request) -> Response:
        name = request.path_params["name"]
        # Off the loop: the history summary is a SQLite read.
        document = await asyncio.to_thread(service_document, engine.snapshot(), name, history)
        if document is None:
            return _json({"error": f"no service named {clean_line(name, NAME_LIMIT)}"}, 404)
        return _json(document)

    async def alerts_overview(request: Request) -> Response:
        overview = alerts() if alerts is not None else AlertsOverview(off="this server evaluates no alerts")
        return _json(alerts_document(overview, engine.clock.now()))

    async def events(request: Request) -> Response:
        return StreamingResponse(_event_stream(engine), media_type="text/event-stream", headers=_NO_CACHE)

    async def fleet(request: Request) -> Response:
        """`?recent=1` adds each service's newest results. Built off the loop from a frozen snapshot, and
        compact: a monitor re-reads it whenever something happened, and a large fleet's is large."""
        snapshot, recent = engine.snapshot(), request.query_params.get("recent") in ("1", "true")
        return await asyncio.to_thread(lambda: _json(fleet_document(snapshot, recent=recent), compact=True))

    async def probe_all(request: Request) -> Response:
        engine.probe_now(None)
        return _json({"probing": engine.names})

    async def act(request: Request) -> Response:
        """Probe now, pause, resume or reset one service: what the monitor's keys do, from another process."""
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in _ACTIONS:
            return _json({"error": f"no action {clean_line(action, NAME_LIMIT)}"}, 404)
        if name not in engine.names:
            return _json({"error": f"no service named {clean_line(name, NAME_LIMIT)}"}, 404)
        getattr(engine, _ACTIONS[action])(name)
        service = engine.snapshot().get(name)
        return _json({"service": name, "action": action, "paused": bool(service and service.paused)})

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        waiting = waiting_for(engine.snapshot(), engine.config, running_for())
        if waiting:
            return _json({"ready": False, "waiting_for": waiting}, 503)
        return _json({"ready": True})

    app = Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/api/v1/status", status),
            Route("/api/v1/fleet", fleet),
            Route("/api/v1/probe", probe_all, methods=["POST"]),
            Route("/api/v1/services/{name:path}/{action:str}", act, methods=["POST"]),
            Route("/api/v1/services/{name:path}", service),
            Route("/api/v1/events", events),
            Route("/api/v1/alerts", alerts_overview),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )
    # Without a token the daemon is on loopback (core.serve.auth.require_token): keep web pages out.
    return BearerAuth(app, token) if token is not None else LoopbackGuard(app)


_ACTIONS = {"probe": "probe_now", "pause": "pause", "resume": "resume", "reset": "reset_breaker"}
"""The action routes' last segment -> the engine method it calls."""
_NO_CACHE = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _json(document: Any, status_code: int = 200, *, compact: bool = False) -> Response:
    if compact:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    else:
        body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(body + "\n", status_code=status_code, media_type="application/json")


async def _event_stream(engine: Engine) -> AsyncIterator[str]:
    """A snapshot to start from, then every event after it (ids are seqs), or a resync where some were lost.

    Each client is a bounded view: a client that reads slowly loses events,
    never the engine's time, and is told so with a `resync` carrying a fresh
    status document. The stream ends when the engine stops.
    """
    view = engine.subscribe(maxsize=EVENTS_QUEUE)
    try:
        snapshot = view.take_start()
        start = {"seq": snapshot.seq, "status": status_document(snapshot)}
        del snapshot  # not held while the stream lasts (see ViewSubscription.take_start)
        yield _sse("snapshot", start, view.seq)
        while True:
            try:
                item = await asyncio.wait_for(view.get(), KEEPALIVE)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            except StopAsyncIteration:
                return
            name, data = event_json(item)
            seq = data["seq"] if isinstance(data.get("seq"), int) else None
            yield _sse(name, data, seq)
    finally:
        with contextlib.suppress(Exception):
            view.close()


def _sse(name: str, data: dict[str, Any], seq: int | None) -> str:
    ident = f"id: {seq}\n" if seq is not None else ""
    return f"{ident}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
