"""The one place Lookout relies on a private Textual name, checked against the installed Textual.

Textual's crash report renders each frame's local variables, and a frame may hold the config with its
tokens. Textual has no public switch for that: `App._handle_exception` calls the private
`App._fatal_error`, which builds `Traceback(show_locals=True)`. So `SecretSafeApp` overrides that one
method and hands the report to the public `App.panic`. Should a Textual release move or reshape the
hook, the override would silently stop running and secrets could print: importing this module then
fails, and tests/test_textual_compat.py says which name moved.
"""

from __future__ import annotations

from importlib.metadata import version
from inspect import signature
from typing import TypeVar

from rich.traceback import Traceback
from textual.app import App

TESTED_RANGE = ((8, 0), (9, 0))
"""Textual versions (from, up to but excluding) whose private hook this module was checked against."""
CRASH_HOOK = "_fatal_error"
"""The private method Textual calls to report an unhandled exception."""

ReturnType = TypeVar("ReturnType")


def textual_version() -> tuple[int, int]:
    major, minor, *_ = version("textual").split(".")
    return int(major), int(minor)


def in_tested_range() -> bool:
    low, high = TESTED_RANGE
    return low <= textual_version() < high


def crash_hook_problems() -> list[str]:
    """What no longer holds about the private hook; empty while the override is sure to run."""
    hook = getattr(App, CRASH_HOOK, None)
    if not callable(hook):
        return [f"textual.app.App.{CRASH_HOOK} is gone"]
    problems = []
    if list(signature(hook).parameters) != ["self"]:
        problems.append(f"textual.app.App.{CRASH_HOOK} now takes {signature(hook)}, not (self)")
    if CRASH_HOOK not in App._handle_exception.__code__.co_names:
        problems.append(f"textual.app.App._handle_exception no longer calls {CRASH_HOOK}")
    return problems


_problems = crash_hook_problems()
if _problems:
    raise ImportError(
        f"textual {version('textual')}: the crash report could print secrets ({'; '.join(_problems)}); "
        "update tui/textual_compat.py"
    )


class SecretSafeApp(App[ReturnType]):
    """An App whose crash report shows the traceback without any frame's local variables."""

    def _fatal_error(self) -> None:
        # Runs inside Textual's `except` block, so Traceback() picks up the exception being handled.
        self.bell()
        self.panic(Traceback(show_locals=False, width=None))
