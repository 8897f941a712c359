"""Real receivers on loopback for the alert channels: a webhook receiver (uvicorn) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
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
    answer: bytes = b""
    slow_answers: int = 0
    """This many of the next requests are taken (recorded) but answered only after `slow_for` seconds."""
    slow_for: float = 0.0
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
                slow = self.slow_answers > 0
                self.slow_answers -= int(slow)
            if slow:
                await asyncio.sleep(self.slow_for)
            return Response(self.answer, status_code=self.status)

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


ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
ALERTMANAGER_CONFIG = """\
global:
  resolve_timeout: {resolve_timeout}
route:
  receiver: blackhole
  group_wait: 1s
receivers:
  - name: blackhole
"""


@dataclass
class AlertmanagerServer:
    url: str
    resolve_timeout: float

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds as active now (an alert past its endsAt is not listed)."""
        with httpx2.Client(timeout=5.0) as client:
            response = client.get(f"{self.url}/api/v2/alerts")
            response.raise_for_status()
            return list(response.json())


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerServer]:
    """A real Prometheus Alertmanager on a free loopback port, clustering off, resolve_timeout 2s."""
    if ALERTMANAGER is None:
        pytest.skip(
            "prometheus-alertmanager is not installed (.ci/run installs it: apt-get install prometheus-alertmanager)"
        )
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG.format(resolve_timeout="2s"))
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Alertmanager did not start: {(tmp_path / 'alertmanager.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield AlertmanagerServer(url, 2.0)
    finally:
        process.kill()
        process.wait(10)
        log.close()
