"""Why an MCP stage failed, in words a person can act on, and whether another try could help.

A stdio server's own exit says most ("process exited with code 1: error:
missing API key"), so a failed stage first gives a dying process a moment to
be reaped. Everything else goes through the shared exception table
(`core.probes.errors`), with the MCP SDK's own exceptions in front of it.
Retries are spent only where another try can help: a process that exits with
a code before the handshake will do so again, and is final for this probe.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TYPE_CHECKING, Any

from core.probes.errors import Rule, Stage, describe, http_status_failure, leaf, translate
from core.probes.httpx_errors import TRANSPORT_RULES
from core.probes.mcp import sdk
from core.probes.mcp.server_text import ServerText
from core.probes.mcp.session import HttpRefused, McpSession
from core.results import ProbeError

EXIT_WAIT = 1.0
"""How long to wait for a dead server's exit status to be collected."""


if TYPE_CHECKING:
    from mcp.shared.exceptions import MCPError


def _mcp_error(exc: MCPError, stage: Stage) -> ProbeError:
    if stage.http_error is not None:
        # Streamable HTTP: the SDK turned an HTTP error status into this JSON-RPC error; the status decides.
        return http_status_failure(*stage.http_error, stage.what)
    return ProbeError(f"{stage.what} failed: {exc.message} (error {exc.code})")


def _refused(exc: HttpRefused, stage: Stage) -> ProbeError:
    return http_status_failure(exc.status, exc.phrase, stage.what)


def mcp_rules() -> tuple[Rule, ...]:
    """The SDK's exceptions first, then what every transport raises. The SDK's JSON-RPC error has a rule once
    the SDK is imported (`sdk.mcp_error_type`); before that none can have been raised."""
    error = sdk.mcp_error_type()
    own: tuple[Rule, ...] = ((error, _mcp_error),) if error is not None else ()
    return ((HttpRefused, _refused), *own, *TRANSPORT_RULES)


def describe_mcp(exc: BaseException) -> str:
    """An exception in a few words; a JSON-RPC error by its message and code."""
    exc = leaf(exc)
    error = sdk.mcp_error_type()
    if error is not None and isinstance(exc, error):
        return f"{exc.message} (error {exc.code})"
    return describe(exc)


async def stage_failure(
    exc: BaseException, what: str, session: McpSession | None, command: str | None, text: ServerText
) -> ProbeError:
    """The failure of stage `what`; `command` is the stdio server's command (None over the network).

    What the server said is quoted through `text` (redacted, one safe line).
    """
    error = leaf(exc)
    process = session.process if session is not None else None
    if process is not None and process.pid is not None and await wait_for_exit(process):
        # A process that exits with a code before the handshake will do so again (a missing key, a
        # bad flag): not worth a retry. One killed by a signal, or dying mid-session, may recover.
        code = process.returncode
        early_exit = session is not None and session.client is None and code is not None and code >= 0
        return ProbeError(exit_reason(process, text), retryable=not early_exit)
    stage = Stage(what, command=command, http_error=session.http_error if session is not None else None)
    failure = translate(error, stage, mcp_rules()) or ProbeError(f"{what} failed: {describe(error)}")
    failure.reason = text.redact(failure.reason)
    return failure


def lost_reason(session: McpSession, text: ServerText) -> str:
    """Why an open persistent session is no longer usable ("" if it looks alive)."""
    if session.process is not None and session.process.returncode is not None:
        return exit_reason(session.process, text)
    if session.finished:
        failure = session.failure
        return describe_mcp(failure) if failure is not None else "the connection closed"
    return ""


def exit_reason(process: Any, text: ServerText) -> str:
    """ "process exited with code 1: <its last stderr line>", or the signal that killed it."""
    code = process.returncode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"process killed by {name}"
    else:
        how = f"process exited with code {code}"
    last = process.last_stderr()
    return f"{how}: {text.shown(last)}" if last else how


async def wait_for_exit(process: Any) -> bool:
    """Give a dying server a moment to be reaped, so its exit code can be reported."""
    deadline = time.monotonic() + EXIT_WAIT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            return True
        if not process.alive():
            await asyncio.sleep(0.05)
            return process.returncode is not None
        await asyncio.sleep(0.02)
    return False
