"""What aiohttp's exceptions mean for an HTTP API probe: the reasons httpx2's meant, in one table.

HTTP API probes run on aiohttp (core.probes.http_session says why); the MCP transports stay on
httpx2 with `core.probes.httpx_errors.TRANSPORT_RULES`. A person reads the same reason whichever stack
failed: "connection refused", "timed out after 2s (connecting)", "connection reset by peer",
"TLS error: [SSL: CERTIFICATE_VERIFY_FAILED] ...", with the same retry decision. This table lives
apart from `core.probes.errors` so a fleet of MCP servers never imports aiohttp.
"""

from __future__ import annotations

import aiohttp

from core.durations import format_duration
from core.probes.errors import Rule, Stage, connect_reason
from core.results import ProbeError

CLOSED_EARLY = "connection closed before a complete response"
HEAD_TOO_LARGE = "response headers too large"


def _timed_out(exc: BaseException, stage: Stage) -> ProbeError:
    if stage.limit is None:
        return ProbeError(f"timed out waiting for {stage.what}")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        phase = "connecting"
    elif isinstance(exc, aiohttp.SocketTimeoutError):
        phase = "waiting for the response"
    else:
        phase = "request"
    return ProbeError(f"timed out after {format_duration(stage.limit)} ({phase})")


def _cannot_connect(exc: aiohttp.ClientConnectorError, stage: Stage) -> ProbeError:
    # The OS's (or the TLS layer's) own error reads as httpx2's did: "[SSL: CERTIFICATE_VERIFY_FAILED] ...",
    # not aiohttp's "Cannot connect to host ... ssl:True [...]" around it.
    cause: BaseException = exc.certificate_error if isinstance(exc, aiohttp.ClientConnectorCertificateError) else exc
    if cause is exc and exc.os_error is not None:
        cause = exc.os_error
    reason = connect_reason(cause)
    # A certificate that fails verification fails the same way a second later: not worth a retry.
    return ProbeError(reason, retryable="certificate" not in reason.lower())


def _reset(exc: OSError, stage: Stage) -> ProbeError:
    text = (exc.strerror or str(exc)).lower() if isinstance(exc, OSError) else str(exc).lower()
    if isinstance(exc, ConnectionResetError) or "reset" in text or not text:
        return ProbeError("connection reset by peer")
    return ProbeError(f"network error: {exc.strerror or exc}")


def _bad_answer(exc: aiohttp.ClientResponseError, stage: Stage) -> ProbeError:
    """The response parser refused what the server sent (aiohttp reports it as a status 400 of its own)."""
    said = exc.message.lower()
    if "more than" in said or "too long" in said or "too many headers" in said or "too large" in said:
        return ProbeError(HEAD_TOO_LARGE)
    return ProbeError(CLOSED_EARLY)


def _proxy_refused(exc: aiohttp.ClientHttpProxyError, stage: Stage) -> ProbeError:
    return ProbeError(f"the proxy refused the connection (HTTP {exc.status})", retryable=exc.status >= 500)


HTTP_PROBE_RULES: tuple[Rule, ...] = (
    ((aiohttp.ServerTimeoutError, TimeoutError), _timed_out),
    (aiohttp.ClientConnectorError, _cannot_connect),
    ((aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError), lambda exc, stage: ProbeError(CLOSED_EARLY)),
    (aiohttp.ClientHttpProxyError, _proxy_refused),
    (aiohttp.ClientResponseError, _bad_answer),
    ((aiohttp.ClientOSError, aiohttp.ClientConnectionResetError, ConnectionError), _reset),
    (
        aiohttp.NonHttpUrlClientError,
        lambda exc, stage: ProbeError(f"unsupported URL scheme in {stage.target}", retryable=False),
    ),
    (aiohttp.InvalidURL, lambda exc, stage: ProbeError(f"invalid URL {stage.target}", retryable=False)),
    # Any other end of the connection aiohttp reports by its base class ("Connection closed").
    (aiohttp.ClientConnectionError, lambda exc, stage: ProbeError(CLOSED_EARLY)),
)
"""aiohttp's failures as an HTTP API probe reports them (first match wins: subclasses first)."""
