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


class LoopbackGuard:
    """ASGI middleware for a daemon without a token (so on loopback): only local programs, not web pages.

    A loopback port is still reachable from a browser on the same machine. Two browser tricks are
    refused here: DNS rebinding (a page on `attacker.example` whose name later resolves to 127.0.0.1
    reads the status API: its requests carry `Host: attacker.example`) and cross-site requests that
    change things (a page POSTing to `/api/v1/services/NAME/pause` carries an `Origin` header, which
    Lookout's own clients, curl and Prometheus never send).
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        problem = ""
        if not is_loopback(_hostname(headers.get(b"host", b"").decode("latin-1"))):
            problem = "only loopback host names are served (bind with --token-env to serve others)"
        elif scope.get("method", "GET") not in ("GET", "HEAD") and b"origin" in headers:
            problem = "requests from web pages may not change anything"
        if problem:
            await PlainTextResponse(f"403 forbidden: {problem}\n", status_code=403)(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _hostname(host: str) -> str:
    """`127.0.0.1:9807` -> `127.0.0.1`, `[::1]:9807` -> `::1`, `localhost` -> `localhost`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host
