"""pydantic's validation errors, reworded for someone editing a YAML file."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails  # pydantic's own error record; pydantic pins pydantic-core

_TYPE_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "string": "a string",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
}


def suggest(word: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'retry'?)" or ""."""
    if len(str(word)) > 100:
        return ""  # no field name is that long; don't compare a megabyte of junk with each
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    if close and close[0].endswith("_" + str(word)):
        return ""  # `command` on an http service is no typo of `token_command`: a different thing, not a hint
    return f" (did you mean {close[0]!r}?)" if close else ""


def show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def reword(error: ErrorDetails, fields_at: Callable[[tuple[int | str, ...]], list[str]]) -> str:
    """One pydantic error dict -> a short, specific message.

    `fields_at(loc)` returns the known field names of the model at that location,
    for "did you mean" hints on unknown keys.
    """
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        key = error["loc"][-1]
        known = fields_at(error["loc"][:-1])
        hint = suggest(str(key), known) if known else ""
        listing = f"; known fields: {', '.join(sorted(known))}" if known and not hint else ""
        return f"unknown field{hint}{listing}"
    if kind == "missing":
        return "required"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        limit = next(iter(ctx.values()))
        return f"must be {op} {limit} (got {show(value)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')} (got {show(value)})"
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else error["msg"].lower()
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("int_from_float",):
        return f"must be a whole number (got {show(value)})"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags', '')} (got {show(ctx.get('tag'))})"
    for prefix, name in _TYPE_NAMES.items():
        if kind.startswith(prefix + "_") or kind == prefix + "_type":
            return f"must be {name} (got {show(value)})"
    return error["msg"]
