"""A loopback HTTP API with every behaviour a monitor must handle, for the tests and `lookout demo`.

Each route takes a `key` path segment that isolates one test's (or one demo
service's) counters and quota, and every request is recorded, so tests prove
claims from the server's own counts ("the open breaker sent nothing").

    /ok/{key}                              200 {"status": "ok"}
    /fail/{key}?times=N                    500 for the first N requests, then 200
    /status/{key}/{code}[?retry_after=V][&reset=EPOCH]   that status, with Retry-After V, or a GitHub quota
                                           at zero that resets at EPOCH (servers asking for a wait of any length)
    /quota/{key}?limit=L&window=W          IETF RateLimit fields; 429 + Retry-After at zero
    /github/{key}/rate_limit?limit=L&window=W[&used=U]   GitHub X-RateLimit-* and /rate_limit body; 403 at zero
    /openai/{key}?limit=L&window=W         x-ratelimit-*-requests/tokens, "6m0s" resets; 429 at zero
    /hang/{key}                            never answers
    /slow/{key}?ms=N                       answers after N ms
    /badjson/{key}                         200 with a truncated JSON body
    /flap/{key}?up=S&down=S                healthy for `up` seconds, 503 for `down` seconds, repeat
    /degrading/{key}?period=S&max_ms=M     latency climbs to M ms over S seconds, then recovers
    /echo/{key}                            the request headers, as JSON
    /_control/counts                       every counter
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Window:
    """A fixed quota window that starts with its first request."""

    limit: int
    length: float
    started: float
    used: int = 0

    def roll(self, now: float) -> None:
        if now >= self.started + self.length:
            self.started, self.used = now, 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def seconds_left(self, now: float) -> float:
        return max(0.0, self.started + self.length - now)


@dataclass
class Recorder:
    """Thread-safe request log: the server runs in its own thread, tests read from theirs."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def record(self, route: str, key: str) -> int:
        with self.lock:
            now = time.monotonic()
            self.arrivals[(route, key)].append(now)
            self.first_seen.setdefault((route, key), now)
            return len(self.arrivals[(route, key)])

    def count(self, route: str, key: str) -> int:
        with self.lock:
            return len(self.arrivals.get((route, key), ()))

    def times(self, route: str, key: str) -> list[float]:
        with self.lock:
            return list(self.arrivals.get((route, key), ()))

    def since_first(self, route: str, key: str) -> float:
        with self.lock:
            return time.monotonic() - self.first_seen.get((route, key), time.monotonic())

    def window(self, route: str, key: str, limit: int, length: float, first_used: int = 0) -> Window:
        """The key's window, rolled forward. `first_used`: quota already spent in the very first window
        (as when Lookout starts while other clients share the token)."""
        with self.lock:
            now = time.monotonic()
            window = self.windows.get((route, key))
            if window is None or window.limit != limit or window.length != length:
                window = self.windows[(route, key)] = Window(limit, length, now, used=min(first_used, limit))
            window.roll(now)
            return window

    def spend(self, window: Window) -> bool:
        with self.lock:
            if window.remaining <= 0:
                return False
            window.used += 1
            return True


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        return default


def _float(request: Request, name: str, default: float) -> float:
    try:
        return float(request.query_params.get(name, default))
    except ValueError:
        return default


