"""Keeping secrets out of every output, and nothing else.

What is a secret is decided by *position*, not by length or looks:

- a value in a credential position, written literally or interpolated: the value of
  a credential header (Authorization, Proxy-Authorization, Cookie, `*-Key`,
  `*-Token`, ...; a scheme word such as "Bearer" stays readable), every `env`
  value of a stdio server, URL userinfo, every URL query value, and the argument
  after a `--token` / `--api-key` / `--password`-style flag (or in `--token=VALUE`);
- every value of a variable whose *name* says so (`*TOKEN*`, `*KEY*`, `*SECRET*`,
  `*PASSWORD*`, `*AUTH*`, ...), wherever it is interpolated.

Everything else is shown: a `${WORKDIR}` path or a `${MCP_HOST}` host is what a
report is about. The loader collects the secret values into a `Redactor`, and
every string that leaves the engine (reasons, log lines, config summaries,
reports) passes through it (a URL in any text loses its userinfo and query
values); the display helpers below (`headers`, `env`, `args`) mask by position
as well, so even a value too short to be masked in free text never shows in its
own field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked in free text: masking "1" everywhere would garble every number."""
MIN_FREE_TEXT_LENGTH = 6
"""Env values and URL query values shorter than this are masked in their own field but not in free text,
unless their name marks them as secret: an env `MODE: debug` or `?ms=200` would otherwise turn every
"debug" and "200" of every reason into ***."""

SENSITIVE_NAME = re.compile(
    r"auth|token|secret|passw|key|private|credential|cookie|session|signature|bearer",
    re.IGNORECASE,
)
"""Names (variables, headers, env entries, flags, query keys) whose value is a credential."""

