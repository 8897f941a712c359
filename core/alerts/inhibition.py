"""Root cause, not an avalanche: a service failing because something it depends on is down stays quiet.

Alertmanager-style inhibition, built in from `depends_on`: whatever channels and
rules are involved, a service that is down or degraded while any service in its
`depends_on` (followed transitively) is down does not alert; the root's
notification names it among `dependants` instead. Silencing the root does not
lift this: a silenced root means a quiet fleet, not an avalanche of its dependants.

The graph is walked on demand from the direct edges, never materialised as
transitive closures: the loader accepts chains of thousands of `depends_on`
links, whose closures would hold millions of pairs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping

from core.config.models import ServiceConfig
from core.results import Status

INHIBITED_CONDITIONS = ("down", "degraded", "breaker_open")
"""Rules about a service's health. A rate-limit, tools-changed or token-expiring rule is about the service's own
quota, tools or credentials, which a dependency's outage does not explain: those are never inhibited."""
FAILING = (Status.DOWN, Status.DEGRADED)

Edges = Mapping[str, tuple[str, ...]]


def edges(services: Mapping[str, ServiceConfig]) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(what each service depends on, what depends on each service): direct edges, both ways."""
    needs = {name: tuple(d for d in service.depends_on if d in services) for name, service in services.items()}
    needed_by: dict[str, list[str]] = {name: [] for name in services}
    for name, targets in needs.items():
        for target in targets:
            needed_by[target].append(name)
    return needs, {name: tuple(found) for name, found in needed_by.items()}


def walk(start: str, graph: Edges) -> Iterator[str]:
    """Every service reachable from `start` along `graph` (not `start` itself), nearest first, each once."""
    seen = {start}
    queue = deque(graph.get(start, ()))
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        yield name
        queue.extend(graph.get(name, ()))


def inhibiting_root(name: str, needs: Edges, statuses: Mapping[str, Status]) -> str | None:
    """The nearest dependency of `name` (transitively) that is down, or None: the service may alert."""
    return next((dep for dep in walk(name, needs) if statuses.get(dep) is Status.DOWN), None)


def dependants_of(root: str, needed_by: Edges, statuses: Mapping[str, Status]) -> tuple[str, ...]:
    """Services failing now that depend (transitively) on `root`, when `root` is down: named in its alert."""
    if statuses.get(root) is not Status.DOWN:
        return ()
    return tuple(sorted(name for name in walk(root, needed_by) if statuses.get(name) in FAILING))
