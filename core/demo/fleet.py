"""The demo fleet: every state Lookout knows, on 127.0.0.1, with no tokens and no internet.

The HTTP API and the remote MCP servers (streamable HTTP, SSE) run in a child
process (`core.demo.upstreams`), so the monitor's own figures (CPU, memory) are
its own, as they would be on a real fleet; the stdio MCP servers are started by
the engine itself, as any stdio server would be. The config is written from
`demo.yaml.tmpl` with the ports chosen now, so it doubles as a worked example of
services.yaml. These are the same servers the test-suite uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from core.processes import die_with_parent_preexec

START_TIMEOUT = 60.0
"""Seconds the servers' process may take to listen (it imports the mcp SDK: ~1 s here, far more on a busy box)."""
STOP_TIMEOUT = 5.0
"""Seconds it may take to stop once its stdin is closed, before it is killed."""


class DemoFleetError(RuntimeError):
    """The demo's servers did not start; the message says why (their own last words included)."""


@dataclass
class DemoFleet:
    config_path: Path
    upstreams: subprocess.Popen[bytes] | None = None
    """The process serving the demo's HTTP API and remote MCP servers."""
    workdir: Path | None = None
    urls: dict[str, str] = field(default_factory=dict)
    """Where they listen: "http" (the HTTP API), "mcp_http", "mcp_sse"."""

    @property
    def api_url(self) -> str:
        """The demo HTTP API's base URL (its routes: core.demo.http_api)."""
        return self.urls["http"]

    def stop(self) -> None:
        """Stop the servers' process and remove the written config (idempotent)."""
        if self.upstreams is not None:
            _stop_process(self.upstreams)
            self.upstreams = None
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
    workdir = None if directory is not None else Path(tempfile.mkdtemp(prefix="lookout-demo-"))
    directory = Path(directory) if directory is not None else workdir
    assert directory is not None
    process = None
    try:
        process = _start_upstreams(directory / "servers.log")
        urls = _read_urls(process, directory / "servers.log")
        path = directory / "services.yaml"
        path.write_text(render(urls["http"], urls["mcp_http"], urls["mcp_sse"], unused_port()), encoding="utf-8")
    except BaseException:
        if process is not None:
            _stop_process(process)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return DemoFleet(path, process, workdir, urls)


def _start_upstreams(log: Path) -> subprocess.Popen[bytes]:
    """`python -P -m core.demo.upstreams` (-P: never a `core` package that happens to be in the current
    directory), its stderr into `log` (a warning of theirs must not land on the terminal app's screen)."""
    with log.open("wb") as errors:
        return subprocess.Popen(
            [sys.executable, "-P", "-m", "core.demo.upstreams"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=_child_environment(),
            start_new_session=True,
            # Killed when the thread starting it exits: the caller's thread must outlive the fleet (the main one does).
            preexec_fn=die_with_parent_preexec(),
        )


def _child_environment() -> dict[str, str]:
    """This environment, and where this very `core` was found when that is not where the interpreter looks
    anyway (a checkout run as it is): the servers run the same code as the monitor."""
    env = dict(os.environ)
    root = Path(__file__).resolve().parent.parent.parent
    installed = {Path(sysconfig.get_path(name)).resolve() for name in ("purelib", "platlib")}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    return env


def _read_urls(process: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    """The first line the servers' process prints: their URLs, once every one listens."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(START_TIMEOUT)
    line = process.stdout.readline() if ready else b""
    try:
        urls = json.loads(line)
        if not isinstance(urls, dict) or not {"http", "mcp_http", "mcp_sse"} <= urls.keys():
            raise ValueError(line)
    except ValueError:
        said = ""
        with contextlib.suppress(OSError):
            said = next(reversed(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()), "")
        why = f"they exited ({process.poll()})" if process.poll() is not None else f"no answer in {START_TIMEOUT:.0f}s"
        raise DemoFleetError(f"the demo's servers did not start: {why}" + (f": {said}" if said else "")) from None
    return {key: str(urls[key]) for key in ("http", "mcp_http", "mcp_sse")}


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (its cue to stop), wait a little, then kill it; reaped either way."""
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
