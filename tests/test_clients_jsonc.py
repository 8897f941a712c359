"""The JSONC reader VS Code, Zed and Cursor files go through: comments, trailing commas, lines."""

from __future__ import annotations

import json

import pytest

from core.clients.jsonc import MAX_DEPTH, JsoncError, load_jsonc


def test_comments_and_trailing_commas_are_allowed_and_strings_keep_slashes() -> None:
    text = """// leading comment
{
  /* block
     comment */
  "url": "http://127.0.0.1:9/mcp", // a URL is not a comment
  "glob": "/* not a comment */",
  "list": [1, 2.5, -3e2, true, false, null,],
  "nested": {"a": {"b": "c",},},
}
"""
    data, lines = load_jsonc(text)
    assert data == {
        "url": "http://127.0.0.1:9/mcp",
        "glob": "/* not a comment */",
        "list": [1, 2.5, -300.0, True, False, None],
        "nested": {"a": {"b": "c"}},
    }
    assert lines[("url",)] == 5 and lines[("list",)] == 7 and lines[("nested", "a", "b")] == 8
    assert lines[("list", 2)] == 7


def test_plain_json_reads_as_the_stdlib_reads_it() -> None:
    document = {"a": 'é\\n\u2028 "q"', "b": [{"c": 1}], "d": 1.5, "e": "\U0001f600"}
    text = json.dumps(document, indent=2)
    assert load_jsonc(text)[0] == json.loads(text)
    assert load_jsonc("\ufeff" + text)[0] == document  # a BOM some Windows editors write


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', 3, "expected ',' or '}'"),
        ('{\n"a": [1,,2]}', 2, "expected a value"),
        ('{"a": 1}\n{"b": 2}', 2, "after the end"),
        ("{\n /* never closed\n", 2, "unterminated /* comment"),
        ('{\n\n "a": "no end', 3, "unterminated string"),
        ("", 1, "empty"),
        ("{\n 'single': 1}", 2, "quoted key"),
    ],
)
def test_errors_name_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(JsoncError) as caught:
        load_jsonc(text)
    assert caught.value.line == line and words in caught.value.message


def test_hostile_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(JsoncError, match="nested deeper"):
        load_jsonc("[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10))
