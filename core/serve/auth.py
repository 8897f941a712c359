"""Who may ask the daemon: anyone on loopback, only bearers of the token anywhere else.

The status API names every service, its target and its reasons: on a shared
network that is reconnaissance for an attacker. So binding beyond loopback
needs a token, read from an environment variable (never the command line,
which `ps` shows to every user), and every request must carry it.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class AuthError(Exception):
    """The daemon must not start with this bind and token (the message says why)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_token(host: str, token_env: str | None, environ: Any) -> str | None:
    """The token requests must carry (None: no token asked). Refuses a non-loopback bind without one."""
    if token_env is None:
        if is_loopback(host):
            return None
        raise AuthError(f"listening on {host} (not loopback) needs a bearer token: pass --token-env NAME")
    token = environ.get(token_env, "")
    if not token:
        raise AuthError(f"--token-env {token_env}: the environment variable {token_env} is not set or empty")
    return str(token)


class BearerAuth:
    """ASGI middleware: every HTTP request needs `Authorization: Bearer <token>`, else 401.

    The comparison takes the same time whatever the guess (`hmac.compare_digest`),
    so the token cannot be found a byte at a time by timing the answers.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        if not hmac.compare_digest(given, self._expected):
            response = PlainTextResponse(
                "401 unauthorized: a bearer token is required\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="lookout"'},
            )
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)
