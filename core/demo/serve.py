"""Serving ASGI apps on loopback in a background thread: for the tests and for `lookout demo`.

The socket is bound before the server starts, so the port is known up front
and never raced for; stopping is bounded even while a client is stuck on a
request that never answers.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

START_TIMEOUT = 10.0


@dataclass
class ServedApp:
    url: str
    host: str
    port: int
    _server: Any = field(repr=False, default=None)
    _thread: threading.Thread | None = field(repr=False, default=None)
    _socket: socket.socket | None = field(repr=False, default=None)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (idempotent): open connections are dropped after a short grace."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0, tls_pem: str | None = None) -> ServedApp:
    """Run `app` under uvicorn on host:port (0 = any free port) until `.stop()`; over HTTPS with `tls_pem`
    (a file holding the certificate chain and its private key)."""
    sock = bind_loopback(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
        ws="none",
        ssl_certfile=tls_pem,
    )
    server = uvicorn.Server(config)
    # uvicorn (>=0.29) installs no signal handlers off the main thread: signals stay Lookout's to handle.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"serve:{bound}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the server on {host}:{bound} did not start within {START_TIMEOUT:.0f}s")
        time.sleep(0.01)
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if tls_pem else "http"
    return ServedApp(f"{scheme}://{shown}:{bound}", host, bound, server, thread, sock)


class ResetServer:
    """Accepts a connection, reads the request, and answers with a TCP reset (SO_LINGER 0)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._sock = bind_loopback(host)
        self._sock.settimeout(0.2)
        self.host = host
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}/"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"reset:{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            with contextlib.suppress(OSError):
                conn.settimeout(1.0)
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()


def start_reset_server(host: str = "127.0.0.1") -> ResetServer:
    return ResetServer(host)
