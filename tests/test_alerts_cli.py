"""`lookout alerts test`: a test notification through the real channel code, against a real receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_alerts import Receiver
from tui.cli import main

SERVICE = "services:\n  api:\n    kind: http\n    url: http://127.0.0.1:9/health\n"
"""A config needs a service; this one is never probed here."""

CONFIG = (
    SERVICE
    + """\
alerts:
  channels:
    hook:
      type: webhook
      url: {url}/hook
      headers:
        Authorization: Bearer ${{HOOK_TOKEN}}
      attempts: 1
    pager:
      type: command
      command: /bin/false
      attempts: 1
"""
)


@pytest.fixture
def config(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOOK_TOKEN", "hunter2-very-secret")
    path = tmp_path / "services.yaml"
    path.write_text(CONFIG.format(url=receiver.url))
    return path


def test_without_a_channel_it_lists_them(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "test", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "hook" in out and "webhook" in out and "/hook" in out
    assert "pager" in out and "command" in out and "/bin/false" in out


def test_a_test_notification_is_delivered_and_timed(
    config: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "test", "hook", "-c", str(config)]) == 0
    assert capsys.readouterr().out.startswith("hook (webhook): delivered in ")
    [received] = receiver.received
    assert received.json()["transition"] == "test"
    assert received.headers["authorization"] == "Bearer hunter2-very-secret"
    assert received.headers["idempotency-key"] == received.json()["key"]


def test_a_failing_channel_says_why_and_exits_1(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "test", "pager", "-c", str(config)]) == 1
    assert capsys.readouterr().out.strip() == "pager (command): not delivered after 1 attempts: exit status 1"


def test_an_unreachable_receiver_fails_without_showing_the_token(
    config: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.stop()
    assert main(["alerts", "test", "hook", "-c", str(config)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("hook (webhook): not delivered after 1 attempts: ")
    assert "hunter2" not in out


def test_an_unknown_channel_is_a_usage_error(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "test", "hoook", "-c", str(config)]) == 2
    assert "did you mean 'hook'?" in capsys.readouterr().err


def test_a_bad_channel_is_reported_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(SERVICE + "alerts:\n  channels:\n    hook:\n      type: webhook\n      timeout: soon\n")
    assert main(["alerts", "test", "hook", "-c", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"{path}:9: alerts.channels.hook.timeout: 'soon' is not a duration" in err
    assert f"{path}:7: alerts.channels.hook.url: required" in err


def test_the_listing_masks_secrets_in_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(
        SERVICE + "alerts:\n  channels:\n"
        "    hook: {type: webhook, url: 'http://127.0.0.1:9/hook?token=abcdef123456'}\n"
        "    team: {type: apprise, urls: ['slack://T0AAAAAA/B0BBBBBB/cccccccccc']}\n"
    )
    assert main(["alerts", "test", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "abcdef123456" not in out and "T0AAAAAA" not in out
    assert "slack://…" in out
