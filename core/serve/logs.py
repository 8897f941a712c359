"""The daemon's log: one line per engine event on stdout, plain or JSON lines, worded by core.loglines.

journald, Docker and Kubernetes collect stdout; a JSON line per event is what
their pipelines (Loki, Elasticsearch) parse without a grammar. The wording is
the one formatter's, so the daemon's log reads like the TUI's log pane. Events
are made safe (and secrets masked) by the engine before any view sees them.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from typing import TextIO

from core.bus import ViewItem, ViewSubscription
from core.events import LogEvent, LogLevel
from core.loglines import log_line

LOG_FORMATS = ("plain", "json")


def format_line(line: LogEvent, fmt: str) -> str:
    """One log line in the chosen format (a LogEvent is already safe: one line, clipped)."""
    at = line.at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if fmt == "json":
        record = {
            "ts": at,
            "level": line.level.label,
            "service": line.service,
            "source": line.source,
            "seq": line.seq,
            "message": line.message,
        }
        return json.dumps(record, ensure_ascii=False)
    who = f"{line.service}: " if line.service else ""
    return f"{at} {line.level.label:<7} {who}{line.message}"


def note(message: str, *, level: LogLevel = LogLevel.INFO) -> LogEvent:
    """A line of the daemon's own (listening on..., stopping...), not an engine event."""
    return LogEvent(at=datetime.now(UTC), level=level, message=message, source="serve")


class LogWriter:
    """Writes lines to a stream; a reader that went away (a closed pipe) ends the log, not the daemon."""

    def __init__(self, stream: TextIO, fmt: str) -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
        self._stream = stream
        self._fmt = fmt
        self._broken = False

    def write(self, line: LogEvent) -> None:
        if self._broken:
            return
        try:
            self._stream.write(format_line(line, self._fmt) + "\n")
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            self._broken = True
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stream.fileno())
                os.close(devnull)

    def item(self, item: ViewItem) -> None:
        line = log_line(item)
        if line is not None:
            self.write(line)

    async def follow(self, view: ViewSubscription) -> None:
        """Log every event of `view` until it closes (the engine stopped)."""
        async for item in view:
            self.item(item)
