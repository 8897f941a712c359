"""The small parts of alerting on their own: maintenance windows in their time zones, `lookout silence`,
inhibition's walk of the dependency graph."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.alerts.config import MaintenanceWindow
from core.alerts.inhibition import dependants_of, inhibiting_root
from core.alerts.silence_cli import main as silence_main
from core.alerts.silences import read_silences
from core.alerts.windows import in_window
from core.config import parse_config
from core.results import Status

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()


def window(**fields: object) -> MaintenanceWindow:
    return MaintenanceWindow.model_validate({"start": "02:00", "duration": "1h", **fields})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_weekly_window_holds_from_its_start_for_its_duration() -> None:
    sunday = window(every="sunday")
    assert not in_window(sunday, at("2026-11-29T01:59:59+00:00"))
    assert in_window(sunday, at("2026-11-29T02:00:00+00:00"))
    assert in_window(sunday, at("2026-11-29T02:59:59+00:00"))
    assert not in_window(sunday, at("2026-11-29T03:00:00+00:00"))
    assert not in_window(sunday, at("2026-11-28T02:30:00+00:00")), "a Saturday"


def test_a_window_past_midnight_holds_into_the_next_day() -> None:
    late = window(every=["sunday"], start="23:00", duration="2h")
    assert in_window(late, at("2026-11-30T00:30:00+00:00")), "Monday 00:30 is inside Sunday's 23:00 + 2h"
    assert not in_window(late, at("2026-11-30T01:00:00+00:00"))


def test_a_window_follows_its_own_time_zone_through_daylight_saving() -> None:
    berlin = window(every="daily", timezone="Europe/Berlin")
    assert in_window(berlin, at("2026-07-01T00:30:00+00:00")), "02:30 in Berlin in summer (UTC+2)"
    assert in_window(berlin, at("2026-12-01T01:30:00+00:00")), "02:30 in Berlin in winter (UTC+1)"
    assert not in_window(berlin, at("2026-12-01T00:30:00+00:00"))


def test_daily_means_every_weekday() -> None:
    assert window(every="daily").every == ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def test_silence_add_list_expire(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "history.db")
    assert silence_main(["api", "2h", "--reason", "deploy", "--history", db], now=NOW) == 0
    assert silence_main(["tag:team-a", "30m", "--history", db], now=NOW) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "silence 1: api for 2h, until 2026-11-25 14:00:00 UTC",
        "silence 2: tag:team-a for 30m, until 2026-11-25 12:30:00 UTC",
    ]
    assert silence_main(["--list", "--history", db], now=NOW + 600) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split() for line in listed] == [
        ["ID", "TARGET", "LEFT", "REASON"],
        ["1", "api", "1h50m", "deploy"],
        ["2", "tag:team-a", "20m"],
    ]
    assert silence_main(["--expire", "1", "--history", db], now=NOW + 700) == 0
    assert capsys.readouterr().out == "silence 1 expired\n"
    assert silence_main(["--expire", "1", "--history", db], now=NOW + 800) == 3
    assert "no active silence 1" in capsys.readouterr().err
    assert silence_main(["--list", "--format", "json", "--history", db], now=NOW + 900) == 0
    assert [s["target"] for s in json.loads(capsys.readouterr().out)] == ["tag:team-a"]
    assert [s.target for s in read_silences(Path(db), now=NOW + 1801)] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["api"], "give a service (or tag:NAME) and a duration"),
        (["api", "forever"], "duration: 'forever' is not a duration"),
        (["api", "0s"], "must be more than 0"),
        (["api", "400d"], "must be at most"),
        (["tag:", "1h"], "is not a service name or tag:NAME"),
    ],
)
def test_silence_refuses_what_it_cannot_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert silence_main([*argv, "--history", str(tmp_path / "history.db")], now=NOW) == 3
    assert message in capsys.readouterr().err


def test_inhibition_walks_a_long_chain_from_its_direct_edges() -> None:
    count = 20_000
    needs = {f"s{i}": (f"s{i - 1}",) if i else () for i in range(count)}
    needed_by = {f"s{i}": (f"s{i + 1}",) if i < count - 1 else () for i in range(count)}
    statuses = {name: Status.UP for name in needs}
    assert inhibiting_root(f"s{count - 1}", needs, statuses) is None
    statuses["s0"] = Status.DOWN
    assert inhibiting_root(f"s{count - 1}", needs, statuses) == "s0"
    statuses["s5"] = Status.DOWN
    assert inhibiting_root("s9", needs, statuses) == "s5", "the nearest down dependency"
    assert dependants_of("s0", needed_by, statuses) == ("s5",), "only the failing ones are named"
    statuses.update({f"s{i}": Status.DEGRADED for i in range(1, 4)})
    assert dependants_of("s0", needed_by, statuses) == ("s1", "s2", "s3", "s5")
    assert dependants_of("s1", needed_by, statuses) == (), "a root that is not down names nobody"


def test_channel_credentials_are_masked_wherever_the_config_redacts() -> None:
    text = """\
services:
  api: {kind: http, url: "http://127.0.0.1:9/x"}
alerts:
  channels:
    chat: {type: apprise, urls: ["slack://T0AAAAAAA/B0BBBBBBB/XyzTokenSecret42", "mailto://me:mailpass99@example.org"]}
    hook:
      type: webhook
      url: "http://127.0.0.1:9/hook?key=querysecret7"
      headers: {Authorization: "Bearer hooktoken123"}
      hmac_secret: hmackey-literal
    run: {type: command, command: notify, args: [--token, argtoken555], env: {PAGER: pagerkey888}}
"""
    config = parse_config(text, source="services.yaml", env={})
    leaked = (
        "T0AAAAAAA B0BBBBBBB XyzTokenSecret42 mailpass99 querysecret7 hooktoken123 hmackey-literal "
        "argtoken555 pagerkey888"
    )
    shown = config.redact(leaked)
    assert set(shown.split()) == {"***"}, shown
    assert config.redact("mail to example.org") == "mail to example.org", "host names stay readable"
