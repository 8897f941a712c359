"""OAuth tokens on disk, shared by every Lookout process of the user, refreshed before they expire.

One JSON file per MCP server URL under `<state dir>/oauth/`, mode 0600 in a
0700 directory, written atomically (a temporary file renamed over it). It holds
what `lookout login` obtained: the tokens, the registered client, the token
endpoint, and when the access token expires. A probe asks `bearer` for the
access token; when it expires within `REFRESH_MARGIN` it is refreshed first,
under an exclusive `fcntl` lock on a file beside it, and the file is read again
once the lock is held: if a daemon, a TUI and a cron run all notice at once,
one refreshes and the others use its result. Tokens are registered with the
redactor as soon as they are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from core.history.paths import state_dir
from core.probes.http_body import read_capped
from core.redact import register_secret

REFRESH_MARGIN = 60.0
"""Seconds before expiry at which a token is refreshed rather than sent."""
REFRESH_TIMEOUT = 10.0
BODY_LIMIT = 64 * 1024


def token_dir() -> Path:
    return state_dir() / "oauth"


def token_path(server_url: str) -> Path:
    """The file for one server: named by a hash of its URL (a URL is no file name)."""
    digest = hashlib.sha256(server_url.encode()).hexdigest()[:32]
    return token_dir() / f"{digest}.json"


def read(path: Path) -> dict[str, Any] | None:
    """The stored record, or None when there is none (or it is unreadable: then a login is needed)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write(path: Path, record: dict[str, Any]) -> None:
    """Replace the record atomically, readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def update(path: Path, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into the record under the lock, and return it."""
    with locked(path):
        record = read(path) or {}
        record.update(fields)
        write(path, record)
        return record


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `<file>.lock`: one process at a time reads-refreshes-writes the record."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def expires_at(tokens: dict[str, Any], now: float) -> float | None:
    """When an OAuth token response's access token expires (`expires_in` from `now`), None if it never says."""
    expires_in = tokens.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        return now + float(expires_in)
    return None


async def bearer(server_url: str, client: httpx2.AsyncClient, *, path: Path | None = None) -> str | None:
    """The access token stored for `server_url`, refreshed first if it is about to expire; None if none."""
    path = path or token_path(server_url)
    record = await asyncio.to_thread(read, path)
    if record is None:
        return None
    if _needs_refresh(record):
        record = await _refresh_locked(path, client)
    token = _access_token(record)
    if token:
        register_secret(token)
    return token


def _access_token(record: dict[str, Any] | None) -> str | None:
    tokens = (record or {}).get("tokens")
    token = tokens.get("access_token") if isinstance(tokens, dict) else None
    return token if isinstance(token, str) and token else None


def _needs_refresh(record: dict[str, Any]) -> bool:
    expiry = record.get("expires_at")
    tokens = record.get("tokens")
    refreshable = isinstance(tokens, dict) and isinstance(tokens.get("refresh_token"), str)
    return isinstance(expiry, int | float) and expiry - time.time() < REFRESH_MARGIN and refreshable


async def _refresh_locked(path: Path, client: httpx2.AsyncClient) -> dict[str, Any] | None:
    """Refresh under the lock (taken in a thread: flock blocks), unless another process just did."""
    lock = locked(path)
    await asyncio.to_thread(lock.__enter__)
    try:
        record = read(path)
        if record is None or not _needs_refresh(record):
            return record  # someone else refreshed it while we waited
        refreshed = await _refresh(record, client)
        if refreshed is not None:
            record = {**record, "tokens": refreshed, "expires_at": expires_at(refreshed, time.time())}
            await asyncio.to_thread(write, path, record)
        return record
    finally:
        await asyncio.to_thread(lock.__exit__, None, None, None)


async def _refresh(record: dict[str, Any], client: httpx2.AsyncClient) -> dict[str, Any] | None:
    """The token endpoint's answer to a refresh_token grant, or None (the old token is then tried as is)."""
    tokens, client_info = record.get("tokens") or {}, record.get("client_info") or {}
    endpoint = record.get("token_endpoint")
    if not isinstance(endpoint, str) or not isinstance(client_info.get("client_id"), str):
        return None
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": client_info["client_id"],
    }
    if isinstance(record.get("resource"), str):
        form["resource"] = record["resource"]
    if isinstance(client_info.get("client_secret"), str):
        form["client_secret"] = client_info["client_secret"]
    try:
        request = client.build_request("POST", endpoint, data=form, timeout=REFRESH_TIMEOUT)
        response = await client.send(request, stream=True, follow_redirects=False)
        body = await read_capped(response, BODY_LIMIT)
    except httpx2.HTTPError:
        return None
    if response.status_code != 200 or not body.complete:
        return None
    try:
        answer = json.loads(body.content)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        return None
    if "refresh_token" not in answer:
        answer["refresh_token"] = tokens["refresh_token"]  # RFC 6749 6: the old one stays valid unless replaced
    register_secret(answer["access_token"])
    return answer
