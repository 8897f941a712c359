"""`lookout serve` runs full garbage collections on its own schedule, and gives the collector back when it stops."""

from __future__ import annotations

import asyncio
import gc

from core.serve.collection import OUT_OF_REACH, CollectionSchedule


async def test_the_schedule_freezes_what_exists_and_runs_full_collections_itself() -> None:
    thresholds = gc.get_threshold()
    full: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    schedule = CollectionSchedule(period=0.05)
    gc.callbacks.append(count)
    try:
        frozen = gc.get_freeze_count()
        schedule.start()
        assert gc.get_freeze_count() > frozen
        assert gc.get_threshold() == (thresholds[0], thresholds[1], OUT_OF_REACH)
        garbage = [object() for _ in range(50_000)]  # enough young collections to set off a full one, before
        del garbage
        await asyncio.sleep(0.3)
        assert schedule.collections >= 2 and len(full) >= schedule.collections
        await schedule.stop()
        assert gc.get_threshold() == thresholds
        ran = schedule.collections
        await asyncio.sleep(0.15)
        assert schedule.collections == ran  # stopped
    finally:
        gc.callbacks.remove(count)
        await schedule.stop()
        gc.unfreeze()  # the test process's objects: collectable again, as other tests expect
