"""A loopback HTTP service whose health each test sets, and a list the evaluator's notifications go into.

The list is where the evaluator's decisions land (a NotificationSink), not the thing under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.alerts.notification import Notification, Transition
from core.demo.serve import serve_in_thread

FAST: dict[str, object] = {
    "interval": "1s",
    "timeout": "2s",
    "retry": {"attempts": 1, "initial": "50ms", "max": "200ms", "multiplier": 2, "jitter": 0},
    "breaker": {"fail_max": 1000, "reset_timeout": "30s"},
}


@dataclass
class Upstream:
    """A loopback service whose answer per key the test sets (200 = up, 503 = down) and counts."""

    url: str
    codes: dict[str, int] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def at(self, key: str) -> str:
        return f"{self.url}/svc/{key}"

    def set(self, code: int, *keys: str) -> None:
        for key in keys:
            self.codes[key] = code


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    state = Upstream("")

    async def answer(request: Request) -> Response:
        key = request.path_params["key"]
        state.hits[key] = state.hits.get(key, 0) + 1
        code = state.codes.get(key, 200)
        return JSONResponse({"status": "ok" if code < 400 else "failing"}, status_code=code)

    served = serve_in_thread(Starlette(routes=[Route("/svc/{key}", answer)]))
    state.url = served.url
    try:
        yield state
    finally:
        served.stop()


class ListSink:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def enqueue(self, notification: Notification) -> None:
        self.sent.append(notification)

    def transitions(self, service: str | None = None) -> list[Transition]:
        return [n.transition for n in self.sent if service is None or n.service == service]
