"""How Lookout reaches an MCP server: the SDK's own transports, plus what a monitor needs around them.

For stdio the SDK's `stdio_client` spawns the server in its own process group
and kills the whole tree on exit; we add two things it does not give us:

* the server's stderr, read line by line. The SDK hands `errlog` straight to
  the child, so it must be a real file descriptor: a pipe we drain in the
  background (bounded, never blocking the server however much it writes);
* the child's `Process`, to report "process exited with code 1" and to prove
  nothing outlives the probe. The SDK does not expose it, so we observe the
  spawn through a context variable (no global state shared between probes).

HTTP and SSE use the SDK's clients over httpx2, with the service's headers.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp.client import stdio as sdk_stdio
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from core.config import McpService

STDERR_TAIL = 50
"""Lines of stderr kept per server (for "exited with code 1: <last line>")."""
MAX_STDERR_LINE = 2000

_spawned: contextvars.ContextVar[Callable[[Any], None] | None] = contextvars.ContextVar("lookout_spawned", default=None)
_original_spawn = sdk_stdio._create_platform_compatible_process


async def _observed_spawn(*args: Any, **kwargs: Any) -> Any:
    process = await _original_spawn(*args, **kwargs)
    observer = _spawned.get()
    if observer is not None:
        observer(process)
    return process


sdk_stdio._create_platform_compatible_process = _observed_spawn


@dataclass
class ServerProcess:
    """What we know about a stdio server's process."""

    pid: int | None = None
    process: Any = None
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL))
    stderr_lines: int = 0
    stderr_closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def last_stderr(self) -> str:
        for line in reversed(self.stderr_tail):
            if line.strip():
                return line.strip()
        return ""

    def alive(self) -> bool:
        if self.pid is None:
            return False
        if self.returncode is not None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def kill_group(self) -> None:
        """Backstop after the SDK's own shutdown: nothing of this server may survive."""
        if self.pid is None:
            return
        with suppress(ProcessLookupError, PermissionError, OSError):
            os.killpg(self.pid, signal.SIGKILL)


@asynccontextmanager
async def stdio_transport(
    service: McpService, process: ServerProcess, on_stderr: Callable[[str], None]
) -> AsyncIterator[Any]:
    """The SDK's stdio transport with stderr captured into `on_stderr` and the child recorded in `process`."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    errlog = os.fdopen(write_fd, "w", encoding="utf-8", errors="replace")
    reader_task: asyncio.Task[None] | None = None

    def spawned(child: Any) -> None:
        process.process = child
        process.pid = child.pid

    params = StdioServerParameters(
        command=service.command or "",
        args=list(service.args),
        env=dict(service.env) or None,
        cwd=service.cwd,
        encoding_error_handler="replace",
    )
    token = _spawned.set(spawned)
    try:
        async with stdio_client(params, errlog=errlog) as streams:
            _spawned.reset(token)
            token = None
            errlog.close()  # the child holds its own copy; ours must go so EOF arrives when it exits
            reader_task = asyncio.create_task(_read_stderr(read_fd, process, on_stderr))
            read_fd = -1
            yield streams
    finally:
        if token is not None:
            _spawned.reset(token)
        if not errlog.closed:
            errlog.close()
        if reader_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(reader_task), timeout=0.5)
            except (TimeoutError, asyncio.CancelledError):
                reader_task.cancel()
        if read_fd >= 0:
            os.close(read_fd)
        process.kill_group()


async def _read_stderr(fd: int, process: ServerProcess, on_stderr: Callable[[str], None]) -> None:
    """Drain the pipe as fast as the server writes; hand complete lines on. Owns and closes `fd`."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    buffer = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > MAX_STDERR_LINE:  # a line without end: cut it rather than grow without bound
                lines.append(buffer)
                buffer = b""
            for raw in lines:
                text = raw[:MAX_STDERR_LINE].decode("utf-8", "replace").rstrip("\r")
                process.stderr_tail.append(text)
                process.stderr_lines += 1
                on_stderr(text)
        if buffer:
            text = buffer[:MAX_STDERR_LINE].decode("utf-8", "replace")
            process.stderr_tail.append(text)
            process.stderr_lines += 1
            on_stderr(text)
    finally:
        transport.close()
        process.stderr_closed.set()


@asynccontextmanager
async def http_transport(service: McpService, timeout: float) -> AsyncIterator[Any]:
    """Streamable HTTP through httpx2 (TLS verified), carrying the service's headers."""
    client = httpx2.AsyncClient(
        headers=dict(service.headers),
        timeout=httpx2.Timeout(timeout, read=max(timeout, 30.0)),
        follow_redirects=False,
    )
    async with client, streamable_http_client(service.url or "", http_client=client) as streams:
        yield streams


@asynccontextmanager
async def sse_transport(service: McpService, timeout: float) -> AsyncIterator[Any]:
    """The legacy HTTP+SSE transport (2024-11-05 servers)."""
    async with sse_client(
        service.url or "", headers=dict(service.headers) or None, timeout=timeout, sse_read_timeout=3600
    ) as streams:
        yield streams
