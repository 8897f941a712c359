"""Numbers as people read them: milliseconds and percentages, one formatter each for every view."""

from __future__ import annotations

UPTIME_PRECISION = (10.0, 99.5)
"""Uptime shows a decimal between these percentages: 99.2% and 98.7% are different services, 3% and 4% are not."""
QUOTA_PRECISION = (0.0, 10.0)
"""A quota shows a decimal below 10%: "4.2% left" warns, "45% left" needs no decimal."""


def format_ms(ms: float | None) -> str:
    """812ms, 2.3s; "-" when nothing was measured."""
    if ms is None:
        return "-"
    return f"{ms:.0f}ms" if ms < 1000 else f"{ms / 1000:.1f}s"


def format_percent(fraction: float | None, precise: tuple[float, float] = QUOTA_PRECISION) -> str:
    """A fraction as a percentage: one decimal inside `precise` [low, high), whole numbers elsewhere (and 0%).

    "-" when there is no fraction. The band is where a decimal carries meaning for what is shown.
    """
    if fraction is None:
        return "-"
    value = fraction * 100
    low, high = precise
    return f"{value:.1f}%" if value != 0 and low <= value < high else f"{value:.0f}%"
