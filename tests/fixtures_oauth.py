"""A loopback OAuth authorization server built from the SDK's server-side auth parts, guarding an MCP server.

`create_auth_routes` (metadata, dynamic registration, /authorize, /token) and
`create_protected_resource_routes` (RFC 9728) over an in-memory provider that
approves every authorization at once (the test plays the user and the browser);
the docs demo MCP server behind it answers only a bearer token the provider issued.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.routes import create_auth_routes, create_protected_resource_routes
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.responses import JSONResponse

from core.demo.mcp_servers import asgi_app
from core.demo.serve import serve_in_thread


def _unused_port() -> int:
    """A loopback port to serve on: the issuer URL must name it before the routes are built."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MemoryProvider:
    """Everything an authorization server remembers, in dicts; access tokens live `lifetime` seconds."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.refreshes = 0

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [],
            expires_at=time.time() + 300,
            client_id=client.client_id or "",
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, code: str) -> AuthorizationCode | None:
        return self.codes.get(code)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        return self._issue(client.client_id or "", authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self.refreshes += 1
        self.refresh.pop(refresh_token.token, None)
        return self._issue(client.client_id or "", scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: Any) -> None:
        self.access.pop(getattr(token, "token", ""), None)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = f"at-{secrets.token_urlsafe(24)}", f"rt-{secrets.token_urlsafe(24)}"
        expires = int(time.time()) + self.lifetime
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=expires, resource=resource
        )
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes, resource=resource)
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.lifetime,
            refresh_token=refresh,
            scope=" ".join(scopes),
        )


class OAuthGuardedServer:
    """The authorization server's routes and the guarded MCP endpoint at /mcp, on one loopback port."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.port = _unused_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.provider = MemoryProvider(lifetime)
        self.mcp = asgi_app("docs", "http")
        self.accepted: list[str] = []
        routes = [
            *create_auth_routes(
                self.provider,
                AnyHttpUrl(self.base),
                client_registration_options=ClientRegistrationOptions(enabled=True),
            ),
            *create_protected_resource_routes(AnyHttpUrl(f"{self.base}/mcp"), [AnyHttpUrl(self.base)]),
        ]
        self.auth_app = Starlette(routes=routes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp"):
            given = dict(scope["headers"]).get(b"authorization", b"").decode()
            token = given.removeprefix("Bearer ")
            if not given.startswith("Bearer ") or await self.provider.load_access_token(token) is None:
                challenge = (
                    'Bearer error="invalid_token", error_description="sign in first", '
                    f'resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"'
                )
                await JSONResponse({"error": "invalid_token"}, 401, headers={"WWW-Authenticate": challenge})(
                    scope, receive, send
                )
                return
            self.accepted.append(token)
            await self.mcp(scope, receive, send)
            return
        await (self.mcp if scope["type"] == "lifespan" else self.auth_app)(scope, receive, send)


@pytest.fixture
def oauth_server() -> Iterator[OAuthGuardedServer]:
    server = OAuthGuardedServer()
    served = serve_in_thread(server, port=server.port)
    try:
        yield server
    finally:
        served.stop()
