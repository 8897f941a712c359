"""A stdio MCP server, spawned by Lookout itself rather than through the SDK's `stdio_client`.

A monitor needs more from the child than the SDK's `anyio.open_process` can give:

* it must die with Lookout, even on SIGKILL (`PR_SET_PDEATHSIG`, which needs a
  `preexec_fn`, which anyio does not take), and what it orphans must be found
  and ended (`core.processes` marks and reaps them);
* its stderr is read line by line: a pipe we drain in the background, bounded,
  never blocking the server however much it writes;
* its process and exit code are ours to see, to report "process exited with
  code 1" and to prove nothing outlives the probe.

The SDK's `Client` only needs two memory streams (messages in, messages out);
the pipes and pumps between them and the process are in `pipes`, the line
framing in `framing`, the spawn itself in `spawning` (or, for `lookout --once`,
earlier still: `early`). Shutdown follows the MCP spec: close stdin, wait, SIGTERM
the process group, SIGKILL it, and wait for the exit to be reaped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from core.config import McpService
from core.probes.mcp.early import claim
from core.probes.mcp.pipes import ServerPipes, pump_stdin, pump_stdout
from core.probes.mcp.spawning import spawn_server
from core.processes import Spawned, reap_orphans_async

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
    from mcp.shared.message import SessionMessage

STDERR_TAIL = 50
"""Lines of stderr kept per server (for "exited with code 1: <last line>")."""
MAX_STDERR_LINE = 2000
FLUSH_GRACE = 0.5
"""Time for messages already accepted to reach the server's stdin before it is closed."""
STDIN_GRACE = 1.5
"""Time for the server to exit by itself once its stdin closes (the spec's polite shutdown)."""
TERM_GRACE = 1.0
"""Time between SIGTERM and SIGKILL to the server's process group."""
KILL_WAIT = 1.0
"""Time for a SIGKILLed server's exit to be reaped; only an unkillable process (D state) runs this out."""


_stopping: set[asyncio.Task[None]] = set()
"""Shutdowns under way: a shutdown outlives the task that began it if that task is cancelled, so something
must hold on to it (the loop keeps only weak references to tasks)."""


@dataclass
class ServerProcess:
    """What we know about a stdio server's process."""

    pid: int | None = None
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL))
    stderr_lines: int = 0
    stderr_closed: asyncio.Event = field(default_factory=asyncio.Event)
    spawned: Spawned | None = field(default=None, repr=False)
    spawn_started_at: float | None = None
    """`time.perf_counter()` when its spawn began (a server started early began before its session)."""
    kill_requested: bool = False
    """`kill_group()` came while the spawn was still under way: the server dies the moment it is known."""

    @property
    def returncode(self) -> int | None:
        return None if self.spawned is None else self.spawned.returncode

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
        """Backstop for a server that failed or would not stop: nothing of its process group may survive."""
        self.kill_requested = True
        if self.spawned is not None:
            self.spawned.signal_group(signal.SIGKILL)


@asynccontextmanager
async def stdio_transport(
    service: McpService, process: ServerProcess, on_stderr: Callable[[str], None]
) -> AsyncIterator[Any]:
    """Spawn the server and yield the (read, write) streams the SDK's `Client` expects.

    Stderr goes to `on_stderr` line by line; the child is recorded in `process`. On exit the server is
    stopped, reaped, and whatever it orphaned is reaped too.
    """
    early = claim(service)
    if early is not None:  # started before the engine existed (lookout --once): timed from its own spawn
        process.spawn_started_at = early.started_at
        spawned, pipes, read_fd = early.spawned, early.pipes, early.stderr_fd
    else:
        process.spawn_started_at = time.perf_counter()
        spawned, pipes, read_fd = await spawn_server(service)
    process.spawned = spawned
    process.pid = spawned.pid
    if process.kill_requested:  # the probe gave up (a signal, a deadline) while asyncio was still connecting pipes
        spawned.signal_group(signal.SIGKILL)
    stderr_task = asyncio.create_task(_read_stderr(read_fd, process, on_stderr))

    incoming_writer: MemoryObjectSendStream[SessionMessage | Exception]
    incoming: MemoryObjectReceiveStream[SessionMessage | Exception]
    incoming_writer, incoming = anyio.create_memory_object_stream(0)
    outgoing: MemoryObjectSendStream[SessionMessage]
    outgoing_reader: MemoryObjectReceiveStream[SessionMessage]
    outgoing, outgoing_reader = anyio.create_memory_object_stream(0)
    writer_done = asyncio.Event()
    stopping: asyncio.Task[None] | None = None

    async def stop() -> None:
        nonlocal stopping
        incoming.close()  # a reader blocked on delivery moves on to draining, so the server can flush and exit
        outgoing.close()
        if stopping is None:
            # Its own task: the shutdown runs to the end even if ours is cancelled (natively) under it.
            stopping = asyncio.create_task(_stop(spawned, pipes, writer_done, stderr_task))
            _stopping.add(stopping)
            stopping.add_done_callback(_stopping.discard)
        with anyio.CancelScope(shield=True):
            await asyncio.shield(stopping)

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pump_stdout, pipes, incoming_writer)
            tasks.start_soon(pump_stdin, pipes, outgoing_reader, incoming_writer, writer_done)
            try:
                yield incoming, outgoing
            finally:
                await stop()  # with the pumps still running: stdout is drained while the server winds down
                tasks.cancel_scope.cancel()
    finally:
        if stopping is None:  # cancelled before the pumps started: the server must still go
            await stop()
        for stream in (incoming, outgoing, incoming_writer, outgoing_reader):
            stream.close()
        if not stderr_task.done():
            stderr_task.cancel()


async def _stop(
    spawned: Spawned, pipes: ServerPipes, writer_done: asyncio.Event, stderr_task: asyncio.Task[None]
) -> None:
    """Stop the server the way the MCP spec asks, escalating, then reap it and what it orphaned. Bounded."""
    with suppress(TimeoutError):
        await asyncio.wait_for(writer_done.wait(), FLUSH_GRACE)
    pipes.close_stdin()
    if not await pipes.wait_exit(STDIN_GRACE):
        spawned.signal_group(signal.SIGTERM)
        await pipes.wait_exit(TERM_GRACE)
    spawned.signal_group(signal.SIGKILL)  # the leader's group-mates, or the leader itself if it ignored SIGTERM
    await pipes.wait_exit(KILL_WAIT)
    spawned.transport.close()  # our pipe ends, even while an orphan still holds the other end
    spawned.release()
    await reap_orphans_async()
    with suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(stderr_task), timeout=0.5)


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
