"""The demo's own servers in a process of their own: `python -m core.demo.upstreams`.

The demo fleet's HTTP API and its remote MCP servers (streamable HTTP, SSE) are
what Lookout watches, not part of it: served from threads of the monitor's own
process, their work (every probe's request answered, the flapping and limited
routes) counted as the monitor's CPU (about a third of the demo's ~6% of a
core), and shared its interpreter lock with the terminal app. Here they run
beside it, as a real fleet does.

The process prints one JSON line with the servers' URLs once all of them listen,
then serves until its stdin closes (the parent closed it, or died, however it
died) or it is sent SIGTERM. On Linux it is also killed (`PR_SET_PDEATHSIG`)
when the parent goes (`core.demo.fleet` starts it so), and it runs in a session
of its own: the terminal's Ctrl-C or hang-up reaches the parent, which stops it.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import NoReturn

from core.demo.http_api import create_http_api
from core.demo.mcp_servers import asgi_app
from core.demo.serve import ServedApp, serve_in_thread


def _stop(signum: int, frame: object) -> NoReturn:
    raise SystemExit(0)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    servers: list[ServedApp] = []
    try:
        api = serve_in_thread(create_http_api())
        servers.append(api)
        mcp_http = serve_in_thread(asgi_app("docs", "http"))
        servers.append(mcp_http)
        mcp_sse = serve_in_thread(asgi_app("docs", "sse"))
        servers.append(mcp_sse)
        urls = {"http": api.url, "mcp_http": f"{mcp_http.url}/mcp", "mcp_sse": f"{mcp_sse.url}/sse"}
        print(json.dumps(urls), flush=True)
        sys.stdin.buffer.read()  # until the parent closes our stdin or goes away
    finally:
        for server in servers:
            server.stop(timeout=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
