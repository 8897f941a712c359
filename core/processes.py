"""Child processes that cannot outlive Lookout, and orphans of theirs that Lookout cleans up.

A monitor starts other people's programs (stdio MCP servers), so it must leave
nothing behind however it ends and whatever those programs do:

* Every server is spawned in its own session (one `killpg` reaches it and the
  helpers that stay in its group) and, on Linux, with `PR_SET_PDEATHSIG` =
  SIGKILL, so even `kill -9 lookout` takes the servers with it. The kernel sends
  that signal when the *thread* that forked the child exits, so `spawn` must run
  in the event loop's thread (it does: asyncio forks there) and never in a
  worker thread that may end first.
* Every server carries `LOOKOUT_OWNER=<our pid>:<serial>` in its environment.
  Its descendants inherit it, so a process that reparented to us can be proven
  to come from one of our servers, and from which one, by reading
  /proc/PID/environ.
* A helper that starts its own session (`setsid`, a daemonizing double fork)
  escapes `killpg`. With `enable_subreaper()` such orphans reparent to Lookout
  instead of PID 1; `reap_orphans()` then kills and `waitpid`s exactly those
  PIDs whose server is gone. Never `waitpid(-1)`: asyncio's child watcher waits
  for its own children by PID, and a wildcard wait would steal their statuses.

`lookout` turns the subreaper on in its entry points. A program that uses
`core` as a library decides for itself: call `enable_subreaper()` once at start
(it changes who adopts *every* orphan below the process, which is the host
program's call to make, not a library's).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

logger = logging.getLogger(__name__)

OWNER_ENV = "LOOKOUT_OWNER"
"""Marks a spawned server and everything it starts: `<lookout pid>:<spawn serial>`."""
REAP_EVERY = 10.0
"""Seconds between orphan sweeps while servers run: helpers that a live server orphans, then lets exit,
would otherwise stay zombies until the next session closes."""
REAP_WAIT = 1.0
"""How long `reap_orphans_async` waits for killed orphans to be reaped before leaving them to the next sweep."""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37

P = TypeVar("P", bound=asyncio.SubprocessProtocol)


class _Registry:
    """Which servers this process spawned and still owns, by spawn serial (thread-safe: loops may run in threads).

    A serial maps to its server's PID, or to None while the spawn is still in flight (the child may already run,
    but its PID is not known to us yet).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serials = itertools.count(1)
        self._servers: dict[int, int | None] = {}
        self.seen_orphans: set[int] = set()
        """Orphans proven ours while alive: once they exit, their zombies may be reaped without a mark to read."""
        self.sole_owner = False

    def reserve(self) -> int:
        with self._lock:
            serial = next(self._serials)
            self._servers[serial] = None
            return serial

    def started(self, serial: int, pid: int) -> None:
        with self._lock:
            self._servers[serial] = pid

    def release(self, serial: int) -> None:
        with self._lock:
            self._servers.pop(serial, None)

    def view(self) -> tuple[dict[int, int | None], bool]:
        """(serial -> pid, whether a spawn is in flight), consistent with each other."""
        with self._lock:
            servers = dict(self._servers)
        return servers, any(pid is None for pid in servers.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._servers)


_registry = _Registry()
_sweeps: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.TimerHandle] = weakref.WeakKeyDictionary()


# -- prctl ------------------------------------------------------------------------------------------


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_prctl = _load_prctl()


def enable_subreaper(*, sole_owner: bool = False) -> bool:
    """Adopt the orphans of our descendants (Linux `PR_SET_CHILD_SUBREAPER`), so `reap_orphans` can end them.

    The `lookout` command calls this at start. A host program using `core` as a library opts in by calling it
    once, early; without it, a server's `setsid` helper is adopted by PID 1 (or the nearest subreaper, such
    as a systemd user manager) and outlives its server. Returns False where the platform has no subreapers.

    `sole_owner=True` declares that this process starts children only through Lookout (true of the `lookout`
    command): then an orphan that exited before a sweep saw it (a zombie, whose environment can no longer be
    read) is reaped too. A host program with children of its own keeps the default, so no status it waits
    for is ever taken from it.
    """
    if _prctl is None or _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        return False
    _registry.sole_owner = sole_owner
    return True


def is_subreaper() -> bool:
    """Whether orphans below us come to us: we are a subreaper, or PID 1 of a container."""
    if os.getpid() == 1:
        return True
    if _prctl is None:
        return False
    flag = ctypes.c_int(0)
    return _prctl(_PR_GET_CHILD_SUBREAPER, ctypes.addressof(flag), 0, 0, 0) == 0 and flag.value != 0


def die_with_parent_preexec() -> Callable[[], None] | None:
    """What the child runs between fork and exec: die (SIGKILL) when the thread that forked it exits.

    If our side died between fork and prctl, the signal will never come: the child is already reparented,
    which getppid() shows, and it ends itself instead of running unsupervised.
    """
    prctl = _prctl
    if prctl is None:
        return None
    parent = os.getpid()
    kill_signal = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, kill_signal, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


# -- spawning ---------------------------------------------------------------------------------------


