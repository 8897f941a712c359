"""The mcp SDK, imported on first need, in a worker thread, while a stdio server boots.

Importing the SDK's client costs most of a second of CPU (hundreds of pydantic
models for two protocol eras, and the server half its package imports). A
stdio server written with the SDK pays the same at its own start. Done one
after the other, as `import mcp` at the top of the probe did, `lookout --once`
waited for both; so no module of this package imports the SDK at its top, a
stdio session spawns its server first and only then waits for `load()`, and
the two imports run side by side (another core, or at least the server's I/O
while we compute).

The import runs in a worker thread, never in the event loop's: a daemon or
the terminal app whose first MCP probe starts does not freeze for it. The
thread only imports; everything else (spawning above all, see core.processes)
stays in the loop's thread. Once loaded, `load()` returns at once.

The cyclic collector is paused while it imports (`core.collector.collections_paused`): the import
makes hundreds of thousands of objects that live as long as the process, and the collector, set
off by their number, walked the growing heap again and again and found nothing: ~12% of the
import's CPU.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.shared.exceptions import MCPError

CLIENT_MODULES = (
    "mcp_types",
    "mcp_types.version",
    "mcp.shared.exceptions",
    "mcp.shared.message",
    "mcp.client.client",
    "mcp.client.sse",
    "mcp.client.streamable_http",
)
"""What a session needs: the client, its transports, the types and the exceptions a probe tells apart."""

_lock = threading.Lock()
_loading: Future[None] | None = None


def loaded() -> bool:
    """Whether every module a session needs is imported already."""
    return all(name in sys.modules for name in CLIENT_MODULES)


async def load() -> None:
    """Import the client's modules in a worker thread (once per process; concurrent callers share it).

    Raises what the import raised (a broken installation is every MCP probe's failure, as it was at
    import time). A cancelled caller stops waiting; the import itself runs to its end.
    """
    if loaded():
        return
    await asyncio.wrap_future(_start())


def _start() -> Future[None]:
    global _loading
    with _lock:
        if _loading is None or (_loading.done() and _loading.exception() is not None):
            _loading = Future()
            _loading.set_running_or_notify_cancel()  # a waiter that gives up cancels its wait, never the import
            # Not a daemon: the interpreter's exit waits for the import to end, rather than freezing the thread
            # mid-import while it holds a module's import lock that the exit itself may need.
            threading.Thread(target=_import_all, args=(_loading,), name="mcp-sdk-import", daemon=False).start()
        return _loading


def _import_all(result: Future[None]) -> None:
    from core.collector import collections_paused

    try:
        with collections_paused():
            for name in CLIENT_MODULES:
                importlib.import_module(name)
    except BaseException as error:  # reported to every waiter, not lost in the thread
        result.set_exception(error)
    else:
        result.set_result(None)


def mcp_error_type() -> type[MCPError] | None:
    """The SDK's JSON-RPC error class, or None while the SDK is not imported (so no such error can exist yet).

    Telling failures apart must not import the SDK in the event loop's thread: a server that failed
    to start before the SDK finished loading raised nothing of the SDK's."""
    module = sys.modules.get("mcp.shared.exceptions")
    return None if module is None else module.MCPError
