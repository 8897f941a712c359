"""Alert delivery you can trust: real receivers on loopback, the outbox in a real history file."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from core.alerts.channels.settings import AppriseChannel, CommandChannel, WebhookChannel
from core.alerts.dispatcher import Dispatcher
from core.alerts.notification import Notification, Transition
from core.events import LogLevel
from core.history import open_history
from tests.fixtures_alerts import Receiver, SmtpServer

WAIT = 30.0


def notification(
    transition: Transition = Transition.FIRING,
    *,
    incident: str = "down:github:1767225600",
    channels: tuple[str, ...] = ("hook",),
    sequence: int = 0,
) -> Notification:
    resolved = transition is Transition.RESOLVED
    return Notification(
        incident_id=incident,
        transition=transition,
        rule="down",
        service="github",
        kind="http",
        severity="critical",
        status="up" if resolved else "down",
        previous_status="down" if resolved else "up",
        reason="" if resolved else "connection refused",
        since=1767225600.0,
        at=1767225660.0,
        channels=channels,
        tags=("vendor", "ci"),
        sequence=sequence,
    )


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll until `condition()` holds; fail (saying what) after a generous `timeout` (never a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def webhook(receiver: Receiver, **extra: object) -> WebhookChannel:
    options: dict[str, object] = {"url": f"{receiver.url}/hook", "timeout": 2.0, "attempts": 2, "breaker_reset": 0.3}
    options.update(extra)
    return WebhookChannel.model_validate(options)


def fast(channels: dict[str, object], **options: object) -> Dispatcher:
    """A dispatcher whose backoffs are short, so a test of "down then up" takes a second, not minutes."""
    return Dispatcher(channels, backoff_base=0.1, backoff_cap=0.5, retry_initial=0.05, **options)  # type: ignore[arg-type]


async def test_webhook_gets_the_versioned_body_signed_with_its_idempotency_key(receiver: Receiver) -> None:
    channel = webhook(receiver, hmac_secret="s3cret-signing-key", headers={"X-Team": "ops"})
    dispatcher = fast({"hook": channel})
    await dispatcher.start()
    try:
        firing, resolved = notification(), notification(Transition.RESOLVED)
        dispatcher.enqueue(firing)
        dispatcher.enqueue(resolved)
        await wait_for(lambda: dispatcher.channel_health()["hook"].pending == 0, "two deliveries")
    finally:
        await dispatcher.aclose()
    first, second = receiver.received
    assert first.json() == {**firing.to_json(), "late": False}
    assert second.json()["transition"] == "resolved"
    expected = "sha256=" + hmac.new(b"s3cret-signing-key", first.body, hashlib.sha256).hexdigest()
    assert first.headers["x-lookout-signature"] == expected
    assert first.headers["idempotency-key"] == firing.key
    assert first.headers["x-team"] == "ops"
    assert first.headers["content-type"] == "application/json"
    records = dispatcher.recent(5)
    assert [record.notification.key for record in records] == [resolved.key, firing.key]
    assert all(view.state == "delivered" and not view.late for record in records for view in record.deliveries)
    assert dispatcher.stats().counts == {("hook", "delivered"): 2}
    health = dispatcher.channel_health()["hook"]
    assert (health.state, health.pending, health.type) == ("ok", 0, "webhook")
    assert health.last_success is not None


async def test_a_receiver_down_then_up_gets_every_notification_exactly_once_marked_late(
    down_receiver: Receiver,
) -> None:
    lines: list[tuple[LogLevel, str]] = []
    dispatcher = fast({"hook": webhook(down_receiver)}, log=lambda level, text: lines.append((level, text)))
    await dispatcher.start()
    sent = [notification(incident=f"down:svc{n}:1") for n in range(5)]
    try:
        for item in sent:
            dispatcher.enqueue(item)
        await wait_for(lambda: dispatcher.channel_health()["hook"].last_failure is not None, "a failed round")
        health = dispatcher.channel_health()["hook"]
        assert health.state in ("failing", "open")
        assert "refused" in health.last_error.lower() or "connect" in health.last_error.lower()
        assert health.pending == 5
        await wait_for(lambda: dispatcher.stats().counts.get(("hook", "failed"), 0) >= 3, "three failed rounds")
        down_receiver.start()
        await wait_for(lambda: dispatcher.channel_health()["hook"].pending == 0, "the backlog delivered")
    finally:
        await dispatcher.aclose()
    assert down_receiver.keys() == {item.key: 1 for item in sent}
    assert [body["key"] for body in down_receiver.bodies()] == [item.key for item in sent]  # in order
    assert down_receiver.bodies()[0]["late"] is True
    assert dispatcher.channel_health()["hook"].state == "ok"
    assert dispatcher.stats().counts[("hook", "delivered")] == 5
    assert any(level is LogLevel.WARNING and "not delivered" in text for level, text in lines)
    assert any(level is LogLevel.INFO and "delivered" in text and "(late)" in text for level, text in lines)


async def test_pending_rows_survive_a_restart_and_are_delivered_late(down_receiver: Receiver, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = open_history(db)
    first = fast({"hook": webhook(down_receiver)}, store=store)
    await first.start()
    item = notification()
    first.enqueue(item)
    await wait_for(lambda: first.channel_health()["hook"].last_failure is not None, "a failed round")
    await first.aclose()
    store.close()

    down_receiver.start()
    store = open_history(db)
    second = fast({"hook": webhook(down_receiver)}, store=store)
    try:
        await second.start()
        await wait_for(lambda: len(down_receiver.received) == 1, "the pending row delivered")
        await wait_for(lambda: second.channel_health()["hook"].pending == 0, "the lane empty")
        assert store.flush()
    finally:
        await second.aclose()
        store.close()
    assert down_receiver.bodies() == [{**item.to_json(), "late": True}]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, channel, state, late, attempts FROM alert_outbox").fetchall()
    assert rows == [(item.key, "hook", "delivered", 1, rows[0][4])]
    assert rows[0][4] >= 2  # a failed attempt in the first run, the delivery in the second


async def test_a_restart_never_resends_what_was_delivered(receiver: Receiver, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    for _ in range(2):
        store = open_history(db)
        dispatcher = fast({"hook": webhook(receiver)}, store=store)
        try:
            await dispatcher.start()
            dispatcher.enqueue(notification())  # the evaluator deciding the same transition again is no repeat
            await wait_for(lambda d=dispatcher: d.channel_health()["hook"].pending == 0, "nothing pending")
            assert store.flush()
        finally:
            await dispatcher.aclose()
            store.close()
    assert len(receiver.received) == 1


async def test_a_refusing_receiver_opens_the_breaker_and_keeps_the_notification_pending(receiver: Receiver) -> None:
    receiver.status = 503
    channel = webhook(receiver, attempts=1, breaker_failures=2, breaker_reset=60)
    dispatcher = fast({"hook": channel})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification())
        await wait_for(lambda: dispatcher.stats().counts.get(("hook", "refused"), 0) >= 1, "a refused round")
    finally:
        await dispatcher.aclose()
    health = dispatcher.channel_health()["hook"]
    assert health.state == "open"
    assert health.last_error == "HTTP 503"
    assert health.pending == 1
    assert len(receiver.received) == 2  # the breaker stopped the third round from being sent
    [record] = dispatcher.recent(1)
    assert record.deliveries[0].state == "pending"


async def test_apprise_json_reaches_a_loopback_receiver(receiver: Receiver) -> None:
    channel = AppriseChannel(urls=[f"json://127.0.0.1:{receiver.port}/apprise"], timeout=5.0)
    dispatcher = fast({"team": channel})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("team",)))
        await wait_for(lambda: len(receiver.received) == 1, "the Apprise JSON post")
    finally:
        await dispatcher.aclose()
    [body] = receiver.bodies("/apprise")
    assert body["title"] == "[critical] github is down: connection refused"
    assert "service: github (http)" in body["message"]
    assert "key: down:github:1767225600:firing" in body["message"]
    assert body["type"] == "failure"


async def test_apprise_mailto_delivers_mail_to_a_real_smtp_server(smtp_server: SmtpServer) -> None:
    url = f"mailto://127.0.0.1:{smtp_server.port}?from=lookout@example.com&to=ops@example.com&mode=insecure"
    dispatcher = fast({"mail": AppriseChannel(urls=[url], timeout=5.0)})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(Transition.RESOLVED, channels=("mail",)))
        await wait_for(lambda: len(smtp_server.mailbox.messages) == 1, "one mail")
    finally:
        await dispatcher.aclose()
    [mail] = smtp_server.mailbox.messages
    assert mail.rcpt_tos == ["ops@example.com"]
    text = mail.content.decode(errors="replace")
    assert "github is up again (was down)" in text


async def test_an_apprise_failure_says_why_without_the_token(free_port: int) -> None:
    token = "T0KEN-abcdef-123456"
    channel = AppriseChannel(urls=[f"json://127.0.0.1:{free_port}/{token}"], timeout=2.0, attempts=1)
    dispatcher = fast({"team": channel})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("team",)))
        await wait_for(lambda: dispatcher.channel_health()["team"].last_failure is not None, "a failed round")
    finally:
        await dispatcher.aclose()
    error = dispatcher.channel_health()["team"].last_error
    assert "connection" in error.lower()
    assert token not in error


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "notify.py"
    script.write_text(textwrap.dedent(body))
    return script


async def test_command_gets_the_alert_in_env_and_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    script = _script(
        tmp_path,
        f"""
        import json, os, sys
        env = {{k: v for k, v in os.environ.items() if k.startswith("LOOKOUT_") or k == "TEAM"}}
        json.dump({{"env": env, "stdin": json.load(sys.stdin)}}, open({str(out)!r}, "w"))
        """,
    )
    channel = CommandChannel(command=sys.executable, args=[str(script)], env={"TEAM": "ops"}, timeout=20.0)
    dispatcher = fast({"run": channel})
    await dispatcher.start()
    item = notification(channels=("run",))
    try:
        dispatcher.enqueue(item)
        await wait_for(lambda: dispatcher.channel_health()["run"].last_success is not None, "the command's success")
    finally:
        await dispatcher.aclose()
    seen = json.loads(out.read_text())
    assert seen["stdin"] == {**item.to_json(), "late": False}
    assert seen["env"]["TEAM"] == "ops"
    assert seen["env"]["LOOKOUT_KEY"] == item.key
    assert seen["env"]["LOOKOUT_SERVICE"] == "github"
    assert seen["env"]["LOOKOUT_TRANSITION"] == "firing"
    assert seen["env"]["LOOKOUT_TAGS"] == "vendor,ci"
    assert seen["env"]["LOOKOUT_LATE"] == "0"


async def test_command_failure_reports_its_stderr(tmp_path: Path) -> None:
    script = _script(tmp_path, "import sys\nsys.stderr.write('pager service said no\\n')\nsys.exit(3)\n")
    channel = CommandChannel(command=sys.executable, args=[str(script)], attempts=1, timeout=20.0)
    dispatcher = fast({"run": channel})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("run",)))
        await wait_for(lambda: dispatcher.channel_health()["run"].last_failure is not None, "a failed round")
    finally:
        await dispatcher.aclose()
    assert dispatcher.channel_health()["run"].last_error == "exit status 3: pager service said no"


@pytest.mark.slow
async def test_a_command_that_hangs_is_killed_with_its_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = _script(
        tmp_path,
        f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(600)
        """,
    )
    channel = CommandChannel(command=sys.executable, args=[str(script)], attempts=1, timeout=3.0)
    dispatcher = fast({"run": channel})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("run",)))
        await wait_for(lambda: dispatcher.channel_health()["run"].last_failure is not None, "the timeout")
    finally:
        await dispatcher.aclose()
    assert dispatcher.channel_health()["run"].last_error == "no answer within 3s"
    parent, child = (int(pid) for pid in pids.read_text().split())

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        return stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z"

    await wait_for(lambda: gone(parent) and gone(child), "the command and its child ended")


