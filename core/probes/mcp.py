"""MCP server probes: connect (stdio, streamable HTTP or SSE), negotiate, list, ping, optionally call a tool.

The engine's one deadline per attempt bounds the whole probe; every stage
reports where the time went ("timed out after 2s waiting for tools/list"). A
new session (process start or connect, and handshake) is bounded by
`startup_timeout`, everything on a live session by `timeout`: a cold start is
not a steady-state probe. At most `max_starting` processes start at once,
fleet-wide; waiting for that slot is Lookout's queue, not the server's time,
so it does not count against the server (the deadline is paused meanwhile).

Retries are spent only where another try can help: an HTTP 4xx (other than
408 and 429) and a process that exits with a code before the handshake are
final for this probe. A `persistent` probe
keeps its session between probes and checks it (ping in the handshake era,
`server/discover` in the 2026 era), reconnecting through the engine's breaker
and retry policy when it dies; a `fresh` probe connects, checks and
disconnects every time. Once a server's era is known, later connections are
made in that era directly, so a legacy server never pays for the `auto` probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx2
from mcp.shared.exceptions import MCPError
from mcp_types import PaginatedRequestParams

from core.config import McpService
from core.deadline import Deadline
from core.durations import format_duration
from core.events import InventoryChanged, LogLevel
from core.probes.base import ProbeContext
from core.probes.http import _connect_reason
from core.probes.line_throttle import LineThrottle
from core.probes.mcp_inventory import Inventory, ListingBudget, collect_pages, diff_names, listed_size, tool_info
from core.probes.mcp_session import HttpRefused, McpSession
from core.results import ProbeError, ProbeOutcome, RateLimited, Status
from core.sanitize import NAME_LIMIT, clean_line

T = TypeVar("T")

EXIT_WAIT = 1.0
"""How long to wait for a dead server's exit status to be collected."""

LOG_LEVELS = {
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "notice": LogLevel.INFO,
    "warning": LogLevel.WARNING,
    "error": LogLevel.ERROR,
    "critical": LogLevel.ERROR,
    "alert": LogLevel.ERROR,
    "emergency": LogLevel.ERROR,
}


def create_mcp_probe(service: McpService, ctx: ProbeContext) -> McpProbe:
    return McpProbe(service, ctx)


