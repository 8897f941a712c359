"""core/sanitize.py on a table of hostile inputs: what a terminal would act on comes out as visible text."""

from __future__ import annotations

import re

import pytest

from core.details import McpDetails, ToolInfo
from core.redact import Redactor
from core.sanitize import (
    MAX_DEPTH,
    REASON_LIMIT,
    TEXT_LIMIT,
    TOO_DEEP,
    clean_line,
    clean_text,
    clean_tree,
    clip,
    safe_reason,
)

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text stays", "plain text stays"),
        ("", ""),
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # CSI: clear the screen, cursor home
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # OSC 0 (window title), BEL-terminated
        ("\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", "\\x1b]8;;http://evil/\\x1b\\click\\x1b]8;;\\x1b\\"),  # OSC 8
        ("\x1b]52;c;cHduZWQ=\x07", "\\x1b]52;c;cHduZWQ=\\x07"),  # OSC 52: write the clipboard
        ("\x1bP+q544e\x1b\\", "\\x1bP+q544e\\x1b\\"),  # DCS (a terminfo query), ST-terminated
        ("lone \x1b", "lone \\x1b"),
        ("\x9b2J \x9d0;t\x9c \x90q\x9c", "\\x9b2J \\x9d0;t\\x9c \\x90q\\x9c"),  # 8-bit C1 CSI, OSC, ST, DCS
        ("nul\x00 bs\x08 del\x7f vt\x0b", "nul\\x00 bs\\x08 del\\x7f vt\\x0b"),
        ("ok\rEVIL", "ok EVIL"),  # a bare CR would overwrite the line it is on
        ("a\r\nb\n\nc\td  e", "a b c d e"),  # one line: breaks, tabs and space runs become one space
        ("  padded \n", "padded"),
        ("spaces \n around \t breaks", "spaces around breaks"),
        ("admin\u202e\u2066txt.exe", "admin\\u202e\\u2066txt.exe"),  # bidi override and isolate (Trojan Source)
        ("lone \ud83d surrogate", "lone \\ud83d surrogate"),  # would make print() raise
        ("emoji 👍 and accents é stay", "emoji 👍 and accents é stay"),
        ("C:\\Users\\x1b", "C:\\Users\\x1b"),  # a backslash is text, not an escape
    ],
)
def test_clean_line(raw: str, shown: str) -> None:
    assert clean_line(raw) == shown
    assert not UNSAFE.search(clean_line(raw))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("first\nsecond", "first\nsecond"),
        ("dos\r\nline\rmac", "dos\nline\nmac"),
        ("\tindented", "    indented"),
        ("page\x0cbreak", "page\nbreak"),
        ("title \x1b]0;x\x07\nbody \x1b[31mred", "title \\x1b]0;x\\x07\nbody \\x1b[31mred"),
        ("para\u2028graph\u2029end", "para\ngraph\nend"),
    ],
)
def test_clean_text_keeps_lines(raw: str, shown: str) -> None:
    assert clean_text(raw) == shown


def test_length_is_capped_and_the_cut_is_marked() -> None:
    assert len(clean_line("x" * 100_000)) == REASON_LIMIT
    assert clean_line("x" * 100_000).endswith("…")
    assert clean_line("y" * REASON_LIMIT) == "y" * REASON_LIMIT  # exactly at the limit: nothing cut
    assert len(clean_text("z" * 10_000_000)) == TEXT_LIMIT
    # Whitespace that collapses away still leaves the mark: the reader learns something was cut.
    assert clean_line(" " * 100_000 + "tail", 50) == "…"
    assert clean_line("\x1b" * 1000, 10) == "\\x1b\\x1b…"  # placeholders count as what is shown
    assert clean_line("anything", None) == "anything"


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("short", 10, "short"),
        ("abcdef\\x1b", 9, "abcdef…"),  # "\x1" would be half a placeholder
        ("abcdef\\u202e", 11, "abcdef…"),
        ("abc\\x1bdef", 9, "abc\\x1bd…"),  # a whole placeholder is kept
        ("words and more", 10, "words and…"),
        ("abc", 1, "…"),
    ],
)
def test_clip(text: str, limit: int, shown: str) -> None:
    assert clip(text, limit) == shown


def test_tree_cleans_keys_values_and_bounds_depth() -> None:
    tree = {
        "name\x1b": "tool\x1b[2J",
        "description": "line one\nline two \x07",
        "nested": [{"title": "t\x9b" * 300}, ("tuple", 1, 2.5, True, None)],
        3: "int keys stay",
    }
    cleaned = clean_tree(tree, name_keys={"title"})
    assert cleaned["name\\x1b"] == "tool\\x1b[2J"
    assert cleaned["description"] == "line one\nline two \\x07"
    title = cleaned["nested"][0]["title"]
    assert title.endswith("\\x9bt…") and len(title) <= 200  # a name's limit; no placeholder cut in half
    assert cleaned["nested"][1] == ["tuple", 1, 2.5, True, None]
    assert cleaned[3] == "int keys stay"
    deep: dict = {}
    node = deep
    for _ in range(5000):  # far past the interpreter's recursion limit
        node["child"] = {}
        node = node["child"]
    walked = clean_tree(deep)
    for _ in range(MAX_DEPTH):
        walked = walked["child"]
    assert walked == TOO_DEEP


def test_redaction_comes_before_the_clip() -> None:
    secret = "sk-live-0123456789abcdef"
    redact = Redactor([secret])
    reason = "x" * (REASON_LIMIT - 10) + secret + " and more" * 1000  # the cut falls inside the secret
    shown, full = safe_reason(reason, redact)
    assert secret[:6] not in shown and "x*** and" in shown
    assert len(shown) == REASON_LIMIT
    assert full.startswith("x" * (REASON_LIMIT - 10) + "*** and more")
    assert len(full) == TEXT_LIMIT
    details = McpDetails(tools=(ToolInfo("t", "y" * 5000 + secret),)).safe(redact)
    assert secret[:6] not in details.tools[0].description
    assert safe_reason("fine", redact) == ("fine", "")  # no full reason when nothing was cut
