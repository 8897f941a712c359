"""Tool pinning: an MCP server's tools as approved, and what changed since (rug-pull detection).

    prints  a tool's fingerprint, field by field, over the server's raw text
    diff    what differs between the approved tools and the tools seen, per tool and field
    store   the pins in the history database: trust on first use, approval, short direct writes

A server can change what its tools say (a description that now asks for secrets,
`destructiveHint` true -> false) after a user approved them; an agent would follow
the new text without anyone noticing. Pinning makes such a change a degraded
status until someone approves it.
"""
