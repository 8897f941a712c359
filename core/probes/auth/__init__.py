"""Credentials: where a bearer token comes from, whether it is healthy, and why a server refused it.

One job per module:

    www_authenticate  the 401/403's challenge, parsed (RFC 9110 11.6.1, RFC 6750 3)
    metadata          an MCP server's OAuth metadata (RFC 9728, RFC 8414), fetched once an hour
    refusal           a refused probe as "unauthorized: ...", with what the server wants
    token_command     a token printed by a command (`gh auth token`), cached, a secret
    token_health      a token about to expire or missing scopes: GitHub's headers, a JWT's `exp`
    bearer            the Authorization header a probe sends, from wherever the token comes

Nothing here imports the mcp SDK except `metadata` (used by the MCP probe only).
"""
