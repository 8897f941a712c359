"""Kinds of service (http, mcp, ...): each registers its config model, probe and presentation in one place."""

from core.kinds.base import DetailColumn, DetailSection, ProbeKind
from core.kinds.registry import find_kind, kind_named, kind_names, register_kind, unregister_kind

__all__ = [
    "DetailColumn",
    "DetailSection",
    "ProbeKind",
    "find_kind",
    "kind_named",
    "kind_names",
    "register_kind",
    "unregister_kind",
]
