"""A service's effective config as the detail views show it: every secret masked, every string safe."""

from __future__ import annotations

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
