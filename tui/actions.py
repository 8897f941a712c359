"""Every key of the monitor, listed once: the bindings, the command palette, the help screen and the
README's key table are all generated from `ACTIONS`.

Before this table the keys were written out four times (bindings, palette, help, README) and had
drifted apart; now adding a key is one entry here, and a test holds the README to it.

Order matters: it is the footer's order (for the keys shown there) and the help screen's.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

KEY_LABEL = {"question_mark": "?", "slash": "/", "escape": "esc"}
"""How a Textual key name reads to a person; names not listed here read as themselves."""


@dataclass(frozen=True)
class Action:
    """One thing a key does, with every place it is shown."""

    action: str
    """The Textual action string run by the key, e.g. `toggle_panel('mcp')`."""
    keys: str
    """Textual key name(s), comma-separated as in `Binding`."""
    footer: str
    """Short label in the footer (and the binding's description)."""
    help: str | None
    """The help screen's line, or None when another entry's line covers this key."""
    palette: str | None = None
    """Title in the command palette (ctrl+p), or None to leave it out."""
    show: bool = True
    """Shown in the footer."""
    main_view_only: bool = False
    """About the panels: off (and out of the footer) while a detail or help screen is up."""
    help_keys: tuple[str, ...] = ()
    """The help line's key column when the line speaks for several entries (e.g. 1 2 3 4)."""
    textual_binds: bool = False
    """Textual binds this key itself (tab, ctrl+p): listed for the help, not bound again here."""

    @property
    def name(self) -> str:
        """The action's name without arguments: what `App.check_action` is asked about."""
        return self.action.split("(", 1)[0]

    @property
    def key_labels(self) -> tuple[str, ...]:
        return tuple(KEY_LABEL.get(key.strip(), key.strip()) for key in self.keys.split(","))


PANELS = (
    ("1", "mcp", "MCP", "MCP"),
    ("2", "http", "HTTP", "HTTP and rate limits"),
    ("3", "breakers", "Breakers", "breakers"),
    ("4", "log", "Log", "log"),
)
"""(key, panel id, footer label, palette name) of each panel a number key shows or hides."""


def _panel_actions() -> tuple[Action, ...]:
    """One entry per panel; the help screen gives the four one line."""
    keys = tuple(key for key, *_ in PANELS)
    return tuple(
        Action(
            f"toggle_panel('{panel}')",
            key,
            label,
            "show / hide panels: MCP, HTTP & rate limits, breakers, log" if index == 0 else None,
            palette=f"Show or hide the {title} panel",
            show=False,
            main_view_only=True,
            help_keys=keys if index == 0 else (),
        )
        for index, (key, panel, label, title) in enumerate(PANELS)
    )


ACTIONS: tuple[Action, ...] = (
    Action("help", "question_mark", "Help", "this help", palette="Lookout keys"),
    Action(
        "filter",
        "slash",
        "Filter",
        "filter rows by name or tag (esc clears)",
        palette="Filter services by name or tag",
        main_view_only=True,
    ),
    Action(
        "detail",
        "enter",
        "Detail",
        "details of the selected service",
        palette="Show selected service's details",
        show=False,
        main_view_only=True,
    ),
    Action("probe_selected", "r", "Probe", "probe the selected service now", palette="Probe selected service now"),
    Action("probe_all", "R", "All", "probe every service now", palette="Probe every service now"),
    Action(
        "pause_selected",
        "space",
        "Pause",
        "pause / resume the selected service",
        palette="Pause or resume selected service",
    ),
    Action(
        "reset_selected",
        "b",
        "Reset breaker",
        "reset the selected service's breaker (asks first)",
        palette="Reset selected service's breaker",
    ),
    Action(
        "approve_tools",
        "A",
        "Approve tools",
        "approve the selected MCP server's changed tools (asks first)",
        palette="Approve selected MCP server's changed tools",
        show=False,
    ),
    Action(
        "silence_selected",
        "m",
        "Silence",
        "silence this service's alerts (asks how long)",
        palette="Silence selected service's alerts",
        show=False,
    ),
    Action(
        "notifications",
        "N",
        "Notifications",
        "alert channels' health and recent notifications",
        palette="Show alert channels and recent notifications",
        show=False,
    ),
    Action(
        "cycle_sort",
        "s",
        "Sort",
        "cycle sort: name, status, latency",
        palette="Cycle sort: name, status, latency",
        main_view_only=True,
    ),
    *_panel_actions(),
    Action(
        "focus_log",
        "l",
        "Log",
        "focus the log;  in the log: v level, f this service only",
        palette="Focus the log",
        main_view_only=True,
    ),
    Action("log_level", "v", "Log level", None, palette="Log: cycle minimum level", show=False, main_view_only=True),
    Action(
        "log_service",
        "f",
        "Log: this service",
        None,
        palette="Log: only the selected service (toggle)",
        show=False,
        main_view_only=True,
    ),
    Action(
        "reload_config",
        "ctrl+r",
        "Reload",
        "reload services.yaml (done on file change too)",
        palette="Reload the config file",
        show=False,
    ),
    Action("focus_next", "tab", "Next", "next panel", textual_binds=True),
    Action("clear_filter", "escape", "Back", "back", show=False),
    Action("command_palette", "ctrl+p", "Palette", "command palette (every action)", textual_binds=True),
    Action("quit", "q", "Quit", "quit (stops the engine and every server it started)"),
)


def bindings() -> list[BindingType]:
    """The app's BINDINGS; the palette title doubles as the footer key's tooltip."""
    return [
        Binding(a.keys, a.action, a.footer, show=a.show, tooltip=a.palette or "")
        for a in ACTIONS
        if not a.textual_binds
    ]


def palette_entries() -> list[tuple[str, str, str]]:
    """(title, key, action) for each command-palette entry: every action a key runs is there too."""
    return [(a.palette, a.key_labels[0], a.action) for a in ACTIONS if a.palette is not None]


def main_view_only() -> frozenset[str]:
    return frozenset(a.name for a in ACTIONS if a.main_view_only)


def help_rows() -> list[tuple[str, str]]:
    """(keys, what) for each line of the help screen, in the table's order."""
    return [(" ".join(a.help_keys or a.key_labels), a.help) for a in ACTIONS if a.help is not None]


def markdown_table() -> str:
    """The README's key table: the help screen's lines, as Markdown."""
    lines = ["| key | does |", "|---|---|"]
    for keys, what in help_rows():
        lines.append(f"| {' '.join(f'`{key}`' for key in keys.split(' '))} | {what} |")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m tui.actions` prints the README's key table
    print(markdown_table())
