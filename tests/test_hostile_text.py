"""Servers that talk in terminal escapes, at length, and leak their own keys: Lookout shows none of it raw.

A raw asyncio HTTP server puts escapes (and, at 100k characters, a secret) in its reason phrase; a stdio
MCP server written with the SDK puts them in its name, tools, resources, prompts, stderr and log
notifications, and echoes the API key Lookout gave it into a tool description. `--once` in every format,
the engine's snapshot and events, and the detail screen must carry visible placeholders instead of
control characters, bounded lengths, and `***` instead of the key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console, Group

from core.details import McpDetails
from core.engine import Engine
from core.events import InventoryChanged, LogEvent
from core.report import render_json, render_nagios, render_table
from core.results import ProbeResult, Status
from core.sanitize import REASON_LIMIT, TEXT_LIMIT
from core.snapshot import BreakerSnapshot, FleetSnapshot, ServiceInfo, ServiceSnapshot
from tests.fleet_samples import NOW
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-live-HOSTILE0123456789abcdef"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Every C0 control but the newline between lines, DEL, the C1 controls, and the bidi overrides and isolates."""
SHOWN_CSI = "\\x1b[2J"
"""What `ESC [2J` (clear the screen) must look like: visible text, not an instruction to the terminal."""

HTTP_HOSTILE = (
    b"\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://127.0.0.1:9/pwned\x1b\\click\x1b]8;;\x1b\\\x1b]52;c;cHduZWQ=\x07\x7fend"
)
LONG_PHRASE = ("p" * 270 + SECRET + " \x1b[2J" + " long" * 20_000).encode()
"""A 100k reason phrase whose secret starts at character 279 of the reason: a clip at 300 before redaction
would leave its first characters visible."""

EVIL_MCP_SERVER = r'''
"""A stdio MCP server whose every string is hostile, and that echoes its own API key back."""

import os
import sys
import warnings

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ListToolsResult, PaginatedRequestParams, Tool

warnings.simplefilter("ignore")
KEY = os.environ["API_KEY"]
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://127.0.0.1:9/pwned\x1b\\link\x1b]8;;\x1b\\\x1b]52;c;cHduZWQ=\x07\x9b31m\x7f\u202e"
print(f"starting{HOSTILE} with key {KEY}", file=sys.stderr, flush=True)

server = MCPServer("evil" + HOSTILE, title="title" + HOSTILE, version="6.6" + HOSTILE, log_level="ERROR")
schema = {"type": "object", "properties": {"q" + HOSTILE: {"type": "string", "description": f"query{HOSTILE} {KEY}"}}}
first = [Tool(name="search" + HOSTILE, description=f"Search with {KEY}.{HOSTILE}\nMore help.", input_schema=schema)]
later = [*first, Tool(name=f"later{HOSTILE}{KEY}", description="Appears later.", input_schema={"type": "object"})]
listed = 0


async def list_tools(ctx, params):
    global listed
    listed += 1
    await ctx.session.send_log_message(
        level="error", data=f"log{HOSTILE} {KEY}", logger=None, related_request_id=ctx.request_id
    )
    return ListToolsResult(tools=first if listed == 1 else later)


server._lowlevel_server.add_request_handler("tools/list", PaginatedRequestParams, list_tools)


@server.tool(name="fail")
def fail() -> str:
    raise ToolError(f"upstream said{HOSTILE} key {KEY}")


@server.resource("evil://index", name="index" + HOSTILE)
def index() -> str:
    return "index"


@server.prompt(name="ask" + HOSTILE)
def ask() -> str:
    return "ask"


# The handshake era only: there, log notifications need no per-request opt-in.
import anyio

sys.path.insert(0, sys.argv[1])
from core.demo.mcp_servers import _serve_legacy_stdio

anyio.run(_serve_legacy_stdio, server)
'''


# -- a raw HTTP server that says whatever it likes in its status line ----------------------------


@dataclass
class HostileHttp:
    url: str


