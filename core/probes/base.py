"""The contract between the engine and a probe.

A probe knows how to check one kind of service once (one *attempt*). The
engine owns everything around it: the schedule, the rate-limit gate, the
breaker, retries, the timeout and the state. A new kind of service plugs in
by providing a `Probe` and registering a factory; the engine does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx2

    from core.events import Event, LogLevel
    from core.results import ProbeOutcome


@dataclass(slots=True)
class ProbeContext:
    """What the engine lends a probe. Shared, long-lived, owned by the engine."""

    service_name: str
    http: httpx2.AsyncClient
    """The engine's one pooled HTTP client."""
    log: Callable[[LogLevel, str, str], None]
    """log(level, message, source): becomes a LogEvent for this service (secrets masked)."""
    publish: Callable[[Event], None]
    """Publish any other event (e.g. InventoryChanged)."""
    redact: Callable[[str], str]
    """Mask secrets in text before it leaves the probe."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Wall-clock time (aware UTC), the engine's clock: for servers' reset times."""


class Probe(Protocol):
    """One service's checker. Instances live as long as the engine runs the service."""

    async def attempt(self, timeout: float) -> ProbeOutcome:
        """Check the service once. Raise `ProbeError` on failure.

        The engine also cancels the attempt after `timeout` seconds; a probe
        that holds resources (processes, sessions) must release them on
        cancellation as on any other exit.
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


ProbeFactory = Callable[[Any, ProbeContext], Probe]
"""factory(service_config, context) -> Probe"""
