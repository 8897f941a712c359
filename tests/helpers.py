"""Small builders shared by tests: configs from dicts, through the real loader."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from core.clock import Clock
from core.config import Config, parse_config
from core.engine import Engine

FAST_DEFAULTS: dict[str, Any] = {
    "interval": "1s",
    "timeout": "2s",
    "retry": {"attempts": 1, "initial": "50ms", "max": "200ms", "multiplier": 2, "jitter": 0},
    "breaker": {"fail_max": 3, "reset_timeout": "30s"},
}


def make_config(services: dict[str, dict[str, Any]], *, env: dict[str, str] | None = None, **defaults: Any) -> Config:
    """A Config built by the real loader (so tests exercise validation and defaults merging)."""
    merged = {**FAST_DEFAULTS, **defaults}
    text = yaml.safe_dump({"defaults": merged, "services": services}, sort_keys=False)
    return parse_config(text, source="test.yaml", env=env or {})


@asynccontextmanager
async def idle_engine(config: Config, *, clock: Clock | None = None) -> AsyncIterator[Engine]:
    """An engine that probes only when told (run_once): exact request counts, no scheduler."""
    engine = Engine(config, clock=clock)
    try:
        yield engine
    finally:
        await engine.stop()


PEAK_RSS_WRAPPER = """
import atexit, runpy, sys

def _record_peak(path=sys.argv[1]):
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(peak)

atexit.register(_record_peak)
sys.argv = ["lookout", *sys.argv[2:]]
runpy.run_module("tui.cli", run_name="__main__", alter_sys=True)
"""
"""Runs `lookout ARGS` in this process and writes its peak RSS (KiB) to argv[1] at exit.

VmHWM belongs to the memory image created by exec, so it is Lookout's own peak: not the
pytest process it was forked from (ru_maxrss carries that over exec), not its servers.
"""


def lookout_measuring_peak(peak_file: Path, *args: str) -> list[str]:
    """argv that runs `lookout ARGS` and records its own peak RSS in `peak_file` (Linux)."""
    return [sys.executable, "-c", PEAK_RSS_WRAPPER, str(peak_file), *args]


def peak_mib(peak_file: Path) -> float:
    return int(peak_file.read_text()) / 1024
