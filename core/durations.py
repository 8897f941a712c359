"""Durations as people write them in services.yaml (`500ms`, `10s`, `2m`, `1h30m`) and read them in reports.

One parser and one formatter, so the config, the reasons and the screen agree on the notation.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
HINT = "use 500ms, 10s, 2m, 1h or a number of seconds"
MAX_SECONDS = 365 * 86400.0
"""No setting means more than a year; a larger number is a typo (or `1e308`, which would overflow a timer)."""


def parse_duration(value: object, *, maximum: float = MAX_SECONDS) -> float:
    """Seconds from a number or a string such as "500ms", "10s", "2m", "1m30s" or "7.5".

    Raises ValueError with a message meant for the person who wrote the config.
    """
    if type(value) is float and 0.0 <= value <= maximum:
        return value  # already seconds (a default, a parsed value): the common case, without the checks below
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: {HINT}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        seconds = _parse_text(value.strip())
    else:
        raise ValueError(f"{_shown(value)} is not a duration: {HINT}")
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{_shown(value)} is not a duration: {HINT}")
    if seconds < 0:
        raise ValueError(f"{_shown(value)} is negative: a duration must be >= 0")
    if seconds > maximum:
        raise ValueError(f"must be at most {format_duration(maximum)} (got {_shown(value)})")
    return seconds


def _shown(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 128:
        return "a number that large"  # repr() of a huge int may itself refuse (Python's 4300-digit limit)
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _parse_text(text: str) -> float:
    if not text:
        raise ValueError(f"an empty string is not a duration: {HINT}")
    try:
        return float(text)
    except ValueError:
        pass
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise ValueError(f"{_shown(text)} is not a duration: {HINT}")
    return total


def format_duration(seconds: float | None) -> str:
    """Compact and exact enough to read at a glance: 300ms, 2.5s, 42s, 3m10s, 1h5m, 2d3h."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        millis = round(seconds * 1000)
        return f"{millis}ms" if millis < 1000 else "1s"
    if seconds < 10:
        text = f"{seconds:.1f}".rstrip("0").rstrip(".")
        return f"{text}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    if whole < 86400:
        hours, rest = divmod(whole, 3600)
        minutes = rest // 60
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, rest = divmod(whole, 86400)
    hours = rest // 3600
    return f"{days}d{hours}h" if hours else f"{days}d"
