"""A service's effective config as the detail views show it: every secret masked, every string safe."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from core.sanitize import clean_tree

if TYPE_CHECKING:
    from core.config.loader import Config
    from core.config.models import ServiceBase


def summarize_config(config: ServiceBase, fleet: Config) -> dict[str, Any]:
    """Credential positions (headers, env, URL, flag arguments) are masked by position first; then every
    other string is redacted too (a description may interpolate ${GITHUB_TOKEN}) and made inert."""
    summary = config.model_dump(mode="json", exclude={"name"}, exclude_none=True)
    if "headers" in summary:
        summary["headers"] = fleet.redactor.headers(summary["headers"])
    if "env" in summary:
        summary["env"] = fleet.redactor.env(summary["env"])
    if "url" in summary:
        summary["url"] = fleet.redact(summary["url"])
    if "args" in summary:
        summary["args"] = fleet.redactor.args(summary["args"])
    summarized: dict[str, Any] = clean_tree(summary, redact=fleet.redact)
    return summarized


class LazySummary(Mapping[str, Any]):
    """`summarize_config(config, fleet)`, worked out the first time it is read.

    Only a detail view reads a service's summary, one service at a time, but the engine makes a
    ServiceInfo for every service at start: at 10,000 services, summarizing them all up front was
    ~0.9 s of CPU for nothing. Once made, the summary is kept and the config is let go."""

    __slots__ = ("_config", "_fleet", "_made")

    def __init__(self, config: ServiceBase, fleet: Config) -> None:
        self._config: ServiceBase | None = config
        self._fleet: Config | None = fleet
        self._made: dict[str, Any] | None = None

    def _summary(self) -> dict[str, Any]:
        if self._made is None:
            assert self._config is not None and self._fleet is not None
            self._made = summarize_config(self._config, self._fleet)
            self._config = self._fleet = None
        return self._made

    def __getitem__(self, key: str) -> Any:
        return self._summary()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._summary())

    def __len__(self) -> int:
        return len(self._summary())

    def __repr__(self) -> str:
        return repr(self._summary())
