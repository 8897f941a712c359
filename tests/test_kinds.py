"""A kind of service registers in one call (core/kinds): config, probe, reports and the detail screen follow.

The toy kind here checks a TCP port on loopback: a config model, a probe that opens a real
connection to a real server, its own findings record and its own presentation.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Self

import pytest
from rich.console import Console, Group

from core.config import ConfigError, config_json_schema
from core.config.models import ServiceBase
from core.deadline import Deadline
from core.details import Redact, safe_name
from core.engine import Engine
from core.kinds import DetailSection, ProbeKind, kind_names, register_kind, unregister_kind
from core.probes.base import ProbeContext
from core.report import render_json, render_table
from core.results import ProbeError, ProbeOutcome, Status
from core.snapshot import ServiceSnapshot
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent


class TcpService(ServiceBase):
    kind: Literal["tcp"] = "tcp"
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class TcpDetails:
    banner: str | None = None

    def safe(self, redact: Redact) -> Self:
        return replace(self, banner=safe_name(self.banner, redact))


class TcpProbe:
    """Connect, read one line (the server's banner), close."""

    def __init__(self, service: TcpService, ctx: ProbeContext) -> None:
        self.service = service

    async def attempt(self, deadline: Deadline) -> ProbeOutcome:
        try:
            async with asyncio.timeout(deadline.remaining()):
                reader, writer = await asyncio.open_connection(self.service.host, self.service.port)
                banner = (await reader.readline()).decode(errors="replace").strip()
                writer.close()
                await writer.wait_closed()
        except OSError as error:
            raise ProbeError(f"cannot connect: {error.strerror or error}", retryable=False) from None
        return ProbeOutcome(latency_ms=1.0, details=TcpDetails(banner=banner))

    async def reset(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _banner(service: ServiceSnapshot) -> str | None:
    return service.details.banner if isinstance(service.details, TcpDetails) else None


def _sections(service: ServiceSnapshot) -> Sequence[DetailSection]:
    banner = _banner(service)
    return (DetailSection("TCP port", facts=(("banner", banner),)),) if banner else ()


TCP = ProbeKind(
    name="tcp",
    config_model=TcpService,
    probe=TcpProbe,
    describe_target=lambda config, redact: redact(f"tcp://{config.host}:{config.port}"),
    summary_line=lambda service: f"banner: {_banner(service)}" if _banner(service) else "",
    detail_sections=_sections,
    report_fields=lambda service: {"tcp": {"banner": _banner(service)}},
)


@pytest.fixture
def tcp_kind() -> Iterator[ProbeKind]:
    register_kind(TCP)
    try:
        yield TCP
    finally:
        unregister_kind("tcp")


@pytest.fixture
async def banner_port() -> AsyncIterator[int]:
    """A real TCP server on loopback that greets every connection with a banner (and an escape)."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"toy-server 1.0 \x1b[2J ready\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_kind_registered_in_one_call_runs_through_the_engine_and_the_reports(
    tcp_kind: ProbeKind, banner_port: int, free_port: int
) -> None:
    from tui.screens import detail_sections

    config = make_config(
        {
            "greeter": {"kind": "tcp", "host": "127.0.0.1", "port": banner_port, "tags": ["toy"]},
            "closed": {"kind": "tcp", "host": "127.0.0.1", "port": free_port},
        }
    )
    engine = Engine(config)
    try:
        snapshot = await engine.run_once()
    finally:
        await engine.stop()
    greeter, closed = snapshot.get("greeter"), snapshot.get("closed")
    assert greeter is not None and closed is not None
    assert (greeter.status, greeter.kind, greeter.target) == (Status.UP, "tcp", f"tcp://127.0.0.1:{banner_port}")
    assert greeter.details == TcpDetails(banner="toy-server 1.0 \\x1b[2J ready")  # made safe by the pipeline
    assert greeter.config_summary["port"] == banner_port
    assert closed.status is Status.DOWN and closed.reason.startswith("cannot connect")

    report = json.loads(render_json(snapshot))
    by_name = {service["name"]: service for service in report["services"]}
    assert by_name["greeter"]["tcp"] == {"banner": "toy-server 1.0 \\x1b[2J ready"}
    assert by_name["closed"]["tcp"] == {"banner": None}
    table = render_table(snapshot, width=160)
    assert "  banner: toy-server 1.0 \\x1b[2J ready" in table.splitlines()

    out = Console(width=200, color_system=None, force_terminal=False, record=True)
    out.print(Group(*detail_sections(greeter, snapshot.taken_at)))
    screen = out.export_text()
    assert "TCP port" in screen and "toy-server 1.0" in screen and "\x1b" not in screen


def test_a_registered_kind_is_validated_listed_and_in_the_schema(tcp_kind: ProbeKind) -> None:
    assert kind_names() == ("http", "mcp", "tcp")
    with pytest.raises(ConfigError) as caught:
        make_config({"typo": {"kind": "tpc", "host": "127.0.0.1", "port": 1}})
    assert "must be http, mcp or tcp (got 'tpc'; did you mean 'tcp'?)" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make_config({"portless": {"kind": "tcp", "host": "127.0.0.1"}})
    assert "port" in str(caught.value)
    schema = config_json_schema()
    assert "TcpService" in schema["$defs"]


def test_without_registration_the_kind_is_unknown() -> None:
    assert "tcp" not in kind_names()
    with pytest.raises(ConfigError) as caught:
        make_config({"greeter": {"kind": "tcp", "host": "127.0.0.1", "port": 1}})
    assert "must be http or mcp (got 'tcp'" in str(caught.value)


def test_builtin_kinds_describe_their_targets_with_secrets_masked() -> None:
    config = make_config(
        {
            "api": {"kind": "http", "url": "https://api.example.test/v1?key=s3cr3t-value", "method": "post"},
            "server": {"kind": "mcp", "command": "npx", "args": ["srv", "--token", "tok-123456"]},
        }
    )
    engine = Engine(config)
    snapshot = engine.snapshot()
    api, server = snapshot.get("api"), snapshot.get("server")
    assert api is not None and server is not None
    assert api.target == "POST https://api.example.test/v1?key=***"
    assert server.target == "npx srv --token ***"
    assert server.config_summary["args"] == ["srv", "--token", "***"]


def test_checking_a_config_or_running_an_http_fleet_never_imports_the_mcp_sdk(tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text(
        "services:\n"
        "  api:\n    kind: http\n    url: http://127.0.0.1:9/\n"
        "  server:\n    kind: mcp\n    command: python\n"
    )
    http_only = tmp_path / "http.yaml"
    http_only.write_text("services:\n  api:\n    kind: http\n    url: http://127.0.0.1:9/\n")
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        f"assert main(['--check', '-c', {str(config)!r}]) == 0\n"
        "from core.config import load_config\n"
        "from core.engine import Engine\n"
        f"Engine(load_config({str(http_only)!r})).snapshot()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types') or m == 'core.probes.mcp')\n"
        "print('loaded:' + ','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "loaded:"
