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

Importing this package does not import the mcp SDK (most of a second): a
session loads it (`sdk.load()`) after spawning a stdio server, so the server
boots while the SDK imports. The probe registry imports this package only
when a fleet has an MCP service.
"""

from core.probes.mcp.probe import McpProbe, create_mcp_probe

__all__ = ["McpProbe", "create_mcp_probe"]