async def test_a_reload_keeps_unchanged_channels_and_moves_the_backlog_to_a_changed_one(
    receiver: Receiver, down_receiver: Receiver
) -> None:
    dispatcher = fast({"hook": webhook(down_receiver), "other": webhook(receiver)})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("hook", "other")))
        await wait_for(lambda: dispatcher.channel_health()["hook"].last_failure is not None, "a failed round")
        kept = dispatcher.channel_health()["other"].last_success
        assert kept is not None
        dispatcher.reconfigure({"hook": webhook(receiver), "other": webhook(receiver), "new": webhook(receiver)})
        await wait_for(lambda: dispatcher.channel_health()["hook"].pending == 0, "the backlog on the new URL")
        assert dispatcher.channel_health()["other"].last_success == kept  # untouched, not rebuilt
        assert set(dispatcher.channel_health()) == {"hook", "other", "new"}
        dispatcher.reconfigure({"new": webhook(receiver)})
        assert set(dispatcher.channel_health()) == {"new"}
        dispatcher.enqueue(notification(Transition.RESOLVED, channels=("new",)))
        await wait_for(lambda: dispatcher.channel_health()["new"].last_success is not None, "the new channel used")
    finally:
        await dispatcher.aclose()
    assert sorted(body["transition"] for body in receiver.bodies()) == ["firing", "firing", "resolved"]


