"""`lookout discover`: list every MCP client's servers on this machine, lint them, optionally write a
services.yaml that monitors them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.clients.discover import discover, environment_context, lint_discovery, render, write_services_yaml

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNKNOWN = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout discover",
        description="Find the MCP servers configured in Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, "
        "Zed, Gemini CLI, Codex, Continue and Cline (user files, and project files from here up); "
        "print client -> file -> server, and lint them.",
    )
    parser.add_argument("--all-projects", action="store_true", help="~/.claude.json: every project's servers")
    parser.add_argument("--write", metavar="FILE", help="write a commented services.yaml monitoring them")
    parser.add_argument("--force", action="store_true", help="with --write: replace an existing file")
    return parser


def main(argv: Sequence[str]) -> int:
    """Exit 0: found and nothing to lint; 1: lint findings or unreadable files; 3: nothing found or not written."""
    args = build_parser().parse_args(list(argv))
    ctx = environment_context(all_projects=args.all_projects)
    found = discover(ctx)
    findings = lint_discovery(found, ctx)
    print(render(found, findings))
    if args.write:
        target = Path(args.write)
        if not found.files:
            print("lookout discover: nothing to write", file=sys.stderr)
            return EXIT_UNKNOWN
        if target.exists() and not args.force:
            print(f"lookout discover: {target} exists (use --force to replace it)", file=sys.stderr)
            return EXIT_UNKNOWN
        target.write_text(write_services_yaml(found, ctx))
        print(f"\nwrote {target}")
    if not found.files and not found.errors:
        return EXIT_UNKNOWN
    return EXIT_PROBLEMS if findings or found.errors else EXIT_OK
