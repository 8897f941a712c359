"""What differs between a server's approved tools and the tools it lists now: per tool, per field.

The reason a result shows names each change ("tool delete_all added; tool search
description, annotations.destructiveHint changed since approved"); the detail
screen and `lookout tools diff` show each changed field's approved and current value.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.details import ToolChange
from core.pins.prints import ToolSet

REASON_PARTS = 3
"""Changes a reason names before it says "and N more": a reason is one line."""
ABSENT = "(absent)"
"""How a diff shows a field one side does not have."""


@dataclass(frozen=True, slots=True)
class PinDiff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(tool, the fields that differ), by tool name."""

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def parts(self) -> list[str]:
        return (
            [f"tool {name} added" for name in self.added]
            + [f"tool {name} removed" for name in self.removed]
            + [f"tool {name} {', '.join(fields)} changed" for name, fields in self.changed]
        )

    def describe(self) -> str:
        """One line: "tool X added; tool Y description changed since approved" ("" when nothing differs)."""
        parts = self.parts()
        if not parts:
            return ""
        shown = parts[:REASON_PARTS]
        if len(parts) > REASON_PARTS:
            shown.append(f"and {len(parts) - REASON_PARTS} more changes")
        return "; ".join(shown) + " since approved"

    def changed_names(self) -> tuple[str, ...]:
        return tuple(f"{name}: {', '.join(fields)}" for name, fields in self.changed)


def diff_tools(approved: ToolSet, seen: ToolSet) -> PinDiff:
    changed = []
    for name in sorted(set(approved.tools) & set(seen.tools)):
        before, after = approved.tools[name].hashes, seen.tools[name].hashes
        fields = tuple(sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key)))
        if fields:
            changed.append((name, fields))
    return PinDiff(
        added=tuple(sorted(set(seen.tools) - set(approved.tools))),
        removed=tuple(sorted(set(approved.tools) - set(seen.tools))),
        changed=tuple(changed),
    )


def tool_changes(approved: ToolSet, seen: ToolSet) -> tuple[ToolChange, ...]:
    """Every difference as a row: added and removed tools, and each changed field with both values."""
    diff = diff_tools(approved, seen)
    rows = [ToolChange(tool=name, change="added") for name in diff.added]
    rows += [ToolChange(tool=name, change="removed") for name in diff.removed]
    for name, fields in diff.changed:
        before, after = approved.tools[name].shown, seen.tools[name].shown
        for key in fields:
            was, now = before.get(key, ABSENT), after.get(key, ABSENT)
            rows.append(ToolChange(tool=name, change="changed", field=key, approved=was, now=now))
    return tuple(rows)


def render_changes(changes: tuple[ToolChange, ...]) -> list[str]:
    """Lines for a terminal: `+ tool`, `- tool`, `~ tool field: approved -> now`."""
    lines = []
    for change in changes:
        if change.change == "added":
            lines.append(f"+ {change.tool}  (added)")
        elif change.change == "removed":
            lines.append(f"- {change.tool}  (removed)")
        else:
            lines.append(f"~ {change.tool}  {change.field}")
            lines.append(f"    approved: {change.approved}")
            lines.append(f"    now:      {change.now}")
            if change.approved == change.now:
                lines.append("    (the values differ beyond the text shown)")
    return lines
