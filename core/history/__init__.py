"""History: what the engine saw, kept in one SQLite file so it survives restarts.

`open_history(path)` returns a `HistoryStore` that holds the file's recording lock and
writes on its own thread; `HistoryRecorder(store)` feeds it from the engine's event
stream (`engine.add_recorder`). Readers (`lookout history`, the status API) open it
with `open_history(path, record=False)`, which takes no lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.history.lock import HistoryLocked, LockHolder
from core.history.paths import default_history_path
from core.history.store import HistoryStore, HistoryUnavailable, open_history

if TYPE_CHECKING:
    from core.history.recorder import HistoryRecorder


def __getattr__(name: str) -> Any:
    """`HistoryRecorder` is loaded on first use: it brings the engine's event types, which a reader
    (`lookout history`) does not need and would pay for in start-up time."""
    if name == "HistoryRecorder":
        from core.history.recorder import HistoryRecorder

        return HistoryRecorder
    raise AttributeError(name)


__all__ = [
    "HistoryLocked",
    "HistoryRecorder",
    "HistoryStore",
    "HistoryUnavailable",
    "LockHolder",
    "default_history_path",
    "open_history",
]
