"""Lookout as a real process: the command under a pseudo-terminal or a pipe, stdio servers that misbehave
with their own children, and /proc views to prove that nothing is left behind."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from fixtures_mcp import stdio_service, tagged_processes

ROOT = Path(__file__).resolve().parent.parent
GRACE = 15.0
"""How long leftovers get to disappear after Lookout exits: generous, the machine may be busy."""


def lookout_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *args]


def lookout_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def write_config(path: Path, services: dict[str, Any], **defaults: Any) -> Path:
    fast = {"timeout": "30s", "retry": {"attempts": 1}, **defaults}
    path.write_text(yaml.safe_dump({"defaults": fast, "services": services}, sort_keys=False))
    return path


def stuck_servers(tag: str) -> dict[str, Any]:
    """Two stdio servers that never finish the handshake and do not exit when their stdin closes: one
    sleeps before it even reads (a slow start), one reads stdin to the end and then sleeps. Only a signal
    from Lookout ends them, so a Lookout that dies without cleaning up leaves both behind."""
    return {
        "slow": stdio_service("slow-start", "--delay", "120", tag=tag),
        "silent": stdio_service("silent", tag=tag),
    }


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def alive(pid: int) -> bool:
    """Running, not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if alive(p)}


def survivors(tag: str, also: Sequence[int] = ()) -> list[int]:
    """Tagged processes, and any of `also`, still alive after GRACE (empty as soon as all are gone)."""
    wait_for(lambda: not tagged_processes(tag) and not any(alive(p) for p in also), GRACE)
    return sorted(set(tagged_processes(tag)) | {p for p in also if alive(p)})


class Terminal:
    """A command on a pseudo-terminal of its own (its controlling terminal, as under ssh), screen drained."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path = ROOT) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 0, 0))
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env={**env, "TERM": "xterm-256color", "COLORTERM": "truecolor"},
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self._master: int | None = master
        self.screen = bytearray()
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        while self._master is not None:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                return
            if not data:
                return
            self.screen += data

    def hang_up(self) -> None:
        """What an ssh disconnect does: the terminal's other end goes away."""
        master, self._master = self._master, None
        if master is not None:
            os.close(master)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.hang_up()
