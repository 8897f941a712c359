"""How Lookout reaches an MCP server: stdio (spawned by us), streamable HTTP and SSE (the SDK's clients).

For stdio we spawn the server ourselves rather than through the SDK's
`stdio_client`, because a monitor needs more from the child than the SDK's
`anyio.open_process` can give:

* it must die with Lookout, even on SIGKILL (`PR_SET_PDEATHSIG`, which needs a
  `preexec_fn`, which anyio does not take), and what it orphans must be found
  and ended (`core.processes` marks and reaps them);
* its stderr is read line by line: a pipe we drain in the background, bounded,
  never blocking the server however much it writes;
* its process and exit code are ours to see, to report "process exited with
  code 1" and to prove nothing outlives the probe.

The SDK's `Client` only needs two memory streams (messages in, messages out);
between them and the pipes sit the same newline-delimited JSON-RPC framing as
the SDK's (a line that is not JSON-RPC reaches the session as an exception),
plus a bound on line length: a server that writes a 1 GB line costs us at most
MAX_MESSAGE_BYTES. Shutdown follows the MCP spec: close stdin, wait, SIGTERM the
process group, SIGKILL it, and wait for the exit to be reaped.

SSE uses the SDK's client over httpx2, with the service's headers; streamable HTTP is set up by the
session (core.probes.mcp_session), which watches each response's status.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.sse import sse_client
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage

from core.config import McpService
from core.processes import Spawned, reap_orphans_async, spawn
from core.sizes import format_size

STDERR_TAIL = 50
"""Lines of stderr kept per server (for "exited with code 1: <last line>")."""
MAX_STDERR_LINE = 2000
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Longest JSON-RPC line we read from a server: far above any sane message (a 5,000-tool list is ~5 MB)."""
READ_CHUNK = 64 * 1024
"""Bytes per read from the server's stdout; also how much may wait unread before the pipe is paused."""
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


class OversizedMessage(ValueError):
    """The server wrote a line longer than we read: skipped whole, reported to the session like bad JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a line longer than {format_size(limit)} (skipped)")


@dataclass
class ServerProcess:
    """What we know about a stdio server's process."""

    pid: int | None = None
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL))
    stderr_lines: int = 0
    stderr_closed: asyncio.Event = field(default_factory=asyncio.Event)
    spawned: Spawned | None = field(default=None, repr=False)
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


class _ServerPipes(asyncio.SubprocessProtocol):
    """Our ends of the server's stdin and stdout, with flow control both ways, and its exit."""

    def __init__(self) -> None:
        self.stdout = asyncio.StreamReader(limit=READ_CHUNK)  # pauses the pipe past 2 * limit unread bytes
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stdin: asyncio.WriteTransport | None = None
        self._stdin_lost = False
        self._can_write = asyncio.Event()
        self._can_write.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        stdout = transport.get_pipe_transport(1)
        if stdout is not None:
            self.stdout.set_transport(stdout)
        self._stdin = transport.get_pipe_transport(0)  # type: ignore[assignment]

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        if fd == 1:
            self.stdout.feed_data(data if isinstance(data, bytes) else data.encode())

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.stdout.feed_eof()
        elif fd == 0:
            self._stdin_lost = True
            self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    async def write(self, data: bytes) -> None:
        stdin = self._stdin
        if stdin is None or self._stdin_lost or stdin.is_closing():
            raise BrokenPipeError("the server's stdin is closed")
        stdin.write(data)
        await self._can_write.wait()

    def close_stdin(self) -> None:
        if self._stdin is not None:
            self._stdin.close()

    async def wait_exit(self, timeout: float) -> bool:
        """Whether the server exited (and was reaped) within `timeout` seconds."""
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), timeout)
        return self.exited.done()


