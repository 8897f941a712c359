"""Small text renderings shared by the panels: ages, countdowns, bars, sparklines, badges.

Numbers (milliseconds, percentages) are formatted by core.numbers, the same way in every view.

Status is never colour alone: every badge carries a symbol and a word.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from rich.text import Text

from core.durations import format_duration
from core.results import Status

STATUS_STYLE = {
    Status.UP: "bold green",
    Status.DEGRADED: "bold yellow",
    Status.DOWN: "bold red",
    Status.UNKNOWN: "dim",
}
BREAKER_STYLE = {"closed": "green", "open": "bold red", "half-open": "bold yellow"}
BREAKER_SYMBOL = {"closed": "●", "open": "✖", "half-open": "◐"}
SPARKS = "▁▂▃▄▅▆▇█"


def plain(value: object) -> Text:
    """Text shown exactly as written. Server-supplied text (reasons, stderr lines, tool
    descriptions) must never be read as markup: `[/usr/bin/node] boom` would otherwise raise
    a MarkupError inside the render loop, and `[error]` would vanish."""
    return Text(str(value), end="", no_wrap=True, overflow="ellipsis")


@lru_cache(maxsize=16)
def badge(status: Status, *, paused: bool = False) -> Text:
    """Shared instances (a fleet has thousands of badges and a few kinds): never mutate one."""
    if paused:
        return Text("‖ paused", style="dim", end="")
    return Text(f"{status.symbol} {status.value}", style=STATUS_STYLE[status], end="")


@lru_cache(maxsize=16)
def breaker_badge(state: str) -> Text:
    """Shared instances, like badge()."""
    return Text(f"{BREAKER_SYMBOL.get(state, '?')} {state}", style=BREAKER_STYLE.get(state, ""), end="")


def coarse(seconds: float) -> str:
    """A duration as precise as a glance needs, in at most 6 characters: 2.3s, 42s, 9m59s, 59m, 10h, 2d3h."""
    if seconds < 10:
        return format_duration(seconds)
    if seconds < 600:
        return format_duration(round(seconds))
    if seconds < 36000:
        return format_duration(60 * round(seconds / 60))
    return format_duration(3600 * round(seconds / 3600))


JUST_NOW = 5.0
"""Seconds since an event that read as "just now"."""


def clock_step(seconds: float) -> int:
    """How finely a relative time is told: 1 s under 10 s, then 5 s, 10 s, a minute, an hour.

    A clock column ("12s ago", "in 3m") is read at a glance, and every change of its text repaints its row:
    told to the second, every row on screen was drawn again every second. Told this finely, the text of
    one that is not counting down its last seconds changes every five seconds at most.
    """
    if seconds < 10:
        return 1
    if seconds < 60:
        return 5
    if seconds < 600:
        return 10
    return 60 if seconds < 36000 else 3600


def ago(when: datetime | None, now: datetime) -> str:
    """Time since `when`, rounded down to its `clock_step`: "42s ago" means at least 42 s."""
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    if seconds < JUST_NOW:
        return "just now"
    step = clock_step(seconds)
    return f"{coarse(step * math.floor(seconds / step))} ago"


def until(when: datetime | None, now: datetime) -> str:
    """Time left until `when`, rounded up to its `clock_step`: "in 45s" means at most 45 s, never "now" early."""
    if when is None:
        return "-"
    seconds = (when - now).total_seconds()
    if seconds <= 0:
        return "now"
    step = clock_step(seconds)
    return f"in {coarse(step * math.ceil(seconds / step))}"


SPARKLINE_WIDTH = 8
"""Values a sparkline draws: the newest ones."""


def sparkline(values: Sequence[float], width: int = SPARKLINE_WIDTH) -> str:
    values = list(values)[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    return "".join(SPARKS[min(len(SPARKS) - 1, int((v - low) / span * (len(SPARKS) - 1)))] for v in values)


def count(n: int) -> str:
    """A quota count in at most 5 characters, exact below 10000: 4990, 38.8k, 400k, 1.2M."""
    if n < 10_000:
        return str(n)
    for unit, scale in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        value = n / scale
        if round(value, 1) < 100:
            return f"{value:.1f}{unit}"
        if round(value) < 1000:
            return f"{round(value)}{unit}"
    return f"{n / 1e12:.0f}T"


@lru_cache(maxsize=4096)
def quota_bar(remaining: int | None, limit: int | None, width: int = 10, *, exact: bool = False) -> Text:
    """remaining/limit as a bar coloured by how close it is to zero (and the numbers, never colour alone).

    Cached and shared, like badge(): a fleet re-renders the same few quotas every second."""
    number = str if exact else count
    if remaining is None:
        return Text("-", end="")
    if not limit:
        return Text(number(remaining), end="")
    fraction = max(0.0, min(1.0, remaining / limit))
    filled = round(fraction * width)
    style = "green" if fraction >= 0.5 else "yellow" if fraction >= 0.1 else "bold red"
    bar = Text("█" * filled, style=style, end="", no_wrap=True, overflow="ellipsis")
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {number(remaining)}/{number(limit)}")
    return bar
