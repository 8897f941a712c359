"""Shared pytest setup: fixture plugins live in tests/fixtures_*.py, one per area."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = sorted(path.stem for path in Path(__file__).parent.glob("fixtures_*.py"))
