"""The contract between the engine and a probe.

A probe knows how to check one kind of service once (one *attempt*). The
engine owns everything around it: the schedule, the rate-limit gate, the
breaker, retries, the attempt's deadline and the state. A new kind of service
plugs in by providing a `Probe` and registering a factory; the engine does not
change.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx2

    from core.deadline import Deadline
    from core.events import Event, LogLevel
    from core.pins.store import PinStore
    from core.results import ProbeOutcome


def default_max_starting() -> int:
    """Two process starts per CPU core: a cold start is CPU-bound (an interpreter, imports, a JIT)."""
    return 2 * (os.cpu_count() or 1)


@dataclass(slots=True)
class ProbeContext:
    """What the engine lends a probe. Shared, long-lived, owned by the engine."""

    service_name: str
    http: Callable[[], httpx2.AsyncClient]
    """The engine's one pooled HTTP client, made on first call (a fleet with no HTTP service never opens one).
    Injected, so a test can hand a probe a client over `httpx2.MockTransport`."""
    log: Callable[[LogLevel, str, str], None]
    """log(level, message, source): becomes a LogEvent for this service (secrets masked)."""
    publish: Callable[[Event], None]
    """Publish any other event (e.g. InventoryChanged)."""
    redact: Callable[[str], str]
    """Mask secrets in text before it leaves the probe."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Wall-clock time (aware UTC), the engine's clock: for servers' reset times."""
    start_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(default_max_starting()))
    """Fleet-wide: how many server processes may be starting at once (spawned, handshake not done).
    The engine shares one among all probes; a fleet that cold-starts together must not starve itself."""
    pins: Callable[[], PinStore | None] = field(default=lambda: None)
    """The tool pins this engine compares MCP inventories with (None: none kept), looked up at each use."""
    probe_now: Callable[[], None] = field(default=lambda: None)
    """Ask for a probe of this service at once (a server said its tools changed; an approval arrived).
    Does nothing when the engine is not running its schedule (a `run_once`)."""


class Probe(Protocol):
    """One service's checker. Instances live as long as the engine runs the service."""

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        """Check the service once, within `deadline`. Raise `ProbeError` on failure.

        The deadline is made once per attempt by the engine; the probe bounds
        every stage by it and reports which stage ran out. The engine cancels
        the attempt only a grace period after the deadline (a backstop), so the
        probe's own reason wins. A probe that holds resources (processes,
        sessions) must release them on cancellation as on any other exit.
        """
        ...

    async def reset(self) -> None:
        """Drop persistent resources (a session, a child process).

        Called when the breaker opens, on reload and on shutdown. Must not raise.
        """
        ...

    async def aclose(self) -> None:
        """Release everything; the probe is not used again. Must not raise."""
        ...


class NeedsStartupTime(Protocol):
    """A probe whose next attempt may first have to start something (a server process, a session)."""

    def attempt_budget(self) -> float:
        """Seconds the next attempt may take: its `timeout`, plus `startup_timeout` if it must start anew."""
        ...


def attempt_budget(probe: Probe | NeedsStartupTime, timeout: float) -> float:
    """The deadline to give the next attempt: `timeout`, unless the probe knows it needs longer.

    Looked up by name, not `isinstance` on a runtime-checkable protocol: this runs on every attempt, and
    that check costs tens of microseconds.
    """
    budget = getattr(probe, "attempt_budget", None)
    return budget() if callable(budget) else timeout


ProbeFactory = Callable[[Any, ProbeContext], Probe]
"""factory(service_config, context) -> Probe"""
