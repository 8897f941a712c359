"""Each client's own variable syntax, applied exactly as that client applies it.

Several clients share the `mcpServers` shape but not its interpolation: Claude
Desktop substitutes nothing (`pa$$word` stays as written), Claude Code expands
`${VAR}` and `${VAR:-default}`, Cursor and VS Code `${env:NAME}`, `${userHome}` and
`${workspaceFolder}` (VS Code also `${input:id}`), Windsurf `${env:NAME}`, Gemini CLI
`$VAR` and `${VAR}`, Continue `${{ secrets.NAME }}`. A value a client would ask the
user for (a VS Code input, a Continue secret) or refuse to start without (Claude Code's
unset variable) makes the server "unknown: needs ...": headless, Lookout cannot know it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.redact import is_credential_name


def input_variable(input_id: str) -> str:
    """The environment variable that answers VS Code's `${input:ID}` headless: LOOKOUT_INPUT_<ID>."""
    return "LOOKOUT_INPUT_" + re.sub(r"[^A-Za-z0-9]", "_", input_id).upper()


@dataclass
class Expander:
    """Expands one entry's strings in one dialect, collecting what it substituted and what it lacked."""

    dialect: str
    env: Mapping[str, str]
    home: Path
    workspace: Path
    separator: str = "/"
    secrets: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def __call__(self, value: Any) -> Any:
        """The value with every string in it expanded (keys are left alone, as every client does)."""
        if isinstance(value, str):
            return _DIALECTS[self.dialect](self, value)
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value

    def from_env(self, name: str) -> str | None:
        value = self.env.get(name)
        if value and is_credential_name(name):
            self.secrets.append(value)
        return value

    def lack(self, what: str) -> None:
        if what not in self.missing:
            self.missing.append(what)


def _none(expander: Expander, text: str) -> str:
    return text


_CLAUDE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _claude_code(expander: Expander, text: str) -> str:
    """`${VAR}`, `${VAR:-default}` (the default when VAR is unset or empty); an unset VAR without one
    keeps the server from starting, as in Claude Code."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = expander.from_env(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            expander.lack(f"environment variable {name}")
        return value or ""

    return _CLAUDE.sub(one, text)


_VSCODE = re.compile(r"\$\{([^}]+)\}")


def _editor(expander: Expander, text: str, *, inputs: bool) -> str:
    """VS Code's variables (Cursor reads the same subset): an unset `${env:X}` is empty, as in VS Code;
    a variable this dialect does not know is left as written."""

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        kind, _, argument = body.partition(":")
        if kind == "env" and argument:
            return expander.from_env(argument) or ""
        if kind == "input" and argument and inputs:
            variable = input_variable(argument)
            value = expander.env.get(variable)
            if value is None:
                expander.lack(f"input {argument} (set {variable})")
                return ""
            expander.secrets.append(value)  # an input is what a client prompts for: treated as a secret
            return value
        if body == "userHome":
            return str(expander.home)
        if body == "workspaceFolder":
            return str(expander.workspace)
        if body == "workspaceFolderBasename":
            return expander.workspace.name
        if body in ("pathSeparator", "/"):
            return expander.separator
        return match.group(0)

    return _VSCODE.sub(one, text)


def _vscode(expander: Expander, text: str) -> str:
    return _editor(expander, text, inputs=True)


def _cursor(expander: Expander, text: str) -> str:
    return _editor(expander, text, inputs=False)


_WINDSURF = re.compile(r"\$\{env:([^}]+)\}")


def _windsurf(expander: Expander, text: str) -> str:
    """Only `${env:NAME}`; an unset variable keeps the server from starting."""

    def one(match: re.Match[str]) -> str:
        value = expander.from_env(match.group(1))
        if value is None:
            expander.lack(f"environment variable {match.group(1)}")
            return ""
        return value

    return _WINDSURF.sub(one, text)


_GEMINI = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _gemini(expander: Expander, text: str) -> str:
    """`$VAR` and `${VAR}`; an unset variable is left as written, as Gemini CLI leaves it."""

    def one(match: re.Match[str]) -> str:
        value = expander.from_env(match.group(1) or match.group(2))
        return match.group(0) if value is None else value

    return _GEMINI.sub(one, text)


_CONTINUE = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_.-]+)\s*\}\}")


def _continue(expander: Expander, text: str) -> str:
    """`${{ secrets.NAME }}`: Continue asks its hub or its .env; headless, the variable NAME answers."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        value = expander.env.get(name)
        if value is None:
            expander.lack(f"secret {name} (set {name})")
            return ""
        expander.secrets.append(value)  # a Continue secret is a secret whatever its name
        return value

    return _CONTINUE.sub(one, text)


_DIALECTS: dict[str, Callable[[Expander, str], str]] = {
    "none": _none,
    "claude-code": _claude_code,
    "vscode": _vscode,
    "cursor": _cursor,
    "windsurf": _windsurf,
    "gemini": _gemini,
    "continue": _continue,
}

REFERENCE = re.compile(r"\$\{\{?\s*[^}]+\}\}?|\$[A-Za-z_][A-Za-z0-9_]*")
"""Any variable reference in any dialect: a value holding one is not a pasted secret (the lint)."""
