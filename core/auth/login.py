"""`lookout login SERVICE`: sign in to a remote MCP server with OAuth, as an MCP client would.

The SDK's `OAuthClientProvider` does the protocol (discovery, dynamic client
registration, authorization code + PKCE, the token exchange); Lookout brings the
parts a terminal needs: a loopback listener on 127.0.0.1 for the redirect, the
authorization URL printed (and a browser opened only when there is a desktop to
show it on: over ssh the URL can be opened anywhere that reaches the loopback
port), and storage (`TokenFileStorage`, the SDK's `TokenStorage` over
`core.auth.store`'s 0600 file). After the sign-in the token endpoint is kept
beside the tokens, so probes can refresh without the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import webbrowser
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from core.auth import store
from core.config import McpService
from core.redact import register_secret

CALLBACK_PATH = "/callback"
LOGIN_TIMEOUT = 300.0
"""Seconds the sign-in may take, a person's part included."""
REQUEST_LIMIT = 8192
"""Bytes of the redirect's request read at most (the listener faces a browser, but listens on a port)."""
DONE_PAGE = b"Lookout: signed in. You can close this window.\n"


class TokenFileStorage:
    """The SDK's `TokenStorage` over one server's record in the state dir (0600, written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def get_tokens(self) -> OAuthToken | None:
        tokens = (store.read(self.path) or {}).get("tokens")
        return OAuthToken.model_validate(tokens) if isinstance(tokens, dict) else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        register_secret(tokens.access_token)
        if tokens.refresh_token:
            register_secret(tokens.refresh_token)
        dumped = tokens.model_dump(mode="json", exclude_none=True)
        store.update(self.path, tokens=dumped, expires_at=store.expires_at(dumped, time.time()))

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        info = (store.read(self.path) or {}).get("client_info")
        return OAuthClientInformationFull.model_validate(info) if isinstance(info, dict) else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        store.update(self.path, client_info=client_info.model_dump(mode="json", exclude_none=True))


class RedirectListener:
    """One loopback HTTP endpoint that waits for the authorization server's redirect back to us."""

    def __init__(self) -> None:
        self.result: asyncio.Future[AuthorizationCodeResult] = asyncio.get_running_loop().create_future()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        line = head[:REQUEST_LIMIT].split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        target = urlsplit(parts[1]) if len(parts) == 3 and parts[0] == "GET" else None
        if target is None or target.path != CALLBACK_PATH:
            await _answer(writer, b"404 Not Found", b"not here\n")
            return
        query = parse_qs(target.query)

        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        if one("error"):
            page = b"Lookout: the sign-in was refused. See the terminal.\n"
            await _answer(writer, b"400 Bad Request", page)
            if not self.result.done():
                self.result.set_exception(LoginError(f"the authorization server refused: {one('error')}"))
            return
        code = one("code")
        if not code:
            await _answer(writer, b"400 Bad Request", b"no code\n")
            return
        await _answer(writer, b"200 OK", DONE_PAGE)
        if not self.result.done():
            self.result.set_result(AuthorizationCodeResult(code=code, state=one("state"), iss=one("iss")))


async def _answer(writer: asyncio.StreamWriter, status: bytes, body: bytes) -> None:
    writer.write(
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


class LoginError(Exception):
    """A sign-in that could not finish, in words for the person at the terminal."""


def has_desktop() -> bool:
    """A browser can be shown here: a display on Linux, or macOS/Windows (not over ssh)."""
    if os.environ.get("SSH_CONNECTION"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def login(
    service: McpService,
    *,
    say: Callable[[str], None],
    open_browser: Callable[[str], object] | None = None,
    path: Path | None = None,
    timeout: float = LOGIN_TIMEOUT,
) -> Path:
    """Sign in to `service` and store its tokens; returns the file they are kept in.

    `open_browser(url)` is called with the authorization URL when given (the CLI passes one only on a
    desktop); the URL is always handed to `say` as well.
    """
    url = service.url or ""
    path = path or store.token_path(url)
    storage = TokenFileStorage(path)
    listener = RedirectListener()
    known = await storage.get_client_info()
    # A registered client is bound to its redirect URI: reuse its port when it is free, else register anew.
    try:
        await listener.start(_registered_port(known))
    except OSError:
        await listener.start(0)
        store.update(path, client_info=None)

    async def redirect(authorization_url: str) -> None:
        say(f"Open this URL to sign in to {service.name}:\n\n  {authorization_url}\n")
        if open_browser is not None:
            with contextlib.suppress(Exception):
                open_browser(authorization_url)
        say(f"Waiting for the redirect to {listener.redirect_uri} ...")

    async def callback() -> AuthorizationCodeResult:
        return await listener.result

    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="Lookout",
            redirect_uris=[listener.redirect_uri],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect,
        callback_handler=callback,
    )
    try:
        async with asyncio.timeout(timeout):
            await _connect(service, provider)
    except TimeoutError:
        raise LoginError(f"the sign-in did not finish within {timeout:g}s") from None
    finally:
        await listener.close()
    metadata = provider.context.oauth_metadata
    if metadata is None or await storage.get_tokens() is None:
        raise LoginError("the server accepted the connection without a sign-in: nothing to store")
    store.update(
        path,
        server_url=url,
        token_endpoint=str(metadata.token_endpoint),
        issuer=str(metadata.issuer),
        resource=provider.context.get_resource_url(),
    )
    return path


async def _connect(service: McpService, provider: OAuthClientProvider) -> None:
    """Open one MCP session through the provider: a 401 on the way starts (and finishes) the sign-in."""
    url = service.url or ""
    transport: AbstractAsyncContextManager[Any]
    if service.transport == "sse":
        transport = sse_client(url, headers=dict(service.headers) or None, auth=provider)
    else:
        http = httpx2.AsyncClient(headers=dict(service.headers), auth=provider, follow_redirects=False, timeout=30)
        transport = _closing(http, streamable_http_client(url, http_client=http))
    async with Client(transport, mode="auto", cache=None):
        pass


@contextlib.asynccontextmanager
async def _closing(client: httpx2.AsyncClient, transport: AbstractAsyncContextManager[Any]) -> AsyncIterator[Any]:
    async with client, transport as streams:
        yield streams


def _registered_port(info: OAuthClientInformationFull | None) -> int:
    uris = info.redirect_uris if info is not None else None
    if not uris:
        return 0
    parts = urlsplit(str(uris[0]))
    return parts.port or 0 if parts.hostname == "127.0.0.1" else 0


def open_in_browser(url: str) -> object:
    return webbrowser.open(url)
