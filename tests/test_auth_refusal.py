"""A 401/403 explains itself: "unauthorized: ...", not retried, with the challenge and the OAuth metadata.

Loopback servers answer 401 with `WWW-Authenticate: Bearer error=..., resource_metadata=...` and
publish protected-resource (RFC 9728) and authorization-server (RFC 8414) metadata; some of it hostile.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import idle_engine, make_config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.demo.serve import serve_in_thread
from core.kinds import find_kind
from core.probes.auth.www_authenticate import parse_challenge
from core.report import render_json
from core.results import Status


class GuardedServer:
    """An MCP endpoint and an HTTP API that refuse every request, and the OAuth metadata they point at."""

    def __init__(self) -> None:
        self.base = ""
        self.posts = 0
        self.api_gets = 0
        self.metadata_gets: dict[str, int] = {}
        self.hostile = False

    def challenge(self) -> str:
        description = "The access token expired\x1b[31m" + ("x" * 5000 if self.hostile else "")
        return (
            f'Bearer error="invalid_token", error_description="{description}", scope="tools:read tools:call", '
            f'resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"'
        )

    async def mcp(self, request: Request) -> Response:
        if request.method == "POST":
            self.posts += 1
        return PlainTextResponse("no", status_code=401, headers={"WWW-Authenticate": self.challenge()})

    async def api(self, request: Request) -> Response:
        self.api_gets += 1
        status = int(request.path_params["status"])
        return JSONResponse({"message": "Bad credentials"}, status, headers={"WWW-Authenticate": self.challenge()})

    async def metadata(self, request: Request) -> Response:
        path = request.url.path
        self.metadata_gets[path] = self.metadata_gets.get(path, 0) + 1
        if path.startswith("/.well-known/oauth-protected-resource"):
            scopes = [f"scope{i}" for i in range(1000)] if self.hostile else ["tools:read", "tools:call"]
            return JSONResponse(
                {
                    "resource": f"{self.base}/mcp",
                    "authorization_servers": [f"{self.base}/auth", 42],
                    "scopes_supported": scopes,
                }
            )
        if self.hostile:
            return PlainTextResponse("<html>not json</html>")
        return JSONResponse(
            {
                "issuer": f"{self.base}/auth",
                "scopes_supported": ["tools:read", "tools:call", "offline_access"],
                "registration_endpoint": f"{self.base}/auth/register",
                "authorization_endpoint": f"{self.base}/auth/authorize",
                "token_endpoint": f"{self.base}/auth/token",
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/mcp", self.mcp, methods=["GET", "POST", "DELETE"]),
                Route("/api/{status:int}", self.api),
                Route("/.well-known/{rest:path}", self.metadata),
            ]
        )


@pytest.fixture
def guarded() -> Iterator[GuardedServer]:
    server = GuardedServer()
    served = serve_in_thread(server.app())
    server.base = served.url
    try:
        yield server
    finally:
        served.stop()


def _facts(service: Any) -> dict[str, str]:
    sections = find_kind(service.kind).detail_sections(service)
    return {label: value for section in sections if section.title == "Authorization" for label, value in section.facts}


async def test_a_remote_mcp_401_is_unauthorized_with_its_metadata(guarded) -> None:
    config = make_config(
        {"remote": {"kind": "mcp", "url": f"{guarded.base}/mcp"}},
        retry={"attempts": 3, "initial": "10ms", "jitter": 0},
        timeout="10s",
    )
    async with idle_engine(config) as engine:
        first = (await engine.run_once()).get("remote")
        snapshot = await engine.run_once()
    service = snapshot.get("remote")
    assert first.status is Status.DOWN and service.status is Status.DOWN
    assert service.reason == (
        "unauthorized: HTTP 401 Unauthorized during the handshake: invalid_token "
        r"(The access token expired\x1b[31m) needs scope tools:read tools:call; "  # the escape made inert
        "sign in with `lookout login remote`"
    )
    assert "-32603" not in service.reason
    assert service.last_result.attempts == 1 and guarded.posts == 2  # one per probe: no retry, no SSE fallback
    auth = service.details.auth
    assert auth.http_status == 401 and auth.error == "invalid_token" and auth.scope == ("tools:read", "tools:call")
    assert auth.resource == f"{guarded.base}/mcp"
    assert auth.authorization_servers == (f"{guarded.base}/auth",)  # the 42 is not a URL
    assert auth.issuer == f"{guarded.base}/auth" and auth.registration is True
    assert auth.issuer_scopes == ("tools:read", "tools:call", "offline_access")
    # Fetched once for both probes (cached for an hour).
    assert guarded.metadata_gets == {
        "/.well-known/oauth-protected-resource/mcp": 1,
        "/.well-known/oauth-authorization-server/auth": 1,
    }
    facts = _facts(service)
    assert facts["issuer"] == f"{guarded.base}/auth" and facts["dynamic registration"] == "offered"
    assert facts["error"] == "invalid_token"
    entry = json.loads(render_json(snapshot))["services"][0]
    assert entry["auth"]["issuer"] == f"{guarded.base}/auth" and entry["auth"]["registration"] is True
    assert entry["auth"]["scope"] == ["tools:read", "tools:call"]


async def test_hostile_metadata_is_bounded_and_says_what_was_missing(guarded) -> None:
    guarded.hostile = True
    config = make_config({"remote": {"kind": "mcp", "transport": "http", "url": f"{guarded.base}/mcp"}})
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("remote")
    auth = service.details.auth
    assert len(service.reason) <= 400 and "\x1b" not in service.reason
    assert "\x1b" not in (auth.error_description or "") and len(auth.error_description or "") <= 200
    assert len(auth.resource_scopes) == 50
    assert auth.issuer is None and auth.registration is None
    assert auth.problems == (
        f"no authorization server metadata at {guarded.base}/.well-known/oauth-authorization-server/auth",
    )


@pytest.mark.parametrize("status", [401, 403])
async def test_an_http_api_refusal_is_unauthorized_and_not_retried(guarded, status: int) -> None:
    config = make_config(
        {"api": {"kind": "http", "url": f"{guarded.base}/api/{status}"}},
        retry={"attempts": 3, "initial": "10ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("api")
    phrase = {401: "Unauthorized", 403: "Forbidden"}[status]
    assert service.status is Status.DOWN
    assert service.reason.startswith(f"unauthorized: HTTP {status} {phrase}: invalid_token (The access token expired")
    assert service.last_result.attempts == 1 and guarded.api_gets == 1
    assert service.details.auth.scope == ("tools:read", "tools:call")
    assert guarded.metadata_gets == {}  # an HTTP API's refusal is explained by its challenge alone
    entry = json.loads(render_json(snapshot))["services"][0]
    assert entry["auth"]["error"] == "invalid_token" and entry["auth"]["http_status"] == status
    assert _facts(service)["refused with"] == f"HTTP {status}"


def test_challenges_parse_quoted_escaped_and_bare_values() -> None:
    challenge = parse_challenge('Bearer realm="a \\"b\\"", error=insufficient_scope, scope="repo", Basic realm=x')
    assert challenge.scheme == "Bearer"
    assert challenge.params == {"realm": 'a "b"', "error": "insufficient_scope", "scope": "repo"}
    assert parse_challenge("").scheme == "" and parse_challenge("=== garbage").params == {}
    long = parse_challenge("Bearer " + ", ".join(f"p{i}=v" for i in range(10000)))
    assert len(long.params) <= 32


async def test_a_refused_mcp_server_reports_no_inventory(guarded) -> None:
    config = make_config({"remote": {"kind": "mcp", "url": f"{guarded.base}/mcp"}})
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    entry = json.loads(render_json(snapshot))["services"][0]
    assert entry["transport"] == "http" and entry["mcp"]["tool_count"] is None
    assert entry["auth"]["http_status"] == 401
    assert find_kind("mcp").summary_line(snapshot.get("remote")) == ""


async def test_an_attached_monitor_reads_the_refusal_back(guarded) -> None:
    import dataclasses

    from core.details import McpDetails
    from core.serve.api import status_document
    from core.serve.client import parse_fleet

    config = make_config(
        {
            "remote": {"kind": "mcp", "url": f"{guarded.base}/mcp"},
            "api": {"kind": "http", "url": f"{guarded.base}/api/401"},
        }
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    document = status_document(snapshot)
    for item, service in zip(document["services"], snapshot.services, strict=True):
        if isinstance(service.details, McpDetails):
            item["mcp_details"] = dataclasses.asdict(service.details)
    parsed = parse_fleet(json.loads(json.dumps(document)))
    for name in ("remote", "api"):
        assert parsed.get(name).details.auth == snapshot.get(name).details.auth
        assert _facts(parsed.get(name)) == _facts(snapshot.get(name))


async def test_an_sse_server_refusal_is_explained_too(guarded) -> None:
    config = make_config({"legacy": {"kind": "mcp", "transport": "sse", "url": f"{guarded.base}/mcp"}})
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("legacy")
    assert service.reason.startswith("unauthorized: HTTP 401 Unauthorized during the handshake: invalid_token")
    assert service.last_result.attempts == 1
    assert service.details.transport == "sse" and service.details.auth.issuer == f"{guarded.base}/auth"
