"""The kinds Lookout knows: the built-in ones, and any registered with `register_kind`.

The built-ins are read on first use, not at import: their modules import the
config models, and the config loader asks this registry, so importing them
here would be an import cycle.
"""

from __future__ import annotations

import importlib

from core.kinds.base import ProbeKind

BUILTIN_MODULES = ("core.kinds.http", "core.kinds.mcp")
"""Each defines `KIND`, a `ProbeKind`."""

_kinds: dict[str, ProbeKind] = {}
_loaded: list[bool] = []
"""Non-empty once the built-ins were read."""


def register_kind(kind: ProbeKind) -> None:
    """Make a kind known to the loader, the engine and the views (a kind of the same name is replaced)."""
    _builtins()
    _kinds[kind.name] = kind


def unregister_kind(name: str) -> None:
    """Forget a registered kind (tests that register a toy kind clean up after themselves)."""
    _builtins()
    _kinds.pop(name, None)


def kind_named(name: str) -> ProbeKind:
    try:
        return _builtins()[name]
    except KeyError:
        raise KeyError(f"no probe kind named {name!r}") from None


def find_kind(name: object) -> ProbeKind | None:
    return _builtins().get(name) if isinstance(name, str) else None


def kind_names() -> tuple[str, ...]:
    return tuple(_builtins())


def _builtins() -> dict[str, ProbeKind]:
    if not _loaded:
        _loaded.append(True)
        for module in BUILTIN_MODULES:
            kind: ProbeKind = importlib.import_module(module).KIND
            _kinds.setdefault(kind.name, kind)
    return _kinds
