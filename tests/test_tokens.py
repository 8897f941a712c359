"""Tokens: printed by a `token_command` (cached, a secret), and their health (GitHub's headers, a JWT's exp)."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import idle_engine, make_config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.config import ConfigError
from core.demo.mcp_servers import asgi_app
from core.demo.serve import serve_in_thread
from core.probes.auth.token_command import TokenCommands, run_token_command
from core.probes.auth.token_health import github_expiry, jwt_expiry, scopes_check
from core.report import render_json
from core.results import ProbeError, Status

TOKEN = "tok-" + "a1b2c3d4e5f6" * 3


class Api:
    """An API that accepts one bearer token and answers with whatever token-health headers it is told."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.headers: dict[str, str] = {}
        self.accepted = f"Bearer {TOKEN}"

    async def handle(self, request: Request) -> Response:
        given = request.headers.get("authorization", "")
        self.seen.append(given)
        if given != self.accepted:
            return JSONResponse({"message": "Bad credentials"}, 401, headers={"WWW-Authenticate": 'Bearer realm="x"'})
        return JSONResponse({"ok": True}, headers=self.headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/user", self.handle)])


@pytest.fixture
def api() -> Iterator[tuple[Api, str]]:
    server = Api()
    served = serve_in_thread(server.app())
    try:
        yield server, f"{served.url}/user"
    finally:
        served.stop()


def token_script(tmp_path: Path, *, token: str = TOKEN, code: int = 0, stderr: str = "") -> list[str]:
    """A command printing `token` and counting its runs in tmp_path/runs."""
    script = tmp_path / "token.py"
    script.write_text(
        "import sys, pathlib\n"
        f"p = pathlib.Path({str(tmp_path / 'runs')!r}); p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        f"print({token!r})\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({code})\n"
    )
    return [sys.executable, str(script)]


def runs(tmp_path: Path) -> int:
    path = tmp_path / "runs"
    return len(path.read_text()) if path.exists() else 0


async def test_a_token_command_is_sent_as_bearer_cached_and_never_shown(api, tmp_path) -> None:
    server, url = api
    config = make_config({"gh": {"kind": "http", "url": url, "token_command": token_script(tmp_path)}})
    async with idle_engine(config) as engine:
        events = engine.subscribe()
        await engine.run_once()
        snapshot = await engine.run_once()
        seen = events.drain()
    assert snapshot.get("gh").status is Status.UP, snapshot.get("gh").reason
    assert server.seen == [f"Bearer {TOKEN}"] * 2
    assert runs(tmp_path) == 1  # cached (token_cache: 10m by default)
    assert seen and all(TOKEN not in repr(event) for event in seen)  # results, logs: nowhere
    assert TOKEN not in render_json(snapshot)


async def test_a_refused_token_is_asked_for_again_and_a_zero_cache_runs_every_time(api, tmp_path) -> None:
    server, url = api
    server.accepted = "Bearer something-else"
    command = token_script(tmp_path)
    config = make_config({"gh": {"kind": "http", "url": url, "token_command": command}})
    async with idle_engine(config) as engine:
        refused = (await engine.run_once()).get("gh")
        await engine.run_once()
    assert refused.status is Status.DOWN and refused.reason.startswith("unauthorized: HTTP 401 Unauthorized")
    assert TOKEN not in refused.reason
    assert runs(tmp_path) == 2  # the refused token was forgotten


async def test_a_failing_token_command_says_why_without_the_token(api, tmp_path) -> None:
    _, url = api
    command = token_script(tmp_path, code=4, stderr=f"gh: not logged in (had {TOKEN})\n")
    config = make_config({"gh": {"kind": "http", "url": url, "token_command": command}})
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("gh")
    assert service.status is Status.DOWN
    assert service.reason == "token_command python3 exited with code 4: gh: not logged in (had ***)".replace(
        "python3", Path(sys.executable).name
    )


async def test_token_commands_time_out_and_are_found_or_not(tmp_path) -> None:
    with pytest.raises(ProbeError, match=r"token_command sleep did not finish within 0\.2s"):
        await run_token_command(["sleep", "30"], timeout=0.2)
    with pytest.raises(ProbeError, match="token_command not found: no-such-token-tool"):
        await run_token_command(["no-such-token-tool"])
    with pytest.raises(ProbeError, match="printed no token"):
        await run_token_command(["true"])
    now = [0.0]
    tokens = TokenCommands(clock=lambda: now[0])
    command = token_script(tmp_path)
    assert await tokens.token(command, max_age=60) == TOKEN
    now[0] = 59.0
    await tokens.token(command, max_age=60)
    assert runs(tmp_path) == 1
    now[0] = 61.0
    await tokens.token(command, max_age=60)
    assert runs(tmp_path) == 2


def test_token_command_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="sends its own Authorization header"):
        make_config(
            {
                "a": {
                    "kind": "http",
                    "url": "http://127.0.0.1:9",
                    "token_command": "gh auth token",
                    "headers": {"Authorization": "x"},
                }
            }
        )
    with pytest.raises(ConfigError, match="for remote servers"):
        make_config({"a": {"kind": "mcp", "command": "server", "token_command": ["gh", "auth", "token"]}})
    config = make_config({"a": {"kind": "http", "url": "http://127.0.0.1:9", "token_command": "gh auth 'token x'"}})
    assert config.services["a"].token_command == ["gh", "auth", "token x"]
    assert config.services["a"].token_cache == 600 and config.services["a"].token_warn == 7 * 86400


