"""`/readyz`: the daemon is ready once every service has a first result or its startup time is up.

A load balancer or a `systemctl start` that waits for readiness must not wait
forever on one server that never answers: a service with no result counts as
settled once its `startup_timeout` (MCP; the fleet default for other kinds)
has passed since the daemon started.
"""

from __future__ import annotations

from core.config import Config
from core.snapshot import FleetSnapshot


def startup_timeout(config: Config, name: str) -> float:
    service = config.services.get(name)
    own = getattr(service, "startup_timeout", None)
    return float(own) if own is not None else float(config.defaults.startup_timeout)


def waiting_for(snapshot: FleetSnapshot, config: Config, running_for: float) -> list[str]:
    """Services with no result yet whose startup time is not up, after `running_for` seconds."""
    return [
        service.name
        for service in snapshot.services
        if service.last_result is None and running_for < startup_timeout(config, service.name)
    ]
