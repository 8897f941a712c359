"""One recording process per history file: an advisory `flock` on `history.db.lock`.

SQLite's locking serializes writes but would let two monitors record the same
probe twice; this lock says who records. Its content names the holder (pid, and
an address a daemon may fill in so a TUI can attach to it). The kernel drops a
flock when its holder dies, even by `kill -9`, so a stale file never blocks anyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.history.paths import lock_path


@dataclass(frozen=True, slots=True)
class LockHolder:
    pid: int | None
    address: str | None = None

    def describe(self) -> str:
        who = f"process {self.pid}" if self.pid is not None else "another process"
        return f"{who} at {self.address}" if self.address else who


class HistoryLocked(Exception):
    """Another process records into this history file."""

    def __init__(self, path: Path, holder: LockHolder) -> None:
        super().__init__(f"{path}: history is recorded by {holder.describe()}; this one runs without recording")
        self.path = path
        self.holder = holder


class HistoryLock:
    """A held lock; `release` (or process exit) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def set_address(self, address: str | None) -> None:
        """Name where this process can be reached (a serve's status API), for a TUI looking for it."""
        if self._fd is not None:
            _write_holder(self._fd, LockHolder(pid=os.getpid(), address=address))

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock


def acquire_lock(db_path: Path) -> HistoryLock:
    """Take the recording lock for `db_path` or raise `HistoryLocked` at once (never waits)."""
    path = lock_path(db_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise HistoryLocked(db_path, read_holder(db_path)) from None
    except BaseException:
        os.close(fd)
        raise
    _write_holder(fd, LockHolder(pid=os.getpid()))
    return HistoryLock(path, fd)


def read_holder(db_path: Path) -> LockHolder:
    """Who holds the lock, as its file says (an empty or unreadable file names nobody in particular)."""
    try:
        data = json.loads(lock_path(db_path).read_text() or "{}")
    except (OSError, ValueError):
        return LockHolder(pid=None)
    if not isinstance(data, dict):
        return LockHolder(pid=None)
    pid, address = data.get("pid"), data.get("address")
    return LockHolder(
        pid=pid if isinstance(pid, int) else None,
        address=address if isinstance(address, str) else None,
    )


def _write_holder(fd: int, holder: LockHolder) -> None:
    text = json.dumps({"pid": holder.pid, "address": holder.address}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, text, 0)
