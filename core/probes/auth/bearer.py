"""The headers a probe sends: the service's own, plus `Authorization: Bearer` from its token source.

Sources, in order: a `token_command` (run and cached by `token_command`), or
an `Authorization` header written in the config (usually `${GITHUB_TOKEN}`
interpolated from the environment). A JWT past its `exp` is refused here, before
it is sent. When a server refuses the token, `forget` drops a command's
cached token so the next probe asks the command again.
"""

from __future__ import annotations

from datetime import datetime

from core.config.models import TokenSettings
from core.probes.auth.token_command import TOKENS, TokenCommands
from core.probes.auth.token_health import bearer_of, refuse_expired_jwt


async def request_headers(
    service: TokenSettings, headers: dict[str, str], now: datetime, tokens: TokenCommands = TOKENS
) -> dict[str, str]:
    """`headers` with the service's bearer token added (and checked); unchanged for a service without one."""
    if service.token_command:
        token = await tokens.token(service.token_command, max_age=service.token_cache)
        headers = {**headers, "Authorization": f"Bearer {token}"}
    refuse_expired_jwt(bearer_of(headers), now)
    return headers


def forget(service: TokenSettings, tokens: TokenCommands = TOKENS) -> None:
    """The server refused the token: a command's token is fetched anew next time."""
    if service.token_command:
        tokens.forget(service.token_command)
