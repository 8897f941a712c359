"""`lookout history [SERVICE] [--since 7d] [--format table|json] [--history PATH]`.

Reads the file without taking its lock, so it works while a monitor records.
Never imports Textual (dispatched from tui/cli.py before the app is loaded).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from core.durations import parse_duration
from core.history.paths import default_history_path
from core.history.queries import empty_summary
from core.history.report import render_json, render_table
from core.history.store import HistoryUnavailable, open_history

EXIT_OK = 0
EXIT_ERROR = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout history", description="Uptime, latency and incidents from the recorded history."
    )
    parser.add_argument("service", nargs="?", help="one service (default: every recorded one)")
    parser.add_argument("--since", default="7d", metavar="DURATION", help="incidents since, e.g. 24h (default: 7d)")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--history", metavar="PATH", help=f"the history file (default: {default_history_path()})")
    return parser


def main(argv: Sequence[str], *, now: float | None = None) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        since = parse_duration(args.since)
    except ValueError as error:
        print(f"lookout history: --since: {error}", file=sys.stderr)
        return EXIT_ERROR
    path = args.history or default_history_path()
    try:
        store = open_history(path, record=False)
        recorded = store.services()
        names = [args.service] if args.service else recorded
        if args.service and args.service not in recorded:
            print(f"lookout history: no history for {args.service!r} in {path}", file=sys.stderr)
            return EXIT_ERROR
        at = time.time() if now is None else now
        summaries = store.summaries(names, now=at)
        incidents = store.incidents(args.service, since=at - since)
    except HistoryUnavailable as error:
        print(f"lookout history: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # sqlite3.DatabaseError and the like: a file we cannot read is a message
        print(f"lookout history: {path}: cannot read: {error}", file=sys.stderr)
        return EXIT_ERROR
    ordered = [summaries.get(name) or empty_summary(name) for name in names]
    render = render_json if args.format == "json" else render_table
    print(render(ordered, incidents, since, at))
    return EXIT_OK
