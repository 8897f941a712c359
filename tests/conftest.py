"""Shared pytest setup: fixture plugins live in tests/fixtures_*.py, one per area."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = sorted(path.stem for path in Path(__file__).parent.glob("fixtures_*.py"))


@pytest.fixture(autouse=True)
def _private_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test ever records into the user's history: $XDG_STATE_HOME points at a fresh directory
    (subprocesses inherit it through the environment)."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state
