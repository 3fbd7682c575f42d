"""A scene on the wall clock: times of day, weekdays, a time zone, opening hours.

Pure time arithmetic, no state and no clock of its own: every function takes the
instant it asks about (epoch seconds), so the daemon, `mrtd render` and the tests
drive it with whatever clock they hold (tests/test_scene_clock.py).

A clock cue happens once per local calendar day it is allowed on, at its time of
day in the scene's zone. Daylight saving does the natural thing:
- spring forward (a local time that does not exist that day, 02:30 in Berlin on the
  last Sunday of March): it happens once, at the instant the clocks jump (03:00);
- fall back (a local time that happens twice): it happens once, the first time.
Since each occurrence is one instant per local day, nothing can happen twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time as day_time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mrtd.yamlcheck import shown

CLOCK_TIME = re.compile(r"^([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?$")  # "05:30" or "05:30:15"
# What an IANA zone name looks like; checked before zoneinfo looks for the file, so a scene (which
# anyone allowed to send OSC may load) cannot make it open a path of its choosing.
ZONE_NAME = re.compile(r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+){0,3}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
DAY_SECONDS = 86_400
_LOOKAHEAD_DAYS = 8  # a cue allowed on one weekday only happens again within a week


def parse_clock_time(text: str) -> int | None:
    """Seconds after local midnight for "HH:MM" or "HH:MM:SS", None when `text` is not of that
    form; ValueError when it is but names no time of day ("25:00", "10:61")."""
    match = CLOCK_TIME.match(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(g) if g is not None else 0 for g in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59:59)")
    return hours * 3600 + minutes * 60 + seconds


def zone(name: str | None) -> tzinfo:
    """The scene's time zone: an IANA name, or the machine's own zone when None.
    ValueError for a name the zone database does not know."""
    if name is None:
        return machine_zone()
    try:
        if not ZONE_NAME.match(name):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones ("Europe")
        raise ValueError(f"unknown time zone {shown(name)} (an IANA name such as Europe/Berlin)") from None


def machine_zone() -> tzinfo:
    """The machine's zone with its daylight-saving rules ($TZ, else /etc/localtime), not only
    today's offset: a daemon running for weeks crosses a change."""
    import os

    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with open("/etc/localtime", "rb") as file:
            return ZoneInfo.from_file(file)
    except (OSError, ValueError):
        return datetime.now().astimezone().tzinfo or timezone.utc  # today's offset: the best there is


def instant_of(day: date, seconds: int, tz: tzinfo) -> float:
    """Epoch seconds of local time-of-day `seconds` on local date `day`: the first of two
    (autumn), or the moment the clocks jump when that time does not exist (spring)."""
    wall = datetime.combine(day, day_time(seconds // 3600, seconds // 60 % 60, seconds % 60), tzinfo=tz)
    first = wall.replace(fold=0).timestamp()
    if datetime.fromtimestamp(first, tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return first
    # In a gap: fold=0 reads it with the offset before the jump, fold=1 with the one after;
    # the jump lies between the two. Find the first instant whose local time is past `wall`.
    low, high = sorted((first, wall.replace(fold=1).timestamp()))
    naive = wall.replace(tzinfo=None)
    while high - low > 0.5:
        middle = (low + high) / 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return float(round(high))


def local_date(instant: float, tz: tzinfo) -> date:
    return datetime.fromtimestamp(instant, tz).date()


@dataclass(frozen=True)
class Daily:
    """Something that happens at one time of day on some weekdays (all when `days` is empty)."""

    seconds: int  # after local midnight
    days: frozenset[int] = frozenset()  # date.weekday() numbers

    def on(self, day: date) -> bool:
        return not self.days or day.weekday() in self.days


@dataclass(frozen=True)
class Occurrence:
    at: float  # epoch seconds
    index: int  # which of the schedule's items


class DailySchedule:
    """Items that each happen daily (on their weekdays) in one zone: what is due when."""

    def __init__(self, items: list[Daily], tz: tzinfo) -> None:
        self.items = items
        self.tz = tz

    def _around(self, instant: float, before: int, after: int) -> list[Occurrence]:
        today = local_date(instant, self.tz)
        found = []
        for offset in range(-before, after + 1):
            day = today + timedelta(days=offset)
            for index, item in enumerate(self.items):
                if item.on(day):
                    found.append(Occurrence(instant_of(day, item.seconds, self.tz), index))
        found.sort(key=lambda o: (o.at, o.index))
        return found

    def last_at_or_before(self, instant: float) -> Occurrence | None:
        """The latest occurrence at or before `instant` (within the week before), or None."""
        passed = [o for o in self._around(instant, _LOOKAHEAD_DAYS, 0) if o.at <= instant]
        return passed[-1] if passed else None

    def previous(self, occurrence: Occurrence) -> Occurrence | None:
        """The occurrence before `occurrence` (the one whose mix it fades from)."""
        earlier = [o for o in self._around(occurrence.at, _LOOKAHEAD_DAYS, 0)
                   if (o.at, o.index) < (occurrence.at, occurrence.index)]
        return earlier[-1] if earlier else None

    def next_after(self, instant: float) -> Occurrence | None:
        """The first occurrence strictly after `instant` (within the week after), or None."""
        later = [o for o in self._around(instant, 1, _LOOKAHEAD_DAYS) if o.at > instant]
        return later[0] if later else None


@dataclass(frozen=True)
class OpeningHours:
    """Open from `open` to `close` (seconds after local midnight) on `days`; a close at or before
    the open is on the next day (a night opening, 20:00 to 02:00)."""

    open: int
    close: int
    days: frozenset[int] = frozenset()

    def spans(self, instant: float, tz: tzinfo, days_after: int) -> list[tuple[float, float]]:
        """The open spans (start, end) from the day before `instant` to `days_after` after."""
        today = local_date(instant, tz)
        spans = []
        for offset in range(-1, days_after + 1):
            day = today + timedelta(days=offset)
            if self.days and day.weekday() not in self.days:
                continue
            closing_day = day + timedelta(days=1) if self.close <= self.open else day
            spans.append((instant_of(day, self.open, tz), instant_of(closing_day, self.close, tz)))
        return spans

    def is_open(self, instant: float, tz: tzinfo) -> bool:
        return any(start <= instant < end for start, end in self.spans(instant, tz, 0))

    def next_change(self, instant: float, tz: tzinfo) -> float | None:
        """The next opening or closing strictly after `instant`, None when there is none (no days)."""
        edges = [edge for span in self.spans(instant, tz, _LOOKAHEAD_DAYS) for edge in span if edge > instant]
        return min(edges) if edges else None

    def describe(self, instant: float, tz: tzinfo) -> str:
        """What a status line says: "open until 18:00", "closed until 10:00", "closed until Mon 10:00"."""
        change = self.next_change(instant, tz)
        state = "open" if self.is_open(instant, tz) else "closed"
        if change is None:
            return state
        when = datetime.fromtimestamp(change, tz)
        clock = when.strftime("%H:%M")
        if change - instant >= DAY_SECONDS:  # not within the next day: say which day
            clock = f"{DAYS[when.weekday()].capitalize()} {clock}"
        return f"{state} until {clock}"
