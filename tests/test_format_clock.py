"""Relative times ("12s ago", "in 3m") told as finely as a glance needs, so a clock column repaints rarely."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from tui.format import ago, until

NOW = datetime(2026, 12, 7, 12, 0, 0)


@pytest.mark.parametrize(
    ("seconds", "told"),
    [
        (0, "just now"),
        (4.9, "just now"),
        (5, "5s ago"),
        (9.9, "9s ago"),
        (14.9, "10s ago"),  # rounded down: "10s ago" means at least 10 s
        (59.9, "55s ago"),
        (61, "1m ago"),
        (119, "1m50s ago"),
        (3599, "59m ago"),
        (7200, "2h ago"),
    ],
)
def test_ago_is_rounded_down_to_its_step(seconds: float, told: str) -> None:
    assert ago(NOW - timedelta(seconds=seconds), NOW) == told


@pytest.mark.parametrize(
    ("seconds", "told"),
    [
        (-1, "now"),
        (0, "now"),
        (0.2, "in 1s"),  # rounded up: never "now" while time is left
        (9.5, "in 10s"),
        (11, "in 15s"),
        (59, "in 1m"),
        (61, "in 1m10s"),
        (601, "in 11m"),
    ],
)
def test_until_is_rounded_up_to_its_step(seconds: float, told: str) -> None:
    assert until(NOW + timedelta(seconds=seconds), NOW) == told


def test_a_clock_past_ten_seconds_changes_its_text_every_five_seconds_at_most() -> None:
    """What the tables' repaint rate rests on: one text per step, not one per second."""
    told = [ago(NOW - timedelta(seconds=10 + tick), NOW) for tick in range(50)]
    changes = sum(1 for before, after in itertools.pairwise(told) if before != after)
    assert changes == 9  # 10, 15, ..., 55, then 1m: nine changes in 50 s, not 49
    assert ago(None, NOW) == "never" and until(None, NOW) == "-"
