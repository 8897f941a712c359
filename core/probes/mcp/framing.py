"""Newline-delimited JSON-RPC, as a stdio server writes it: lines cut to a bound, each parsed or reported.

The framing matches the SDK's own (a line that is not JSON-RPC reaches the
session as an exception, which the probe counts as an unreadable line), with
one addition a monitor needs: a bound on line length. A server that writes a
1 GB line costs at most `MAX_MESSAGE_BYTES`; the line is skipped whole and
reported once, like bad JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.sizes import format_size

if TYPE_CHECKING:
    from mcp.shared.message import SessionMessage

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Longest JSON-RPC line we read from a server: far above any sane message (a 5,000-tool list is ~5 MB)."""


class OversizedMessage(ValueError):
    """The server wrote a line longer than we read: skipped whole, reported to the session like bad JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a line longer than {format_size(limit)} (skipped)")


class LineFramer:
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


def parse_line(line: bytes) -> SessionMessage | Exception | None:
    """One line from the server: a message, the parse error as a value (the session reports it), or None if blank.

    Needs the SDK imported (`sdk.load()`): the pump that calls this waits for it first."""
    from mcp.shared.message import SessionMessage
    from mcp_types import jsonrpc_message_adapter

    text = line.decode("utf-8", "replace")
    if not text.strip():
        return None
    try:
        message = jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValueError as exc:
        return exc
    return SessionMessage(message)