async def test_a_notification_for_an_unknown_channel_is_logged_not_lost_elsewhere(receiver: Receiver) -> None:
    lines: list[tuple[LogLevel, str]] = []
    dispatcher = fast({"hook": webhook(receiver)}, log=lambda level, text: lines.append((level, text)))
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("gone", "hook")))
        await wait_for(lambda: len(receiver.received) == 1, "the known channel delivered")
    finally:
        await dispatcher.aclose()
    assert (LogLevel.WARNING, "alert down:github:1767225600:firing: no channel named 'gone'") in lines


def test_pruning_forgets_old_deliveries_keeps_firing_alerts_and_gives_up_old_pending_rows(tmp_path: Path) -> None:
    from core.alerts.outbox import Delivered, Enqueued, Pruned

    store = open_history(tmp_path / "history.db")
    try:
        for key, created in (("old", 100.0), ("firing", 100.0), ("stale", 100.0), ("new", 5000.0)):
            store.submit(Enqueued(key, "c", key, "firing", "{}", created))
        store.submit(Delivered("old", "c", 150.0, 1, False))
        store.submit(Delivered("firing", "c", 150.0, 1, False, firing=True))
        store.submit(Delivered("new", "c", 5000.0, 1, False))
        store.submit(Pruned(before=1000.0))
        assert store.flush()
        with sqlite3.connect(tmp_path / "history.db") as conn:
            rows = dict(conn.execute("SELECT key, state FROM alert_outbox").fetchall())
        assert rows == {"firing": "delivered", "stale": "abandoned", "new": "delivered"}
        store.submit(Delivered("resolve", "c", 200.0, 1, False, resolves="firing"))
        store.submit(Pruned(before=1000.0))
        assert store.flush()
        with sqlite3.connect(tmp_path / "history.db") as conn:
            rows = dict(conn.execute("SELECT key, state FROM alert_outbox").fetchall())
        assert rows == {"new": "delivered"}  # the resolved incident's firing row and the given-up row went
    finally:
        store.close()