class McpProbe:
    def __init__(self, service: McpService, ctx: ProbeContext) -> None:
        self.service = service
        self.ctx = ctx
        self._session: McpSession | None = None
        self._mode = "auto"
        self._ever_connected = False
        self._last_tools: dict[str, str] | None = None
        self._last_other: dict[str, tuple[str, ...]] = {}
        self._list_changed = False
        self._stderr = LineThrottle(
            lambda line: ctx.log(LogLevel.INFO, line, "stderr"),
            lambda dropped: ctx.log(LogLevel.WARNING, f"({dropped} more stderr lines not shown)", "stderr"),
        )
        self._server_logs = LineThrottle(
            self._relay_server_log,
            lambda dropped: ctx.log(LogLevel.WARNING, f"({dropped} more server log lines not shown)", "server"),
        )
        self._unreadable = 0
        self._unreadable_sample = ""

    # -- the probe ------------------------------------------------------------------------------

    def attempt_budget(self) -> float:
        """The next attempt's deadline: `timeout`, plus `startup_timeout` when it must start a new session."""
        startup = self.service.startup_timeout if self._session is None else 0.0
        return self.service.timeout + startup

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        cold_start: float | None = None
        fresh = self.service.session == "fresh"
        try:
            session = self._session
            if session is not None and (lost := await self._lost_reason(session)):
                self.ctx.log(LogLevel.WARNING, f"session lost: {lost}; reconnecting", "engine")
                with deadline.paused():
                    await self._drop()
                raise ProbeError(lost)
            started_now = session is None
            if session is None:
                session = await self._connect(deadline, timings)
                if not self._ever_connected and self.service.transport == "stdio":
                    cold_start = timings.get("connect", 0) + timings.get("handshake", 0)
                self._ever_connected = True
            live = deadline.within(self.service.timeout)  # from here on a live session, bounded by `timeout`
            if not started_now:
                check = "ping" if session.era() == "handshake" else "server/discover"
                await self._stage(session, check, session.ping(), live, timings)
            inventory = await self._inventory(session, live, timings)
            call_problem = await self._call(session, live, timings) if self.service.call else ""
            outcome = self._outcome(session, inventory, timings, call_problem, started, cold_start)
        except BaseException:
            if self._session is not None:
                # A failed check leaves nothing half-open: the next probe starts clean. No grace for a
                # server that just failed (a hung one would ignore it): kill first, then unwind. The
                # teardown is ours, not the server's time: the reason already decided must stand.
                with deadline.paused():
                    await self._drop(graceful=False)
            raise
        finally:
            self._stderr.flush()
            self._server_logs.flush()
        if fresh:
            with deadline.paused():
                await self._drop()
        return outcome

    async def reset(self) -> None:
        await self._drop()

    async def aclose(self) -> None:
        await self._drop()

    # -- stages ---------------------------------------------------------------------------------

    async def _connect(self, deadline: Deadline, timings: dict[str, float]) -> McpSession:
        service = self.service
        session = McpSession(
            service,
            mode=self._mode,
            # The SDK's own per-request limit must not undercut ours: the handshake may take startup_timeout.
            timeout=max(service.timeout, service.startup_timeout),
            on_stderr=self._stderr.offer,
            on_message=self._message,
            on_log=self._server_logs.offer,
        )
        starts_process = service.transport == "stdio"
        what = "the server to start and answer the handshake" if starts_process else "the handshake"
        if starts_process:
            # Queueing behind other starts is Lookout's doing: the clock (and the engine's backstop) waits too.
            # The wait is bounded: each slot holder is done within its own startup_timeout.
            with deadline.paused():
                await self.ctx.start_slots.acquire()
        try:
            self._session = session
            startup = deadline.within(service.startup_timeout)
            client = await self._stage(session, what, session.open(), startup, timings, record=False)
        finally:
            if starts_process:
                self.ctx.start_slots.release()
        if session.connect_ms is not None:
            timings["connect"] = session.connect_ms
        if session.handshake_ms is not None:
            timings["handshake"] = session.handshake_ms
        # Later connections skip the auto probe: a handshake-era server goes straight to initialize.
        self._mode = "legacy" if session.era() == "handshake" else "auto"
        version = client.protocol_version
        self.ctx.log(LogLevel.DEBUG, f"connected: protocol {version} ({session.era()} era)", "engine")
        return session

    async def _inventory(self, session: McpSession, deadline: Deadline, timings: dict[str, float]) -> Inventory:
        client = session.client
        assert client is not None
        caps = client.server_capabilities
        inventory = Inventory()
        budget = ListingBudget()

        async def pages(method: str, noun: str, fetch: Any, items: str) -> list[Any]:
            async def page(cursor: str | None) -> Any:
                request = fetch(PaginatedRequestParams(cursor=cursor))
                return await self._stage(session, method, request, deadline, timings, accumulate=True)

            return await collect_pages(page, items, method=method, noun=noun, budget=budget, size_of=listed_size)

        raw = client.session
        if caps.tools is not None or not _any_capability(caps):
            tools = await pages("tools/list", "tool", lambda p: raw.list_tools(params=p), "tools")
            inventory.tools = [tool_info(t) for t in tools]
        if caps.resources is not None:
            resources = await pages("resources/list", "resource", lambda p: raw.list_resources(params=p), "resources")
            inventory.resources = [r.name for r in resources]
            templates = await pages(
                "resources/templates/list",
                "resource template",
                lambda p: raw.list_resource_templates(params=p),
                "resource_templates",
            )
            inventory.resource_templates = [r.name for r in templates]
        if caps.prompts is not None:
            prompts = await pages("prompts/list", "prompt", lambda p: raw.list_prompts(params=p), "prompts")
            inventory.prompts = [p.name for p in prompts]
        inventory.limits = list(budget.problems)
        self._report_changes(inventory)
        return inventory

    async def _call(self, session: McpSession, deadline: Deadline, timings: dict[str, float]) -> str:
        """The deep check. Returns a problem ("" if the tool answered as expected)."""
        call = self.service.call
        assert call is not None and session.client is not None
        result = await self._stage(
            session,
            f"tools/call {call.tool}",
            session.client.session.call_tool(call.tool, call.arguments),
            deadline,
            timings,
            key="call",
        )
        text = " ".join(getattr(block, "text", "") for block in getattr(result, "content", []) or [])
        if getattr(result, "is_error", False):
            return f"tool {call.tool} returned an error: {self._shown(text) or 'no details'}"
        if call.expect_text is not None and call.expect_text not in text:
            return f"tool {call.tool} answered without {call.expect_text!r}"
        return ""

    async def _stage(
        self,
        session: McpSession,
        what: str,
        awaitable: Awaitable[T],
        deadline: Deadline,
        timings: dict[str, float],
        *,
        record: bool = True,
        key: str | None = None,
        accumulate: bool = False,
    ) -> T:
        """Run one stage within `deadline` (the stage's: startup or live); turn every failure into a reason."""
        remaining = deadline.remaining()
        started = time.perf_counter()
        try:
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                result = await awaitable
        except TimeoutError:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise ProbeError(
                f"timed out after {format_duration(deadline.budget)} waiting for {what}{self._unreadable_note()}"
            ) from None
        except ProbeError:
            raise
        except Exception as exc:
            raise await self._failure(session, what, exc) from None
        if record:
            elapsed = (time.perf_counter() - started) * 1000
            name = key or what
            timings[name] = timings.get(name, 0.0) + elapsed if accumulate else elapsed
        return result

    # -- outcome --------------------------------------------------------------------------------

    def _outcome(
        self,
        session: McpSession,
        inventory: Inventory,
        timings: dict[str, float],
        call_problem: str,
        started: float,
        cold_start: float | None,
    ) -> ProbeOutcome:
        client = session.client
        assert client is not None
        latency_ms = (time.perf_counter() - started) * 1000
        expect = self.service.expect
        problems: list[str] = []
        names = {tool.name for tool in inventory.tools}
        missing = [tool for tool in expect.tools if tool not in names]
        if missing:
            problems.append("missing tools: " + ", ".join(missing))
        if expect.min_tools is not None and len(inventory.tools) < expect.min_tools:
            problems.append(f"{len(inventory.tools)} tools, expected at least {expect.min_tools}")
        if expect.max_context_tokens is not None and inventory.context_tokens > expect.max_context_tokens:
            problems.append(
                f"tool list costs ~{inventory.context_tokens} tokens of context (limit {expect.max_context_tokens})"
            )
        if call_problem:
            problems.append(call_problem)
        problems.extend(inventory.limits)
        if expect.max_latency is not None and latency_ms > expect.max_latency * 1000:
            problems.append(f"slow: {format_duration(latency_ms / 1000)} > {format_duration(expect.max_latency)}")
        info = client.server_info
        caps = client.server_capabilities
        details: dict[str, Any] = {
            "transport": self.service.transport,
            "session": self.service.session,
            "protocol_version": client.protocol_version,
            "era": session.era(),
            "server": {
                "name": getattr(info, "name", None),
                "title": getattr(info, "title", None),
                "version": getattr(info, "version", None),
            },
            "capabilities": [
                name
                for name in ("tools", "resources", "prompts", "logging", "completions")
                if getattr(caps, name, None) is not None
            ],
            "instructions_chars": len(client.instructions or ""),
            "tools": [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in inventory.tools
            ],
            "tool_count": len(inventory.tools),
            "resource_count": len(inventory.resources),
            "resource_template_count": len(inventory.resource_templates),
            "prompt_count": len(inventory.prompts),
            "resources": list(inventory.resources),
            "resource_templates": list(inventory.resource_templates),
            "prompts": list(inventory.prompts),
            "context_chars": inventory.context_chars,
            "context_tokens": inventory.context_tokens,
            "inventory_limits": list(inventory.limits),
            "cold_start": round(cold_start, 1) if cold_start is not None else None,
        }
        if session.process is not None:
            details["pid"] = session.process.pid
            details["stderr_lines"] = session.process.stderr_lines
        return ProbeOutcome(
            status=Status.DEGRADED if problems else Status.UP,
            reason="; ".join(problems),
            latency_ms=latency_ms,
            timings=timings,
            details=details,
        )

    def _report_changes(self, inventory: Inventory) -> None:
        tools = inventory.tool_map()
        others = {
            "resources": tuple(inventory.resources),
            "resource templates": tuple(inventory.resource_templates),
            "prompts": tuple(inventory.prompts),
        }
        if self._last_tools is not None:
            diff = diff_names(self._last_tools, tools)
            if diff:
                self._publish_change("tools", diff)
            for kind, names in others.items():
                before = dict.fromkeys(self._last_other.get(kind, ()), "")
                change = diff_names(before, dict.fromkeys(names, ""))
                if change:
                    self._publish_change(kind, change)
        self._last_tools = tools
        self._last_other = others
        self._list_changed = False

    def _publish_change(self, kind: str, diff: Any) -> None:
        self.ctx.publish(
            InventoryChanged(
                at=self.ctx.now(),
                service=self.service.name,
                kind=kind,
                added=diff.added,
                removed=diff.removed,
                changed=diff.changed,
            )
        )

    # -- failures -------------------------------------------------------------------------------

    async def _lost_reason(self, session: McpSession) -> str:
        """Why an open persistent session is no longer usable ("" if it looks alive)."""
        if session.process is not None and session.process.returncode is not None:
            return self._exit_reason(session)
        if session.finished:
            failure = session.failure
            return _describe(failure) if failure is not None else "the connection closed"
        return ""

    async def _failure(self, session: McpSession, what: str, exc: BaseException) -> ProbeError:
        leaf = _leaf(exc)
        if isinstance(leaf, FileNotFoundError) and self.service.transport == "stdio":
            return ProbeError(f"command not found: {self.service.command}", retryable=False)
        if isinstance(leaf, PermissionError) and self.service.transport == "stdio":
            return ProbeError(f"cannot run {self.service.command}: permission denied", retryable=False)
        process = session.process
        if process is not None and process.pid is not None:
            exited = await _wait_for_exit(process)
            if exited:
                # A process that exits with a code before the handshake will do so again (a missing key, a
                # bad flag): not worth a retry. One killed by a signal, or dying mid-session, may recover.
                code = process.returncode
                early_exit = session.client is None and code is not None and code >= 0
                return ProbeError(self._exit_reason(session), retryable=not early_exit)
        if isinstance(leaf, httpx2.ConnectError):
            return ProbeError(_connect_reason(leaf))
        if isinstance(leaf, httpx2.TimeoutException):
            return ProbeError(f"timed out waiting for {what}")
        if isinstance(leaf, HttpRefused):
            return _http_error(leaf.status, leaf.phrase, what)
        if isinstance(leaf, httpx2.HTTPStatusError):
            return _http_error(leaf.response.status_code, leaf.response.reason_phrase, what)
        if isinstance(leaf, MCPError) and session.http_error is not None:
            # Streamable HTTP: the SDK turned an HTTP error status into this JSON-RPC error; the status decides.
            return _http_error(*session.http_error, what)
        if isinstance(leaf, MCPError):
            return ProbeError(self.ctx.redact(f"{what} failed: {leaf.message} (error {leaf.code})"))
        return ProbeError(self.ctx.redact(f"{what} failed: {_describe(leaf)}"))

    def _exit_reason(self, session: McpSession) -> str:
        process = session.process
        assert process is not None
        code = process.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            text = f"process killed by {name}"
        else:
            text = f"process exited with code {code}"
        last = process.last_stderr()
        return f"{text}: {self._shown(last)}" if last else text

    def _shown(self, text: str, limit: int = NAME_LIMIT) -> str:
        """Server text for a reason or a log line: redacted first, so a clip can never halve a secret."""
        return clean_line(self.ctx.redact(text), limit)

    async def _drop(self, *, graceful: bool = True) -> None:
        session, self._session = self._session, None
        if session is not None:
            if not graceful and session.process is not None:
                session.process.kill_group()
            await asyncio.shield(session.close())

    # -- what the server says on the side -------------------------------------------------------

    def _unreadable_note(self) -> str:
        if not self._unreadable:
            return ""
        lines = "line" if self._unreadable == 1 else "lines"
        return f" (the server wrote {self._unreadable} unreadable {lines}, e.g. {self._unreadable_sample!r})"

    def _message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self._unreadable += 1
            if not self._unreadable_sample:
                self._unreadable_sample = self._shown(_bad_input(message), 60)
            if self._unreadable <= 3 or self._unreadable % 100 == 0:
                self.ctx.log(
                    LogLevel.WARNING,
                    f"unreadable message from the server: {self._shown(_describe(message))}",
                    "engine",
                )
            return
        method = getattr(getattr(message, "root", message), "method", "")
        if method.endswith("/list_changed"):
            self._list_changed = True
            self.ctx.log(LogLevel.INFO, f"server sent {method}", "engine")

    def _relay_server_log(self, params: Any) -> None:
        """One `notifications/message` as a log event (through the same burst limit as stderr)."""
        level = LOG_LEVELS.get(str(getattr(params, "level", "info")), LogLevel.INFO)
        data = getattr(params, "data", "")
        self.ctx.log(level, self._shown(data if isinstance(data, str) else repr(data), 500), "server")


