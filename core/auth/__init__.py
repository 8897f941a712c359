"""OAuth sign-in for remote MCP servers: `lookout login SERVICE`, and the tokens probes then send.

    store    the tokens on disk (state dir, 0600, one file per server URL), refreshed before
             expiry under a file lock: a daemon, a TUI and cron may share them
    login    the sign-in itself: the SDK's OAuthClientProvider (authorization code + PKCE),
             a loopback listener for the redirect, the URL printed (a browser opened on a desktop)
    cli      `lookout login SERVICE`

`store` does not import the mcp SDK (a probe reads tokens through it); `login` does.
"""