_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>[^\s'\"<>`]*)", re.IGNORECASE)
_USERINFO = re.compile(r"^(?P<userinfo>[^/?#@]+)@")
_QUERY_VALUE = re.compile(r"(?P<key>[?&][^=&#]*=)(?P<value>[^&#)\]}'\"]*)")
"""A query value ends at & or #, or at a bracket or quote that closes around the URL in prose."""
_AUTH_SCHEME = re.compile(r"^(?P<scheme>Bearer|Basic|Token|Bot|Digest|Negotiate|ApiKey)\s+\S", re.IGNORECASE)
_FLAG = re.compile(r"^--?(?P<name>[A-Za-z][\w.-]*?)(?:=(?P<value>.*))?$", re.DOTALL)


def is_credential_name(name: str) -> bool:
    return bool(SENSITIVE_NAME.search(name))


def credential_part(value: str) -> str:
    """ "Bearer abc123" -> "abc123": the secret is the credential, not the scheme word."""
    scheme = _AUTH_SCHEME.match(value)
    return value[scheme.end("scheme") :].strip() if scheme else value


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """Credential header values (a Cookie header's every cookie value too)."""
    found: list[str] = []
    for name, value in headers.items():
        if not is_credential_name(name) or not value:
            continue
        found.append(credential_part(value))
        if name.lower() == "cookie":
            found += [part.partition("=")[2].strip() for part in value.split(";") if "=" in part]
    return found


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """`env` values of a stdio server, for masking in free text (see MIN_FREE_TEXT_LENGTH)."""
    return [value for name, value in env.items() if len(value) >= MIN_FREE_TEXT_LENGTH or is_credential_name(name)]


def url_secrets(url: str) -> list[str]:
    """Userinfo and query values of a URL, for masking in free text (see MIN_FREE_TEXT_LENGTH)."""
    if "@" not in url and "?" not in url:
        return []  # no userinfo, no query: nothing to split for (10,000 URLs at config load)
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        found.append(userinfo)
        found += [piece for piece in userinfo.split(":", 1) if piece]
    for match in _QUERY_VALUE.finditer("?" + parts.query if parts.query else ""):
        value = match["value"]
        if len(value) >= MIN_FREE_TEXT_LENGTH or is_credential_name(match["key"]):
            found.append(value)
    return found


def arg_secrets(args: Sequence[str]) -> list[str]:
    """Values given to `--token`-style flags, as `--token VALUE` or `--token=VALUE`."""
    return [args[index] for index in _secret_arg_positions(args)] + [
        value for arg in args if (value := _inline_flag_secret(arg))
    ]


def _secret_arg_positions(args: Sequence[str]) -> list[int]:
    positions = []
    for index, arg in enumerate(args[:-1]):
        flag = _FLAG.match(arg)
        follows = args[index + 1]
        if flag and flag["value"] is None and is_credential_name(flag["name"]) and not follows.startswith("-"):
            positions.append(index + 1)
    return positions


def _inline_flag_secret(arg: str) -> str | None:
    flag = _FLAG.match(arg)
    if flag and flag["value"] and is_credential_name(flag["name"]):
        return flag["value"]
    return None


RUNTIME_SECRET_LIMIT = 256
"""Run-time secrets kept at most: a refreshed OAuth token adds one an hour, for as long as a daemon runs.
The oldest (long expired) is forgotten first."""
_RUNTIME_SECRETS: dict[str, None] = {}
"""Secrets learned while running (a `token_command`'s output, a stored OAuth token): masked by every Redactor."""
_runtime_longest_first: list[str] = []


def register_secret(value: str) -> None:
    """Mask `value` in every output from now on (a token obtained at run time, not written in the config)."""
    global _runtime_longest_first
    if not value or len(value) < MIN_SECRET_LENGTH or value in _RUNTIME_SECRETS:
        return
    _RUNTIME_SECRETS[value] = None
    while len(_RUNTIME_SECRETS) > RUNTIME_SECRET_LIMIT:
        del _RUNTIME_SECRETS[next(iter(_RUNTIME_SECRETS))]
    _runtime_longest_first = sorted(_RUNTIME_SECRETS, key=len, reverse=True)


class Redactor:
    """Replaces known secret values with *** in any text, and masks credential positions for display."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(unique, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for secret in _runtime_longest_first:
            if secret in text:
                text = text.replace(secret, MASK)
        if "://" in text:
            text = _URL.sub(lambda m: m["scheme"] + _mask_url_rest(m["rest"]), text)
        return text

    def args(self, args: Sequence[str]) -> list[str]:
        """Command arguments for display: the value after a `--token`-style flag (or after `=`) masked."""
        hidden = set(_secret_arg_positions(args))
        shown = []
        for index, arg in enumerate(args):
            if index in hidden:
                shown.append(MASK)
            elif _inline_flag_secret(arg) is not None:
                shown.append(arg.partition("=")[0] + "=" + MASK)
            else:
                shown.append(self(arg))
        return shown

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers for display: credential headers keep only their scheme ("Bearer ***")."""
        shown: dict[str, str] = {}
        for name, value in headers.items():
            if is_credential_name(name):
                scheme = _AUTH_SCHEME.match(value)
                shown[name] = f"{scheme['scheme']} {MASK}" if scheme else MASK
            else:
                shown[name] = self(value)
        return shown

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        """A stdio server's environment for display: every value is a credential position, so all are masked."""
        return {name: MASK if value else value for name, value in env.items()}


def _mask_url_rest(rest: str) -> str:
    """Everything after `scheme://`: userinfo and query values become ***; host, port and path stay."""
    rest = _USERINFO.sub(MASK + "@", rest, count=1)
    query_at = rest.find("?")
    if query_at < 0:
        return rest
    fragment_at = rest.find("#", query_at)
    query = rest[query_at : fragment_at if fragment_at >= 0 else len(rest)]
    masked = _QUERY_VALUE.sub(lambda m: m["key"] + (MASK if m["value"] else ""), query)
    return rest[:query_at] + masked + (rest[fragment_at:] if fragment_at >= 0 else "")
