"""The demo fleet: every state Lookout knows, on 127.0.0.1, with no tokens and no internet.

The HTTP API and the remote MCP servers (streamable HTTP, SSE) run in threads
of this process; the stdio MCP servers are started by the engine itself, as
any stdio server would be. The config is written from `demo.yaml.tmpl` with
the ports chosen now, so it doubles as a worked example of services.yaml.
These are the same servers the test-suite uses.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from core.demo.http_api import create_http_api
from core.demo.mcp_servers import asgi_app
from core.demo.serve import ServedApp, serve_in_thread


@dataclass
class DemoFleet:
    config_path: Path
    servers: list[ServedApp] = field(default_factory=list)
    workdir: Path | None = None

    def stop(self) -> None:
        """Stop every server this process started and remove the written config (idempotent)."""
        for server in self.servers:
            server.stop()
        self.servers.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> DemoFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def template_text() -> str:
    return resources.files("core.demo").joinpath("demo.yaml.tmpl").read_text(encoding="utf-8")


def unused_port() -> int:
    """A loopback port nothing listens on (for the service that is simply down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def render(http_url: str, mcp_http_url: str, mcp_sse_url: str, offline_port: int) -> str:
    values = {
        "@HTTP@": http_url,
        "@MCP_HTTP@": mcp_http_url,
        "@MCP_SSE@": mcp_sse_url,
        "@OFFLINE_PORT@": str(offline_port),
        "@PYTHON@": json.dumps(sys.executable),  # a JSON string is a valid YAML scalar, whatever the path
    }
    text = template_text()
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text


def start_demo_fleet(directory: Path | None = None) -> DemoFleet:
    """Start the servers and write the config. Call `.stop()` (or use `with`) when done."""
    servers: list[ServedApp] = []
    workdir = None
    try:
        api = serve_in_thread(create_http_api())
        servers.append(api)
        mcp_http = serve_in_thread(asgi_app("docs", "http"))
        servers.append(mcp_http)
        mcp_sse = serve_in_thread(asgi_app("docs", "sse"))
        servers.append(mcp_sse)
        if directory is None:
            workdir = Path(tempfile.mkdtemp(prefix="lookout-demo-"))
            directory = workdir
        path = Path(directory) / "services.yaml"
        path.write_text(render(api.url, f"{mcp_http.url}/mcp", f"{mcp_sse.url}/sse", unused_port()), encoding="utf-8")
    except BaseException:
        for server in servers:
            server.stop()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return DemoFleet(path, servers, workdir)
