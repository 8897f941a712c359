"""Keeping secrets out of every output.

A token enters Lookout through the environment (`${GITHUB_TOKEN}`) or, against
advice, written into services.yaml. Either way the loader hands its value to a
`Redactor`, and every string that leaves the engine (reasons, log lines, config
summaries, reports) passes through it. Header and env names that conventionally
carry credentials are masked even when the value was not recognised as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not treated as secrets: masking "1" everywhere would garble every number."""

SENSITIVE_NAME = re.compile(
    r"auth|token|secret|passw|api[-_]?key|apikey|access[-_]?key|private|credential|cookie|session|signature",
    re.IGNORECASE,
)
_URL_SECRET = re.compile(
    r"(?P<key>[?&](?:[^=&#\s]*(?:token|key|secret|password|sig|auth)[^=&#\s]*)=)(?P<value>[^&#\s]+)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@", re.IGNORECASE)
_AUTH_SCHEME = re.compile(r"^(?P<scheme>Bearer|Basic|Token|Bot|Digest)\s+\S", re.IGNORECASE)


class Redactor:
    """Replaces known secret values with *** in any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(unique, key=len, reverse=True)

    @property
    def secret_count(self) -> int:
        return len(self._secrets)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if "://" in text or "=" in text:
            text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
            text = _URL_SECRET.sub(lambda m: f"{m['key']}{MASK}", text)
        return text

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers for display: credential headers keep only their scheme ("Bearer ***")."""
        shown: dict[str, str] = {}
        for name, value in headers.items():
            if SENSITIVE_NAME.search(name):
                scheme = _AUTH_SCHEME.match(value)
                shown[name] = f"{scheme['scheme']} {MASK}" if scheme else MASK
            else:
                shown[name] = self(value)
        return shown

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        """Environment for display: values of credential-looking names are masked outright."""
        return {name: MASK if SENSITIVE_NAME.search(name) and value else self(value) for name, value in env.items()}
