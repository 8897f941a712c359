"""Real receivers on loopback for the alert channels: a webhook receiver (uvicorn) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.demo.serve import ServedApp, serve_in_thread


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers `status`. `stop()` and `start()` take it down and up on the same port."""

    port: int
    status: int = 200
    received: list[Received] = field(default_factory=list)
    _served: ServedApp | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        async def record(request: Request) -> Response:
            body = await request.body()
            with self._lock:
                self.received.append(Received(request.url.path, dict(request.headers), body))
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])

    def start(self) -> None:
        self._served = serve_in_thread(self.app(), port=self.port)

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
            self._served = None

    def bodies(self, path: str | None = None) -> list[Any]:
        with self._lock:
            return [item.json() for item in self.received if path is None or item.path == path]

    def keys(self) -> Counter[str]:
        """How often each idempotency key arrived (successful answers or not)."""
        return Counter(body["key"] for body in self.bodies())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(_free_port())
    found.start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def down_receiver() -> Iterator[Receiver]:
    """A receiver whose port refuses connections until the test calls `start()`."""
    found = Receiver(_free_port())
    try:
        yield found
    finally:
        found.stop()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    mailbox: _Mailbox


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = _Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, mailbox)
    finally:
        controller.stop()
