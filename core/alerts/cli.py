"""`lookout alerts test [CHANNEL]`: send a test notification through a channel and say what happened.

The test goes through the same code as a real alert (the channel, its breaker,
its retries, its timeout), so "delivered in 84 ms" means the channel works, and
the error printed is the one the daemon's log would show. Without a channel it
lists the configured ones. Textual is never loaded here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core.alerts.channels import build_channel
from core.alerts.channels.settings import (
    AlertmanagerChannel,
    AnyChannel,
    AppriseChannel,
    ChannelBase,
    WebhookChannel,
)
from core.alerts.delivery import ChannelGuard, RoundResult
from core.alerts.notification import Notification, Transition
from core.clock import SystemClock
from core.config.errors import ConfigError
from core.config.messages import suggest
from core.redact import Redactor

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lookout alerts", description="Alert channels: test them.")
    commands = parser.add_subparsers(dest="command", required=True)
    test = commands.add_parser("test", help="send a test notification through CHANNEL (without one: list the channels)")
    test.add_argument("channel", nargs="?", metavar="CHANNEL", help="a name under alerts.channels")
    test.add_argument("-c", "--config", metavar="FILE", help="services.yaml (default: as for `lookout`)")
    return parser


def test_notification(channel: str, now: float) -> Notification:
    """Not about any incident: its key is unique per test, so a receiver that dedupes still shows each test."""
    return Notification(
        incident_id=f"test:{channel}:{now:.3f}",
        transition=Transition.TEST,
        rule="test",
        service="lookout",
        kind="lookout",
        severity="info",
        status="test",
        previous_status="test",
        reason="a test notification sent by `lookout alerts test`",
        since=now,
        at=now,
        channels=(channel,),
    )


async def send_test(name: str, settings: ChannelBase, redact: Callable[[str], str]) -> RoundResult:
    """One delivery round of a test notification through the channel's breaker and retries."""
    clock = SystemClock()
    channel = build_channel(name, settings, redact, clock.now)
    guard = ChannelGuard(name, settings, clock)
    notification = test_notification(name, time.time())
    try:
        return await guard.run(lambda: channel.send(notification, late=False))
    finally:
        await channel.aclose()


def describe(settings: AnyChannel, redact: Redactor) -> str:
    """Where a channel delivers, secrets masked (an Apprise URL shows its scheme only: tokens live in its path)."""
    if isinstance(settings, WebhookChannel | AlertmanagerChannel):
        return redact(settings.url)
    if isinstance(settings, AppriseChannel):
        return ", ".join(url.partition("://")[0] + "://…" for url in settings.urls)
    return redact(" ".join([settings.command, *redact.args(settings.args)]))


def main(argv: Sequence[str], candidates: Callable[[], list[Path]]) -> int:
    """`candidates`: where `lookout` looks for services.yaml when -c is not given."""
    args = build_parser().parse_args(list(argv))
    path = Path(args.config).expanduser() if args.config else next((p for p in candidates() if p.is_file()), None)
    if path is None:
        print("lookout alerts: no services.yaml found; pass -c FILE", file=sys.stderr)
        return EXIT_CONFIG
    from core.config import load_config  # here: listing channels should not pay for it at import

    try:
        config = load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    channels = dict(config.alerts.channels) if config.alerts is not None else {}
    redact = config.redactor
    if args.channel is None:
        if not channels:
            print(f"{path}: no channels under alerts.channels", file=sys.stderr)
            return EXIT_FAILED
        width = max(len(name) for name in channels)
        for name, listed in channels.items():
            print(f"{name:<{width}}  {listed.type:<12}  {describe(listed, redact)}")
        return 0
    settings = channels.get(args.channel)
    if settings is None:
        known = ", ".join(channels) or "none"
        print(
            f"lookout alerts: no channel {args.channel!r}{suggest(args.channel, channels)} (configured: {known})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    result = asyncio.run(send_test(args.channel, settings, redact))
    kind = settings.type
    if result.error is None:
        print(f"{args.channel} ({kind}): delivered in {result.elapsed * 1000:.0f} ms")
        return 0
    tries = "refused by its breaker" if result.refused else f"after {result.attempts} attempts"
    print(f"{args.channel} ({kind}): not delivered {tries}: {result.error}")
    return EXIT_FAILED
