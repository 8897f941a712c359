"""Which probe checks which kind of service.

Built-in kinds are imported lazily: a fleet with no MCP service never imports
the mcp SDK (it is heavy), and a new kind plugs in with `register_probe`
without touching the engine.
"""

from __future__ import annotations

import importlib

from core.probes.base import ProbeFactory

_BUILTIN: dict[str, tuple[str, str]] = {
    "http": ("core.probes.http", "HttpProbe"),
    "mcp": ("core.probes.mcp", "create_mcp_probe"),
}
_REGISTERED: dict[str, ProbeFactory] = {}


def register_probe(kind: str, factory: ProbeFactory) -> None:
    _REGISTERED[kind] = factory


def probe_factory(kind: str) -> ProbeFactory:
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    if kind not in _BUILTIN:
        raise KeyError(f"no probe for services of kind {kind!r}")
    module_name, attribute = _BUILTIN[kind]
    factory: ProbeFactory = getattr(importlib.import_module(module_name), attribute)
    _REGISTERED[kind] = factory
    return factory
