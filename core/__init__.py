"""Lookout's headless engine: config, probes, resilience and state.

Importable without Textual: any Python program can run the engine.

    from core import Engine, load_config

    async with Engine(load_config("services.yaml")) as engine:
        snapshot = await engine.run_once()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from core.config import Config, ConfigError, load_config
    from core.engine import Engine
    from core.results import Status

__all__ = ["Config", "ConfigError", "Engine", "Status", "__version__", "load_config"]

_LAZY = {
    "Engine": "core.engine",
    "Config": "core.config",
    "ConfigError": "core.config",
    "load_config": "core.config",
    "Status": "core.results",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so `import core.results` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
