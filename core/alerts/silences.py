"""Silences: "no notifications for this service (or tag) until then", kept in the history file.

Any process may add or expire one (`lookout silence`, the TUI's key): a short
write through SQLite's own locking and busy timeout, next to the process that
records the file, which never has to be told. The process that evaluates
alerts polls the table on a thread of its own (`SilencePoller`, every ~2 s),
never on the event loop, and reads the active set as one immutable tuple.

A target is a service name or `tag:NAME`. Probes go on during a silence and
incidents are still recorded; only notifications stop.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.history.schema import DDL, connect, prepare

POLL_INTERVAL = 2.0
TAG_PREFIX = "tag:"


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    target: str
    """A service name, or `tag:NAME` for every service with that tag."""
    starts: float
    ends: float
    reason: str
    created: float

    def covers(self, name: str, tags: tuple[str, ...] | list[str]) -> bool:
        if self.target.startswith(TAG_PREFIX):
            return self.target[len(TAG_PREFIX) :] in tags
        return self.target == name

    def active(self, now: float) -> bool:
        return self.starts <= now < self.ends


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection for one short write. A new file is prepared as the recorder would (WAL, every table);
    an existing one only gains the tables it lacks (a file from before silences): no integrity scan of a
    large history for one row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    conn = connect(path)
    try:
        if new:
            prepare(conn)
        else:
            conn.executescript(DDL)
        yield conn
    finally:
        conn.close()


def add_silence(path: Path, target: str, seconds: float, reason: str = "", *, now: float | None = None) -> Silence:
    """Store a silence of `target` from now for `seconds`; return it (with its id)."""
    start = time.time() if now is None else now
    with _writing(path) as conn:
        cursor = conn.execute(
            "INSERT INTO silences (target, starts, ends, reason, created) VALUES (?, ?, ?, ?, ?)",
            (target, start, start + seconds, reason, start),
        )
        silence_id = int(cursor.lastrowid or 0)
    return Silence(silence_id, target, start, start + seconds, reason, start)


def expire_silence(path: Path, silence_id: int, *, now: float | None = None) -> bool:
    """End a silence now; False when no active silence has that id."""
    at = time.time() if now is None else now
    with _writing(path) as conn:
        cursor = conn.execute(
            "UPDATE silences SET ends = ?, expired = ? WHERE id = ? AND ends > ? AND expired IS NULL",
            (at, at, silence_id, at),
        )
        return cursor.rowcount > 0


def read_silences(path: Path, *, now: float | None = None) -> tuple[Silence, ...]:
    """Silences not ended yet (active or starting later), oldest first; () when the file or table is missing."""
    at = time.time() if now is None else now
    if not path.is_file():
        return ()
    try:
        conn = connect(path, readonly=True)
    except sqlite3.Error:
        return ()
    try:
        rows = conn.execute(
            "SELECT id, target, starts, ends, reason, created FROM silences WHERE ends > ? ORDER BY id", (at,)
        ).fetchall()
    except sqlite3.OperationalError:
        return ()  # a file from before silences existed: none yet
    finally:
        conn.close()
    return tuple(Silence(int(r[0]), str(r[1]), float(r[2]), float(r[3]), str(r[4]), float(r[5])) for r in rows)


class SilencePoller:
    """Reads the silences table every `interval` seconds on its own thread; `current` is the latest read.

    `on_change` is called (from the poller's thread) when the set changed; the
    evaluator uses it only to schedule a re-evaluation on its own loop.
    """

    def __init__(
        self,
        path: Path,
        *,
        interval: float = POLL_INTERVAL,
        on_change: Callable[[], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.interval = interval
        self.current: tuple[Silence, ...] = ()
        self._on_change = on_change
        self._warn = warn
        self._warned = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> tuple[Silence, ...]:
        """Read once now (also used at start, so silences hold from the first evaluation)."""
        try:
            found = read_silences(self.path)
        except sqlite3.Error as error:
            if not self._warned and self._warn is not None:
                self._warned = True
                self._warn(f"{self.path}: cannot read silences ({error}); the last ones read still hold")
            return self.current
        if found != self.current:
            self.current = found
            if self._on_change is not None:
                self._on_change()
        return found

    def start(self) -> None:
        self.poll()
        self._thread = threading.Thread(target=self._run, name="lookout-silences", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
