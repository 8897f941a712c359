"""Expectations judged apart from fetching (Gatus's `condition.go` model), for both probe kinds.

A probe fetches; these pure functions judge what it fetched against the
service's `expect` settings and return one `Check` per condition, passed or
not. Nothing here touches the network, so each rule is tested on its own, and
a view can show every condition rather than only the first that failed. The
reason a result shows is the failed checks' messages joined, in order
(`reason_of`): the same text whether one condition failed or several.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from core.durations import format_duration
from core.results import Check
from core.sanitize import REASON_LIMIT, clean_line
from core.sizes import format_size

NOT_JSON: Any = object()
"""The body of an answer that is not JSON (or was not read as JSON): no subset of it can match."""


def reason_of(checks: Iterable[Check]) -> str:
    """The failed checks' messages, in order: what a result says when an expectation is not met."""
    return "; ".join(check.message for check in checks if not check.ok)


def safe_checks(checks: Iterable[Check], redact: Callable[[str], str]) -> tuple[Check, ...]:
    """Checks as they may be shown: a message may quote what a server sent (a body value, a tool's error).

    A check with nothing to redact or clean is kept as it is (it is frozen): `redact` and `clean_line` give
    back the very string they were handed when they change nothing, and most probes' checks are such."""
    safe = []
    for check in checks:
        condition = clean_line(redact(check.condition), REASON_LIMIT)
        message = clean_line(redact(check.message), REASON_LIMIT)
        if condition is not check.condition or message is not check.message:
            check = Check(condition=condition, ok=check.ok, message=message, expiry=check.expiry)
        safe.append(check)
    return tuple(safe)


# -- both kinds ---------------------------------------------------------------


def latency_check(latency_ms: float, max_latency: float) -> Check:
    """`expect.max_latency` (seconds): slower is degraded, not down."""
    took = format_duration(latency_ms / 1000)
    limit = format_duration(max_latency)
    if latency_ms > max_latency * 1000:
        return Check(f"latency at most {limit}", False, f"slow: {took} > {limit}")
    return Check(f"latency at most {limit}", True, took)


# -- HTTP ---------------------------------------------------------------------


def status_check(code: int, phrase: str, expected: Sequence[int]) -> Check:
    """`expect.status`: the answer's status is one of these."""
    return _status_check(code, phrase, tuple(expected))


@lru_cache(maxsize=512)
def _status_check(code: int, phrase: str, expected: tuple[int, ...]) -> Check:
    """One Check per answer a fleet keeps getting ("HTTP 200 OK" against 200), made once: a probe's checks
    are judged, made safe and kept in the ring by the thousand a second, and the same frozen one is the
    cheapest to do all three with. Bounded: a reason phrase is whatever the server sent."""
    wanted = "/".join(str(status) for status in expected)
    condition = f"status is {wanted}" if len(expected) == 1 else f"status is one of {wanted}"
    shown = f"HTTP {code} {phrase}" if phrase else f"HTTP {code}"
    if code in expected:
        return Check(condition, True, shown)
    return Check(condition, False, f"{shown} (expected {wanted})")


def body_check(expected: Mapping[str, Any], body: Any, *, truncated_at: int | None = None, problem: str = "") -> Check:
    """`expect.body`: the JSON body contains this subset.

    `body` is the parsed JSON, or `NOT_JSON`; a body cut at the cap (`truncated_at`) or one that
    could not be decoded (`problem`) cannot be judged, and says why rather than "not JSON".
    """
    condition = f"body contains {_short(dict(expected))}"
    if truncated_at is not None:
        return Check(condition, False, f"body larger than {format_size(truncated_at)}")
    if problem:
        return Check(condition, False, f"response body: {problem}")
    if body is NOT_JSON:
        return Check(condition, False, "response body is not valid JSON")
    mismatch = subset_mismatch(expected, body)
    if mismatch:
        return Check(condition, False, f"body mismatch: {mismatch}")
    return Check(condition, True, "matches")


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


# -- MCP ----------------------------------------------------------------------


def tools_present_check(expected: Sequence[str], listed: Iterable[str]) -> Check:
    """`expect.tools`: every named tool is listed."""
    names = set(listed)
    missing = [tool for tool in expected if tool not in names]
    condition = "tools include " + ", ".join(expected)
    if missing:
        return Check(condition, False, "missing tools: " + ", ".join(missing))
    return Check(condition, True, "all listed")


def min_tools_check(count: int, minimum: int) -> Check:
    """`expect.min_tools`: at least this many tools are listed."""
    if count < minimum:
        return Check(f"at least {minimum} tools", False, f"{count} tools, expected at least {minimum}")
    return Check(f"at least {minimum} tools", True, f"{count} tools")


def context_check(tokens: int, limit: int) -> Check:
    """`expect.max_context_tokens`: what the tool list costs an agent in context, every turn."""
    condition = f"tool list at most {limit} tokens of context"
    if tokens > limit:
        return Check(condition, False, f"tool list costs ~{tokens} tokens of context (limit {limit})")
    return Check(condition, True, f"~{tokens} tokens")


def call_check(tool: str, expect_text: str | None, *, is_error: bool, text: str, shown: str) -> Check:
    """`call`: the tool answers without an error, and with `expect_text` in its text if one is set.

    `text` is the answer's text as sent (searched), `shown` the same made safe to quote.
    """
    condition = f"tools/call {tool} answers" + (f" with {expect_text!r}" if expect_text is not None else "")
    if is_error:
        return Check(condition, False, f"tool {tool} returned an error: {shown or 'no details'}")
    if expect_text is not None and expect_text not in text:
        return Check(condition, False, f"tool {tool} answered without {expect_text!r}")
    return Check(condition, True, "answered as expected")


def inventory_check(limits: Sequence[str]) -> Check:
    """Lookout's own caps on what a server may list: a list cut short is degraded, with why."""
    if limits:
        return Check("inventory within Lookout's caps", False, "; ".join(limits))
    return Check("inventory within Lookout's caps", True, "complete")
