"""The pipes between a stdio server and the SDK's session: flow control both ways, and the server's exit.

The SDK's `Client` only needs two memory streams (messages in, messages out).
`ServerPipes` is our end of the server's stdin and stdout as an asyncio
subprocess protocol; the two pumps move messages between those pipes and the
streams, one at a time, so a server that writes faster than the session reads
is paused (the pipe fills) rather than buffered without bound, and a server
that stops reading ends the session instead of leaving a request hanging.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import TYPE_CHECKING

import anyio

from core.probes.mcp import sdk
from core.probes.mcp.framing import LineFramer, OversizedMessage, parse_line

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
    from mcp.shared.message import SessionMessage

READ_CHUNK = 64 * 1024
"""Bytes per read from the server's stdout; also how much may wait unread before the pipe is paused."""


class ServerPipes(asyncio.SubprocessProtocol):
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
        stdin = transport.get_pipe_transport(0)
        self._stdin = stdin if isinstance(stdin, asyncio.WriteTransport) else None

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


async def pump_stdout(pipes: ServerPipes, sink: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
    """Server stdout -> session, one message at a time (no read-ahead while a delivery waits).

    The session exists only once the SDK is loaded (`sdk.load()`, after the spawn): until then what the server
    writes waits in the pipe, and parsing it never imports the SDK in the event loop's thread."""
    framer = LineFramer()
    delivering = True
    try:
        await sdk.load()
        while chunk := await pipes.stdout.read(READ_CHUNK):
            if not delivering:
                continue  # the session is gone: keep the pipe empty so the server can finish writing and exit
            for item in framer.feed(chunk):
                message = item if isinstance(item, OversizedMessage) else parse_line(item)
                if message is None:
                    continue
                try:
                    await sink.send(message)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    delivering = False
                    break
    finally:
        sink.close()  # the session sees the connection end


async def pump_stdin(
    pipes: ServerPipes,
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
