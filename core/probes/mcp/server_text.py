"""What an MCP server says on the side: stderr lines, `notifications/message` logs, lines that are not JSON-RPC.

All of it is server-controlled text, so all of it goes out the same way:
redacted first (a clip can never halve a secret), then made one safe line
(`sanitize.clean_line`), and through a burst limit (`LineThrottle`), so a
server printing 18,000 lines costs a few dozen log events. Lines it writes to
stdout that are not JSON-RPC are counted; a timeout's reason then says so,
since "it printed garbage" is usually why a handshake never finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from core.events import LogLevel
from core.probes.base import ProbeContext
from core.probes.errors import describe, leaf
from core.probes.line_throttle import LineThrottle
from core.sanitize import NAME_LIMIT, clean_line

LOG_LEVELS = {
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "notice": LogLevel.INFO,
    "warning": LogLevel.WARNING,
    "error": LogLevel.ERROR,
    "critical": LogLevel.ERROR,
    "alert": LogLevel.ERROR,
    "emergency": LogLevel.ERROR,
}
"""MCP's syslog levels, as Lookout's log levels."""


class ServerText:
    """One service's relay of server text into its log; lives as long as the probe."""

    def __init__(self, ctx: ProbeContext, on_tools_changed: Callable[[], None] = lambda: None) -> None:
        """`on_tools_changed` is told of every `notifications/tools/list_changed` (after it is logged)."""
        self._ctx = ctx
        self._on_tools_changed = on_tools_changed
        self._stderr: LineThrottle[str] = LineThrottle(
            lambda line: ctx.log(LogLevel.INFO, line, "stderr"),
            lambda dropped: ctx.log(LogLevel.WARNING, f"({dropped} more stderr lines not shown)", "stderr"),
        )
        self._server_logs = LineThrottle(
            self._relay_log,
            lambda dropped: ctx.log(LogLevel.WARNING, f"({dropped} more server log lines not shown)", "server"),
        )
        self._unreadable = 0
        self._unreadable_sample = ""

    def redact(self, text: str) -> str:
        """Secrets masked (a reason is clipped later, where every result is made safe)."""
        return self._ctx.redact(text)

    def shown(self, text: str, limit: int = NAME_LIMIT) -> str:
        """Server text for a reason or a log line: redacted first, so a clip can never halve a secret."""
        return clean_line(self._ctx.redact(text), limit)

    def stderr(self, line: str) -> None:
        """One line the server wrote to stderr."""
        self._stderr.offer(line)

    def server_log(self, params: Any) -> None:
        """One `notifications/message` (through the same kind of burst limit as stderr)."""
        self._server_logs.offer(params)

    def flush(self) -> None:
        """Report what the burst limits held back: a probe's end, since a flood may just stop."""
        self._stderr.flush()
        self._server_logs.flush()

    def message(self, message: Any) -> None:
        """Anything else the session received outside a request: a notification, or a line that was not JSON-RPC."""
        if isinstance(message, Exception):
            self._unreadable += 1
            if not self._unreadable_sample:
                self._unreadable_sample = self.shown(_bad_input(message), 60)
            if self._unreadable <= 3 or self._unreadable % 100 == 0:
                self._ctx.log(
                    LogLevel.WARNING,
                    f"unreadable message from the server: {self.shown(describe(leaf(message)))}",
                    "engine",
                )
            return
        method = getattr(getattr(message, "root", message), "method", "")
        if method.endswith("/list_changed"):
            # The inventory is listed anew on every probe; the notice says when the server itself saw a change
            # (a tools change on a persistent session is listed again at once: the probe asks for it).
            self._ctx.log(LogLevel.INFO, f"server sent {method}", "engine")
            if method == "notifications/tools/list_changed":
                self._on_tools_changed()

    def unreadable_note(self) -> str:
        """For a timeout's reason: the server wrote lines that were not JSON-RPC ("" if it did not)."""
        if not self._unreadable:
            return ""
        lines = "line" if self._unreadable == 1 else "lines"
        return f" (the server wrote {self._unreadable} unreadable {lines}, e.g. {self._unreadable_sample!r})"

    def _relay_log(self, params: Any) -> None:
        level = LOG_LEVELS.get(str(getattr(params, "level", "info")), LogLevel.INFO)
        data = getattr(params, "data", "")
        self._ctx.log(level, self.shown(data if isinstance(data, str) else repr(data), 500), "server")


def _bad_input(exc: Exception) -> str:
    """The text a server sent that was not JSON-RPC (pydantic keeps it in the error)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        with contextlib.suppress(Exception):
            value = errors()[0].get("input")
            if isinstance(value, str | bytes):
                return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return str(exc)
