"""HTTP API probes: one request over the fleet's aiohttp session, on the service's connections (http_session).

The probe fetches; the service's expectations (status, an optional JSON body
subset, latency) are judged by `core.probes.expectations`, and with the
service's own rate-limit headers decide the outcome. Credentials never follow a redirect to
another host: redirects are followed by hand, same origin only, unless the
service sends no headers of its own. Bodies are streamed and read only up to
the service's `max_body` (decompressed), so a huge or gzip-bomb answer costs
no more than the cap (see http_body).

Only failures another attempt could fix are retryable: timeouts, resets,
refused connections, 5xx and 408. Any other 4xx, a wrong body, a redirect
problem or a certificate failure is final for this probe.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
from yarl import URL

from core.config import HttpService
from core.deadline import Deadline
from core.details import HttpDetails
from core.probes.auth import bearer, refusal, token_health
from core.probes.base import ProbeContext
from core.probes.errors import Stage, describe, translate
from core.probes.expectations import NOT_JSON, body_check, latency_check, reason_of, status_check
from core.probes.http_body import ACCEPT_ENCODING, CappedBody, read_capped_aio
from core.probes.http_errors import HTTP_PROBE_RULES
from core.probes.http_session import NO_CONTENT_TYPE, HttpAnswer, ServiceSession
from core.ratelimit import RateLimitReading, parse_rate_limits
from core.results import Check, ProbeError, ProbeOutcome, RateLimited, Status

MAX_REDIRECTS = 5
ACCEPT_ENCODINGS = {"Accept-Encoding": ACCEPT_ENCODING}


class HttpProbe:
    def __init__(self, service: HttpService, ctx: ProbeContext) -> None:
        self.service = service
        self.ctx = ctx
        self._wants_json = bool(service.expect.body) or service.rate_limit.scheme in ("auto", "github")
        self._session = ServiceSession(fresh_connection=service.fresh_connection)
        self._url: URL | None = None
        """The service's URL, parsed at its first probe (once: parsing cost a probe ~20 us)."""
        self._encodings: dict[str, str] = (
            {} if any(name.lower() == "accept-encoding" for name in service.headers) else ACCEPT_ENCODINGS
        )
        """Ask only for encodings read_capped_aio decodes, unless the service's config chose its own (decided
        once: the service's headers are fixed, and a bearer token adds only Authorization)."""
        self._headers = dict(service.headers)
        self._bearer = token_health.bearer_of(self._headers)
        """The token the config's own headers send (None: none); a token_command's is fetched per probe."""

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        request_timeout = deadline.budget  # one request is the whole attempt: the configured limit, as reasons cite it
        service = self.service
        expect = service.expect
        started = time.perf_counter()
        if service.token_command:
            headers = await bearer.request_headers(service, dict(self._headers), self.ctx.now())
            sent_bearer = token_health.bearer_of(headers)
        else:
            # What `bearer.request_headers` does for a service without a token command, without a coroutine:
            # its own headers, and a JWT among them refused once expired.
            headers, sent_bearer = self._headers, self._bearer
            if sent_bearer is not None:
                token_health.refuse_expired_jwt(sent_bearer, self.ctx.now())
        response, read = await self._request(request_timeout, headers)
        latency_ms = (time.perf_counter() - started) * 1000
        answered_at = self.ctx.now()
        body = self._json_body(response, read)
        reading = parse_rate_limits(
            response.headers,
            body=body if body is not NOT_JSON else None,
            status=response.status_code,
            now=answered_at,
            scheme=service.rate_limit.scheme,
        )
        self._raise_for_rate_limit(response, reading, latency_ms)
        status_code = response.status_code
        checks: list[Check] = [status_check(status_code, response.reason_phrase, expect.status)]
        if not checks[-1].ok:
            if refusal.is_refusal(status_code):
                bearer.forget(service)
                raise refusal.http_refusal(response, reading, latency_ms, tuple(checks))
            raise ProbeError(
                checks[-1].message,
                retryable=_retryable_status(status_code) and reading.retry_after is None,
                http_status=status_code,
                rate_limits=reading,
                latency_ms=latency_ms,
                checks=tuple(checks),
            )
        if expect.body:
            body_judged = body_check(expect.body, body, truncated_at=read.truncated_at, problem=read.problem)
            checks.append(body_judged)
            if not body_judged.ok:
                cap = read.truncated_at
                raise ProbeError(
                    body_judged.message,
                    retryable=False,
                    http_status=status_code,
                    rate_limits=reading,
                    latency_ms=latency_ms,
                    details=HttpDetails(body_truncated_at=cap) if cap is not None else None,
                    checks=tuple(checks),
                )
        details = HttpDetails(http_version=response.http_version, body_truncated_at=read.truncated_at)
        if expect.max_latency is not None:
            checks.append(latency_check(latency_ms, expect.max_latency))
        checks += token_health.token_checks(sent_bearer, response.headers, answered_at, service.token_warn)
        reason = reason_of(checks)
        return ProbeOutcome(
            status=Status.DEGRADED if reason else Status.UP,
            reason=reason,
            latency_ms=latency_ms,
            http_status=status_code,
            rate_limits=reading,
            timings={"request": latency_ms},
            details=details,
            checks=tuple(checks),
        )

    async def _request(self, timeout: float, headers: dict[str, str]) -> tuple[HttpAnswer, CappedBody]:
        """Send the request (following same-origin redirects) and read at most `max_body` of the answer.

        Bodies are streamed: a redirect's body is never read (its connection is closed), a final one
        only up to the cap.
        """
        service = self.service
        if self._url is None:
            try:
                self._url = URL(service.url)
            except ValueError:
                raise ProbeError(f"invalid URL {self.ctx.redact(service.url)}", retryable=False) from None
        url = self._url
        content = service.body.encode() if service.body is not None else None
        method = service.method.upper()
        sent_headers = {**headers, **self._encodings}
        client_timeout = self._session.timeout(timeout)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                response = await self._session.request(
                    method,
                    url,
                    headers=sent_headers,
                    data=content,
                    # aiohttp types what a POST, PUT or PATCH sends (even nothing); httpx2 sent no Content-Type the
                    # service did not set. Asked for all but a bodiless GET or HEAD, the probe's usual request: a
                    # session-wide skip list cost every request two copies of its headers.
                    skip_auto_headers=None if content is None and method in ("GET", "HEAD") else NO_CONTENT_TYPE,
                    allow_redirects=False,
                    timeout=client_timeout,
                    proxy=self._session.proxy_for(url),
                )
                answer = HttpAnswer.of(response)
                if not answer.is_redirect or answer.status_code in service.expect.status:
                    return answer, await read_capped_aio(
                        response, answer.headers.get("content-encoding", ""), service.max_body
                    )
                response.close()
                location = answer.headers.get("location", "")
                try:
                    target = url.join(URL(location))
                    if target.scheme in ("http", "https") and not target.host:
                        raise ValueError("no host")
                except ValueError:
                    raise ProbeError(f"HTTP {answer.status_code} redirect to an invalid URL", retryable=False) from None
                if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port) and headers:
                    raise ProbeError(
                        f"HTTP {answer.status_code} redirect to {target.host}: "
                        "not following with credentials to another host",
                        retryable=False,
                        http_status=answer.status_code,
                    )
                if answer.status_code == 303:
                    method, content = "GET", None
                url = target
            raise ProbeError(f"more than {MAX_REDIRECTS} redirects", retryable=False)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            stage = Stage("the request", limit=timeout, target=self.ctx.redact(str(url)))
            raise translate(exc, stage, HTTP_PROBE_RULES) or ProbeError(self.ctx.redact(describe(exc))) from None

    def _json_body(self, response: HttpAnswer, read: CappedBody) -> Any:
        if not self._wants_json or not read.complete:
            return NOT_JSON
        if "json" not in response.headers.get("content-type", ""):
            return NOT_JSON
        try:
            return json.loads(read.content)
        except ValueError:
            return NOT_JSON

    def _raise_for_rate_limit(self, response: HttpAnswer, reading: RateLimitReading, latency_ms: float) -> None:
        code = response.status_code
        exhausted = [lim for lim in reading.limits if lim.remaining == 0]
        if code == 429 or (code == 403 and exhausted):
            until = reading.retry_after or min(
                (lim.reset_at for lim in exhausted if lim.reset_at is not None), default=None
            )
            what = f"HTTP {code}" + (f", {exhausted[0].resource} quota exhausted" if exhausted else "")
            raise RateLimited(
                f"rate limited ({what})",
                until=until,
                http_status=code,
                rate_limits=reading,
                latency_ms=latency_ms,
            )

    async def reset(self) -> None:
        """Close the service's session and its connections: the next attempt opens new ones."""
        await self._session.aclose()

    async def aclose(self) -> None:
        """Close the service's session and its connections."""
        await self._session.aclose()


def _retryable_status(code: int) -> bool:
    return code >= 500 or code == 408
