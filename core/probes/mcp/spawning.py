"""Starting a stdio server: the environment it inherits, and the pipes Lookout keeps to it.

Kept apart from the transport (`stdio`) so a server can be started before any
session exists (`early`) exactly as a session starts one, and so neither waits
for the mcp SDK's import: the only thing taken from the SDK, the variables a
server inherits, is copied here.
"""

from __future__ import annotations

import os
import sys

from core.config import McpService
from core.probes.mcp.pipes import ServerPipes
from core.processes import Spawned, spawn

INHERITED_ENV = (
    (
        "APPDATA",
        "HOMEDRIVE",
        "HOMEPATH",
        "LOCALAPPDATA",
        "PATH",
        "PATHEXT",
        "PROCESSOR_ARCHITECTURE",
        "SYSTEMDRIVE",
        "SYSTEMROOT",
        "TEMP",
        "USERNAME",
        "USERPROFILE",
    )
    if sys.platform == "win32"
    else ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
)
"""What a server inherits of our environment: the SDK's `DEFAULT_INHERITED_ENV_VARS`, copied so spawning a
server does not wait for the SDK's import (a test holds the two equal)."""


def server_environment(service: McpService) -> dict[str, str]:
    """What the server sees: the SDK's safe inherited variables (HOME, PATH, ...) plus the service's own.

    As the SDK's `get_default_environment`: a value that starts with "()" (a shell function) is not passed on."""
    inherited: dict[str, str] = {}
    for name in INHERITED_ENV:
        value = os.environ.get(name)
        if value is not None and not value.startswith("()"):
            inherited[name] = value
    return inherited | dict(service.env)


async def spawn_server(service: McpService) -> tuple[Spawned, ServerPipes, int]:
    """Spawn the service's server: (the process, our ends of its stdin and stdout, the read end of its stderr).

    Stderr is a pipe of its own, non-blocking, for the caller to drain (and close)."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        spawned, pipes = await spawn(
            [service.command or "", *service.args],
            ServerPipes,
            env=server_environment(service),
            cwd=service.cwd,
            stderr=write_fd,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the child holds its own copy; ours must go so EOF arrives when it exits
    return spawned, pipes, read_fd
