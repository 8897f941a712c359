"""The history store: one SQLite file, written by one thread of its own, read by anyone.

Why stdlib `sqlite3` on a thread rather than `aiosqlite`: aiosqlite is the
same thing (a thread per connection) plus a dependency, and it hands every
statement across the thread boundary separately; here the event loop only
appends rows to a queue, and the thread writes them in one transaction about
once a second, with roll-ups and pruning between batches. Nothing the engine
does ever waits on the disk.

Failures never reach the monitor: a batch that cannot be written (disk full, a
read-only file) is dropped with one warning, and the next batch tries again.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.history import queries
from core.history.lock import HistoryLock, acquire_lock
from core.history.rollups import prune_step, roll_up_step
from core.history.rows import Op, apply_ops
from core.history.schema import CorruptHistory, connect, move_aside, prepare
from core.results import ProbeResult

FLUSH_INTERVAL = 1.0
"""Seconds between write transactions: what a `kill -9` can lose at most."""
MAINTENANCE_INTERVAL = 30.0
"""Seconds between roll-up and pruning rounds (each a few small steps)."""
MAINTENANCE_STEPS = 4
DEFAULT_RAW_RETENTION = 7 * 86400.0
DEFAULT_ROLLUP_RETENTION = 400 * 86400.0

Warn = Callable[[str], None]


class HistoryUnavailable(Exception):
    """The history file cannot be opened for recording (a read-only directory, a full disk...)."""


@dataclass(frozen=True, slots=True)
class Retention:
    raw: float = DEFAULT_RAW_RETENTION
    rollups: float = DEFAULT_ROLLUP_RETENTION


def _stderr_warning(message: str) -> None:
    with contextlib.suppress(OSError):
        print(f"lookout: {message}", file=sys.stderr)


RECORDER_CACHE_KIB = 512
"""The recorder's page cache (SQLite's default: 2000 KiB). Its connection lives as long as the process, and
its cache fills to the bound as the file grows: ~2.3 MB of the process after ten minutes of 1000 services,
against 0.7 MB with this one. It only appends and rolls up: what it reads back, the OS caches anyway, and
writing 120,000 results of 1000 services took the same CPU (2.6 s) with either cache."""


def open_history(
    path: str | Path,
    *,
    record: bool = True,
    retention: Retention | None = None,
    on_warning: Warn | None = None,
    connection_hook: Callable[[sqlite3.Connection], None] | None = None,
) -> HistoryStore:
    """Open (or create) the history at `path`.

    With `record` (the default) this process becomes its recorder: it takes the
    file's lock (`HistoryLocked` if another process holds it) and starts the
    writer thread. Without, the store only reads and takes no lock. A corrupt
    file is moved aside to `<name>.corrupt-<time>` and a new one is started,
    said through `on_warning` (default: stderr). `connection_hook` is applied to
    the writer's connection after setup (pragmas such as `max_page_count`).
    """
    db = Path(path)
    warn = on_warning or _stderr_warning
    if not record:
        if not db.is_file():
            raise HistoryUnavailable(f"{db}: no history recorded yet")
        return HistoryStore(db, None, None, retention or Retention(), warn)
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(db)
    except OSError as error:
        raise HistoryUnavailable(f"{db}: cannot record history: {error.strerror or error}") from error
    try:
        conn = _open_for_writing(db, warn)
        conn.execute(f"PRAGMA cache_size = -{RECORDER_CACHE_KIB}")
        if connection_hook is not None:
            connection_hook(conn)
    except (sqlite3.Error, OSError) as error:
        lock.release()
        raise HistoryUnavailable(f"{db}: cannot record history: {error}") from error
    except BaseException:
        lock.release()
        raise
    return HistoryStore(db, conn, lock, retention or Retention(), warn)


def _open_for_writing(db: Path, warn: Warn) -> sqlite3.Connection:
    conn = connect(db)
    try:
        prepare(conn)
        return conn
    except CorruptHistory as error:
        conn.close()
        moved = move_aside(db)
        warn(f"{db} was not a readable history ({error}): moved it to {moved.name}, starting a new one")
    conn = connect(db)
    try:
        prepare(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class HistoryStore:
    """Writes through `submit` (any thread, never blocks); reads through the query methods (any thread)."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection | None,
        lock: HistoryLock | None,
        retention: Retention,
        warn: Warn,
    ) -> None:
        self.path = path
        self.retention = retention
        self.lock = lock
        self.on_warning = warn
        """Told once when writes start failing; called from the writer thread (a view may repoint it)."""
        self._queue: queue.SimpleQueue[Op | threading.Event | None] = queue.SimpleQueue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.write_failures = 0
        """Batches that could not be written (each dropped; the first one was warned about)."""
        self.rows_written = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        if conn is not None:
            self._thread = threading.Thread(target=self._writer, args=(conn,), name="lookout-history", daemon=True)
            self._thread.start()

    @property
    def recording(self) -> bool:
        return self._thread is not None and not self._closed

    @property
    def backlog(self) -> int:
        """Writes submitted but not committed yet."""
        return self._pending

    # -- writing -------------------------------------------------------------
    def submit(self, op: Op) -> None:
        """Queue one write for the next transaction. Returns at once; ignored when not recording."""
        if not self.recording:
            return
        with self._pending_lock:
            self._pending += 1
        self._queue.put(op)

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until every write submitted so far is committed (or dropped). False on timeout."""
        if not self.recording:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the writer, release the lock. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
        if self.lock is not None:
            self.lock.release()

    def _writer(self, conn: sqlite3.Connection) -> None:
        batch: list[Op] = []
        waiters: list[threading.Event] = []
        state = _WriterState()
        next_flush = time.monotonic() + FLUSH_INTERVAL
        next_maintenance = time.monotonic()
        try:
            while True:
                timeout = max(0.0, next_flush - time.monotonic())
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    item = _TICK
                stop = item is None
                if isinstance(item, threading.Event):
                    waiters.append(item)
                elif item is not None and item is not _TICK:
                    batch.append(item)
                if stop or waiters or time.monotonic() >= next_flush:
                    self._write(conn, batch, state)
                    batch = []
                    for waiter in waiters:
                        waiter.set()
                    waiters = []
                    next_flush = time.monotonic() + FLUSH_INTERVAL
                if stop:
                    return
                if time.monotonic() >= next_maintenance:
                    self._maintain(conn)
                    next_maintenance = time.monotonic() + MAINTENANCE_INTERVAL
        finally:
            for waiter in waiters:
                waiter.set()
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[Op], state: _WriterState) -> None:
        if not batch:
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                written = apply_ops(conn, batch, state.last_fingerprints)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            self.write_failures += 1
            state.fingerprints_stale()
            if self.write_failures == 1:
                self.on_warning(
                    f"{self.path}: history not written ({error}); monitoring goes on, history may have gaps"
                )
        else:
            self.rows_written += written
        finally:
            with self._pending_lock:
                self._pending -= len(batch)

    def _maintain(self, conn: sqlite3.Connection) -> None:
        """A few small roll-up and pruning steps; an error here is a write error like any other."""
        now = time.time()
        try:
            for _ in range(MAINTENANCE_STEPS):
                if not roll_up_step(conn, now):
                    break
            for _ in range(MAINTENANCE_STEPS):
                if not prune_step(conn, now, self.retention.raw, self.retention.rollups):
                    break
        except sqlite3.Error as error:
            self.write_failures += 1
            if self.write_failures == 1:
                self.on_warning(f"{self.path}: history maintenance failed ({error}); monitoring goes on")

    # -- reading -------------------------------------------------------------
    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.path, readonly=True)
        try:
            yield conn
        finally:
            conn.close()

    def summary(self, name: str, *, now: float | None = None) -> dict[str, Any]:
        """Uptime and latency p50/p95/p99 over 1h, 24h, 7d and 30d for one service (JSON-ready)."""
        with self._reader() as conn:
            return queries.summary(conn, name, time.time() if now is None else now)

    def summaries(self, names: Sequence[str] | None = None, *, now: float | None = None) -> dict[str, dict[str, Any]]:
        """`summary` for several services (all recorded ones by default), read in one pass."""
        with self._reader() as conn:
            return queries.summaries(conn, names, time.time() if now is None else now)

    def recent_results(self, name: str, n: int) -> list[ProbeResult]:
        """The last `n` stored results of one service, oldest first (details and timings are not stored)."""
        with self._reader() as conn:
            return queries.recent_results(conn, name, n)

    def incidents(
        self, name: str | None = None, *, since: float | None = None, limit: int = 1000
    ) -> list[queries.Incident]:
        with self._reader() as conn:
            return queries.incidents(conn, name, since, limit)

    def services(self) -> list[str]:
        with self._reader() as conn:
            return queries.services(conn)


class _WriterState:
    """What the writer remembers between batches: each service's last stored inventory fingerprint."""

    def __init__(self) -> None:
        self.last_fingerprints: dict[str, str] = {}

    def fingerprints_stale(self) -> None:
        self.last_fingerprints.clear()  # a dropped batch may have held them: ask the file again


_TICK: Any = object()
