"""What httpx2's exceptions mean for a probe: the rules of the transports on httpx2 (the MCP SDK's streamable
HTTP and SSE clients, the OAuth fetches), apart from `core.probes.errors` so that only a fleet with such a
transport imports httpx2 (~3 MB and ~25 ms of imports an HTTP API fleet, on aiohttp, does without)."""

from __future__ import annotations

import httpx2

from core.durations import format_duration
from core.probes.errors import SPAWN_RULES, Rule, Stage, connect_reason, http_status_failure
from core.results import ProbeError

_PHASES: dict[type[BaseException], str] = {
    httpx2.ConnectTimeout: "connecting",
    httpx2.ReadTimeout: "waiting for the response",
    httpx2.WriteTimeout: "sending the request",
    httpx2.PoolTimeout: "waiting for a free connection",
}


def _timed_out(exc: httpx2.TimeoutException, stage: Stage) -> ProbeError:
    if stage.limit is None:
        return ProbeError(f"timed out waiting for {stage.what}")
    return ProbeError(f"timed out after {format_duration(stage.limit)} ({_PHASES.get(type(exc), 'request')})")


def _cannot_connect(exc: httpx2.ConnectError, stage: Stage) -> ProbeError:
    reason = connect_reason(exc)
    # A certificate that fails verification fails the same way a second later: not worth a retry.
    return ProbeError(reason, retryable="certificate" not in reason.lower())


def _reset(exc: httpx2.NetworkError, stage: Stage) -> ProbeError:
    text = str(exc).lower()
    if "reset" in text or not text:
        return ProbeError("connection reset by peer")
    return ProbeError(f"network error: {exc}")


def _status(exc: httpx2.HTTPStatusError, stage: Stage) -> ProbeError:
    return http_status_failure(exc.response.status_code, exc.response.reason_phrase, stage.what)


TRANSPORT_RULES: tuple[Rule, ...] = (
    (httpx2.TimeoutException, _timed_out),
    (httpx2.ConnectError, _cannot_connect),
    (httpx2.RemoteProtocolError, lambda exc, stage: ProbeError("connection closed before a complete response")),
    ((httpx2.ReadError, httpx2.WriteError), _reset),
    (
        httpx2.UnsupportedProtocol,
        lambda exc, stage: ProbeError(f"unsupported URL scheme in {stage.target}", retryable=False),
    ),
    (httpx2.HTTPStatusError, _status),
    *SPAWN_RULES,
)
"""Network and spawn failures, as the MCP transports report them."""
