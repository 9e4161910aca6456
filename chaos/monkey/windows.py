"""Allowed time windows for Chaos Monkey kills: `Mon-Fri 09:00-17:00`, `Sat 10:00-12:00`,
`22:00-02:00` (crosses midnight; the day names the day it opens), or `always`.

Windows are read in the timezone of the datetimes they are asked about, so the caller picks
the zone by picking the clock.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from pydantic import BaseModel

from chaos.monkey.errors import MonkeyConfigError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_PATTERN = re.compile(
    r"^\s*(?:(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$",
    re.IGNORECASE,
)


class TimeWindow(BaseModel):
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time  # end <= start: the window runs past midnight into the next day

    def contains(self, moment: datetime) -> bool:
        clock = moment.timetz().replace(tzinfo=None)
        today = moment.weekday()
        if self.start < self.end:
            return today in self.days and self.start <= clock < self.end
        yesterday = (today - 1) % 7
        return (today in self.days and clock >= self.start) or (
            yesterday in self.days and clock < self.end
        )

    def next_opening(self, after: datetime) -> datetime:
        """The first moment at or after `after` inside this window."""
        if self.contains(after):
            return after
        for offset in range(8):
            day = after + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opening = day.replace(
                hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
            )
            if opening >= after:
                return opening
        raise AssertionError("a window with at least one day opens within 8 days")

    def __str__(self) -> str:
        days = ",".join(DAYS[day].capitalize() for day in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


ALWAYS = TimeWindow(days=frozenset(range(7)), start=time(0, 0), end=time(0, 0))


def parse_window(text: str) -> TimeWindow:
    """Parse one window; raises `MonkeyConfigError` saying what a window looks like."""
    if text.strip().lower() == "always":
        return ALWAYS
    match = _PATTERN.match(text)
    if match is None:
        raise MonkeyConfigError(
            f"time window {text!r}: expected 'always' or '[Day[-Day]] HH:MM-HH:MM', "
            "for example 'Mon-Fri 09:00-17:00'"
        )
    days = _days(text, match.group("d1"), match.group("d2"))
    return TimeWindow(
        days=days, start=_clock(text, match.group("start")), end=_clock(text, match.group("end"))
    )


def within_any(windows: list[TimeWindow], moment: datetime) -> bool:
    return any(window.contains(moment) for window in windows)


def next_opening(windows: list[TimeWindow], after: datetime) -> datetime:
    return min(window.next_opening(after) for window in windows)


def _days(text: str, first: str | None, last: str | None) -> frozenset[int]:
    if first is None:
        return frozenset(range(7))
    try:
        start = DAYS.index(first.lower())
        end = DAYS.index((last or first).lower())
    except ValueError:
        raise MonkeyConfigError(
            f"time window {text!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun"
        ) from None
    return frozenset((start + i) % 7 for i in range((end - start) % 7 + 1))


def _clock(text: str, value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    if hours == 24 and minutes == 0:
        return time(0, 0)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise MonkeyConfigError(f"time window {text!r}: {value} is not a time of day")
    return time(hours, minutes)
