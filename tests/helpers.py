"""Small builders shared by tests: configs from dicts, through the real loader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import yaml

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
async def idle_engine(config: Config) -> AsyncIterator[Engine]:
    """An engine that probes only when told (run_once): exact request counts, no scheduler."""
    engine = Engine(config)
    try:
        yield engine
    finally:
        await engine.stop()
