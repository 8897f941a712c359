"""Making untrusted text safe to show.

Every string a monitored server controls (an HTTP reason phrase, an MCP
server's name, tool descriptions, stderr lines, log notifications) ends up on
an operator's terminal, in a Nagios notification or in JSON read by another
program. Left raw, `ESC[2J` wipes the screen, OSC 0 retitles the window, OSC 8
forges a link, OSC 52 writes the clipboard, a bare CR overwrites the line,
a bidi override reorders what is read, and a lone surrogate makes `print`
raise. A 100k-character reason turns one status line into a page.

So text is made inert character by character: every C0 and C1 control, DEL,
the bidi controls and lone surrogates become a visible placeholder spelled
the way Python spells them (`\\x1b`, `\\u202e`). No escape sequence is parsed:
a terminal acts on a sequence only after its introducer (ESC or a C1 byte),
and the introducer is always replaced, so what follows it is plain text.
Parsing sequences would only add a state machine a hostile server could try to
confuse. A backslash is left alone (Windows paths stay readable), so a
placeholder cannot be told from the same four characters sent literally; that
costs nothing, since neither can do harm.

Two shapes: `clean_line` for text shown on one line (reasons, names, log
lines: every line break and tab becomes one space) and `clean_text` for text
shown as a block (descriptions: line breaks kept). Both clip to a length,
marking the cut with "…". `clean_tree` applies them to nested data, keys
included. Redaction comes first, applied to the whole text, so a clip never
leaves half of a secret visible: callers pass the redactor in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

ELLIPSIS = "…"
REASON_LIMIT = 300
"""A reason as results, tables and reports carry it."""
NAME_LIMIT = 200
"""A name: a server's, a tool's, a resource's, a key."""
TEXT_LIMIT = 4096
"""A block of text: a description, a full reason for the detail screen."""
LOG_LIMIT = 2000
"""One log line (stderr, a server's log notification, engine news)."""
MAX_DEPTH = 32
"""Nesting kept by `clean_tree`: a server's schema may nest without end; a stack must not."""
TOO_DEEP = "…(nested too deep)"

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Arabic letter mark, LRM/RLM, the embeddings and overrides (LRE RLE PDF LRO RLO) and isolates (LRI RLI FSI PDI)."""
_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f{_BIDI}\ud800-\udfff]")
"""Controls that are never shown raw, whatever the shape (line breaks and tabs are the shapes' business)."""
_LINE_SPACE = re.compile("[ \t\n\x0c\r\u2028\u2029]+")
"""In a one-line text, runs of line breaks, tabs and spaces become one space (the reason stays one line)."""
_BLOCK_BREAK = re.compile("\r\n|[\r\u2028\u2029]")
_LINE_WORK = re.compile(f"{_UNSAFE.pattern}|[\t\n\x0c\r\u2028\u2029]|  |^ | $")
_BLOCK_WORK = re.compile(f"{_UNSAFE.pattern}|[\t\x0c\r\u2028\u2029]")
"""Whether a text needs any change at all: most do not, and a tool list holds many thousands of them."""
_EXPANSION = 6
"""A placeholder is at most 6 characters for 1 (`\\u202e`): bounds how much raw text a clip can need."""
_CUT_PLACEHOLDER = re.compile(r"\\(?:x[0-9a-f]?|u[0-9a-f]{0,3})?$")


def placeholder(char: str) -> str:
    """How an unsafe character is shown: `\\x1b` for one byte's worth, `\\u202e` above that."""
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def has_controls(text: str) -> bool:
    """True when `text` holds anything `clean_line` would show as a placeholder (an escape, a control, bidi)."""
    return _UNSAFE.search(text) is not None


def clean_line(text: str, limit: int | None = REASON_LIMIT) -> str:
    """One line of safe text, at most `limit` characters ("…" marks a cut; None: no cut)."""
    if not text:
        return ""
    if (limit is None or len(text) <= limit) and not _LINE_WORK.search(text):
        return text
    text, cut = _precut(str(text), limit)
    text = _LINE_SPACE.sub(" ", text).strip(" ")
    return _finish(_UNSAFE.sub(_placeholder_match, text), limit, cut)


def clean_text(text: str, limit: int | None = TEXT_LIMIT) -> str:
    """A block of safe text: line breaks kept (CR LF and CR become LF), tabs as four spaces; clipped as above."""
    if not text:
        return ""
    if (limit is None or len(text) <= limit) and not _BLOCK_WORK.search(text):
        return text
    text, cut = _precut(str(text), limit)
    text = _BLOCK_BREAK.sub("\n", text).replace("\t", "    ").replace("\x0c", "\n")
    return _finish(_UNSAFE.sub(_placeholder_match, text), limit, cut)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; a cut ends in "…" and never splits a placeholder."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    head = _CUT_PLACEHOLDER.sub("", text[: limit - 1])
    return head.rstrip() + ELLIPSIS


def clean_tree(
    value: Any,
    *,
    redact: Callable[[str], str] | None = None,
    text_limit: int = TEXT_LIMIT,
    name_limit: int = NAME_LIMIT,
    name_keys: Collection[str] = (),
) -> Any:
    """Nested data (dicts, lists, tuples) with every string redacted, made safe and clipped; keys too.

    Keys and the strings under a key in `name_keys` (directly, or as items of
    a list there) are names: one line, `name_limit`. Other strings are blocks
    of `text_limit`. Numbers, booleans and None pass unchanged; anything else
    is shown as its text. Below `MAX_DEPTH` levels a branch is replaced by a
    note, so a server's endlessly nested schema costs no recursion.
    """
    shown = redact or _same

    def name(text: str) -> str:
        return clean_line(shown(text), name_limit)

    def walk(item: Any, depth: int, as_name: bool) -> Any:
        if isinstance(item, str):
            return name(item) if as_name else clean_text(shown(item), text_limit)
        if item is None or isinstance(item, bool | int | float):
            return item
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        if isinstance(item, Mapping):
            return {
                name(str(key)) if isinstance(key, str) else key: walk(child, depth + 1, key in name_keys)
                for key, child in item.items()
            }
        if isinstance(item, list | tuple):
            return [walk(child, depth + 1, as_name) for child in item]
        return walk(str(item), depth, as_name)

    return walk(value, 0, False)


def safe_reason(reason: str, redact: Callable[[str], str]) -> tuple[str, str]:
    """A result's reason as it may be shown: redacted first, then made safe, then clipped.

    Returns (shown, full): `shown` is one line of at most `REASON_LIMIT`
    characters; when that cut something, `full` keeps the reason up to
    `TEXT_LIMIT` (else it is empty), so the detail screen can still say
    everything the server said. A result's details make themselves safe
    (`core.details`: each record's `safe(redact)`).
    """
    redacted = redact(reason) if reason else ""
    shown = clean_line(redacted, REASON_LIMIT)
    if shown.endswith(ELLIPSIS) and len(redacted) > REASON_LIMIT:
        return shown, clean_text(redacted, TEXT_LIMIT)
    return shown, ""


def _precut(text: str, limit: int | None) -> tuple[str, bool]:
    """Drop what can never be shown before working on it: a 10 MB line costs what a short one does."""
    if limit is None:
        return text, False
    keep = limit * _EXPANSION + 64
    return (text[:keep], True) if len(text) > keep else (text, False)


def _finish(text: str, limit: int | None, cut: bool) -> str:
    if limit is None:
        return text
    if cut and len(text) < limit:
        return text.rstrip() + ELLIPSIS
    return clip(text, limit)


def _placeholder_match(match: re.Match[str]) -> str:
    return placeholder(match.group())


def _same(text: str) -> str:
    return text
