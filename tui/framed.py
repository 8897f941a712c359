"""A scroll view whose render pass looks up once what every line of it shares.

Textual asks a line-API widget for its lines one `render_line` at a time; what they all need (styles read
through every ancestor, geometry, the scroll offset) cost as much as drawing a line when looked up per line.
`render_lines` makes the frame once for the pass and drops it after, so a line drawn outside a pass (a test,
a single refresh) makes its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip

FrameT = TypeVar("FrameT")


class FramedScrollView(ScrollView, Generic[FrameT]):
    """Subclasses define `_make_frame` and read `frame()` in `render_line`."""

    _make_frame: Callable[[], FrameT]
    _frame: FrameT | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame = self._make_frame()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def frame(self) -> FrameT:
        """The frame of the render under way, or a new one outside a pass."""
        return self._frame if self._frame is not None else self._make_frame()
