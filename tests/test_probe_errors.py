"""The one exception table: what each transport's exception means as a reason, and whether to retry it."""

from __future__ import annotations

import anyio
import httpx2
from mcp.shared.exceptions import MCPError

from core.probes.errors import Stage, describe, leaf, translate
from core.probes.httpx_errors import TRANSPORT_RULES
from core.probes.mcp.failures import describe_mcp, mcp_rules
from core.probes.mcp.session import HttpRefused
from core.results import RateLimited

REQUEST = httpx2.Request("GET", "http://127.0.0.1:9/")


def refused() -> httpx2.ConnectError:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as os_error:
            raise httpx2.ConnectError("All connection attempts failed", request=REQUEST) from os_error
    except httpx2.ConnectError as exc:
        return exc


def test_network_failures_as_people_read_them() -> None:
    stage = Stage("the request", limit=2.0, target="http://127.0.0.1:9/")
    cases = {
        refused(): ("connection refused", True),
        httpx2.ConnectTimeout("", request=REQUEST): ("timed out after 2s (connecting)", True),
        httpx2.ReadTimeout("", request=REQUEST): ("timed out after 2s (waiting for the response)", True),
        httpx2.RemoteProtocolError("peer closed", request=REQUEST): (
            "connection closed before a complete response",
            True,
        ),
        httpx2.ReadError("", request=REQUEST): ("connection reset by peer", True),
        httpx2.WriteError("broken things", request=REQUEST): ("network error: broken things", True),
        httpx2.UnsupportedProtocol("ftp", request=REQUEST): ("unsupported URL scheme in http://127.0.0.1:9/", False),
        httpx2.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=REQUEST): (
            "TLS error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
            False,  # fails the same way a second later
        ),
    }
    for exc, (reason, retryable) in cases.items():
        failure = translate(exc, stage, TRANSPORT_RULES)
        assert failure is not None, exc
        assert (failure.reason, failure.retryable) == (reason, retryable), type(exc).__name__


def test_a_stage_without_a_limit_is_named_in_a_timeout() -> None:
    failure = translate(httpx2.ReadTimeout("", request=REQUEST), Stage("tools/list"), TRANSPORT_RULES)
    assert failure is not None and failure.reason == "timed out waiting for tools/list"


def test_spawn_errors_speak_only_for_a_command() -> None:
    stdio = Stage("the handshake", command="/opt/missing-server")
    missing = translate(FileNotFoundError(2, "No such file"), stdio, TRANSPORT_RULES)
    assert missing is not None and (missing.reason, missing.retryable) == (
        "command not found: /opt/missing-server",
        False,
    )
    denied = translate(PermissionError(13, "Permission denied"), stdio, TRANSPORT_RULES)
    assert denied is not None and denied.reason == "cannot run /opt/missing-server: permission denied"
    assert translate(FileNotFoundError(2, "No such file"), Stage("the handshake"), TRANSPORT_RULES) is None


def test_http_statuses_under_mcp_decide_retry_and_rate_limit() -> None:
    stage = Stage("server/discover")
    unauthorized = translate(HttpRefused(401, "Unauthorized"), stage, mcp_rules())
    assert unauthorized is not None
    assert (unauthorized.reason, unauthorized.retryable, unauthorized.http_status) == (
        "unauthorized: HTTP 401 Unauthorized during server/discover",
        False,
        401,
    )
    limited = translate(HttpRefused(429, "Too Many Requests"), stage, mcp_rules())
    assert isinstance(limited, RateLimited) and limited.reason == (
        "rate limited (HTTP 429 Too Many Requests during server/discover)"
    )
    # The SDK turned a 503 into a JSON-RPC error: the status the transport saw decides.
    seen = Stage("tools/list", http_error=(503, "Service Unavailable"))
    outage = translate(MCPError(-32603, "upstream failed"), seen, mcp_rules())
    assert outage is not None and (outage.reason, outage.retryable) == (
        "HTTP 503 Service Unavailable during tools/list",
        True,
    )
    plain = translate(MCPError(-32601, "Method not found"), Stage("tools/list"), mcp_rules())
    assert plain is not None and plain.reason == "tools/list failed: Method not found (error -32601)"


def test_unknown_exceptions_are_described_by_type_and_closed_streams_as_one_thing() -> None:
    assert translate(ValueError("bad"), Stage("tools/list"), mcp_rules()) is None
    for closed in (anyio.ClosedResourceError(), anyio.BrokenResourceError(), anyio.EndOfStream(), BrokenPipeError()):
        assert describe(closed) == "the connection closed"
    assert describe(ValueError("  bad input ")) == "ValueError: bad input"
    assert describe(KeyError()) == "KeyError"
    grouped = BaseExceptionGroup("tasks", [ExceptionGroup("inner", [MCPError(-1, "gone")])])
    assert isinstance(leaf(grouped), MCPError)
    assert describe_mcp(grouped) == "gone (error -1)"


def test_http_probe_failures_read_as_they_did_on_httpx2() -> None:
    """aiohttp's exceptions (HTTP API probes) become the reasons httpx2's did, with the same retry decision."""
    import aiohttp

    from core.probes.http_errors import HTTP_PROBE_RULES

    stage = Stage("the request", limit=2.0, target="http://127.0.0.1:9/")
    cases: dict[BaseException, tuple[str, bool]] = {
        aiohttp.ConnectionTimeoutError(): ("timed out after 2s (connecting)", True),
        aiohttp.SocketTimeoutError(): ("timed out after 2s (waiting for the response)", True),
        aiohttp.ServerDisconnectedError(): ("connection closed before a complete response", True),
        aiohttp.ClientPayloadError("Response payload is not completed"): (
            "connection closed before a complete response",
            True,
        ),
        aiohttp.ClientOSError(104, "Connection reset by peer"): ("connection reset by peer", True),
        aiohttp.ClientOSError(32, "Broken pipe"): ("network error: Broken pipe", True),
        aiohttp.NonHttpUrlClientError("ftp://127.0.0.1/"): ("unsupported URL scheme in http://127.0.0.1:9/", False),
        aiohttp.ClientConnectionError("Connection closed"): ("connection closed before a complete response", True),
    }
    for exc, (reason, retryable) in cases.items():
        failure = translate(exc, stage, HTTP_PROBE_RULES)
        assert failure is not None, exc
        assert (failure.reason, failure.retryable) == (reason, retryable), type(exc).__name__
