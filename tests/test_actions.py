"""The one actions table: every key it lists works, and the README, help, palette and bindings agree with it."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from tui.actions import ACTIONS, bindings, help_rows, main_view_only, markdown_table, palette_entries
from tui.app import MAIN_VIEW_ONLY, LookoutApp

ROOT = Path(__file__).resolve().parent.parent


def _readme_key_table() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("| key | does |")
    return readme[start : readme.index("\n\n", start)]


def test_readme_lists_exactly_the_tables_keys() -> None:
    assert _readme_key_table() == markdown_table(), "paste the output of `python -m tui.actions` into README.md"


def test_every_bound_action_is_one_the_app_runs() -> None:
    for binding in bindings():
        name = binding.action.split("(", 1)[0]
        assert callable(getattr(LookoutApp, f"action_{name}", None)), binding.action


def test_keys_textual_binds_itself_are_still_bound_by_textual() -> None:
    """tab and ctrl+p are listed for the help only: if Textual stopped binding them, the help would lie."""
    textual_keys = {a.keys: a.name for a in ACTIONS if a.textual_binds}
    assert textual_keys == {"tab": "focus_next", "ctrl+p": "command_palette"}
    assert any(isinstance(b, Binding) and (b.key, b.action) == ("tab", "app.focus_next") for b in Screen.BINDINGS)
    assert LookoutApp.ENABLE_COMMAND_PALETTE and LookoutApp.COMMAND_PALETTE_BINDING == "ctrl+p"
    assert callable(App.action_focus_next) and callable(App.action_command_palette)


def test_no_key_is_bound_twice() -> None:
    keys = [key.strip() for a in ACTIONS for key in a.keys.split(",")]
    assert len(keys) == len(set(keys))


def test_every_key_is_in_the_help() -> None:
    """A key without its own help line (v, f, 2-4) is named by the line that covers it."""
    columns = {key for keys, _ in help_rows() for key in keys.split(" ")}
    words = {word.strip(",;:") for _, what in help_rows() for word in what.split()}
    for action in ACTIONS:
        for label in action.key_labels:
            assert label in columns or (action.help is None and label in words), label


def test_the_palette_offers_every_bound_action_but_quit_and_esc() -> None:
    offered = {action for _, _, action in palette_entries()}
    bound = {binding.action for binding in bindings()}
    assert bound - offered == {"quit", "clear_filter"}
    assert offered <= bound


def test_main_view_only_actions_are_the_panel_actions() -> None:
    assert main_view_only() == MAIN_VIEW_ONLY
    expected = {"filter", "cycle_sort", "focus_log", "toggle_panel", "log_level", "log_service", "detail"}
    assert main_view_only() == expected


def test_esc_does_not_replace_textuals_back_action() -> None:
    """Textual's `action_back` pops a screen; an app method of that name overrode it by accident."""
    assert LookoutApp.action_back is App.action_back
    assert [b.action for b in bindings() if b.key == "escape"] == ["clear_filter"]