@pytest.fixture(scope="module")
def hostile_http() -> Iterator[HostileHttp]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    server: list[asyncio.Server] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        phrase = LONG_PHRASE if b" /long " in request else HTTP_HOSTILE
        writer.write(b"HTTP/1.1 500 " + phrase + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def start() -> None:
        server.append(await asyncio.start_server(answer, "127.0.0.1", 0))
        started.set()

    thread = threading.Thread(target=loop.run_forever, name="hostile-http", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert started.wait(10)
    port = server[0].sockets[0].getsockname()[1]
    try:
        yield HostileHttp(f"http://127.0.0.1:{port}")
    finally:

        async def stop() -> None:
            server[0].close()
            await server[0].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# -- helpers ---------------------------------------------------------------------------------------


def lookout(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def write(tmp_path: Path, services: dict[str, Any]) -> Path:
    path = tmp_path / "services.yaml"
    defaults = {"timeout": "30s", "retry": {"attempts": 1}}
    path.write_text(yaml.safe_dump({"defaults": defaults, "services": services}, sort_keys=False))
    return path


def evil_mcp(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    script = tmp_path / "evil_mcp.py"
    script.write_text(EVIL_MCP_SERVER)
    return {
        "kind": "mcp",
        "command": sys.executable,
        "args": [str(script), str(ROOT)],
        "env": {"API_KEY": "${DEMO_API_KEY}"},
        **extra,
    }


def strings(value: Any) -> Iterator[str]:
    """Every string in nested data (records' fields included), keys included."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from strings(getattr(value, item.name))
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield from strings(key)
            yield from strings(child)
    elif isinstance(value, list | tuple):
        for child in value:
            yield from strings(child)


def assert_safe(text: str) -> None:
    found = CONTROL.search(text)
    assert found is None, f"raw {found.group()!r} at {found.start()}: {text[max(0, found.start() - 40) :][:120]!r}"


# -- --once, as cron and Nagios see it -------------------------------------------------------------


@pytest.mark.slow
def test_http_reason_phrase_escapes_are_shown_not_obeyed(tmp_path, hostile_http) -> None:
    path = write(tmp_path, {"evil": {"kind": "http", "url": f"{hostile_http.url}/escapes"}})
    for fmt in ("table", "nagios", "json"):
        done = lookout("--once", "--format", fmt, "-c", str(path), env={})
        assert done.returncode == 2, done.stderr
        assert_safe(done.stdout)
        assert SHOWN_CSI in (json.loads(done.stdout)["services"][0]["reason"] if fmt == "json" else done.stdout)
        assert "\\x1b]0;pwned\\x07" in done.stdout.replace("\\\\", "\\")
    table = lookout("--once", "-c", str(path), env={}).stdout
    assert "HTTP 500 \\x1b[2J\\x1b]0;pwned\\x07" in table


@pytest.mark.slow
def test_a_100k_reason_phrase_is_bounded_and_its_secret_masked(tmp_path, hostile_http) -> None:
    services = {"long": {"kind": "http", "url": f"{hostile_http.url}/long", "headers": {"X-Api-Key": "${KEY}"}}}
    path = write(tmp_path, services)
    env = {"KEY": SECRET}
    nagios = lookout("--once", "--format", "nagios", "-c", str(path), env=env)
    assert nagios.returncode == 2, nagios.stderr
    first = nagios.stdout.splitlines()[0]
    assert first.startswith("LOOKOUT CRITICAL - 1 down: long down (HTTP 500 ppp")
    assert len(first) < 1000 and len(nagios.stdout) < 2000  # was 200 KB: the reason twice
    report = json.loads(lookout("--once", "--format", "json", "-c", str(path), env=env).stdout)
    reason = report["services"][0]["reason"]
    assert len(reason) <= REASON_LIMIT and reason.endswith("…")
    assert "p*** " + SHOWN_CSI in reason  # redacted before the clip: the key is masked whole, never cut
    table = lookout("--once", "-c", str(path), env=env)
    for output in (nagios.stdout, json.dumps(report), table.stdout):
        assert_safe(output)
        assert SECRET[:5] not in output


@pytest.mark.slow
def test_mcp_server_text_in_every_format(tmp_path) -> None:
    services = {"evil": evil_mcp(tmp_path, call={"tool": "fail", "arguments": {}})}
    path = write(tmp_path, services)
    env = {"DEMO_API_KEY": SECRET}
    outputs = []
    for fmt in ("table", "nagios", "json"):
        done = lookout("--once", "-v", "--format", fmt, "-c", str(path), env=env)
        assert done.returncode == 1, done.stdout + done.stderr  # degraded: the deep check's tool failed
        assert_safe(done.stdout)
        assert_safe(done.stderr)  # -v prints the engine's log: stderr lines and the server's log notifications
        assert SHOWN_CSI in done.stdout
        assert "starting\\x1b[2J" in done.stderr and "log\\x1b[2J" in done.stderr
        outputs += [done.stdout, done.stderr]
        if fmt == "json":
            mcp = json.loads(done.stdout)["services"][0]["mcp"]
            assert mcp["server"]["name"].startswith("evil" + SHOWN_CSI + "\\x1b]0;pwned\\x07")
            assert mcp["tools"][0].startswith("search" + SHOWN_CSI)
        if fmt == "table":
            assert "server evil" + SHOWN_CSI in done.stdout
    joined = "\n".join(outputs)
    assert SECRET not in joined and SECRET[:8] not in joined
    assert "key ***" in joined


# -- in process: snapshot details, events, the detail screen ---------------------------------------


@pytest.mark.slow
async def test_engine_records_and_events_are_safe_and_redacted(tmp_path) -> None:
    from tui.screens import detail_sections

    config = make_config({"evil": evil_mcp(tmp_path)}, env={"DEMO_API_KEY": SECRET}, timeout="30s")
    engine = Engine(config)
    events = engine.subscribe()
    try:
        await engine.run_once()
        snapshot = await engine.run_once()  # the second tools/list adds a tool: an InventoryChanged
    finally:
        await engine.stop()
    service = snapshot.get("evil")
    assert service is not None and service.status is Status.UP, service and service.reason
    details = service.details
    assert isinstance(details, McpDetails)
    found = list(strings(details))
    assert len(found) > 20  # the walk reaches into the records: server, tools, their schemas
    for text in found:
        assert_safe(text)
        assert SECRET not in text
    assert details.server.name.startswith("evil" + SHOWN_CSI)
    assert details.resources[0].startswith("index" + SHOWN_CSI)
    assert details.prompts[0].startswith("ask" + SHOWN_CSI)
    search = details.tools[0]
    assert search.description == (
        "Search with ***.\\x1b[2J\\x1b]0;pwned\\x07\\x1b]8;;http://127.0.0.1:9/pwned\\x1b\\link\\x1b]8;;\\x1b\\"
        "\\x1b]52;c;cHduZWQ=\\x07\\x9b31m\\x7f\\u202e\nMore help."
    )
    schema_key = next(iter(search.input_schema["properties"]))
    assert schema_key.startswith("q" + SHOWN_CSI)
    assert search.input_schema["properties"][schema_key]["description"].endswith(" ***")

    seen = [event async for event in events]
    logs = [event for event in seen if isinstance(event, LogEvent)]
    stderr = [event.message for event in logs if event.source == "stderr"]
    server_logs = [event.message for event in logs if event.source == "server"]
    assert any(line.startswith("starting" + SHOWN_CSI) and line.endswith("with key ***") for line in stderr)
    assert server_logs and all(line.startswith("log" + SHOWN_CSI) and line.endswith(" ***") for line in server_logs)
    changes = [event for event in seen if isinstance(event, InventoryChanged)]
    assert [change.kind for change in changes] == ["tools"]
    assert len(changes[0].added) == 1 and changes[0].added[0].startswith("later" + SHOWN_CSI)
    assert changes[0].added[0].endswith("***")
    for event in seen:
        for text in strings([getattr(event, name, "") for name in ("message", "reason", "added")]):
            assert_safe(text)
            assert SECRET not in text

    screen = _render(Group(*detail_sections(service, snapshot.taken_at)))
    assert "Search with ***." + SHOWN_CSI in screen
    assert SECRET not in screen and "\x1b" not in screen


async def test_a_long_reason_keeps_its_full_text_for_the_detail_screen(hostile_http) -> None:
    from tui.screens import detail_sections

    services = {"long": {"kind": "http", "url": f"{hostile_http.url}/long", "headers": {"X-Api-Key": "${KEY}"}}}
    config = make_config(services, env={"KEY": SECRET}, timeout="30s")
    engine = Engine(config)
    try:
        snapshot = await engine.run_once()
    finally:
        await engine.stop()
    service = snapshot.get("long")
    assert service is not None and service.last_result is not None
    result = service.last_result
    assert result.status is Status.DOWN and len(result.reason) <= REASON_LIMIT
    full = result.full_reason
    assert TEXT_LIMIT - 5 <= len(full) <= TEXT_LIMIT and full.startswith(result.reason[:-1].rstrip())
    assert "p*** " + SHOWN_CSI + " long long" in full and SECRET[:5] not in full
    assert service.details is None  # a failure's full reason is the result's, never the service's findings
    assert len(service.breaker.last_error) <= REASON_LIMIT and SECRET[:5] not in service.breaker.last_error
    screen = _render(Group(*detail_sections(service, snapshot.taken_at)))
    assert "Last reason in full" in screen and SECRET[:5] not in screen


# -- reports from a snapshot built by hand: the last line of defence ------------------------------


def test_reports_are_safe_and_bounded_whatever_the_snapshot_holds() -> None:
    reason = "HTTP 500 \x1b]0;x\x07 | 'fake'=1 " + "word " * 20_000
    services = tuple(
        ServiceSnapshot(
            info=ServiceInfo(name=f"svc\x1b[31m{i}", kind="http", target="http://127.0.0.1/"),
            status=Status.DOWN,
            reason=reason,
            last_result=ProbeResult(f"svc{i}", NOW, Status.DOWN, reason=reason, latency_ms=5.0),
            breaker=BreakerSnapshot(last_error=reason),
        )
        for i in range(300)
    )
    snapshot = FleetSnapshot(taken_at=NOW, services=services, config_path="/tmp/\x1b]0;title\x07.yaml")
    nagios = render_nagios(snapshot)
    lines = nagios.splitlines()
    assert all(len(line) <= 4096 for line in lines) and len(lines) == 1 + 100 + 1
    assert lines[-1] == "… and 200 more services not up"
    assert lines[0].count("|") == 1  # a server's "|" must not start fake performance data
    assert "'svc\\x1b[31m0 latency'=5ms" in lines[0]
    table = render_table(snapshot, width=120)
    report = render_json(snapshot)
    for output in (nagios, table, report):
        assert_safe(output)
    assert all(len(s["reason"]) <= REASON_LIMIT for s in json.loads(report)["services"])


def _render(renderable: Any) -> str:
    """What the detail screen would draw, as plain text (no colours, so any ESC came from the data)."""
    out = io.StringIO()
    Console(file=out, width=500, color_system=None, force_terminal=False, legacy_windows=False).print(renderable)
    return out.getvalue()
