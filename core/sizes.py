"""Byte sizes as people write them in services.yaml (`512KiB`, `1MiB`, `10MB`) and read them in reasons.

One parser and one formatter, so a limit in the config and the reason that cites it agree.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*([a-z]{0,3})\s*$", re.IGNORECASE)
HINT = "use a number of bytes or 512KiB, 1MiB, 10MB"


def parse_size(value: object) -> int:
    """Bytes from an int or a string such as "512KiB", "1MiB" or "10MB".

    Raises ValueError with a message meant for the person who wrote the config.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size: {HINT}")
    if isinstance(value, int):
        size = value
    elif isinstance(value, float) and value.is_integer():
        size = int(value)
    elif isinstance(value, str):
        match = _SIZE.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"{value[:40]!r} is not a size: {HINT}")
        size = int(float(match.group(1)) * _UNITS[unit])
    else:
        raise ValueError(f"{value!r} is not a size: {HINT}")
    if size < 0:
        raise ValueError(f"{value!r} is negative: a size must be >= 0")
    return size


def format_size(size: int) -> str:
    """1048576 -> "1 MiB", 1500 -> "1.5 KiB", 12 -> "12 bytes"."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            text = f"{size / factor:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{size} bytes"
