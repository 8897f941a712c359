"""`${VAR}`, `${VAR:-default}` and `$$` in config strings, from the environment.

Values that came from the environment are remembered: they are the tokens that
must never be printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\$\$|\$\{(?P<body>[^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    pass


@dataclass
class Interpolated:
    text: str
    used_env: bool = False
    """True when the string referenced at least one variable."""
    all_empty: bool = False
    """True when every referenced variable expanded to "" (an optional token that is not set)."""
    values: list[str] = field(default_factory=list)
    """Values taken from the environment (secret candidates)."""


def interpolate(text: str, env: Mapping[str, str]) -> Interpolated:
    result = Interpolated(text)
    if "$" not in text:
        return result
    pieces: list[str] = []
    position = 0
    expansions: list[str] = []
    for match in _TOKEN.finditer(text):
        pieces.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "$$":
            pieces.append("$")
            continue
        body = match.group("body")
        if body is None:
            raise InterpolationError("unterminated '${': write '$$' for a literal '$'")
        name, has_default, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            raise InterpolationError(f"'${{{body}}}' is not a variable reference: use ${{NAME}} or ${{NAME:-default}}")
        value = env.get(name)
        if value is None or (has_default and value == ""):
            if not has_default:
                raise InterpolationError(
                    f"environment variable {name} is not set (write ${{{name}:-}} to make it optional)"
                )
            value = default
        else:
            result.values.append(value)
        expansions.append(value)
        pieces.append(value)
    pieces.append(text[position:])
    result.text = "".join(pieces)
    result.used_env = bool(expansions)
    result.all_empty = bool(expansions) and all(v == "" for v in expansions)
    return result
