"""The MCP probe's attempt: connect if needed, check the session, list, optionally call a tool, judge.

The engine's one deadline per attempt bounds the whole probe; every stage
reports where the time went ("timed out after 2s waiting for tools/list"). A
new session (process start or connect, and handshake) is bounded by
`startup_timeout`, everything on a live session by `timeout`: a cold start is
not a steady-state probe. At most `max_starting` processes start at once,
fleet-wide; waiting for that slot is Lookout's queue, not the server's time,
so it does not count against the server (the deadline is paused meanwhile).

A `persistent` probe keeps its session between probes and checks it (ping in
the handshake era, `server/discover` in the 2026 era), reconnecting through
the engine's breaker and retry policy when it dies; a `fresh` probe connects,
checks and disconnects every time. Once a server's era is known, later
connections are made in that era directly, so a legacy server never pays for
the `auto` probe. Likewise a `url` without a transport is tried over
streamable HTTP, then SSE (see session); the transport that answered is used
directly until a probe fails, when it is detected anew.

A remote server's bearer token (a `token_command`'s, or the configured header)
is checked for expiry on every probe (`core.probes.auth`); a 401/403 is
"unauthorized: ...", explained with the server's OAuth metadata.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx2

from core.auth import store as oauth_store
from core.config import McpService
from core.deadline import Deadline
from core.events import LogLevel
from core.probes import expectations
from core.probes.auth import bearer, refusal, token_health
from core.probes.base import ProbeContext
from core.probes.errors import leaf
from core.probes.mcp.changes import InventoryWatch
from core.probes.mcp.details import mcp_details
from core.probes.mcp.failures import lost_reason, stage_failure
from core.probes.mcp.inventory import Inventory
from core.probes.mcp.listing import list_inventory
from core.probes.mcp.pinning import PinVerdict, ToolPinning
from core.probes.mcp.server_text import ServerText
from core.probes.mcp.session import McpSession
from core.probes.mcp.stages import Stages
from core.results import Check, ProbeError, ProbeOutcome, Status

LISTEN_CLOSE = 2.0
"""Seconds a closing `subscriptions/listen` stream may take (the session closes after it, whatever it did)."""
RELIST_GAP = 1.0
"""Seconds: at most one immediate re-list per this long on `notifications/tools/list_changed`."""


def create_mcp_probe(service: McpService, ctx: ProbeContext) -> McpProbe:
    return McpProbe(service, ctx)


class McpProbe:
    def __init__(self, service: McpService, ctx: ProbeContext) -> None:
        self.service = service
        self.ctx = ctx
        self._session: McpSession | None = None
        self._mode = "auto"
        self._detected: str | None = None
        """The transport that answered an untyped `url` (http or sse), until a probe fails."""
        self._ever_connected = False
        self._text = ServerText(ctx, on_tools_changed=self._tools_changed)
        self._watch = InventoryWatch(service.name, ctx)
        self._pins = ToolPinning(service.name, ctx)
        self._relisted_at = -RELIST_GAP
        self._listening: asyncio.Task[None] | None = None

    def attempt_budget(self) -> float:
        """The next attempt's deadline: `timeout`, plus `startup_timeout` when it must start a new session."""
        startup = self.service.startup_timeout if self._session is None else 0.0
        return self.service.timeout + startup

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        started = time.perf_counter()
        stages = Stages(deadline, self._failure, self._text.unreadable_note)
        cold_start: float | None = None
        try:
            session = self._session
            if session is not None and (lost := lost_reason(session, self._text)):
                self.ctx.log(LogLevel.WARNING, f"session lost: {lost}; reconnecting", "engine")
                with deadline.paused():
                    await self._drop()
                raise ProbeError(lost)
            started_now = session is None
            if session is None:
                session = await self._connect(deadline, stages)
                if not self._ever_connected and self.service.transport == "stdio":
                    cold_start = stages.timings.get("connect", 0) + stages.timings.get("handshake", 0)
                self._ever_connected = True
            stages.phase(deadline.within(self.service.timeout))  # from here on a live session, bounded by `timeout`
            if not started_now:
                await stages.run("ping" if session.era() == "handshake" else "server/discover", session.ping())
            assert session.client is not None
            inventory = await list_inventory(session.client, stages, self.ctx.redact)
            self._watch.observe(inventory)
            pin = None
            if not inventory.limits:  # a list cut short is not the server's tool list: nothing to compare
                with deadline.paused():  # reading the pin is Lookout's bookkeeping, not the server's time
                    pin_started = time.perf_counter()
                    pin = await self._pins.judge(inventory.tool_set())
                    started += time.perf_counter() - pin_started  # nor its latency
            call = await self._call(session, stages) if self.service.call else None
            outcome = self._outcome(session, inventory, stages.timings, call, started, cold_start, pin)
        except BaseException:
            self._detected = None  # an untyped url's transport is detected anew after a failure
            if self._session is not None:
                # A failed check leaves nothing half-open: the next probe starts clean. No grace for a
                # server that just failed (a hung one would ignore it): kill first, then unwind. The
                # teardown is ours, not the server's time: the reason already decided must stand.
                with deadline.paused():
                    await self._drop(graceful=False)
            raise
        finally:
            self._text.flush()
        if self.service.session == "fresh":
            with deadline.paused():
                await self._drop()
        return outcome

    async def reset(self) -> None:
        await self._drop()

    async def aclose(self) -> None:
        await self._pins.aclose()
        await self._drop()

    def _tools_changed(self) -> None:
        """The server said its tool list changed: on a persistent session, list again now, not at the next
        interval. At most one such request per `RELIST_GAP` seconds: a server announcing changes in a loop
        must not turn the monitor into a load generator."""
        if self.service.session != "persistent":
            return  # a fresh session only hears this during its own probe, which is listing anyway
        now = time.monotonic()
        if now - self._relisted_at < RELIST_GAP:
            return
        self._relisted_at = now
        self.ctx.log(LogLevel.INFO, "the server's tools changed: listing them again now", "engine")
        self.ctx.probe_now()

    async def _connect(self, deadline: Deadline, stages: Stages) -> McpSession:
        service = self.service
        headers = None
        if service.transport != "stdio":
            headers = await bearer.request_headers(service, dict(service.headers), self.ctx.now())
            if not any(name.lower() == "authorization" for name in headers) and not service.token_command:
                # Signed in with `lookout login`: the stored token, refreshed first if it is about to expire.
                signed_in = await oauth_store.bearer(service.url or "", self.ctx.http())
                if signed_in is not None:
                    headers["Authorization"] = f"Bearer {signed_in}"
        session = McpSession(
            service,
            transports=self._transports(),
            headers=headers,
            mode=self._mode,
            # The SDK's own per-request limit must not undercut ours: the handshake may take startup_timeout.
            timeout=max(service.timeout, service.startup_timeout),
            on_stderr=self._text.stderr,
            on_message=self._text.message,
            on_log=self._text.server_log,
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
            stages.phase(deadline.within(service.startup_timeout))
            client = await stages.wait(what, session.open())
        finally:
            if starts_process:
                self.ctx.start_slots.release()
        if session.connect_ms is not None:
            stages.timings["connect"] = session.connect_ms
        if session.handshake_ms is not None:
            stages.timings["handshake"] = session.handshake_ms
        # Later connections skip the auto probe: a handshake-era server goes straight to initialize.
        self._mode = "legacy" if session.era() == "handshake" else "auto"
        if service.sse_fallback:
            self._detected = session.transport
        version = client.protocol_version
        self.ctx.log(LogLevel.DEBUG, f"connected: protocol {version} ({session.era()} era)", "engine")
        if service.session == "persistent" and session.era() == "modern":
            self._listening = asyncio.create_task(self._listen(session), name=f"mcp-listen:{service.name}")
        return session

    def _transports(self) -> tuple[str, ...]:
        """What a new session tries: an untyped url streamable HTTP then SSE, unless one already answered."""
        if not self.service.sse_fallback:
            return (self.service.transport,)
        return (self._detected,) if self._detected else ("http", "sse")

    def _transport_label(self, session: McpSession) -> str:
        """How the details name the transport: "sse (fallback)" when an untyped url answered over SSE."""
        if self.service.sse_fallback and session.transport == "sse":
            return "sse (fallback)"
        return session.transport

    async def _listen(self, session: McpSession) -> None:
        """In the 2026 era a server tells of tool changes only on a `subscriptions/listen` stream: keep one
        open for a persistent session. A server that offers none (or a stream that drops) is listed at its
        interval as before; the session's own health is the probe's business, not this task's."""
        client = session.client
        if client is None:
            return
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    self._tools_changed()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.ctx.log(LogLevel.DEBUG, f"no tools/list_changed stream: {type(error).__name__}", "engine")

    async def _call(self, session: McpSession, stages: Stages) -> Check:
        """The deep check: call the configured tool and judge its answer."""
        call = self.service.call
        assert call is not None and session.client is not None
        request = session.client.session.call_tool(call.tool, call.arguments)
        result = await stages.run(f"tools/call {call.tool}", request, timed_as="call")
        text = " ".join(getattr(block, "text", "") for block in getattr(result, "content", []) or [])
        is_error = bool(getattr(result, "is_error", False))
        shown = self._text.shown(text) if is_error else ""
        return expectations.call_check(call.tool, call.expect_text, is_error=is_error, text=text, shown=shown)

    def _outcome(
        self,
        session: McpSession,
        inventory: Inventory,
        timings: dict[str, float],
        call: Check | None,
        started: float,
        cold_start: float | None,
        pin: PinVerdict | None,
    ) -> ProbeOutcome:
        latency_ms = (time.perf_counter() - started) * 1000
        checks = self._judge(inventory, call, latency_ms, pin)
        checks += token_health.token_checks(
            token_health.bearer_of(session.headers), session.health_headers, self.ctx.now(), self.service.token_warn
        )
        reason = expectations.reason_of(checks)
        details = mcp_details(session, inventory, cold_start, self.service, pin)
        return ProbeOutcome(
            status=Status.DEGRADED if reason else Status.UP,
            reason=reason,
            latency_ms=latency_ms,
            timings=timings,
            details=replace(details, transport=self._transport_label(session)),
            checks=checks,
        )

    def _judge(
        self, inventory: Inventory, call: Check | None, latency_ms: float, pin: PinVerdict | None
    ) -> tuple[Check, ...]:
        """Every configured expectation, in the order a reason lists failures."""
        expect = self.service.expect
        checks: list[Check] = [pin.check] if pin is not None else []
        if expect.tools:
            checks.append(expectations.tools_present_check(expect.tools, (tool.name for tool in inventory.tools)))
        if expect.min_tools is not None:
            checks.append(expectations.min_tools_check(len(inventory.tools), expect.min_tools))
        if expect.max_context_tokens is not None:
            checks.append(expectations.context_check(inventory.context_tokens, expect.max_context_tokens))
        if call is not None:
            checks.append(call)
        checks.append(expectations.inventory_check(inventory.limits))
        if expect.max_latency is not None:
            checks.append(expectations.latency_check(latency_ms, expect.max_latency))
        return tuple(checks)

    async def _failure(self, what: str, exc: Exception) -> ProbeError:
        command = self.service.command if self.service.transport == "stdio" else None
        session = self._session
        failure = await stage_failure(exc, what, session, command, self._text)
        if session is None or command is not None:
            return failure
        if session.fallback_from is not None and not refusal.is_refusal(failure.http_status):
            status, phrase = session.fallback_from
            failure.reason += f" (over SSE, after streamable HTTP answered HTTP {status} {phrase})".replace("  ", " ")
        if refusal.is_refusal(failure.http_status):
            bearer.forget(self.service)
            error = leaf(exc)
            challenge = session.www_authenticate
            if isinstance(error, httpx2.HTTPStatusError):  # SSE: the SDK's client raised the GET's status
                challenge = error.response.headers.get("www-authenticate", "")
            label = self._transport_label(session)
            from core.probes.auth import mcp_refusal  # the SDK's OAuth helpers: loaded, a session was opened

            failure = await mcp_refusal.explain(
                failure, challenge, self.ctx.http(), self.service.url or "", label, self.service.name
            )
        return failure

    async def _drop(self, *, graceful: bool = True) -> None:
        listening, self._listening = self._listening, None
        if listening is not None and not listening.done():
            listening.cancel()
            await asyncio.wait({listening}, timeout=LISTEN_CLOSE)
        session, self._session = self._session, None
        if session is not None:
            if not graceful and session.process is not None:
                session.process.kill_group()
            await asyncio.shield(session.close())
