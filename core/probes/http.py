"""HTTP API probes: one request through the engine's shared, pooled client.

Status, latency, an optional JSON body condition and the service's own
rate-limit headers decide the outcome. Credentials never follow a redirect to
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

import httpx2

from core.config import HttpService
from core.deadline import Deadline
from core.details import HttpDetails
from core.durations import format_duration
from core.probes.base import ProbeContext
from core.probes.http_body import ACCEPT_ENCODING, CappedBody, read_capped
from core.ratelimit import RateLimitReading, parse_rate_limits
from core.results import ProbeError, ProbeOutcome, RateLimited, Status
from core.sizes import format_size

MAX_REDIRECTS = 5


class HttpProbe:
    def __init__(self, service: HttpService, ctx: ProbeContext) -> None:
        self.service = service
        self.ctx = ctx
        self._wants_json = bool(service.expect.body) or service.rate_limit.scheme in ("auto", "github")

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        request_timeout = deadline.budget  # one request is the whole attempt: the configured limit, as reasons cite it
        service = self.service
        started = time.perf_counter()
        response, read = await self._request(request_timeout)
        latency_ms = (time.perf_counter() - started) * 1000
        body = self._json_body(response, read)
        reading = parse_rate_limits(
            response.headers,
            body=body if body is not _NOT_JSON else None,
            status=response.status_code,
            now=self.ctx.now(),
            scheme=service.rate_limit.scheme,
        )
        self._raise_for_rate_limit(response, reading, latency_ms)
        status_code = response.status_code
        if status_code not in service.expect.status:
            raise ProbeError(
                _status_reason(response, service.expect.status),
                retryable=_retryable_status(status_code) and reading.retry_after is None,
                http_status=status_code,
                rate_limits=reading,
                latency_ms=latency_ms,
            )
        if service.expect.body:
            self._check_body(body, read, service.expect.body, status_code, reading, latency_ms)
        details = HttpDetails(http_version=response.http_version, body_truncated_at=read.truncated_at)
        outcome = ProbeOutcome(
            latency_ms=latency_ms,
            http_status=status_code,
            rate_limits=reading,
            timings={"request": latency_ms},
            details=details,
        )
        max_latency = service.expect.max_latency
        if max_latency is not None and latency_ms > max_latency * 1000:
            outcome.status = Status.DEGRADED
            outcome.reason = f"slow: {format_duration(latency_ms / 1000)} > {format_duration(max_latency)}"
        return outcome

    async def _request(self, timeout: float) -> tuple[httpx2.Response, CappedBody]:
        """Send the request (following same-origin redirects) and read at most `max_body` of the answer.

        Bodies are streamed: a redirect's body is never read, a final one only up to the cap.
        """
        service = self.service
        url = httpx2.URL(service.url)
        headers = dict(service.headers)
        content = service.body.encode() if service.body is not None else None
        method = service.method.upper()
        client = self.ctx.http
        try:
            for _ in range(MAX_REDIRECTS + 1):
                request = client.build_request(
                    method, url, headers=_with_accept_encoding(headers), content=content, timeout=timeout
                )
                response = await client.send(request, stream=True, follow_redirects=False)
                if not response.is_redirect or response.status_code in service.expect.status:
                    return response, await read_capped(response, service.max_body)
                await response.aclose()
                location = response.headers.get("location", "")
                try:
                    target = url.join(location)
                except httpx2.InvalidURL:
                    raise ProbeError(
                        f"HTTP {response.status_code} redirect to an invalid URL", retryable=False
                    ) from None
                if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port) and headers:
                    raise ProbeError(
                        f"HTTP {response.status_code} redirect to {target.host}: "
                        "not following with credentials to another host",
                        retryable=False,
                        http_status=response.status_code,
                    )
                if response.status_code == 303:
                    method, content = "GET", None
                url = target
            raise ProbeError(f"more than {MAX_REDIRECTS} redirects", retryable=False)
        except httpx2.TimeoutException as exc:
            raise ProbeError(f"timed out after {format_duration(timeout)} ({_phase(exc)})") from None
        except httpx2.ConnectError as exc:
            reason = _connect_reason(exc)
            # A certificate that fails verification fails the same way a second later: not worth a retry.
            raise ProbeError(reason, retryable="certificate" not in reason.lower()) from None
        except httpx2.RemoteProtocolError:
            raise ProbeError("connection closed before a complete response") from None
        except (httpx2.ReadError, httpx2.WriteError) as exc:
            raise ProbeError(_network_reason(exc, "connection reset by peer")) from None
        except httpx2.UnsupportedProtocol:
            raise ProbeError(f"unsupported URL scheme in {self.ctx.redact(str(url))}", retryable=False) from None
        except httpx2.HTTPError as exc:
            raise ProbeError(
                self.ctx.redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            ) from None

    def _json_body(self, response: httpx2.Response, read: CappedBody) -> Any:
        if not self._wants_json or not read.complete:
            return _NOT_JSON
        if "json" not in response.headers.get("content-type", ""):
            return _NOT_JSON
        try:
            return json.loads(read.content)
        except ValueError:
            return _NOT_JSON

    def _raise_for_rate_limit(self, response: httpx2.Response, reading: RateLimitReading, latency_ms: float) -> None:
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

    def _check_body(
        self,
        body: Any,
        read: CappedBody,
        expected: dict[str, Any],
        code: int,
        reading: RateLimitReading,
        latency_ms: float,
    ) -> None:
        if not read.complete:
            # A body cut at the cap (or undecodable) cannot be judged: say why rather than "not JSON".
            cap = read.truncated_at
            raise ProbeError(
                f"body larger than {format_size(cap)}" if cap is not None else f"response body: {read.problem}",
                retryable=False,
                http_status=code,
                rate_limits=reading,
                latency_ms=latency_ms,
                details=HttpDetails(body_truncated_at=cap) if cap is not None else None,
            )
        if body is _NOT_JSON:
            raise ProbeError(
                "response body is not valid JSON",
                retryable=False,
                http_status=code,
                rate_limits=reading,
                latency_ms=latency_ms,
            )
        mismatch = subset_mismatch(expected, body)
        if mismatch:
            raise ProbeError(
                f"body mismatch: {mismatch}",
                retryable=False,
                http_status=code,
                rate_limits=reading,
                latency_ms=latency_ms,
            )

    async def reset(self) -> None:
        """Nothing persistent: the pooled client belongs to the engine."""

    async def aclose(self) -> None:
        """Nothing to release: the pooled client belongs to the engine."""


_NOT_JSON = object()


def subset_mismatch(expected: Any, actual: Any, path: str = "") -> str:
    """Where `actual` fails to contain `expected`, or "" if it does.

    Objects match by subset (extra keys are fine), everything else by equality.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path or 'body'} is {_short(actual)}, expected an object"
        for key, value in expected.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{where} is missing"
            problem = subset_mismatch(value, actual[key], where)
            if problem:
                return problem
        return ""
    if expected != actual:
        return f"{path or 'body'} is {_short(actual)}, expected {_short(expected)}"
    return ""


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _with_accept_encoding(headers: dict[str, str]) -> dict[str, str]:
    """Ask only for encodings read_capped decodes, unless the service's config chose its own."""
    if any(name.lower() == "accept-encoding" for name in headers):
        return headers
    return {**headers, "Accept-Encoding": ACCEPT_ENCODING}


def _status_reason(response: httpx2.Response, expected: list[int]) -> str:
    phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
    wanted = "/".join(str(code) for code in expected)
    return f"HTTP {response.status_code}{phrase} (expected {wanted})"


def _retryable_status(code: int) -> bool:
    return code >= 500 or code == 408


def _phase(exc: httpx2.TimeoutException) -> str:
    return {
        httpx2.ConnectTimeout: "connecting",
        httpx2.ReadTimeout: "waiting for the response",
        httpx2.WriteTimeout: "sending the request",
        httpx2.PoolTimeout: "waiting for a free connection",
    }.get(type(exc), "request")


def _connect_reason(exc: BaseException) -> str:
    # httpx2 reports "All connection attempts failed"; the OS's own error is further down the chain.
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


def _network_reason(exc: Exception, default: str) -> str:
    text = str(exc).lower()
    if "reset" in text or not text:
        return default
    return f"network error: {exc}"