def github_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def test_github_token_expiry_within_the_window_is_degraded(api, tmp_path) -> None:
    server, url = api
    headers = {"Authorization": f"Bearer {TOKEN}"}
    config = make_config(
        {
            "soon": {"kind": "http", "url": url, "headers": headers},
            "later": {"kind": "http", "url": url, "headers": headers, "token_warn": "3d"},
        }
    )
    server.headers = {
        "github-authentication-token-expiration": github_time(datetime.now(UTC) + timedelta(days=5, hours=1))
    }
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    soon, later = snapshot.get("soon"), snapshot.get("later")
    assert soon.status is Status.DEGRADED and soon.reason == "token expires in 5 days"
    assert later.status is Status.UP
    assert [c.condition for c in later.last_result.checks][-1] == "token valid for more than 3d"


async def test_missing_scopes_are_named(api) -> None:
    server, url = api
    server.headers = {"X-OAuth-Scopes": "read:org, gist", "X-Accepted-OAuth-Scopes": "repo"}
    config = make_config({"gh": {"kind": "http", "url": url, "headers": {"Authorization": f"Bearer {TOKEN}"}}})
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("gh")
    assert service.status is Status.DEGRADED and service.reason == "token lacks scope repo (has read:org, gist)"
    assert scopes_check({"x-oauth-scopes": "repo", "x-accepted-oauth-scopes": "repo:status"}).ok
    assert scopes_check({"x-oauth-scopes": "admin:org", "x-accepted-oauth-scopes": "read:org"}).ok
    assert not scopes_check({"x-oauth-scopes": "read:org", "x-accepted-oauth-scopes": "admin:org"}).ok
    assert scopes_check({"x-accepted-oauth-scopes": "repo"}) is None  # a fine-grained token sends no scopes


def jwt(exp: float) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'sub': 'lookout', 'exp': exp})}.c2lnbmF0dXJl"


async def test_a_jwt_near_its_exp_is_degraded_and_past_it_is_not_sent(api) -> None:
    server, url = api
    soon, expired = jwt(time.time() + 2 * 86400 + 600), jwt(time.time() - 7200)
    server.accepted = f"Bearer {soon}"
    config = make_config(
        {
            "soon": {"kind": "http", "url": url, "headers": {"Authorization": f"Bearer {soon}"}},
            "expired": {"kind": "http", "url": url, "headers": {"Authorization": f"Bearer {expired}"}},
        }
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    assert snapshot.get("soon").status is Status.DEGRADED and snapshot.get("soon").reason == "JWT expires in 2 days"
    gone = snapshot.get("expired")
    assert gone.status is Status.DOWN and gone.reason == "unauthorized: the bearer JWT expired 2h ago (not sent)"
    assert server.seen == [f"Bearer {soon}"]  # the expired one never left
    assert jwt_expiry("not.a.jwt") is None and jwt_expiry("abc") is None and jwt_expiry(jwt(float("nan"))) is None
    assert github_expiry("2026-12-01 10:00:00 -0700") == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert github_expiry("soon") is None


class GuardedMcp:
    """The docs demo server over streamable HTTP, answering only requests that carry the token."""

    def __init__(self) -> None:
        self.app = asgi_app("docs", "http")
        self.refused = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if given != f"Bearer {TOKEN}".encode():
                self.refused += 1
                await JSONResponse({"error": "invalid_token"}, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def test_a_remote_mcp_server_gets_the_command_token(tmp_path) -> None:
    server = GuardedMcp()
    served = serve_in_thread(server)
    try:
        config = make_config(
            {
                "with": {"kind": "mcp", "url": f"{served.url}/mcp", "token_command": token_script(tmp_path)},
                "without": {"kind": "mcp", "transport": "http", "url": f"{served.url}/mcp"},
            },
            timeout="10s",
        )
        async with idle_engine(config) as engine:
            snapshot = await engine.run_once()
    finally:
        served.stop()
    assert snapshot.get("with").status is Status.UP, snapshot.get("with").reason
    assert snapshot.get("without").reason == "unauthorized: HTTP 401 Unauthorized during the handshake"
    assert TOKEN not in render_json(snapshot)


async def test_a_remote_mcp_server_s_token_expiry_header_is_read(tmp_path) -> None:
    server = GuardedMcp()
    expiry = github_time(datetime.now(UTC) + timedelta(days=2, hours=1))

    async def with_expiry(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"github-authentication-token-expiration", expiry.encode()),
                ]
            await send(message)

        await server(scope, receive, send_with_header)

    served = serve_in_thread(with_expiry)
    try:
        config = make_config(
            {"gh": {"kind": "mcp", "url": f"{served.url}/mcp", "headers": {"Authorization": f"Bearer {TOKEN}"}}},
            timeout="10s",
        )
        async with idle_engine(config) as engine:
            service = (await engine.run_once()).get("gh")
    finally:
        served.stop()
    assert service.status is Status.DEGRADED and service.reason == "token expires in 2 days"


def test_run_time_secrets_are_masked_everywhere_and_bounded(monkeypatch) -> None:
    from core import redact
    from core.redact import RUNTIME_SECRET_LIMIT, Redactor, register_secret

    monkeypatch.setattr(redact, "_RUNTIME_SECRETS", {})  # the process's registry is left as it was
    monkeypatch.setattr(redact, "_runtime_longest_first", [])

    secret = "rt-secret-" + "z9" * 8
    register_secret(secret)
    register_secret("abc")  # too short to mask in free text
    assert Redactor()(f"token {secret} and abc") == "token *** and abc"
    for index in range(RUNTIME_SECRET_LIMIT):
        register_secret(f"filler-secret-{index:04d}")
    assert secret in Redactor()(secret)  # the oldest is forgotten first
    assert Redactor()("filler-secret-0255") == "***"
