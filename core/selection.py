"""Probing part of a fleet (`--only`): what must run, and what the report is about.

`lookout --once --only github-api context7` is a check *of those services*:
services left out are not part of the result (not in the summary, the exit
code, the JSON or the nagios line). What a named service depends on is still
probed, though, so its "depends on X, which is down" reason stays true; those
dependencies are probed, not reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `--once` asks for a selection before it spawns its servers: nothing here may slow that down
    from core.config import ServiceConfig
    from core.snapshot import FleetSnapshot


def with_dependencies(services: Mapping[str, ServiceConfig], names: Iterable[str]) -> list[str]:
    """The named services and everything they depend on, transitively: named ones first, in order.

    Iterative (a depends_on chain thousands long must not hit the recursion limit); unknown names
    are the caller's to reject, and are skipped here.
    """
    selected: dict[str, None] = {}
    pending = [name for name in names if name in services]
    for name in pending:
        selected.setdefault(name)
    while pending:
        name = pending.pop()
        for target in services[name].depends_on:
            if target in services and target not in selected:
                selected[target] = None
                pending.append(target)
    return list(selected)


def restrict(snapshot: FleetSnapshot, names: Sequence[str]) -> FleetSnapshot:
    """The snapshot as a report of only `names`, in the fleet's order."""
    wanted = set(names)
    return dataclasses.replace(snapshot, services=tuple(s for s in snapshot.services if s.name in wanted))
