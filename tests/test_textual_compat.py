"""Fails loudly when the private Textual hook Lookout overrides moves, changes shape or stops being called.

The override keeps frame locals (which may hold tokens) out of the crash report; if Textual stopped
calling it, nothing would break visibly, secrets would just print. tests/test_tui.py checks the
report itself; this checks the hook against the installed Textual.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from textual.app import App

from tui import textual_compat
from tui.app import LookoutApp


def test_installed_textual_is_the_range_the_hook_was_checked_against() -> None:
    assert textual_compat.in_tested_range(), (
        f"textual {version('textual')} is outside {textual_compat.TESTED_RANGE}: "
        "check App._fatal_error in its source, then widen TESTED_RANGE"
    )


def test_the_private_crash_hook_is_where_the_override_expects_it() -> None:
    assert textual_compat.crash_hook_problems() == []
    assert LookoutApp._fatal_error is textual_compat.SecretSafeApp._fatal_error


def test_a_moved_hook_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(App, "_fatal_error")
    assert textual_compat.crash_hook_problems() == ["textual.app.App._fatal_error is gone"]


def test_a_reshaped_hook_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def with_an_argument(self: App[object], error: BaseException) -> None:
        """Stands in for a Textual release that passes the exception in."""

    monkeypatch.setattr(App, "_fatal_error", with_an_argument)
    [problem] = textual_compat.crash_hook_problems()
    assert problem.startswith("textual.app.App._fatal_error now takes (self") and "error" in problem


def test_a_hook_no_longer_called_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def handle(self: App[object], error: Exception) -> None:
        """Stands in for a Textual release whose exception handler reports some other way."""
        self.panic(str(error))

    monkeypatch.setattr(App, "_handle_exception", handle)
    assert textual_compat.crash_hook_problems() == ["textual.app.App._handle_exception no longer calls _fatal_error"]