async def test_an_answer_lost_to_a_timeout_repeats_the_same_idempotency_key(receiver: Receiver) -> None:
    receiver.slow_answers, receiver.slow_for = 1, 3.0
    dispatcher = fast({"hook": webhook(receiver, timeout=0.5, attempts=2)})
    await dispatcher.start()
    try:
        item = notification()
        dispatcher.enqueue(item)
        await wait_for(lambda: dispatcher.channel_health()["hook"].pending == 0, "the delivery")
    finally:
        await dispatcher.aclose()
    assert [received.headers["idempotency-key"] for received in receiver.received] == [item.key, item.key]
    assert receiver.received[0].body == receiver.received[1].body
    [record] = dispatcher.recent(1)
    assert (record.deliveries[0].state, record.deliveries[0].attempts) == ("delivered", 2)
    assert dispatcher.stats().counts == {("hook", "retried"): 1, ("hook", "delivered"): 1}


@pytest.mark.slow
async def test_a_receiver_down_for_30s_gets_every_notification_once_when_it_is_back(down_receiver: Receiver) -> None:
    """The issue's acceptance: a 30 s outage of the receiver, notifications decided all through it."""
    dispatcher = Dispatcher({"hook": webhook(down_receiver)}, backoff_base=1.0, backoff_cap=8.0, retry_initial=0.1)
    await dispatcher.start()
    sent = [notification(incident=f"down:svc{n}:1") for n in range(10)]
    try:
        for item in sent:
            dispatcher.enqueue(item)
            await asyncio.sleep(3.0)
        down_receiver.start()
        await wait_for(lambda: dispatcher.channel_health()["hook"].pending == 0, "the backlog delivered", timeout=60)
    finally:
        await dispatcher.aclose()
    assert down_receiver.keys() == {item.key: 1 for item in sent}
    assert [body["key"] for body in down_receiver.bodies()] == [item.key for item in sent]
    assert all(body["late"] for body in down_receiver.bodies())


