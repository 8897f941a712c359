"""Nearest-rank percentiles, plain and weighted: always a value that was really observed.

Kept here rather than imported from core.state so `lookout history` loads none of the engine's
modules (its start-up time is most of its run time).
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from operator import itemgetter


def weighted_percentile(values: list[tuple[float, int]], fraction: float) -> float | None:
    """Nearest rank over (value, weight) pairs; with every weight 1 it is `core.state.percentile`."""
    ordered = sorted(values)
    cumulative = list(accumulate(map(itemgetter(1), ordered)))
    if not cumulative or cumulative[-1] <= 0:
        return None
    rank = max(1.0, fraction * cumulative[-1])
    return ordered[min(bisect_left(cumulative, rank), len(ordered) - 1)][0]
