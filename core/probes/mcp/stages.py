"""One attempt's stages: each bounded, timed, and its failure turned into a reason.

An MCP probe is a few requests in a row (connect, list, ping, call). Every one
must end by the attempt's deadline and say which stage ran out ("timed out
after 2s waiting for tools/list"), and any exception it raises must become a
reason. `Stages` does that for each call, so the attempt reads as the steps
it takes: `await stages.run("tools/list", request)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.deadline import Deadline
from core.durations import format_duration
from core.results import ProbeError

T = TypeVar("T")

Fail = Callable[[str, Exception], Awaitable[ProbeError]]
"""fail(stage, exception) -> the reason the probe reports for it."""


class Stages:
    def __init__(self, deadline: Deadline, fail: Fail, timeout_note: Callable[[], str] = lambda: "") -> None:
        """`deadline` bounds the stages until `phase` changes it; `timeout_note` adds to a timeout's reason."""
        self.deadline = deadline
        self.timings: dict[str, float] = {}
        """Milliseconds per stage name; a stage run again (a list's pages) adds up."""
        self._fail = fail
        self._timeout_note = timeout_note

    def phase(self, deadline: Deadline) -> None:
        """Bound the stages from here on by `deadline` (a session's start by startup_timeout, then by timeout)."""
        self.deadline = deadline

    async def run(self, what: str, awaitable: Awaitable[T], *, timed_as: str | None = None) -> T:
        """Await one stage and add its time to `timings[timed_as or what]`."""
        started = time.perf_counter()
        result = await self.wait(what, awaitable)
        name = timed_as or what
        self.timings[name] = self.timings.get(name, 0.0) + (time.perf_counter() - started) * 1000
        return result

    async def wait(self, what: str, awaitable: Awaitable[T]) -> T:
        """Await one stage within the deadline, untimed (its parts are timed by whoever knows them)."""
        deadline = self.deadline
        remaining = deadline.remaining()
        try:
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                return await awaitable
        except TimeoutError:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise ProbeError(
                f"timed out after {format_duration(deadline.budget)} waiting for {what}{self._timeout_note()}"
            ) from None
        except ProbeError:
            raise
        except Exception as exc:
            raise await self._fail(what, exc) from None
