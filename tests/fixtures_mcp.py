"""MCP servers from core/demo/mcp_servers.py: launched over stdio, served over streamable HTTP and SSE."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.demo.mcp_servers import asgi_app
from core.demo.serve import serve_in_thread


def stdio_service(name: str, *args: str, tag: str = "", **extra: Any) -> dict[str, Any]:
    """A services.yaml entry that launches one of the demo servers with this Python."""
    env = {"LOOKOUT_TEST_TAG": tag} if tag else {}
    env.update(extra.pop("env", {}))
    return {
        "kind": "mcp",
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", "core.demo.mcp_servers", name, *args],
        "cwd": str(Path(__file__).resolve().parent.parent),
        "env": env,
        **extra,
    }


def tagged_processes(tag: str) -> list[int]:
    """PIDs of live processes carrying LOOKOUT_TEST_TAG=tag in their environment (children inherit it)."""
    marker = f"LOOKOUT_TEST_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != b"Z":
            found.append(int(entry))
    return found


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="session")
def mcp_http_url() -> Iterator[str]:
    served = serve_in_thread(asgi_app("docs", "http"))
    try:
        yield f"{served.url}/mcp"
    finally:
        served.stop()


@pytest.fixture(scope="session")
def mcp_http_legacy_url() -> Iterator[str]:
    served = serve_in_thread(asgi_app("docs", "http", era="legacy"))
    try:
        yield f"{served.url}/mcp"
    finally:
        served.stop()


@pytest.fixture(scope="session")
def mcp_sse_url() -> Iterator[str]:
    served = serve_in_thread(asgi_app("docs", "sse"))
    try:
        yield f"{served.url}/sse"
    finally:
        served.stop()
