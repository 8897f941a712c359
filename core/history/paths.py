"""Where the history file lives when nobody says: the XDG state directory, as the spec defines it."""

from __future__ import annotations

import os
from pathlib import Path

FILE_NAME = "history.db"


def state_dir() -> Path:
    """`$XDG_STATE_HOME/lookout`, else `~/.local/state/lookout` (a relative XDG value is ignored, per the spec)."""
    configured = os.environ.get("XDG_STATE_HOME", "")
    base = Path(configured) if configured and Path(configured).is_absolute() else Path.home() / ".local" / "state"
    return base / "lookout"


def default_history_path() -> Path:
    return state_dir() / FILE_NAME


def lock_path(db_path: Path) -> Path:
    """The lock sits beside the database, not inside it: SQLite's own locks are for short writes only."""
    return db_path.with_name(db_path.name + ".lock")
