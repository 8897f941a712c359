"""`lookout discover`: find every MCP client's config on this machine, read each as its client does.

The places come from core.clients.locations (a pure function of platform, home and
environment); here they meet the disk. A file that cannot be read is reported with
its own error and the others still count: one broken settings.json must not hide the rest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from core.clients.build import client_config, merge
from core.clients.detect import FORMATS, MAX_CLIENT_FILE_BYTES
from core.clients.formats.common import ClientFormat
from core.clients.lint import TOKEN_SHAPES, Finding, lint
from core.clients.locations import Location, all_locations
from core.clients.model import ClientFile, ClientServer, LoadContext
from core.config.errors import ConfigError
from core.config.loader import Config, read_config_text
from core.redact import Redactor, arg_secrets, credential_part, is_credential_name
from core.sanitize import clean_line

FORMATS_BY_KEY: dict[str, ClientFormat] = {fmt.key: fmt for fmt in FORMATS}
DIRECTORY_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Discovery:
    """What was found: files read, files that failed, and every place looked at (to watch)."""

    files: list[ClientFile] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    watched: list[Path] = field(default_factory=list)


def discover(ctx: LoadContext) -> Discovery:
    """Read every client config present at its standard place (user level, then the cwd and up)."""
    found = Discovery()
    seen: set[Path] = set()
    for location in all_locations(ctx.platform, ctx.home, ctx.env, ctx.cwd):
        path = Path(location.path)
        for candidate in _files_at(location, path):
            if candidate in seen:
                continue
            seen.add(candidate)
            found.watched.append(candidate)
            if not candidate.is_file():
                continue
            try:
                text = read_config_text(candidate, max_bytes=MAX_CLIENT_FILE_BYTES)
                file = _read(location, candidate, text, ctx)
            except ConfigError as error:
                found.errors.append(error)
                continue
            if file.servers or file.issues:
                found.files.append(file)
    return found


def _files_at(location: Location, path: Path) -> list[Path]:
    if not location.directory:
        return [path]
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix in DIRECTORY_SUFFIXES)


def _read(location: Location, path: Path, text: str, ctx: LoadContext) -> ClientFile:
    fmt = FORMATS_BY_KEY[location.format]
    if location.directory and path.suffix == ".json":  # Continue reads Claude-style JSON dropped in its folder
        file = FORMATS_BY_KEY["claude-code"].read(text, path, ctx)
        file.client = fmt.label
        file.servers = [_relabel(server, fmt.label) for server in file.servers]
        return file
    return fmt.read(text, path, ctx)


def _relabel(server: ClientServer, client: str) -> ClientServer:
    return replace(server, client=client)


def discovered_config(discovery: Discovery) -> Config:
    """The fleet of every discovered file (a server two clients share is one service)."""
    if not discovery.files:
        raise ConfigError.single("lookout", "no MCP client configs found (`lookout discover` lists where it looked)")
    return client_config(discovery.files)


def render(discovery: Discovery, findings: list[Finding]) -> str:
    """client -> file -> server, then servers several clients share, then errors and lint findings."""
    lines: list[str] = []
    by_client: dict[str, list[ClientFile]] = {}
    for file in discovery.files:
        by_client.setdefault(file.client, []).append(file)
    for client, files in by_client.items():
        lines.append(client)
        for file in files:
            lines.append(f"  {_safe(file.path)}")
            for server in file.servers:
                lines.append(f"    {_safe(server.name)}  {_describe(server)}")
            for issue in file.issues:
                lines.append(f"    ! {_safe(issue)}")
    shared = [entry for entry in merge(discovery.files) if len(entry.clients) > 1]
    if shared:
        lines += ["", "Shared servers"]
        lines += [f"  {_safe(entry.name)}  used by: {', '.join(entry.clients)}" for entry in shared]
    if discovery.errors:
        lines += ["", "Could not read"]
        lines += [f"  {_safe(issue)}" for error in discovery.errors for issue in error.issues]
    if findings:
        lines += ["", "Lint"]
        lines += [f"  {finding.kind}: {_safe(finding)}" for finding in findings]
    if not discovery.files and not discovery.errors:
        lines.append("no MCP client configs found")
    return "\n".join(lines)


def _safe(value: object) -> str:
    """Names, paths and values come from files: shown on one line, without terminal escapes."""
    return clean_line(str(value), None)


def _describe(server: ClientServer) -> str:
    service = server.service
    if server.disabled:
        state = "disabled"
    elif server.needs:
        state = f"unknown: needs {server.needs}"
    else:
        state = ""
    target = service.get("url") or " ".join([str(service.get("command") or ""), *map(str, service.get("args") or [])])
    transport = service.get("transport") or ("url" if service.get("url") else "")
    shown = _safe(Redactor([*server.secrets, *_pasted_arg_secrets(service.get("args"))])(target.strip()))
    state = _safe(state)
    text = f"[{transport}] {shown}" if transport else shown
    return f"{text}  ({state})" if state else text


class _References(Mapping[str, str]):
    """An environment where every variable is set to a marker: re-reading a file with it turns each
    client's reference syntax into services.yaml's `${NAME}`, without any value entering the output."""

    def __getitem__(self, key: str) -> str:
        return f"\x00{key}\x00"

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def _as_services_yaml(value: Any) -> Any:
    if isinstance(value, str):
        parts = value.split("\x00")
        return "".join(part.replace("$", "$$") if i % 2 == 0 else "${" + part + "}" for i, part in enumerate(parts))
    if isinstance(value, dict):
        return {key: _as_services_yaml(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_services_yaml(item) for item in value]
    return value


def write_services_yaml(discovery: Discovery, ctx: LoadContext) -> str:
    """A commented services.yaml monitoring every discovered server. References stay references
    (`${env:GITHUB_TOKEN}` becomes `${GITHUB_TOKEN}`, `${input:key}` `${LOOKOUT_INPUT_KEY}`); literal
    values are copied as written, with `$` doubled so services.yaml reads them unchanged."""
    marked = LoadContext(env=_References(), home=ctx.home, cwd=ctx.cwd, all_projects=ctx.all_projects)
    files = []
    for file in discovery.files:
        key = _key(file.client)
        location = Location(key, Path(file.path), "user", key == "continue" and file.path.parent.name == "mcpServers")
        text = read_config_text(file.path, max_bytes=MAX_CLIENT_FILE_BYTES)
        files.append(_read(location, file.path, text, marked))
    out = ["# Written by `lookout discover --write`: the MCP servers of this machine's clients.", "services:"]
    for entry in merge(files):
        server = entry.first
        out.append(f"  # {', '.join(entry.clients)}: {server.file}" + (f":{server.line}" if server.line else ""))
        settings = {key: value for key, value in server.service.items() if value not in (None, [], {})}
        settings["description"] = f"used by: {', '.join(entry.clients)}"
        settings, moved = _secrets_to_references(entry.name, _as_services_yaml(settings))
        if moved:
            out.append(f"  # a secret was written out in the client file: export {', '.join(moved)} instead")
        body = yaml.safe_dump({entry.name: settings}, sort_keys=False, allow_unicode=True)
        block = [f"  {line}" for line in body.rstrip().splitlines()]
        if entry.disabled:
            out.append(f"  # disabled in {', '.join(entry.clients)}:")
            block = [f"  # {line[2:]}" for line in block]
        out += block
    return "\n".join(out) + "\n"


def _secrets_to_references(name: str, settings: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A token pasted into a client file is not copied into another file: it becomes a `${VAR}` reference
    (the env key itself for `env`, SERVER_HEADER for a header) that the user exports."""
    moved: list[str] = []
    for field_name in ("env", "headers"):
        block = settings.get(field_name)
        if not isinstance(block, dict):
            continue
        for key, value in list(block.items()):
            if not isinstance(value, str) or "${" in value:
                continue
            if is_credential_name(str(key)) or TOKEN_SHAPES.match(value):
                variable = str(key) if field_name == "env" else re.sub(r"[^A-Za-z0-9]", "_", f"{name}_{key}").upper()
                scheme = credential_part(value)
                block[key] = value.replace(scheme, "${" + variable + "}") if scheme != value else "${" + variable + "}"
                moved.append(variable)
    args = settings.get("args")
    pasted = [secret for secret in _pasted_arg_secrets(args) if "${" not in secret]
    if isinstance(args, list) and pasted:
        variable = re.sub(r"[^A-Za-z0-9]", "_", f"{name}_secret").upper()
        for number, secret in enumerate(dict.fromkeys(pasted), start=1):
            reference = variable if len(pasted) == 1 else f"{variable}_{number}"
            settings["args"] = [str(arg).replace(secret, "${" + reference + "}") for arg in settings["args"]]
            moved.append(reference)
    return settings, moved


def _pasted_arg_secrets(args: Any) -> list[str]:
    """Arguments that are secrets: after a `--token`-style flag, or shaped like a known token."""
    if not isinstance(args, list):
        return []
    texts = [str(arg) for arg in args]
    return [*arg_secrets(texts), *(arg for arg in texts if TOKEN_SHAPES.match(arg))]


def _key(label: str) -> str:
    return next(fmt.key for fmt in FORMATS if fmt.label == label)


def environment_context(all_projects: bool = False, env: Mapping[str, str] | None = None) -> LoadContext:
    return LoadContext(env=dict(os.environ if env is None else env), all_projects=all_projects)


def lint_discovery(discovery: Discovery, ctx: LoadContext) -> list[Finding]:
    return lint(discovery.files, env=ctx.env)
