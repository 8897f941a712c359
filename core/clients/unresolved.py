"""A server a client file names but Lookout cannot start headless: "unknown: needs input X".

VS Code prompts for an `${input:id}`, Continue fetches a `${{ secrets.NAME }}`, Zed
starts an extension's server itself. Without the value the server cannot be probed,
and guessing would probe something else; so it stays in the fleet as a service of
this kind, whose probe contacts nothing and reports UNKNOWN with what is missing.
(`--once` then exits UNKNOWN: the check could not be made.) The kind is registered
when a client file first needs it, so services.yaml's schema does not offer it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from core.config.models import ServiceBase
from core.deadline import Deadline
from core.kinds import ProbeKind, find_kind, register_kind
from core.probes.base import Probe, ProbeContext
from core.redact import Redactor
from core.results import ProbeOutcome, Status

KIND_NAME = "unresolved"
IDLE_INTERVAL = 3600.0
"""Nothing changes until the file or the environment does (and a change reloads it)."""


class UnresolvedService(ServiceBase):
    """An MCP server from a client file that needs something only its client can supply."""

    kind: Literal["unresolved"] = "unresolved"
    needs: str = Field(description="what is missing, e.g. `input github-token (set LOOKOUT_INPUT_GITHUB_TOKEN)`")
    client: str = ""


class UnresolvedProbe:
    """Contacts nothing: reports what is missing."""

    def __init__(self, config: UnresolvedService) -> None:
        self.config = config

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        return ProbeOutcome(status=Status.UNKNOWN, reason=f"needs {self.config.needs}")

    async def reset(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def make_probe(config: Any, context: ProbeContext) -> Probe:
    return UnresolvedProbe(config)


def _target(config: UnresolvedService, redact: Redactor) -> str:
    return f"{config.client}: needs {config.needs}" if config.client else f"needs {config.needs}"


KIND = ProbeKind(name=KIND_NAME, config_model=UnresolvedService, probe=make_probe, describe_target=_target)


def ensure_registered() -> None:
    if find_kind(KIND_NAME) is None:
        register_kind(KIND)


def unresolved_settings(needs: str, client: str, description: str = "") -> dict[str, Any]:
    ensure_registered()
    settings: dict[str, Any] = {"kind": KIND_NAME, "needs": needs, "client": client, "interval": IDLE_INTERVAL}
    if description:
        settings["description"] = description
    return settings
