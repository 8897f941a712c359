"""Remote MCP servers over HTTPS (streamable HTTP and SSE, served by uvicorn with a `trustme` certificate).

Every session verifies the server with the process's one TLS context (`core.probes.tls`): a client made
with httpx2's defaults would load the CA store again, ~37 ms of CPU per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from helpers import idle_engine, make_config

from core.demo.mcp_servers import asgi_app
from core.demo.serve import ServedApp, serve_in_thread
from core.probes import tls
from core.results import Status


@pytest.fixture
def https_servers(tmp_path: Path) -> Iterator[tuple[Path, ServedApp, ServedApp]]:
    """(the CA's PEM, a streamable-HTTP server, an SSE server), both with a certificate for 127.0.0.1."""
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    http = serve_in_thread(asgi_app("docs", "http"), tls_pem=str(server_pem))
    sse = serve_in_thread(asgi_app("docs", "sse"), tls_pem=str(server_pem))
    tls.tls_context.cache_clear()
    try:
        yield tmp_path / "ca.pem", http, sse
    finally:
        tls.tls_context.cache_clear()  # the next test's context trusts what it should, not this CA
        http.stop()
        sse.stop()


def fleet(http: ServedApp, sse: ServedApp) -> dict[str, dict[str, str]]:
    return {
        "http": {"kind": "mcp", "transport": "http", "url": f"{http.url}/mcp", "session": "fresh"},
        "sse": {"kind": "mcp", "transport": "sse", "url": f"{sse.url}/sse", "session": "fresh"},
    }


async def test_https_servers_are_verified_with_one_context_for_every_session(
    https_servers: tuple[Path, ServedApp, ServedApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_pem, http, sse = https_servers
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_pem))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    config = make_config(fleet(http, sse), timeout="10s")
    async with idle_engine(config) as engine:
        for _ in range(3):  # session: fresh, so three sessions per server
            snapshot = await engine.run_once()
            assert [(s.name, s.status) for s in snapshot.services] == [("http", Status.UP), ("sse", Status.UP)], [
                s.reason for s in snapshot.services
            ]
    calls = tls.tls_context.cache_info()
    assert calls.misses == 1, "the CA store was loaded more than once"
    assert calls.hits >= 5, "a session's client did not take the shared context"


async def test_a_server_whose_certificate_is_not_trusted_is_down_and_says_so(
    https_servers: tuple[Path, ServedApp, ServedApp], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, http, sse = https_servers
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))  # a CA that signed neither server's certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    async with idle_engine(make_config(fleet(http, sse), timeout="10s")) as engine:
        snapshot = await engine.run_once()
    for service in snapshot.services:
        assert service.status is Status.DOWN
        assert "certificate" in service.reason, service.reason
