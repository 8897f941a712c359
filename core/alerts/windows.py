"""Recurring maintenance windows: is this instant inside one?

A window starts on each listed weekday at a local time in its own time zone
(zoneinfo, so daylight saving moves it with the clocks people read) and lasts
its duration, possibly past midnight: a Sunday 23:00 window of 2h still holds
at Monday 00:30. Days before today are checked for that reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.alerts.config import WEEKDAYS, MaintenanceWindow


def in_window(window: MaintenanceWindow, now: datetime) -> bool:
    """True when `now` (aware) falls inside one of the window's occurrences."""
    zone = ZoneInfo(window.timezone)
    local = now.astimezone(zone)
    length = timedelta(seconds=window.duration)
    days = {WEEKDAYS.index(day) for day in window.every}
    for back in range(int(window.duration // 86400) + 2):
        day = local.date() - timedelta(days=back)
        if day.weekday() not in days:
            continue
        start = datetime.combine(day, window.start_time, tzinfo=zone)
        if start <= local < start + length:
            return True
    return False


def windows_holding(
    windows: list[MaintenanceWindow], name: str, tags: tuple[str, ...], kind: str, now: datetime
) -> bool:
    """Whether any window selecting this service holds at `now`."""
    return any(window.selects(name, tags, kind) and in_window(window, now) for window in windows)
