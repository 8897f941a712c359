"""What a kind of service is: one record that the loader, the engine, the reports and the detail screen ask.

A kind names its config model, its probe (imported only when a service of
that kind is built: the mcp SDK is heavy, and neither `lookout --check` nor a
fleet without MCP servers should pay for it), how its target reads in one
line, and what the views show of its findings. The views render `DetailSection`s
as plain data (core never imports Textual), so a new kind brings its own
sections without touching a view.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config.models import ServiceBase
    from core.probes.base import ProbeFactory
    from core.redact import Redactor
    from core.snapshot import ServiceSnapshot


@dataclass(frozen=True, slots=True)
class DetailColumn:
    title: str
    key: bool = False
    """The column that names the row (shown bold, never wrapped)."""
    numeric: bool = False
    """Right-aligned."""


@dataclass(frozen=True, slots=True)
class DetailSection:
    """A titled block of a service's detail view: label/value facts, then an optional table."""

    title: str
    facts: tuple[tuple[str, str], ...] = ()
    columns: tuple[DetailColumn, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


def no_sections(service: ServiceSnapshot) -> Sequence[DetailSection]:
    return ()


def no_line(service: ServiceSnapshot) -> str:
    return ""


def no_fields(service: ServiceSnapshot) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class ProbeKind:
    """Everything Lookout needs to know about one kind of service, registered in one call."""

    name: str
    """The `kind:` value in services.yaml."""
    config_model: type[ServiceBase]
    """The pydantic model one service of this kind validates with (its `kind` field a Literal of `name`)."""
    probe: str | ProbeFactory
    """The probe factory, or "module:attribute" to import it when a service of this kind is first built."""
    describe_target: Callable[[Any, Redactor], str]
    """What is probed, in one line, secrets masked: a URL, a command line."""
    summary_line: Callable[[ServiceSnapshot], str] = no_line
    """One line under the service's row in the text report ("" for none)."""
    detail_sections: Callable[[ServiceSnapshot], Sequence[DetailSection]] = no_sections
    """The kind's findings on the detail screen."""
    report_fields: Callable[[ServiceSnapshot], dict[str, Any]] = no_fields
    """Extra keys of the service's entry in the JSON report."""

    def probe_factory(self) -> ProbeFactory:
        if not isinstance(self.probe, str):
            return self.probe
        module, _, attribute = self.probe.partition(":")
        factory: ProbeFactory = getattr(importlib.import_module(module), attribute)
        return factory
