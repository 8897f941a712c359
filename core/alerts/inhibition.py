"""Root cause, not an avalanche: a service failing because something it depends on is down stays quiet.

Alertmanager-style inhibition, built in from `depends_on`: whatever channels and
rules are involved, a service that is down or degraded while any service in its
`depends_on` (followed transitively) is down does not alert; the root's
notification names it among `dependants` instead. Silencing the root does not
lift this: a silenced root means a quiet fleet, not an avalanche of its dependants.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.config.models import ServiceConfig
from core.results import Status

INHIBITED_CONDITIONS = ("down", "degraded", "breaker_open")
"""Rules about a service's health; a rate-limit rule is about the service's own quota and is never inhibited."""
FAILING = (Status.DOWN, Status.DEGRADED)


def closures(services: Mapping[str, ServiceConfig]) -> dict[str, frozenset[str]]:
    """Each service's dependencies, followed transitively (the loader refuses cycles; this stops on one anyway)."""
    out: dict[str, frozenset[str]] = {}
    for name in services:
        seen: set[str] = set()
        stack = list(services[name].depends_on)
        while stack:
            target = stack.pop()
            if target in seen or target == name or target not in services:
                continue
            seen.add(target)
            stack.extend(services[target].depends_on)
        out[name] = frozenset(seen)
    return out


def inhibiting_root(name: str, deps: Mapping[str, frozenset[str]], statuses: Mapping[str, Status]) -> str | None:
    """The first (by name) dependency of `name` that is down, or None: the service may alert."""
    roots = sorted(dep for dep in deps.get(name, ()) if statuses.get(dep) is Status.DOWN)
    return roots[0] if roots else None


def dependants_of(root: str, deps: Mapping[str, frozenset[str]], statuses: Mapping[str, Status]) -> tuple[str, ...]:
    """Services failing now that depend (transitively) on `root`, when `root` is down: named in its alert."""
    if statuses.get(root) is not Status.DOWN:
        return ()
    return tuple(sorted(name for name, needs in deps.items() if root in needs and statuses.get(name) in FAILING))
