"""The loopback HTTP API (core/demo/http_api.py) as pytest fixtures, one server for the whole session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.demo.http_api import Recorder, create_http_api
from core.demo.serve import serve_in_thread, start_reset_server


@dataclass
class HttpApi:
    url: str
    recorder: Recorder

    def count(self, route: str, key: str) -> int:
        return self.recorder.count(route, key)

    def times(self, route: str, key: str) -> list[float]:
        return self.recorder.times(route, key)


@pytest.fixture(scope="session")
def http_api() -> Iterator[HttpApi]:
    app = create_http_api()
    served = serve_in_thread(app)
    try:
        yield HttpApi(served.url, app.state.recorder)
    finally:
        served.stop()


@pytest.fixture
def unique_key() -> str:
    """Isolates one test's counters and quotas on the shared server."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def reset_url() -> Iterator[str]:
    server = start_reset_server()
    try:
        yield server.url
    finally:
        server.stop()
