"""`lookout demo`: start the local demo fleet, then the monitor (or a --once report) on it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.config import ConfigError, load_config
from core.durations import parse_duration
from core.processes import enable_subreaper

EXIT_UNKNOWN = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout demo",
        description="Start a local fleet of real servers on 127.0.0.1 (HTTP APIs with rate limits, MCP "
        "servers over stdio, streamable HTTP and SSE, a flapping API, a dead one) and watch it. "
        "Needs no tokens and no internet; everything stops when you quit.",
    )
    parser.add_argument("--once", action="store_true", help="probe the fleet once, print a report, exit")
    parser.add_argument("--format", choices=["table", "json", "nagios"], default="table")
    parser.add_argument("--timeout", metavar="DURATION", default="30s", help="overall limit for --once")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--ansi", action="store_true", help="use the terminal's own 16-colour palette")
    parser.add_argument(
        "--print-config", action="store_true", help="print the demo's services.yaml (an example) and exit"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        timeout = parse_duration(args.timeout)
    except ValueError as error:
        print(f"lookout demo: --timeout: {error}", file=sys.stderr)
        return EXIT_UNKNOWN
    from core.demo.fleet import start_demo_fleet
    from tui.cli import emit

    enable_subreaper(sole_owner=True)  # what the demo's stdio servers orphan comes back to us to be ended
    fleet = start_demo_fleet()
    try:
        if args.print_config:
            return emit(fleet.config_path.read_text(encoding="utf-8").rstrip("\n"), 0)
        try:
            config = load_config(fleet.config_path)
        except ConfigError as error:  # the shipped template is tested; this would be a packaging fault
            print(error, file=sys.stderr)
            return EXIT_UNKNOWN
        if args.once:
            from tui.cli import run_once

            return run_once(config, fmt=args.format, timeout=timeout, color=args.color)
        from tui.app import run_app

        if sys.stderr.isatty():
            print(f"lookout demo: fleet config at {fleet.config_path}", file=sys.stderr)
        from core.history.recording import open_recording

        # The demo's own history file, beside its config (gone when it stops), never the user's: it keeps the
        # demo's tool pins (the changing server is degraded until approved with A) and, since this process
        # records it, evaluates the demo's alert rules (N shows what they sent to the demo's webhook).
        notices: list[str] = []
        history = open_recording(fleet.config_path.with_name("history.db"), config, warn=notices.append)
        try:
            return run_app(
                config, config_path=str(fleet.config_path), ansi=args.ansi or None, history=history, notices=notices
            )
        finally:
            if history is not None:
                history.close()
    except KeyboardInterrupt:
        return 130
    finally:
        fleet.stop()
