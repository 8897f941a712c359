"""`lookout tools diff SERVICE` and `lookout tools approve SERVICE`: an MCP server's tools against their pin.

`diff` prints what differs between the approved tools and the ones last listed
(exit 0: nothing, 1: a difference, 3: no pin); `approve` makes the tools last
listed the approved ones. Both work on the history file directly, while a monitor
runs: its next look at the pin (within seconds) sees the approval.
Never imports Textual (dispatched from tui/cli.py before the app is loaded).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from core.history.paths import default_history_path
from core.pins.diff import render_changes
from core.pins.store import PinRecord, PinStore

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_ERROR = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout tools",
        description="An MCP server's tools against the approved ones (its pin, kept in the history file).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("diff", "show what differs between the approved tools and the ones last listed (exit 1 if any)"),
        ("approve", "approve the tools last listed"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("service")
        command.add_argument("--history", metavar="PATH", help=f"the history file (default: {default_history_path()})")
        if name == "diff":
            command.add_argument("--format", choices=["text", "json"], default="text")
    return parser


def main(argv: Sequence[str], *, now: float | None = None) -> int:
    args = build_parser().parse_args(list(argv))
    path = Path(args.history) if args.history else default_history_path()
    if not path.is_file():
        print(f"lookout tools: {path}: no history recorded yet, so no tools pinned", file=sys.stderr)
        return EXIT_ERROR
    store = PinStore(path)
    try:
        record = store.get(args.service)
        if record is None:
            known = ", ".join(store.services()) or "none"
            print(f"lookout tools: no tools pinned for {args.service!r} in {path} (pinned: {known})", file=sys.stderr)
            return EXIT_ERROR
        if args.command == "approve":
            return _approve(store, record, time.time() if now is None else now)
        return _diff(record, args.format)
    except sqlite3.Error as error:
        print(f"lookout tools: {path}: cannot use the pins: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        store.close()


def _diff(record: PinRecord, fmt: str) -> int:
    changes = record.changes()
    if fmt == "json":
        document = {
            "service": record.service,
            "approved_at": _when(record.approved_at),
            "seen_at": _when(record.seen_at),
            "pending": record.pending,
            "reason": record.diff().describe(),
            "changes": [
                {"tool": c.tool, "change": c.change, "field": c.field or None, "approved": c.approved, "now": c.now}
                for c in changes
            ],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif not record.pending:
        print(f"{record.service}: {len(record.seen)} tools, as approved {_when(record.approved_at)}")
    else:
        print(f"{record.service}: {record.diff().describe()} ({_when(record.approved_at)})")
        for line in render_changes(changes):
            print(f"  {line}")
        print(f"approve with: lookout tools approve {record.service}")
    return EXIT_DIFFERENT if record.pending else EXIT_SAME


def _approve(store: PinStore, record: PinRecord, now: float) -> int:
    if not record.pending:
        print(f"{record.service}: {len(record.seen)} tools, already as approved")
        return EXIT_SAME
    approved = store.approve(record.service, now, expected=record.seen_fingerprint)
    if approved is None:
        print(f"lookout tools: {record.service}: the tools changed meanwhile; look again", file=sys.stderr)
        return EXIT_ERROR
    print(f"{record.service}: approved {len(approved.approved)} tools ({record.diff().describe()})")
    return EXIT_SAME


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
