"""`lookout serve`: the command line of the daemon (tui/cli.py hands `serve ...` here, Textual never loaded)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from core.config import Config, ConfigError
from core.processes import enable_subreaper
from core.serve import DEFAULT_HOST, DEFAULT_PORT
from core.serve.auth import AuthError, require_token
from core.serve.daemon import Daemon, Listen, ListenError
from core.serve.logs import LOG_FORMATS

if TYPE_CHECKING:
    from core.history import HistoryStore

EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_BIND = 1
EXIT_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout serve",
        description="Monitor unattended: probe the fleet, serve /metrics and the status API, log every event.",
    )
    parser.add_argument("-c", "--config", metavar="FILE", help="services.yaml (default: as for `lookout`)")
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=f"{DEFAULT_HOST}:{DEFAULT_PORT}",
        help=f"address to serve on (default: {DEFAULT_HOST}:{DEFAULT_PORT}); "
        "any address but loopback needs --token-env",
    )
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="plain", help="stdout log lines (default: plain)")
    parser.add_argument(
        "--history",
        metavar="PATH",
        help="record into this history file (default: $XDG_STATE_HOME/lookout/history.db)",
    )
    parser.add_argument("--no-history", action="store_true", help="record nothing")
    parser.add_argument(
        "--no-watch",
        action="store_true",
        help="do not reload when the config file changes (SIGHUP still reloads)",
    )
    parser.add_argument(
        "--token-env",
        metavar="NAME",
        help="the environment variable holding the bearer token every request must carry",
    )
    return parser


def main(argv: Sequence[str], load: Callable[[str | None], Config]) -> int:
    """Run the daemon until SIGTERM or SIGINT (SIGHUP reloads); `load` finds and loads the config as `lookout` does."""
    args = build_parser().parse_args(list(argv))
    try:
        listen = Listen.parse(args.listen)
        token = require_token(listen.host, args.token_env, os.environ)
    except (ListenError, AuthError) as error:
        print(f"lookout serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    enable_subreaper(sole_owner=True)  # orphans of our servers come to us, to be ended, not to PID 1
    history = None if args.no_history else _open_history(args.history, config)
    daemon = Daemon(
        config,
        listen=listen,
        token=token,
        log_format=args.log_format,
        record_into=history,
        watch=not args.no_watch,
        alerts_off="--no-history" if args.no_history else "this daemon does not record the history file (see above)",
        freeze_after_start=True,
    )
    try:
        asyncio.run(daemon.run())
    except OSError as error:
        print(f"lookout serve: cannot listen on {listen.url()}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BIND
    finally:
        if history is not None:
            history.close()
    return EXIT_FAILED if daemon.failed else 0


def _open_history(path: str | None, config: Config) -> HistoryStore | None:
    """The history file to record into, or None (said on stderr: another process records there, the
    directory is read-only...): the daemon monitors either way."""
    from core.history.recording import open_recording

    return open_recording(path, config, _warn)


def _warn(message: str) -> None:
    with contextlib.suppress(OSError):
        print(f"lookout serve: {message}", file=sys.stderr)
