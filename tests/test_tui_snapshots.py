"""How the monitor looks: a fixed fleet at a fixed time, at 80x24 and 120x40 (sync tests: snap_compare)."""

from __future__ import annotations

import fleet_samples
import pytest

from tui.app import LookoutApp
from tui.source import StaticSource


def make_app(*, ansi: bool = False) -> LookoutApp:
    source = StaticSource(fleet_samples.fleet(), fleet_samples.events(), clock=fleet_samples.clock())
    return LookoutApp(source, config_path="/etc/lookout/services.yaml", ansi=ansi, live=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, size) -> None:
    assert snap_compare(make_app(), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_detail_screen(snap_compare, size) -> None:
    assert snap_compare(make_app(), press=["enter"], terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_help_screen(snap_compare, size) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=size)


def test_main_screen_ansi_palette(snap_compare) -> None:
    assert snap_compare(make_app(ansi=True), terminal_size=(80, 24))