class Spawned:
    """A server we started: its transport, its process group, and its place in the registry."""

    def __init__(self, transport: asyncio.SubprocessTransport, serial: int) -> None:
        self.transport = transport
        self.serial = serial
        self.pid: int = transport.get_pid()
        self.group_gone = False
        """Set once the whole process group is proven gone: from then on its PGID may name someone else's group."""

    @property
    def returncode(self) -> int | None:
        return self.transport.get_returncode()

    def signal_group(self, signum: int) -> None:
        """Signal the server's process group (its PGID is its PID: it leads its own session)."""
        if self.group_gone:
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            self.group_gone = self.returncode is not None  # a group without its reaped leader is empty for good
        except (PermissionError, OSError):
            pass

    def release(self) -> None:
        """Forget the server once it is reaped: from now on, what it left behind counts as orphans."""
        if self.returncode is not None:
            _registry.release(self.serial)


async def spawn(
    argv: Sequence[str],
    protocol_factory: Callable[[], P],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    stderr: int | None = None,
) -> tuple[Spawned, P]:
    """Start `argv` with piped stdin/stdout in a new session, marked as ours, dying with this thread (Linux).

    Exactly `env` is the child's environment (plus the owner mark): callers decide what to inherit.
    Must be awaited in the event loop's thread, which is where asyncio forks.
    """
    loop = asyncio.get_running_loop()
    serial = _registry.reserve()
    try:
        transport, protocol = await loop.subprocess_exec(
            protocol_factory,
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**env, OWNER_ENV: f"{os.getpid()}:{serial}"},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=die_with_parent_preexec(),
        )
    except BaseException:
        _registry.release(serial)
        raise
    _registry.started(serial, transport.get_pid())
    _schedule_sweeps(loop)
    return Spawned(transport, serial), protocol


# -- orphans ----------------------------------------------------------------------------------------


def reap_orphans() -> list[int]:
    """Kill what reparented to us from a server that is gone, and reap what is dead. Returns the PIDs killed.

    Leaves alone: the servers themselves (asyncio reaps them), orphans whose server still runs (a daemon
    the server relies on), and any child without our mark (not ours to touch). Killed orphans that are not
    yet dead are reaped by a later call (or `reap_orphans_async`, which waits a little).
    """
    if not is_subreaper():
        return []
    me = os.getpid()
    servers, in_flight = _registry.view()
    server_pids = {pid for pid in servers.values() if pid is not None}
    killed: list[int] = []
    for pid, zombie in _children(me):
        if pid in server_pids:
            continue
        if zombie:
            if pid in _registry.seen_orphans or (_registry.sole_owner and not in_flight):
                _reap(pid)
            continue
        serial = _owner_serial(pid, me)
        if serial is None:
            continue
        _registry.seen_orphans.add(pid)  # proven ours: once it exits, its zombie is ours to reap
        if serial in servers:
            continue  # its server still runs and may rely on it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    for pid in killed:
        _reap(pid)
    return killed


async def reap_orphans_async(wait: float = REAP_WAIT) -> list[int]:
    """`reap_orphans`, then up to `wait` seconds for the killed ones to be reaped (a SIGKILL is not instant)."""
    killed = reap_orphans()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    pending = [pid for pid in killed if pid in _registry.seen_orphans]
    while pending and loop.time() < deadline:
        await asyncio.sleep(0.02)
        pending = [pid for pid in pending if not _reap(pid)]
    return killed


def _reap(pid: int) -> bool:
    """waitpid this one PID without blocking; True once it is gone (reaped now, or by someone else)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = pid
    if done:
        _registry.seen_orphans.discard(pid)
        return True
    return False


def _children(parent: int) -> Iterator[tuple[int, bool]]:
    """(pid, is_zombie) of every child of `parent`, from /proc."""
    for pid in _child_pids(parent):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == parent:
            yield pid, fields[0] == b"Z"


def _child_pids(parent: int) -> list[int]:
    """Candidates for `_children`: the kernel's per-thread child lists where it keeps them, else every PID."""
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return []
    if not os.path.exists(f"/proc/{parent}/task/{parent}/children"):  # a kernel without CONFIG_PROC_CHILDREN
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    pids: list[int] = []
    for task in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{parent}/task/{task}/children", "rb") as handle:
            pids.extend(int(pid) for pid in handle.read().split())  # OSError: the thread ended while we looked
    return pids


def _owner_serial(pid: int, me: int) -> int | None:
    """The spawn serial in the process's owner mark, if it carries ours."""
    prefix = f"{OWNER_ENV}={me}:".encode()
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            with contextlib.suppress(ValueError):
                return int(entry[len(prefix) :])
    return None


def _schedule_sweeps(loop: asyncio.AbstractEventLoop) -> None:
    """A sweep every REAP_EVERY seconds on this loop while we have servers or orphans to reap (idempotent)."""
    if loop in _sweeps or not is_subreaper():
        return

    def sweep() -> None:
        _sweeps.pop(loop, None)
        try:
            reap_orphans()
        except Exception:  # a sweep must never take the loop down; the next one tries again
            logger.exception("sweeping orphaned processes failed")
        if len(_registry) or _registry.seen_orphans:
            _schedule_sweeps(loop)

    _sweeps[loop] = loop.call_later(REAP_EVERY, sweep)
