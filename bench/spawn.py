"""What dying with Lookout costs per server start: `core.processes.spawn` against a plain asyncio spawn.

    python bench/spawn.py [--runs 50]

`spawn` needs a `preexec_fn` (for PR_SET_PDEATHSIG), which rules out vfork/posix_spawn: the event loop's
thread forks the whole interpreter instead. This measures how long the loop is held per start (until the
child has exec'd), with the TUI loaded so the process is the size it is in real use, and the cost of one
orphan sweep. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import textual.app  # noqa: E402, F401  (the monitor's process size is what gets forked)

from core.processes import enable_subreaper, reap_orphans, spawn  # noqa: E402


class _Exit(asyncio.SubprocessProtocol):
    def __init__(self) -> None:
        self.exited = asyncio.get_running_loop().create_future()

    def process_exited(self) -> None:
        self.exited.set_result(None)


async def lookout_spawn() -> float:
    started = time.perf_counter()
    spawned, protocol = await spawn(["/bin/true"], _Exit, env={})
    held = time.perf_counter() - started
    await protocol.exited
    spawned.transport.close()
    spawned.release()
    return held


async def plain_spawn() -> float:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    transport, protocol = await loop.subprocess_exec(
        _Exit, "/bin/true", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    held = time.perf_counter() - started
    await protocol.exited
    transport.close()
    return held


async def main(runs: int) -> None:
    for label, start in (("core.processes.spawn", lookout_spawn), ("loop.subprocess_exec", plain_spawn)):
        times = sorted([await start() for _ in range(runs)])
        median, p90 = statistics.median(times) * 1000, times[int(runs * 0.9)] * 1000
        print(f"{label:<22} median {median:6.1f} ms   p90 {p90:6.1f} ms")
    enable_subreaper()
    started = time.perf_counter()
    for _ in range(runs):
        reap_orphans()
    print(f"{'orphan sweep':<22} mean   {(time.perf_counter() - started) / runs * 1000:6.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    asyncio.run(main(parser.parse_args().runs))
