"""`${VAR}`, `${VAR:-default}` and `$$` in config strings, from the environment.

Each expansion remembers the variable it came from: whether a value is a secret
depends on that name (`GITHUB_TOKEN` is, `WORKDIR` is not) as much as on where
the value lands (see core/redact.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\$\$|\$\{(?P<body>[^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Expansion:
    variable: str
    value: str
    """What was substituted: the variable's value, or the default when it is unset."""
    from_env: bool
    """False when the default was used."""


@dataclass
class Interpolated:
    text: str
    expansions: list[Expansion] = field(default_factory=list)

    @property
    def used_env(self) -> bool:
        """True when the string referenced at least one variable."""
        return bool(self.expansions)

    @property
    def all_empty(self) -> bool:
        """True when every referenced variable expanded to "" (an optional token that is not set)."""
        return bool(self.expansions) and all(e.value == "" for e in self.expansions)


def interpolate(text: str, env: Mapping[str, str]) -> Interpolated:
    result = Interpolated(text)
    if "$" not in text:
        return result
    pieces: list[str] = []
    position = 0
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
            shown = body if len(body) <= 40 else body[:39] + "…"
            raise InterpolationError(f"'${{{shown}}}' is not a variable reference: use ${{NAME}} or ${{NAME:-default}}")
        value = env.get(name)
        from_env = not (value is None or (has_default and value == ""))
        if not from_env:
            if not has_default:
                raise InterpolationError(
                    f"environment variable {name} is not set (write ${{{name}:-}} to make it optional)"
                )
            value = default
        result.expansions.append(Expansion(name, value or "", from_env))
        pieces.append(value or "")
    pieces.append(text[position:])
    result.text = "".join(pieces)
    return result
