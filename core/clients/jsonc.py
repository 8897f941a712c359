"""JSON with comments and trailing commas (JSONC), remembering the line of every value.

VS Code, Zed and Cursor read their settings as JSONC: `//` and `/* */` comments and a
comma before `}` or `]` are allowed. The stdlib `json` module refuses both and knows
no lines, and no library does both with lines, so this is a small recursive-descent
reader of its own: strings and numbers are decoded by the stdlib's own scanners (so
escapes and number forms are exactly JSON's), the structure is walked here, iteratively
deep enough for any settings file (a depth limit refuses hostile nesting).
Plain JSON is JSONC without comments: the same reader serves every client's `.json` file,
so an error always names its line.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from json.decoder import scanstring  # type: ignore[attr-defined]  # the stdlib decoder's own string scanner
from typing import Any

Path = tuple[Any, ...]

MAX_DEPTH = 200
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WHITESPACE = frozenset(" \t\r\n\ufeff")
_LITERALS = (("true", True), ("false", False), ("null", None))


class JsoncError(ValueError):
    """A file that is not JSON(C): the message and the 1-based line where reading stopped."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def load_jsonc(text: str) -> tuple[Any, dict[Path, int]]:
    """(data, {path: line}) for JSONC text. A repeated key keeps the last value, as editors do."""
    reader = _Reader(text)
    reader.skip()
    if reader.pos >= len(text):
        raise JsoncError("the file is empty: expected a JSON object", 1)
    value = reader.value((), 0)
    reader.skip()
    if reader.pos < len(text):
        raise JsoncError(f"unexpected {reader.shown()} after the end of the JSON value", reader.line())
    return value, reader.lines


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[Path, int] = {}
        self._newlines: list[int] = [i for i, ch in enumerate(text) if ch == "\n"]

    def line(self, pos: int | None = None) -> int:
        return bisect_left(self._newlines, self.pos if pos is None else pos) + 1

    def shown(self) -> str:
        if self.pos >= len(self.text):
            return "end of file"
        ch = self.text[self.pos]
        return repr(ch) if ch.isprintable() else f"character U+{ord(ch):04X}"

    def fail(self, message: str, pos: int | None = None) -> JsoncError:
        return JsoncError(message, self.line(pos))

    def skip(self) -> None:
        """Whitespace and comments."""
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in _WHITESPACE:
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def value(self, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
        self.lines.setdefault(path, self.line())
        text, pos = self.text, self.pos
        ch = text[pos] if pos < len(text) else ""
        if ch == "{":
            return self.object(path, depth)
        if ch == "[":
            return self.array(path, depth)
        if ch == '"':
            return self.string()
        match = _NUMBER.match(text, pos)
        if match and match.end() > pos:
            self.pos = match.end()
            number = match.group(0)
            return float(number) if any(c in number for c in ".eE") else int(number)
        for word, literal in _LITERALS:
            if text.startswith(word, pos):
                self.pos += len(word)
                return literal
        raise self.fail(f"expected a value, found {self.shown()}")

    def string(self) -> str:
        try:
            value, self.pos = scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as error:
            raise self.fail(error.msg.lower(), error.pos) from None
        return str(value)

    def object(self, path: Path, depth: int) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            if not self.text.startswith('"', self.pos):
                raise self.fail(f"expected a quoted key or '}}', found {self.shown()}")
            key_line = self.line()
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail(f"expected ':' after the key {key[:40]!r}, found {self.shown()}")
            self.pos += 1
            self.skip()
            self.lines[(*path, key)] = key_line
            out[key] = self.value((*path, key), depth + 1)
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise self.fail(f"expected ',' or '}}', found {self.shown()}")

    def array(self, path: Path, depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return out
            out.append(self.value((*path, len(out)), depth + 1))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise self.fail(f"expected ',' or ']', found {self.shown()}")