class _LineFramer:
    """Splits the server's stdout into lines of at most `limit` bytes; a longer line is skipped and reported once."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes | OversizedMessage]:
        out: list[bytes | OversizedMessage] = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            piece = memoryview(chunk)[start:end]
            if self._skipping:
                self._skipping = False  # the end of a line already reported
            elif len(self._buffer) + len(piece) > self.limit:
                out.append(OversizedMessage(self.limit))
            else:
                self._buffer += piece
                out.append(bytes(self._buffer))
            self._buffer.clear()
            start = end + 1
        rest = memoryview(chunk)[start:]
        if not self._skipping and rest:
            if len(self._buffer) + len(rest) > self.limit:
                self._buffer.clear()
                self._skipping = True
                out.append(OversizedMessage(self.limit))
            else:
                self._buffer += rest
        return out


def _parse(line: bytes) -> SessionMessage | Exception | None:
    """One line from the server: a message, the parse error as a value (the session reports it), or None if blank."""
    text = line.decode("utf-8", "replace")
    if not text.strip():
        return None
    try:
        message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValueError as exc:
        return exc
    return SessionMessage(message)


def server_environment(service: McpService) -> dict[str, str]:
    """What the server sees: the SDK's safe inherited variables (HOME, PATH, ...) plus the service's own."""
    return get_default_environment() | dict(service.env)


@asynccontextmanager
async def stdio_transport(
    service: McpService, process: ServerProcess, on_stderr: Callable[[str], None]
) -> AsyncIterator[Any]:
    """Spawn the server and yield the (read, write) streams the SDK's `Client` expects.

    Stderr goes to `on_stderr` line by line; the child is recorded in `process`. On exit the server is
    stopped, reaped, and whatever it orphaned is reaped too.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        spawned, pipes = await spawn(
            [service.command or "", *service.args],
            _ServerPipes,
            env=server_environment(service),
            cwd=service.cwd,
            stderr=write_fd,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the child holds its own copy; ours must go so EOF arrives when it exits
    process.spawned = spawned
    process.pid = spawned.pid
    if process.kill_requested:  # the probe gave up (a signal, a deadline) while asyncio was still connecting pipes
        spawned.signal_group(signal.SIGKILL)
    stderr_task = asyncio.create_task(_read_stderr(read_fd, process, on_stderr))

    incoming_writer, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, outgoing_reader = anyio.create_memory_object_stream[SessionMessage](0)
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
            tasks.start_soon(_pump_stdout, pipes, incoming_writer)
            tasks.start_soon(_pump_stdin, pipes, outgoing_reader, incoming_writer, writer_done)
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


async def _pump_stdout(pipes: _ServerPipes, sink: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
    """Server stdout -> session, one message at a time (no read-ahead while a delivery waits)."""
    framer = _LineFramer()
    delivering = True
    try:
        while chunk := await pipes.stdout.read(READ_CHUNK):
            if not delivering:
                continue  # the session is gone: keep the pipe empty so the server can finish writing and exit
            for item in framer.feed(chunk):
                message = item if isinstance(item, OversizedMessage) else _parse(item)
                if message is None:
                    continue
                try:
                    await sink.send(message)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    delivering = False
                    break
    finally:
        sink.close()  # the session sees the connection end


async def _pump_stdin(
    pipes: _ServerPipes,
    source: MemoryObjectReceiveStream[SessionMessage],
    incoming: MemoryObjectSendStream[SessionMessage | Exception],
    done: asyncio.Event,
) -> None:
    """Session -> server stdin. If the server stops reading, end the session rather than leave a request hanging."""
    try:
        async for session_message in source:
            text = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
            await pipes.write((text + "\n").encode("utf-8", "replace"))
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        incoming.close()
    finally:
        done.set()


async def _stop(
    spawned: Spawned, pipes: _ServerPipes, writer_done: asyncio.Event, stderr_task: asyncio.Task[None]
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


@asynccontextmanager
async def sse_transport(service: McpService, timeout: float) -> AsyncIterator[Any]:
    """The legacy HTTP+SSE transport (2024-11-05 servers)."""
    async with sse_client(
        service.url or "", headers=dict(service.headers) or None, timeout=timeout, sse_read_timeout=3600
    ) as streams:
        yield streams
