"""`lookout login` end to end on loopback: the SDK's OAuth client against an authorization server built with
the SDK's server-side auth parts; the test plays the browser by following the authorization URL with httpx2.
Then probes send the stored token, refresh it before it expires (once, under the file lock), and never show it.
"""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path

import httpx2
import pytest
from helpers import idle_engine, make_config

from core.auth import store
from core.auth.cli import main as login_main
from core.auth.login import login
from core.report import render_json
from core.results import Status


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


class Browser:
    """Follows the authorization URL like a browser whose user approves: redirects included, to our listener."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, url: str) -> None:
        self.opened.append(url)
        self.tasks.append(asyncio.get_running_loop().create_task(self._follow(url)))

    async def _follow(self, url: str) -> None:
        async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as client:
            answer = await client.get(url)
            assert answer.status_code == 200 and "signed in" in answer.text


async def sign_in(oauth_server, config) -> tuple[Path, list[str], Browser]:
    said: list[str] = []
    browser = Browser()
    path = await login(config.services["remote"], say=said.append, open_browser=browser, timeout=30)
    await asyncio.gather(*browser.tasks)
    return path, said, browser


async def test_login_then_probes_use_refresh_and_hide_the_token(oauth_server, state_home) -> None:
    config = make_config({"remote": {"kind": "mcp", "url": f"{oauth_server.base}/mcp"}}, timeout="10s")
    async with idle_engine(config) as engine:
        before = (await engine.run_once()).get("remote")
    assert before.status is Status.DOWN and before.reason.startswith("unauthorized: HTTP 401 Unauthorized")
    assert before.details.auth.issuer == f"{oauth_server.base}/" and before.details.auth.registration is True

    path, said, browser = await sign_in(oauth_server, config)
    assert path.parent == state_home / "lookout" / "oauth"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(browser.opened) == 1 and browser.opened[0] in said[0]  # the URL is always printed
    assert "code_challenge_method=S256" in browser.opened[0]
    record = json.loads(path.read_text())
    token = record["tokens"]["access_token"]
    assert record["token_endpoint"] == f"{oauth_server.base}/token" and record["client_info"]["client_id"]

    async with idle_engine(config) as engine:
        after = await engine.run_once()
    assert after.get("remote").status is Status.UP, after.get("remote").reason
    assert oauth_server.accepted and set(oauth_server.accepted) == {token}
    assert token not in render_json(after)

    # About to expire: the next new session refreshes first, and sends the new token.
    store.update(path, expires_at=time.time() + 5)
    async with idle_engine(config) as engine:
        refreshed = (await engine.run_once()).get("remote")
    new = json.loads(path.read_text())["tokens"]["access_token"]
    assert refreshed.status is Status.UP and oauth_server.provider.refreshes == 1
    assert new != token and oauth_server.accepted[-1] == new


async def test_processes_refreshing_at_once_refresh_once(oauth_server) -> None:
    config = make_config({"remote": {"kind": "mcp", "url": f"{oauth_server.base}/mcp"}})
    path, _, _ = await sign_in(oauth_server, config)
    store.update(path, expires_at=time.time() + 5)
    async with httpx2.AsyncClient() as client:
        tokens = await asyncio.gather(*(store.bearer(f"{oauth_server.base}/mcp", client) for _ in range(4)))
    assert oauth_server.provider.refreshes == 1 and len(set(tokens)) == 1


def test_login_is_for_remote_mcp_servers(tmp_path, capsys) -> None:
    config = make_config(
        {"local": {"kind": "mcp", "command": "server"}, "api": {"kind": "http", "url": "http://127.0.0.1:9"}}
    )
    assert login_main(["local"], lambda path: config) == 2
    assert login_main(["nothere"], lambda path: config) == 2
    out = capsys.readouterr().out
    assert "local is not a remote MCP server" in out and "no service named 'nothere' (services: api, local)" in out
