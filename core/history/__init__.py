"""History: what the engine saw, kept in one SQLite file so it survives restarts.

`open_history(path)` returns a `HistoryStore` that holds the file's recording lock and
writes on its own thread; `HistoryRecorder(store)` feeds it from the engine's event
stream (`engine.add_recorder`). Readers (`lookout history`, the status API) open it
with `open_history(path, record=False)`, which takes no lock.
"""

from core.history.lock import HistoryLocked, LockHolder
from core.history.paths import default_history_path
from core.history.recorder import HistoryRecorder
from core.history.store import HistoryStore, HistoryUnavailable, open_history

__all__ = [
    "HistoryLocked",
    "HistoryRecorder",
    "HistoryStore",
    "HistoryUnavailable",
    "LockHolder",
    "default_history_path",
    "open_history",
]
