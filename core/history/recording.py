"""Recording a running engine into a history file: shared by the monitor, `--once` and `lookout serve`.

`open_recording` opens the file this process records into (taking its lock),
or says once why it cannot (another process records there, the directory is
read-only...) and returns None: monitoring goes on either way.
`attach_history` seeds the engine's per-service rings from what was stored
(so sparklines and percentiles survive a restart), compares MCP tools with the
pins kept in the same file, and adds the recorder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from core.config import Config
from core.engine import Engine
from core.history.lock import HistoryLocked
from core.history.paths import default_history_path
from core.history.recorder import HistoryRecorder
from core.history.store import HistoryStore, HistoryUnavailable, Retention, open_history
from core.results import ProbeResult
from core.state import HISTORY


def open_recording(path: str | Path | None, config: Config, warn: Callable[[str], None]) -> HistoryStore | None:
    """The history to record into (default: the user's state directory), or None after `warn` said why not."""
    settings = config.defaults.history
    retention = Retention(raw=settings.raw_retention, rollups=settings.rollup_retention)
    try:
        return open_history(path or default_history_path(), retention=retention, on_warning=warn)
    except (HistoryLocked, HistoryUnavailable) as error:
        warn(str(error))
        return None


SEED_SLICE = 50
"""Services whose stored results are read at once when the rings are seeded at start."""


async def attach_history(engine: Engine, history: HistoryStore) -> HistoryRecorder:
    """Seed the engine (before it starts) from `history`, then record every event into it.

    The caller closes the returned recorder (`aclose`) after stopping the engine, so the last
    events are written.
    """
    names = list(engine.names)
    # A slice of services at a time: the stored results are read as ProbeResults before each ring packs
    # them, and reading the whole fleet's first (1000 x 120 results) left the process that much bigger
    # for good, the memory freed in scattered pieces the allocator could not hand back.
    for start in range(0, len(names), SEED_SLICE):
        part = names[start : start + SEED_SLICE]
        stored = await asyncio.to_thread(_read_recent, history, part)
        for name, results in stored:
            engine.seed_history(name, results)
    if engine.pins is None:
        from core.pins.store import PinStore

        engine.use_pins(PinStore(history.path))  # pins live in the history: compared by whoever records it
    recorder = HistoryRecorder(history)
    engine.add_recorder(recorder)
    return recorder


def _read_recent(history: HistoryStore, names: list[str]) -> list[tuple[str, list[ProbeResult]]]:
    return [(name, history.recent_results(name, HISTORY)) for name in names]
