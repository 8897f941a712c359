"""Expectations judged on their own: pure functions from what a probe fetched to `Check` records (no network)."""

from __future__ import annotations

from core.probes import expectations as ex
from core.results import Check


def test_status_passes_and_fails_with_the_reason_a_result_shows() -> None:
    assert ex.status_check(200, "OK", [200]) == Check("status is 200", True, "HTTP 200 OK")
    assert ex.status_check(503, "Service Unavailable", [200, 204]) == Check(
        "status is one of 200/204", False, "HTTP 503 Service Unavailable (expected 200/204)"
    )
    assert ex.status_check(599, "", [200]).message == "HTTP 599 (expected 200)"  # no phrase, no double space


def test_body_subset_matches_extra_keys_and_names_the_first_mismatch() -> None:
    expected = {"status": "ok", "db": {"up": True}}
    assert ex.body_check(expected, {"status": "ok", "db": {"up": True, "ms": 3}, "x": 1}).ok
    wrong = ex.body_check(expected, {"status": "ok", "db": {"up": False}})
    assert not wrong.ok and wrong.message == "body mismatch: db.up is false, expected true"
    missing = ex.body_check(expected, {"db": {"up": True}})
    assert missing.message == "body mismatch: status is missing"
    assert ex.body_check(expected, ["ok"]).message == 'body mismatch: body is ["ok"], expected an object'
    assert wrong.condition == 'body contains {"status": "ok", "db": {"up": true}}'


def test_a_body_that_cannot_be_judged_says_why() -> None:
    expected = {"status": "ok"}
    assert ex.body_check(expected, ex.NOT_JSON).message == "response body is not valid JSON"
    assert ex.body_check(expected, ex.NOT_JSON, truncated_at=1024).message == "body larger than 1 KiB"
    assert ex.body_check(expected, ex.NOT_JSON, problem="corrupt compressed body").message == (
        "response body: corrupt compressed body"
    )


def test_latency_over_the_limit_is_slow() -> None:
    assert ex.latency_check(2500.0, 2.0) == Check("latency at most 2s", False, "slow: 2.5s > 2s")
    assert ex.latency_check(120.0, 2.0).ok


def test_mcp_inventory_expectations() -> None:
    assert ex.tools_present_check(["search", "deploy"], ["search", "read"]) == Check(
        "tools include search, deploy", False, "missing tools: deploy"
    )
    assert ex.tools_present_check(["search"], iter(["search"])).ok  # any iterable of names, read once
    assert ex.min_tools_check(1, 3) == Check("at least 3 tools", False, "1 tools, expected at least 3")
    assert ex.min_tools_check(3, 3) == Check("at least 3 tools", True, "3 tools")
    assert ex.context_check(900, 500).message == "tool list costs ~900 tokens of context (limit 500)"
    assert ex.context_check(500, 500).ok
    assert ex.inventory_check([]) == Check("inventory within Lookout's caps", True, "complete")
    capped = ex.inventory_check(["tool list capped at 5000 (the server offers more)", "prompts/list ..."])
    assert not capped.ok and capped.message == "tool list capped at 5000 (the server offers more); prompts/list ..."


def test_tool_call_judged_on_its_error_flag_and_text() -> None:
    failed = ex.call_check("echo", None, is_error=True, text="boom \x1b[2J", shown="boom \\x1b[2J")
    assert failed == Check("tools/call echo answers", False, "tool echo returned an error: boom \\x1b[2J")
    assert ex.call_check("echo", None, is_error=True, text="", shown="").message.endswith("error: no details")
    without = ex.call_check("echo", "bye", is_error=False, text="hello", shown="")
    assert without == Check("tools/call echo answers with 'bye'", False, "tool echo answered without 'bye'")
    assert ex.call_check("echo", "hel", is_error=False, text="hello", shown="").ok


def test_the_reason_is_the_failed_checks_in_order() -> None:
    checks = [
        Check("a", False, "missing tools: deploy"),
        Check("b", True, "3 tools"),
        Check("c", False, "slow: 3s > 1s"),
    ]
    assert ex.reason_of(checks) == "missing tools: deploy; slow: 3s > 1s"
    assert ex.reason_of([Check("b", True, "fine")]) == ""


def test_checks_are_made_safe_to_show() -> None:
    secret = "sk-live-0123456789"
    raw = Check(f"body contains {secret}", False, "body mismatch: name is '\x1b]0;owned\x07" + "x" * 5000)
    (shown,) = ex.safe_checks([raw], lambda text: text.replace(secret, "***"))
    assert secret not in shown.condition and "***" in shown.condition
    assert "\x1b" not in shown.message and "\x07" not in shown.message
    assert len(shown.message) < 1000 and not shown.ok


def test_a_check_with_nothing_to_make_safe_is_kept_as_it_is_and_one_with_something_is_not() -> None:
    """The usual probe's checks are already safe: the same frozen Check goes on, judged once per answer."""
    clean = ex.status_check(200, "OK", [200])
    assert ex.status_check(200, "OK", [200]) is clean  # the same answer against the same list: made once
    hostile = ex.status_check(200, "OK \x1b[2J", [200])
    kept, cleaned = ex.safe_checks([clean, hostile], lambda text: text)
    assert kept is clean
    assert cleaned is not hostile and "\x1b" not in cleaned.message and cleaned.message.startswith("HTTP 200 OK")
    (redacted,) = ex.safe_checks(
        [ex.status_check(503, "token abc123456789", [200])], lambda t: t.replace("abc123456789", "***")
    )
    assert redacted.message == "HTTP 503 token *** (expected 200)" and not redacted.ok
