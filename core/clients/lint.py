"""What is risky in the client files themselves, said before anything is probed.

- a plaintext secret: a token pasted into `env`, `headers` or an argument, where a
  `${...}` reference would keep it out of the file (and out of every backup of it);
- an unpinned package: `npx -y pkg`, `pkg@latest`, `uvx pkg` run whatever was published
  last, so a server can change under its user without a config change;
- a command not on PATH: the client will fail to start it;
- one name defined differently by two clients: the same name is not the same server.

Findings quote where (file:line, server) and never the secret itself.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from core.clients.build import merge
from core.clients.expand import REFERENCE
from core.clients.model import ClientFile, ClientServer
from core.config.errors import ConfigIssue
from core.redact import is_credential_name

TOKEN_SHAPES = re.compile(
    r"^(ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|sk-|sk_live_|rk_live_|xox[abprs]-|AKIA|AIza|ya29\.|eyJ)[A-Za-z0-9_\-.=]{8,}"
)
"""Prefixes of well-known token formats: a value shaped like one is a secret whatever its key."""
SECRET_FLAG = re.compile(r"^--?(?P<name>[A-Za-z0-9_-]+)(?:=(?P<value>.*))?$")
RUNNERS = {"npx": "npm", "bunx": "npm", "uvx": "pypi", "pipx": "pypi"}


@dataclass(frozen=True)
class Finding:
    kind: str
    """"secret", "unpinned", "missing-command" or "conflict"."""
    server: str
    client: str
    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.server} ({self.client}): {self.message}"


def lint(files: Sequence[ClientFile], *, env: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding in these files, in file order, then the cross-client conflicts."""
    path = (os.environ if env is None else env).get("PATH", os.defpath)
    findings: list[Finding] = []
    for file in files:
        for server in file.servers:
            findings += _server_findings(server, path)
    findings += conflicts(files)
    return findings


def as_warnings(findings: Sequence[Finding]) -> list[ConfigIssue]:
    """Findings as config warnings: what `--check` prints and the monitor's log shows."""
    return [ConfigIssue(str(f.file), f.line, f.server, f"warning: {f.kind}: {f.message}") for f in findings]


def _finding(server: ClientServer, kind: str, message: str, field: str | None = None) -> Finding:
    line = server.field_lines.get(field, server.line) if field else server.line
    return Finding(kind, server.name, server.client, server.file, line, message)


def _server_findings(server: ClientServer, path: str) -> list[Finding]:
    found = [_finding(server, "secret", message, field) for field, message in plaintext_secrets(server.raw)]
    command = server.raw.get("command")
    args = server.raw.get("args")
    if isinstance(command, str) and command:
        arg_list = [str(a) for a in args] if isinstance(args, list) else []
        problem = unpinned(command, arg_list)
        if problem:
            found.append(_finding(server, "unpinned", problem, "args"))
        if not server.disabled and not server.needs and not on_path(command, path):
            found.append(_finding(server, "missing-command", f"command {command!r} is not on PATH", "command"))
    return found


def _is_literal(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not REFERENCE.search(value)


def plaintext_secrets(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for each secret written out in the entry rather than referenced."""
    found: list[tuple[str, str]] = []
    for field in ("env", "headers", "http_headers"):
        block = raw.get(field)
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            if _is_literal(value) and (is_credential_name(str(key)) or TOKEN_SHAPES.match(str(value))):
                found.append(("env" if field == "env" else "headers", f"{field}.{key} holds a secret in plain text"))
    args = raw.get("args")
    if isinstance(args, list):
        for index, arg in enumerate(args):
            if not isinstance(arg, str):
                continue
            flag = SECRET_FLAG.match(arg)
            value = None
            if flag and is_credential_name(flag["name"]):
                value = flag["value"] if flag["value"] is not None else _next(args, index)
            elif TOKEN_SHAPES.match(arg):
                value = arg
            if value is not None and _is_literal(value):
                found.append(("args", f"args[{index}] passes a secret in plain text"))
    for field in ("url", "serverUrl", "httpUrl"):
        url = raw.get(field)
        if isinstance(url, str) and _is_literal(url) and re.search(r"://[^/@\s]+:[^/@\s]+@", url):
            found.append(("url", f"{field} holds a password in plain text"))
    return found


def _next(args: list[Any], index: int) -> str | None:
    follows = args[index + 1] if index + 1 < len(args) else None
    return follows if isinstance(follows, str) and not follows.startswith("-") else None


def unpinned(command: str, args: Sequence[str]) -> str:
    """Why this command line runs an unpinned package, or ""."""
    runner = PurePath(command).name.lower().removesuffix(".cmd").removesuffix(".exe")
    rest = list(args)
    if runner in ("pnpm", "yarn") and rest[:1] == ["dlx"]:
        runner, rest = "npx", rest[1:]
    if runner == "pipx" and rest[:1] == ["run"]:
        rest = rest[1:]
    if runner not in RUNNERS:
        return ""
    package = _package(runner, rest)
    if package is None:
        return ""
    if package.endswith("@latest"):
        return f"{runner} {package}: @latest runs whatever was published last; pin a version"
    npm = RUNNERS[runner] == "npm"
    pinned = "@" in package.lstrip("@") if npm else bool(re.search(r"==|@|>=|<=|~=", package))
    if not pinned:
        return f"{runner} {package}: no version, so each start may run a new release; pin one (e.g. {package}@1.2.3)"
    return ""


def _package(runner: str, args: Sequence[str]) -> str | None:
    """The package a runner is asked to run: `--from pkg` for uvx, else its first non-flag argument."""
    skip_next = {"--package", "-p", "--from", "--with", "--python", "--spec", "--index-url"}
    iterator = iter(range(len(args)))
    for index in iterator:
        arg = args[index]
        if arg in ("--from", "--package", "-p", "--spec") and index + 1 < len(args):
            return args[index + 1]
        if arg in skip_next:
            next(iterator, None)
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def on_path(command: str, path: str) -> bool:
    if os.sep in command or (os.altsep and os.altsep in command):
        return Path(command).expanduser().is_file()
    return shutil.which(command, path=path) is not None


def conflicts(files: Sequence[ClientFile]) -> list[Finding]:
    """One name, different definitions, in different clients."""
    found = []
    entries = merge(files)
    names = {entry.name for entry in entries}
    for entry in entries:
        first = entry.first
        if entry.name == first.name or first.name not in names:
            continue
        original = next(e for e in entries if e.name == first.name)
        others = ", ".join(original.clients)
        message = f"defined differently in {others}: Lookout monitors this one as {entry.name!r}"
        found.append(Finding("conflict", first.name, first.client, first.file, first.line, message))
    return found