def create_http_api() -> Starlette:
    recorder = Recorder()

    def key_of(request: Request, route: str) -> str:
        key: str = request.path_params.get("key", "")
        recorder.record(route, key)
        return key

    async def ok(request: Request) -> Response:
        key_of(request, "ok")
        return JSONResponse({"status": "ok"})

    async def fail(request: Request) -> Response:
        key = request.path_params["key"]
        count = recorder.record("fail", key)
        if count <= _int(request, "times", 1):
            return JSONResponse({"status": "failing", "attempt": count}, status_code=500)
        return JSONResponse({"status": "ok"})

    async def status(request: Request) -> Response:
        key_of(request, "status")
        code = int(request.path_params["code"])
        headers = {}
        if "retry_after" in request.query_params:
            headers["Retry-After"] = request.query_params["retry_after"]
        if "reset" in request.query_params:
            # GitHub-style headers with nothing left, resetting at the epoch given (however far away).
            headers |= {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"}
            headers["X-RateLimit-Reset"] = request.query_params["reset"]
        return JSONResponse({"status": code}, status_code=code, headers=headers)

    async def quota(request: Request) -> Response:
        key = key_of(request, "quota")
        limit, length = _int(request, "limit", 10), _float(request, "window", 60)
        window = recorder.window("quota", key, limit, length)
        now = time.monotonic()
        reset = math.ceil(window.seconds_left(now))
        policy = {"RateLimit-Policy": f'"default";q={limit};w={int(length)}'}
        if not recorder.spend(window):
            return JSONResponse(
                {"error": "too many requests"},
                status_code=429,
                headers={**policy, "RateLimit": f'"default";r=0;t={reset}', "Retry-After": str(max(1, reset))},
            )
        return JSONResponse(
            {"status": "ok"}, headers={**policy, "RateLimit": f'"default";r={window.remaining};t={reset}'}
        )

    async def github(request: Request) -> Response:
        key = key_of(request, "github")
        limit, length = _int(request, "limit", 60), _float(request, "window", 3600)
        window = recorder.window("github", key, limit, length, _int(request, "used", 0))
        now = time.monotonic()
        reset_epoch = int(time.time() + window.seconds_left(now)) + 1
        allowed = recorder.spend(window)
        core = {"limit": limit, "remaining": window.remaining, "used": window.used, "reset": reset_epoch}
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(window.remaining),
            "X-RateLimit-Used": str(window.used),
            "X-RateLimit-Reset": str(reset_epoch),
            "X-RateLimit-Resource": "core",
        }
        if not allowed:
            return JSONResponse(
                {
                    "message": "API rate limit exceeded for 127.0.0.1.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
                status_code=403,
                headers=headers,
            )
        hour = int(time.time()) + 3600
        body = {
            "resources": {
                "core": core,
                "search": {"limit": 30, "remaining": 30, "used": 0, "reset": int(time.time()) + 60},
                "graphql": {"limit": 5000, "remaining": 4990, "used": 10, "reset": hour},
            },
            "rate": core,
        }
        return JSONResponse(body, headers=headers)

    async def openai(request: Request) -> Response:
        key = key_of(request, "openai")
        limit, length = _int(request, "limit", 60), _float(request, "window", 360)
        window = recorder.window("openai", key, limit, length)
        now = time.monotonic()
        left = window.seconds_left(now)
        allowed = recorder.spend(window)
        tokens_limit = 40000
        tokens_left = max(0, tokens_limit - 250 * window.used)
        headers = {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(window.remaining),
            "x-ratelimit-reset-requests": _go_duration(left),
            "x-ratelimit-limit-tokens": str(tokens_limit),
            "x-ratelimit-remaining-tokens": str(tokens_left),
            "x-ratelimit-reset-tokens": _go_duration(left / 2),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(left)))
            return JSONResponse({"error": {"type": "rate_limit_exceeded"}}, status_code=429, headers=headers)
        return JSONResponse({"status": "ok"}, headers=headers)

    async def hang(request: Request) -> Response:
        key_of(request, "hang")
        await asyncio.sleep(3600)
        return JSONResponse({"status": "late"})

    async def slow(request: Request) -> Response:
        key_of(request, "slow")
        await asyncio.sleep(_int(request, "ms", 1000) / 1000)
        return JSONResponse({"status": "ok"})

    async def badjson(request: Request) -> Response:
        key_of(request, "badjson")
        return Response('{"status": "ok"', media_type="application/json")

    async def flap(request: Request) -> Response:
        key = key_of(request, "flap")
        period = _float(request, "period", 20)
        up, down = _float(request, "up", period), _float(request, "down", period)
        phase = recorder.since_first("flap", key) % (up + down)
        if phase < up:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    async def degrading(request: Request) -> Response:
        key = key_of(request, "degrading")
        period, max_ms = _float(request, "period", 60), _float(request, "max_ms", 1500)
        phase = (recorder.since_first("degrading", key) % period) / period
        await asyncio.sleep((10 + phase * (max_ms - 10)) / 1000)
        return JSONResponse({"status": "ok"})

    async def echo(request: Request) -> Response:
        key_of(request, "echo")
        return JSONResponse({"headers": dict(request.headers)})

    async def hook(request: Request) -> Response:
        """A webhook receiver: the demo's alert channel posts here (counted like every arrival)."""
        key_of(request, "hooks")
        await request.body()
        return Response(status_code=204)

    async def counts(request: Request) -> Response:
        with recorder.lock:
            return JSONResponse({f"{route}/{key}": len(times) for (route, key), times in recorder.arrivals.items()})

    app = Starlette(
        routes=[
            Route("/ok/{key}", ok),
            Route("/fail/{key}", fail),
            Route("/status/{key}/{code:int}", status),
            Route("/quota/{key}", quota),
            Route("/github/{key}/rate_limit", github),
            Route("/openai/{key}", openai),
            Route("/hang/{key}", hang),
            Route("/slow/{key}", slow),
            Route("/badjson/{key}", badjson),
            Route("/flap/{key}", flap),
            Route("/degrading/{key}", degrading),
            Route("/echo/{key}", echo),
            Route("/hooks/{key}", hook, methods=["POST"]),
            Route("/_control/counts", counts),
        ]
    )
    app.state.recorder = recorder
    return app


def _go_duration(seconds: float) -> str:
    """The "6m0s" / "1.5s" / "20ms" style OpenAI uses for reset times."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, secs = divmod(seconds, 60)
    if minutes >= 1:
        return f"{int(minutes)}m{int(secs)}s"
    return f"{secs:.1f}s".replace(".0s", "s")
