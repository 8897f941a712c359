"""A `WWW-Authenticate` header, parsed: what a 401/403 says it wants.

The header is the server's text, so parsing is bounded and forgiving: at most
`HEADER_LIMIT` characters are read, unknown parameters are kept but never
trusted, and a malformed header yields what could be read rather than an
error (a refusal must still be reported as one). Only the first challenge is
used: MCP servers and GitHub send one Bearer challenge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADER_LIMIT = 4096
"""Characters of the header read at most; a longer one is cut (and the rest ignored)."""
PARAM_LIMIT = 32
"""Parameters kept at most."""

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*(?P<name>{_TOKEN})\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^\s,]*))\s*,?')
_SCHEME = re.compile(rf"\s*(?P<scheme>{_TOKEN})(?:\s+|$)")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge: its scheme ("Bearer") and parameters (names lower-cased, values as sent)."""

    scheme: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if value else None

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple((self.get("scope") or "").split())


def parse_challenge(header: str) -> Challenge:
    """The first challenge of a `WWW-Authenticate` value ("" gives an empty one)."""
    text = header[:HEADER_LIMIT]
    scheme_match = _SCHEME.match(text)
    if scheme_match is None or "=" in scheme_match["scheme"]:
        return Challenge()
    params: dict[str, str] = {}
    at = scheme_match.end()
    while at < len(text) and len(params) < PARAM_LIMIT:
        match = _PARAM.match(text, at)
        if match is None or match.end() == at:
            break
        value = re.sub(r"\\(.)", r"\1", match["quoted"]) if match["quoted"] is not None else match["token"] or ""
        params.setdefault(match["name"].lower(), value)
        at = match.end()  # a following challenge ("Basic realm=...") is no parameter: the loop ends there
    return Challenge(scheme_match["scheme"], params)
