"""Which YAML files are plainly a services.yaml, known without importing the MCP clients' readers.

`lookout -c services.yaml` is the common case. Deciding it through core.clients.detect imports every
client's reader (and with them the probes and asyncio), a good part of `lookout --check`'s start-up.
detect uses the Continue rule from here too, so the two answers cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

YAML_SUFFIXES = (".yaml", ".yml")


def in_continue_folder(path: Path) -> bool:
    """`.continue/config.yaml` or `.continue/mcpServers/*.yaml`: where Continue keeps its YAML."""
    folder, grand = path.parent.name, path.parent.parent.name
    return folder == ".continue" or (folder == "mcpServers" and grand == ".continue")


def plainly_services_yaml(path: Path, text: str) -> bool:
    """True only when core.clients.detect would read the file as a services.yaml: a YAML file outside
    Continue's folders with no `mcpServers` in it (Continue's list is the one YAML client format).
    False means "ask detect", which decides every other case."""
    return path.suffix.lower() in YAML_SUFFIXES and not in_continue_folder(path) and "mcpServers" not in text
