"""The command channel: run a program with the alert in LOOKOUT_* variables and as JSON on stdin.

The program gets a small inherited environment (HOME, PATH, LANG...: what an
MCP server gets, never Lookout's whole environment with its tokens), the
channel's `env`, and the notification's fields as LOOKOUT_* variables; stdin is
the same JSON document a webhook receives. It is started the way MCP servers are
(core.processes.spawn): in its own session, so on timeout one `killpg` ends it
and whatever it started in its group, and dying with Lookout even on `kill -9`. Exit status 0
is delivered; anything else is a failure whose reason is the end of its stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable

from core.alerts.channels.base import DeliveryError, channel_redactor, safe_reason
from core.alerts.channels.settings import CommandChannel
from core.alerts.channels.webhook import webhook_body
from core.alerts.notification import Notification
from core.processes import Spawned, spawn
from core.redact import arg_secrets, env_secrets

SAFE_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
"""Inherited from Lookout's environment; nothing else is (a token Lookout holds is not the program's)."""
STDERR_TAIL = 2000
STREAM_LIMIT = 2**16
KILL_WAIT = 2.0


def notification_env(notification: Notification, *, channel: str, late: bool) -> dict[str, str]:
    """The LOOKOUT_* variables: every field a shell script may want without parsing JSON."""
    values = {
        "LOOKOUT_CHANNEL": channel,
        "LOOKOUT_KEY": notification.key,
        "LOOKOUT_INCIDENT_ID": notification.incident_id,
        "LOOKOUT_TRANSITION": notification.transition.value,
        "LOOKOUT_RULE": notification.rule,
        "LOOKOUT_SERVICE": notification.service,
        "LOOKOUT_KIND": notification.kind,
        "LOOKOUT_SEVERITY": notification.severity,
        "LOOKOUT_STATUS": notification.status,
        "LOOKOUT_PREVIOUS_STATUS": notification.previous_status,
        "LOOKOUT_REASON": notification.reason,
        "LOOKOUT_SUMMARY": notification.summary,
        "LOOKOUT_SINCE": f"{notification.since:.3f}",
        "LOOKOUT_AT": f"{notification.at:.3f}",
        "LOOKOUT_TAGS": ",".join(notification.tags),
        "LOOKOUT_DEPENDANTS": ",".join(notification.dependants),
        "LOOKOUT_SEQUENCE": str(notification.sequence),
        "LOOKOUT_LATE": "1" if late else "0",
    }
    return {name: value.replace("\x00", "") for name, value in values.items()}


class Command:
    type = "command"

    def __init__(self, name: str, settings: CommandChannel, redact: Callable[[str], str]) -> None:
        self.name = name
        self.settings = settings
        secrets = env_secrets(settings.env) + arg_secrets(settings.args)
        self._redact = channel_redactor(redact, secrets=secrets)

    def accepts(self, notification: Notification) -> bool:
        return True

    async def send(self, notification: Notification, *, late: bool) -> None:
        env = {name: os.environ[name] for name in SAFE_ENV if name in os.environ}
        env |= dict(self.settings.env) | notification_env(notification, channel=self.name, late=late)
        loop = asyncio.get_running_loop()
        try:
            spawned, protocol = await spawn(
                [self.settings.command, *self.settings.args],
                lambda: asyncio.subprocess.SubprocessStreamProtocol(limit=STREAM_LIMIT, loop=loop),
                env=env,
                stderr=subprocess.PIPE,
            )
        except OSError as error:
            reason = f"cannot run {self.settings.command}: {error.strerror or error}"
            raise DeliveryError(safe_reason(reason, self._redact), retryable=False) from None
        process = asyncio.subprocess.Process(spawned.transport, protocol, loop)
        try:
            _, stderr = await process.communicate(webhook_body(notification, late=late))
        finally:
            if process.returncode is None:  # cancelled: our timeout, or a shutdown
                await _kill_group(spawned, process)
            spawned.signal_group(signal.SIGKILL)  # helpers it left in its group do not outlive the delivery
            spawned.release()
        if process.returncode != 0:
            tail = stderr[-STDERR_TAIL:].decode(errors="replace").strip()
            reason = f"exit status {process.returncode}" + (f": {tail.splitlines()[-1]}" if tail else "")
            raise DeliveryError(safe_reason(reason, self._redact))

    async def aclose(self) -> None:
        return None


async def _kill_group(spawned: Spawned, process: asyncio.subprocess.Process) -> None:
    """SIGKILL the program's whole group (it leads its own session) and reap it: nothing outlives a timeout."""
    spawned.signal_group(signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(KILL_WAIT):
            await process.wait()
