"""`lookout login SERVICE [-c services.yaml] [--no-browser]`: sign in to a remote MCP server's OAuth.

Exit codes: 0 signed in (tokens stored), 1 the sign-in failed, 2 a usage or config error.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence

from core.config import Config, McpService


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout login",
        description="Sign in to a remote MCP server that uses OAuth; probes then send the token "
        "(kept in the state dir, readable by you only, refreshed before it expires).",
    )
    parser.add_argument("service", help="the service's name in services.yaml")
    parser.add_argument("-c", "--config", help="services.yaml (default: as `lookout` finds it)")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL, never open a browser")
    return parser


def main(argv: Sequence[str], load: Callable[[str | None], Config]) -> int:
    """`load(path or None)` finds and reads services.yaml the way `lookout` does."""
    from core.auth.login import LoginError, has_desktop, login, open_in_browser
    from core.config import ConfigError

    args = build_parser().parse_args(list(argv))
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(exc)
        return 2
    service = _remote_mcp(config, args.service)
    if isinstance(service, str):
        print(f"lookout login: {service}")
        return 2
    browser = None if args.no_browser or not has_desktop() else open_in_browser
    try:
        path = asyncio.run(login(service, say=lambda text: print(text, flush=True), open_browser=browser))
    except (LoginError, Exception) as exc:  # the SDK's OAuth errors, network errors: all a failed sign-in
        print(f"lookout login: {service.name}: sign-in failed: {config.redact(str(exc)) or type(exc).__name__}")
        return 1
    print(f"Signed in to {service.name}; tokens stored in {path}")
    return 0


def _remote_mcp(config: Config, name: str) -> McpService | str:
    """The named service if it is a remote MCP server, else why not."""
    service = config.services.get(name)
    if service is None:
        known = ", ".join(sorted(config.services)) or "none"
        return f"no service named {name!r} (services: {known})"
    if not isinstance(service, McpService) or service.transport == "stdio":
        return f"{name} is not a remote MCP server (login is for MCP servers reached by url)"
    return service
