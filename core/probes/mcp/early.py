"""Stdio servers started before the engine exists: `lookout --once` imports its engine while they boot.

A stdio server built on an SDK spends most of a second importing it, and a
`--once` run spends a few hundred milliseconds more importing its engine after
reading the config. `start_early` spawns the servers the run will probe as soon
as the config is read; the probe's transport adopts its server (`claim`)
instead of spawning another, so the two start-ups overlap. `discard_early`
ends whatever no probe adopted (a run cut short by a signal, a probe skipped).

Only servers the run starts at once are started early: stdio services without
`depends_on` (those wait for another service's result), no more than the
fleet's `max_starting`. An early server is spawned exactly as a probe spawns
one (`spawning.spawn_server`), dies with Lookout as any other, and its cold
start counts from its spawn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass

from core.config import McpService
from core.probes.mcp.pipes import ServerPipes
from core.probes.mcp.spawning import spawn_server
from core.processes import Spawned, reap_orphans_async

DISCARD_WAIT = 1.0
"""Time for a discarded (SIGKILLed) server's exit to be reaped."""


@dataclass
class EarlyServer:
    """A server spawned before its probe: what the probe's transport takes over."""

    service: McpService
    started_at: float
    """`time.perf_counter()` just before the spawn: the server's cold start counts from here."""
    spawned: Spawned
    pipes: ServerPipes
    stderr_fd: int


_early: dict[int, EarlyServer] = {}
"""Servers waiting for their probe, by the identity of their service's config (the engine probes the very
objects the config holds; an equal but different object is another run's and starts its own)."""


async def start_early(services: Iterable[McpService], limit: int) -> int:
    """Spawn the servers of up to `limit` of `services` (stdio, no `depends_on`) now; how many were spawned.

    A server that cannot be spawned is left to its probe, which reports why."""
    started = 0
    for service in services:
        if started >= limit:
            break
        if service.transport != "stdio" or service.depends_on or id(service) in _early:
            continue
        at = time.perf_counter()
        try:
            spawned, pipes, stderr_fd = await spawn_server(service)
        except Exception:  # e.g. no such command: the probe spawns it again and says why
            continue
        _early[id(service)] = EarlyServer(service, at, spawned, pipes, stderr_fd)
        started += 1
    return started


def claim(service: McpService) -> EarlyServer | None:
    """The server started early for this very service, now the caller's to run and stop; None if there is none."""
    early = _early.get(id(service))
    if early is None or early.service is not service:
        return None
    del _early[id(service)]
    return early


async def discard_early() -> None:
    """End every early server no probe adopted: kill its process group, reap it, close our pipe ends."""
    left = list(_early.values())
    _early.clear()
    for early in left:
        early.spawned.signal_group(signal.SIGKILL)
        early.pipes.close_stdin()
    for early in left:
        await early.pipes.wait_exit(DISCARD_WAIT)
        early.spawned.transport.close()
        early.spawned.release()
        with contextlib.suppress(OSError):
            os.close(early.stderr_fd)
    if left:
        await reap_orphans_async()
