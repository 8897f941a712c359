"""`lookout silence SERVICE|tag:NAME DURATION [--reason TEXT]`, `--list`, `--expire ID`.

Writes into the history file (a short write through SQLite's locking, next to
the process recording it, which polls the table and stops notifying within
seconds). Never loads the config or Textual: dispatched from tui/cli.py first.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.alerts.silences import add_silence, expire_silence, read_silences
from core.durations import format_duration, parse_duration
from core.history.paths import default_history_path
from core.sanitize import clean_line

EXIT_OK = 0
EXIT_ERROR = 3
MAX_SILENCE = 90 * 86400.0
"""A silence longer than a quarter is forgotten, not meant: make it a maintenance window instead."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout silence",
        description="Stop alert notifications for a service (or every service with a tag) for a while. "
        "Probes go on and incidents are still recorded.",
    )
    parser.add_argument("target", nargs="?", help="a service name, or tag:NAME")
    parser.add_argument("duration", nargs="?", help="how long, e.g. 30m, 2h, 1d")
    parser.add_argument("--reason", default="", help="why (shown in --list)")
    parser.add_argument("--list", action="store_true", help="show the silences not ended yet")
    parser.add_argument("--expire", type=int, metavar="ID", help="end the silence with this id now")
    parser.add_argument("--format", choices=["table", "json"], default="table", help="for --list")
    parser.add_argument("--history", metavar="PATH", help=f"the history file (default: {default_history_path()})")
    return parser


def main(argv: Sequence[str], *, now: float | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    path = Path(args.history) if args.history else default_history_path()
    at = time.time() if now is None else now
    try:
        if args.list:
            return _list(path, at, args.format)
        if args.expire is not None:
            if expire_silence(path, args.expire, now=at):
                print(f"silence {args.expire} expired")
                return EXIT_OK
            print(f"lookout silence: no active silence {args.expire} in {path}", file=sys.stderr)
            return EXIT_ERROR
        if not args.target or not args.duration:
            parser.print_usage(sys.stderr)
            print(
                "lookout silence: give a service (or tag:NAME) and a duration, --list or --expire ID", file=sys.stderr
            )
            return EXIT_ERROR
        target = args.target.strip()
        if not target or not target.isprintable() or target == "tag:":
            print(f"lookout silence: {clean_line(target, 60)!r} is not a service name or tag:NAME", file=sys.stderr)
            return EXIT_ERROR
        try:
            seconds = parse_duration(args.duration, maximum=MAX_SILENCE)
        except ValueError as error:
            print(f"lookout silence: duration: {error}", file=sys.stderr)
            return EXIT_ERROR
        if seconds <= 0:
            print("lookout silence: duration: must be more than 0", file=sys.stderr)
            return EXIT_ERROR
        silence = add_silence(path, target, seconds, args.reason, now=at)
    except (sqlite3.Error, OSError) as error:
        print(f"lookout silence: {path}: {error}", file=sys.stderr)
        return EXIT_ERROR
    until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(silence.ends))
    print(f"silence {silence.id}: {silence.target} for {format_duration(seconds)}, until {until}")
    return EXIT_OK


def _list(path: Path, at: float, form: str) -> int:
    silences = read_silences(path, now=at)
    if form == "json":
        rows = [
            {"id": s.id, "target": s.target, "starts": s.starts, "ends": s.ends, "reason": s.reason} for s in silences
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not silences:
        print("no silences")
        return EXIT_OK
    print(f"{'ID':>4}  {'TARGET':<24} {'LEFT':>8}  REASON")
    for s in silences:
        left = format_duration(max(0.0, s.ends - max(at, s.starts)))
        print(f"{s.id:>4}  {clean_line(s.target, 24):<24} {left:>8}  {clean_line(s.reason, 60)}")
    return EXIT_OK
