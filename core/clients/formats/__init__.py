"""One module per MCP client's config format; each defines FORMAT, a ClientFormat."""
