"""The loader's fast YAML path (no line numbers) builds exactly what the line-tracking builder builds,
and hands every unusual file to that builder, so errors keep their wording and line."""

from __future__ import annotations

import pytest

from core.config import ConfigError, parse_config
from core.config.yamlnodes import load_plain, load_with_lines

PLAIN = [
    "services:\n  a: {kind: http, url: 'http://127.0.0.1:9/x'}\n",
    "a: [1, 2.5, true, null, ~, '3', \"q\", 0x10, 1e3, .inf, yes, 2001-12-14]\nb: {c: {d: [[], {}]}}\n",
    "? plain key\n: v\n1: int key\nnull: n\n",
    "text: |\n  two\n  lines\nfolded: >\n  a\n  b\n",
    "",
    "- top\n- level\n- list\n",
    "just a scalar\n",
]

UNUSUAL = [
    "a: &x {k: 1}\nb: *x\n",
    "a: {k: 1}\nb: {<<: {m: 2}}\n",
    "a: 1\na: 2\n",
    "? [1, 2]\n: v\n",
    "a: 1\n---\nb: 2\n",
    "a: !custom 1\n",
    "x: !!str 12\n",
    "a: [unclosed\n",
    "a: \x00\n",
]


@pytest.mark.parametrize("text", PLAIN)
def test_the_fast_path_builds_the_same_data(text: str) -> None:
    data = load_plain(text)
    expected, _, problems = load_with_lines(text)
    assert not problems
    assert data == expected
    assert type(data) is type(expected)


@pytest.mark.parametrize("text", UNUSUAL)
def test_anything_unusual_is_left_to_the_line_tracking_builder(text: str) -> None:
    assert load_plain(text) is None


def test_an_error_in_a_file_read_by_the_fast_path_still_has_its_line() -> None:
    text = "services:\n  a:\n    kind: http\n    url: http://127.0.0.1:9/\n  b:\n    kind: http\n    url: ftp://x\n"
    assert load_plain(text) is not None
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="s.yaml")
    [issue] = caught.value.issues
    assert (issue.line, issue.path) == (7, "services.b.url")