def test_rounds_back_off_doubling_up_to_the_cap_with_jitter() -> None:
    from core.alerts.delivery import round_backoff

    for rounds, full in ((1, 5.0), (2, 10.0), (3, 20.0), (6, 160.0), (7, 300.0), (100, 300.0)):
        waits = [round_backoff(rounds, 5.0, 300.0) for _ in range(50)]
        assert all(0.8 * full <= wait <= full for wait in waits), (rounds, min(waits), max(waits))
    assert len({round_backoff(3, 5.0, 300.0) for _ in range(20)}) > 1  # jittered, not in step


async def test_a_hostile_answer_becomes_a_bounded_safe_reason(receiver: Receiver) -> None:
    from core.sanitize import REASON_LIMIT, has_controls

    receiver.status, receiver.answer = 400, b"\x1b[2J\x1b]0;pwned\x07bad request " + b"x" * 5000
    dispatcher = fast({"hook": webhook(receiver, attempts=1)})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification())
        await wait_for(lambda: dispatcher.channel_health()["hook"].last_failure is not None, "a failed round")
    finally:
        await dispatcher.aclose()
    error = dispatcher.channel_health()["hook"].last_error
    assert error.startswith("HTTP 400: ")
    assert "bad request" in error
    assert "\x1b" not in error and "\x07" not in error and not has_controls(error)
    assert len(error) <= REASON_LIMIT
    assert len(receiver.received) == 1  # a 400 is not retried within the round


def test_a_channels_own_secrets_are_masked_in_its_errors() -> None:
    from core.alerts.channels.base import channel_redactor

    redact = channel_redactor(
        str, ["slack://T0AAAAAA/B0BBBBBB/cccccccccc", "mailtos://ops:pa55word@smtp.example.com"], ["hmac-key-42"]
    )
    text = redact("posting to slack://T0AAAAAA/B0BBBBBB/cccccccccc failed; user ops:pa55word; signed hmac-key-42")
    for secret in ("T0AAAAAA", "B0BBBBBB", "cccccccccc", "pa55word", "hmac-key-42"):
        assert secret not in text
