"""MCP server probes: connect (stdio, streamable HTTP or SSE), negotiate, list, ping, optionally call a tool.

One job per module:

    probe       the attempt, stage by stage (the engine's entry: `create_mcp_probe`)
    stages      each stage bounded by the deadline, timed, its failure made a reason
    failures    which reason a failure is (a process's exit, the shared exception table)
    listing     the inventory, page by page; inventory: its records and caps
    changes     what changed since the last probe
    pinning     the tools against their approved pin (core.pins), and the poll for an approval
    details     the result's findings
    server_text stderr, server logs and unreadable lines, relayed safely
    session     one connection, owned by a task of its own
    stdio       the spawned server process; pipes and framing: its stdin/stdout
    sdk         the mcp SDK, imported in a worker thread on first need
    spawning    a stdio server's start: its environment, its pipes
    early       stdio servers started before the engine (`lookout --once`), adopted by their probes

Importing this package does not import the mcp SDK (most of a second): a
session loads it (`sdk.load()`) after spawning a stdio server, so the server
boots while the SDK imports. The probe registry imports this package only
when a fleet has an MCP service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.probes.mcp.probe import McpProbe, create_mcp_probe

__all__ = ["McpProbe", "create_mcp_probe"]


def __getattr__(name: str) -> Any:
    """The probe on first use: `early` (which `lookout --once` imports before its engine) stays light."""
    if name in __all__:
        from core.probes.mcp import probe

        return getattr(probe, name)
    raise AttributeError(name)
