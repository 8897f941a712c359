"""A bearer token printed by a command (`gh auth token`), run without a shell and kept as a secret.

The command runs with a timeout, its own process group (killed whole if it
hangs), no stdin, and at most `OUTPUT_LIMIT` bytes of output read. Its first
non-empty line is the token: registered with the redactor before it is used,
so no log line, reason or report can show it; a failure's reason quotes the
command's stderr through the same redactor. A token is reused for the
service's `token_cache`, by every probe of the process that runs the same
command, and forgotten at once when a server refuses it (the next probe asks
the command again, which may have refreshed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.redact import Redactor, register_secret
from core.results import ProbeError
from core.sanitize import clean_line

COMMAND_TIMEOUT = 10.0
"""Seconds a token command may take (`gh auth token` takes a few hundred milliseconds)."""
OUTPUT_LIMIT = 64 * 1024
"""Bytes of output read at most: a token is a line, not a file."""


@dataclass(slots=True)
class _Cached:
    token: str
    fetched_at: float


class TokenCommands:
    """Tokens per command line, each reused for the asking service's `token_cache` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tokens: dict[tuple[str, ...], _Cached] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}

    async def token(self, command: Sequence[str], *, max_age: float, timeout: float = COMMAND_TIMEOUT) -> str:
        """The command's token, run again only when the cached one is older than `max_age`."""
        key = tuple(command)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # two services sharing a command run it once
            cached = self._tokens.get(key)
            if cached is not None and self.clock() - cached.fetched_at < max_age:
                return cached.token
            token = await run_token_command(command, timeout=timeout)
            self._tokens[key] = _Cached(token, self.clock())
            return token

    def forget(self, command: Sequence[str]) -> None:
        """Drop the cached token (a server refused it): the next probe runs the command again."""
        self._tokens.pop(tuple(command), None)


TOKENS = TokenCommands()
"""Shared by every probe of the process."""


async def run_token_command(command: Sequence[str], *, timeout: float = COMMAND_TIMEOUT) -> str:
    """Run `command` and return the first non-empty line it prints; a reason if it fails or prints none."""
    name = os.path.basename(command[0])
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ProbeError(f"token_command not found: {name}", retryable=False) from None
    except PermissionError:
        raise ProbeError(f"token_command {name}: permission denied", retryable=False) from None
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await _read_bounded(process)
    except TimeoutError:
        raise ProbeError(f"token_command {name} did not finish within {timeout:g}s") from None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await process.wait()
    token = next((line.strip() for line in stdout.decode(errors="replace").splitlines() if line.strip()), "")
    if token:
        register_secret(token)
    if process.returncode != 0:
        said = _last_line(stderr, Redactor([token] if token else []))
        raise ProbeError(
            f"token_command {name} exited with code {process.returncode}" + (f": {said}" if said else ""),
            retryable=False,
        )
    if not token:
        raise ProbeError(f"token_command {name} printed no token", retryable=False)
    return token


async def _read_bounded(process: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Both pipes to their end, at most `OUTPUT_LIMIT` bytes each; a command that says more is killed."""
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = await asyncio.gather(_upto(process.stdout), _upto(process.stderr))
    if len(stdout) >= OUTPUT_LIMIT or len(stderr) >= OUTPUT_LIMIT:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
    return stdout, stderr


async def _upto(stream: asyncio.StreamReader) -> bytes:
    data = bytearray()
    while len(data) < OUTPUT_LIMIT:
        chunk = await stream.read(OUTPUT_LIMIT - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _last_line(stderr: bytes, redact: Redactor) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return clean_line(redact(lines[-1]), 200) if lines else ""
