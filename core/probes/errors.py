"""What an exception means for a probe, decided in one table (httpcore's `map_exceptions` model).

Transports raise whatever their libraries raise: httpx2's network errors
(`core.probes.httpx_errors`), aiohttp's (`core.probes.http_errors`), an OS
error from a spawn, an anyio stream closing under the SDK. A probe reports
a *reason* a person can act on ("connection refused", "timed out after 2s
(connecting)") and whether another attempt could help. Both probe kinds
translate through `translate` and the rules here, matched by type (first
match wins, so a subclass is listed before its base); a kind with exceptions
of its own (the MCP SDK's) puts its rules in front of `TRANSPORT_RULES`, so
this module never imports a kind's library (nor an HTTP stack: a fleet of HTTP
APIs never loads httpx2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from core.results import ProbeError, RateLimited


@dataclass(frozen=True, slots=True)
class Stage:
    """Where an exception happened, as far as a reason names it."""

    what: str
    """The stage: "the request", "tools/list", "the handshake"."""
    limit: float | None = None
    """A timeout reason cites this limit and the phase (an HTTP request); None: it names the stage instead."""
    target: str = ""
    """The URL or command, secrets masked (for "unsupported URL scheme in ...")."""
    command: str | None = None
    """The command a stdio server is started with; None for network transports."""
    http_error: tuple[int, str] | None = None
    """The last HTTP error status (and phrase) the transport saw, which a layer above may have re-raised as
    something else (the MCP SDK turns it into a JSON-RPC error): the status decides."""


UNAUTHORIZED_STATUSES = frozenset({401, 403})
UNAUTHORIZED_PREFIX = "unauthorized: "
"""How every refused credential reads: status down, its reason starting with this (see core.probes.auth)."""

Translate = Callable[[Any, Stage], "ProbeError | None"]
"""translate(exception, stage) -> the failure, or None when the rule does not apply after all."""
Rule = tuple[type[BaseException] | tuple[type[BaseException], ...], Translate]

CONNECTION_CLOSED: tuple[type[BaseException], ...] = (
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    BrokenPipeError,
)
"""The other side went away under a stream: all one thing to a person."""


def translate(exc: BaseException, stage: Stage, rules: Sequence[Rule]) -> ProbeError | None:
    """The failure `exc` means at `stage` by the first rule that matches, or None if no rule knows it."""
    for types, rule in rules:
        if isinstance(exc, types) and (failure := rule(exc, stage)) is not None:
            return failure
    return None


def describe(exc: BaseException) -> str:
    """An exception no rule knows, in a few words: "the connection closed", or "ValueError: bad input"."""
    if isinstance(exc, CONNECTION_CLOSED):
        return "the connection closed"
    name = type(exc).__name__
    text = str(exc).strip()
    return f"{name}: {text}" if text else name


def leaf(exc: BaseException) -> BaseException:
    """The first real error inside anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def http_status_failure(status: int, phrase: str, what: str) -> ProbeError:
    """An HTTP error status during a stage: only 5xx and 408 say another try may succeed.

    A 429 is the server saying "not now", not a failure: it is never retried, does not count
    against the breaker, and the rate-limit gate holds requests for a while (as for HTTP APIs).
    A 401 or 403 is the credentials: "unauthorized: ...", never retried (core.probes.auth explains it).
    """
    text = f"HTTP {status} {phrase} during {what}".replace("  ", " ")
    if status in UNAUTHORIZED_STATUSES:
        return ProbeError(f"{UNAUTHORIZED_PREFIX}{text}", retryable=False, http_status=status)
    if status == 429:
        return RateLimited(f"rate limited ({text})", until=None, http_status=status)
    return ProbeError(text, retryable=status >= 500 or status == 408, http_status=status)


def connect_reason(exc: BaseException) -> str:
    """Why a connection failed. httpx2 says "All connection attempts failed"; the OS's error is further down."""
    errors = _chain(exc)
    if any(isinstance(e, ConnectionRefusedError) for e in errors):
        return "connection refused"
    text = " ".join(str(e) for e in errors).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "host not found (DNS)"
    if "certificate" in text or "ssl" in text:
        return "TLS error: " + str(exc)
    if "unreachable" in text:
        return "network unreachable"
    return f"cannot connect: {exc}" if str(exc) else "cannot connect"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _command_not_found(exc: FileNotFoundError, stage: Stage) -> ProbeError | None:
    if stage.command is None:
        return None
    return ProbeError(f"command not found: {stage.command}", retryable=False)


def _not_permitted(exc: PermissionError, stage: Stage) -> ProbeError | None:
    if stage.command is None:
        return None
    return ProbeError(f"cannot run {stage.command}: permission denied", retryable=False)


SPAWN_RULES: tuple[Rule, ...] = (
    (FileNotFoundError, _command_not_found),
    (PermissionError, _not_permitted),
)
"""A stdio server's command that cannot be started, as every probe kind reports it."""