def _http_error(status: int, phrase: str, what: str) -> ProbeError:
    """An HTTP error status as a failure: only 5xx and 408 say another try may succeed.

    A 429 is the server saying "not now", not a failure: it is never retried, does not count
    against the breaker, and the rate-limit gate holds requests for a while (as for HTTP APIs).
    """
    text = f"HTTP {status} {phrase} during {what}".replace("  ", " ")
    if status == 429:
        return RateLimited(f"rate limited ({text})", until=None, http_status=status)
    return ProbeError(text, retryable=status >= 500 or status == 408, http_status=status)


def _bad_input(exc: Exception) -> str:
    """The text a server sent that was not JSON-RPC (pydantic keeps it in the error)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        with contextlib.suppress(Exception):
            value = errors()[0].get("input")
            if isinstance(value, str | bytes):
                return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return str(exc)


def _any_capability(caps: Any) -> bool:
    return any(getattr(caps, name, None) is not None for name in ("tools", "resources", "prompts"))


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    exc = _leaf(exc)
    text = str(exc).strip()
    if isinstance(exc, MCPError):
        return f"{exc.message} (error {exc.code})"
    name = type(exc).__name__
    if name in ("ClosedResourceError", "BrokenResourceError", "EndOfStream", "BrokenPipeError"):
        return "the connection closed"
    return f"{name}: {text}" if text else name


async def _wait_for_exit(process: Any) -> bool:
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


with contextlib.suppress(Exception):
    # Quiet the SDK's per-line warnings for servers that print garbage: we report those ourselves.
    import logging

    logging.getLogger("mcp.client.stdio").setLevel(logging.CRITICAL)
