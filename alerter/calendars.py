"""Business-hours calendars: when a team is open, and exact arithmetic in its open time.

An SLA such as "call back within 2 business hours" must not tick at night, at weekends or on
holidays, and must stay exact across daylight-saving changes. Opening hours are local wall-clock
times; every computation turns them into real instants (UTC) first, so business time is always a
sum of real elapsed time and a 00:00-24:00 calendar counts exactly like the wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerter.durations import Duration

OpenRange = tuple[int, int]
"""Minutes after local midnight, half-open: ``(540, 1020)`` is 09:00-17:00; 1440 is 24:00."""
Week = tuple[tuple[OpenRange, ...], ...]
"""Seven tuples of sorted, non-overlapping open ranges, Monday first."""
Interval = tuple[datetime, datetime]

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_MAX_IDLE_DAYS = 3700  # a calendar closed this long is a configuration error, not a long weekend


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_range(text: str) -> OpenRange:
    match = _RANGE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"bad opening hours {text!r}; write a range like '09:00-17:00'")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 > 0):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise ValueError(
            f"{text!r} must end after it starts; for hours past midnight write "
            f"'22:00-24:00' on one day and '00:00-02:00' on the next"
        )
    return start, end


def _day_ranges(value: Any) -> tuple[OpenRange, ...]:
    """One day's opening hours: a range, or a list of ranges (split shifts, or [] for closed)."""
    if isinstance(value, tuple):
        return value
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise ValueError("write opening hours like '09:00-17:00' or a list of such ranges")
    ranges = sorted(_parse_range(text) for text in texts)
    for (s1, e1), (s2, e2) in pairwise(ranges):
        if s2 < e1:
            raise ValueError(
                f"opening hours {_hhmm(s1)}-{_hhmm(e1)} and {_hhmm(s2)}-{_hhmm(e2)} overlap"
            )
    return tuple(ranges)


DayHours = Annotated[tuple[OpenRange, ...] | None, BeforeValidator(_day_ranges)]


class WeeklyHours(BaseModel):
    """Opening hours per day; a named day beats ``weekdays`` (Monday-Friday), which beats
    ``every_day``. A day named by none of them is closed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    monday: DayHours = None
    tuesday: DayHours = None
    wednesday: DayHours = None
    thursday: DayHours = None
    friday: DayHours = None
    saturday: DayHours = None
    sunday: DayHours = None
    weekdays: DayHours = None
    every_day: DayHours = None

    @model_validator(mode="after")
    def _open_sometime(self) -> WeeklyHours:
        if not any(self.week()):
            raise ValueError("a calendar must be open at some time in the week")
        return self

    def week(self) -> Week:
        """Seven days of open ranges, Monday first."""
        week: list[tuple[OpenRange, ...]] = []
        for index, day in enumerate(DAYS):
            choices = (getattr(self, day), self.weekdays if index < 5 else None, self.every_day)
            week.append(next((ranges for ranges in choices if ranges is not None), ()))
        return tuple(week)


class HolidaySpec(BaseModel):
    """Days the team is closed: a country's public holidays and/or explicit dates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str | None = None
    subdivision: str | None = None
    dates: tuple[date, ...] = ()

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str | None) -> str | None:
        if country is None:
            return None
        country = country.strip().upper()
        if country not in holidays.list_supported_countries():
            raise ValueError(
                f"no holiday list for country {country!r}; use a two-letter code such as "
                f"US, GB, DE or FR"
            )
        return country

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, subdivision: str | None, info: ValidationInfo) -> str | None:
        if subdivision is None:
            return None
        country = info.data.get("country")
        if country is None:
            if "country" in info.data:  # the country is missing, not merely invalid
                raise ValueError("a subdivision needs a country, e.g. country: US")
            return subdivision
        try:
            holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            known = ", ".join(holidays.list_supported_countries()[country]) or "none"
            raise ValueError(
                f"{country} has no subdivision {subdivision!r}; known: {known}"
            ) from None
        return subdivision


class CalendarSpec(BaseModel):
    """One entry of ``rules/calendars.yaml``, validated so a typo fails at load, not at 3 a.m."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_zone: str
    hours: WeeklyHours
    holidays: HolidaySpec = HolidaySpec()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r}; use a name like America/New_York or Europe/Berlin"
            ) from None
        return name

    def build(self, name: str) -> BusinessCalendar:
        """The calendar these settings describe, ready for arithmetic."""
        spec = self.holidays
        country = (
            holidays.country_holidays(spec.country, subdiv=spec.subdivision)
            if spec.country
            else None
        )
        return BusinessCalendar(
            name, ZoneInfo(self.time_zone), self.hours.week(), frozenset(spec.dates), country
        )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: give a time zone")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening hours in a time zone, minus holidays. All results are aware UTC datetimes.

    Open time is the union of each local date's ranges turned into real intervals by
    ``_instant``; business time between two instants is the real time of that union between them.
    """

    name: str
    zone: ZoneInfo
    week: Week
    holiday_dates: frozenset[date] = frozenset()
    country_holidays: holidays.HolidayBase | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        ok = len(self.week) == 7 and all(
            0 <= s < e <= 1440 and (i == 0 or day[i - 1][1] <= s)
            for day in self.week
            for i, (s, e) in enumerate(day)
        )
        if not ok:
            raise ValueError(f"calendar {self.name!r}: week needs 7 days of sorted ranges")

    def is_holiday(self, day: date) -> bool:
        """Whether the local date ``day`` is a holiday (closed all day)."""
        if day in self.holiday_dates:
            return True
        return self.country_holidays is not None and day in self.country_holidays

    def _instant(self, day: date, minute: int) -> datetime:
        """The first instant at which the local clock shows ``day`` + ``minute`` or later.

        One rule for range starts and ends alike, so ranges that touch (Monday 00:00-24:00,
        Tuesday 00:00-24:00) tile time with no gap or overlap and a 00:00-24:00 calendar equals
        calendar time. Hence a time repeated at fall-back maps to its first occurrence (fold=0),
        and a time skipped at spring-forward maps to the instant the gap ends.
        """
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        first = wall.replace(tzinfo=self.zone).astimezone(UTC)
        if first.astimezone(self.zone).replace(tzinfo=None, fold=0) == wall:
            return first
        # In a gap: find the transition between the two offsets' readings (to the second).
        lo, hi = sorted((first, wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)))
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) // 2
            if mid.astimezone(self.zone).replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid
        return hi

    def _day(self, day: date) -> list[Interval]:
        if self.is_holiday(day):
            return []
        pairs = (
            (self._instant(day, s), self._instant(day, e)) for s, e in self.week[day.weekday()]
        )
        return [(s, e) for s, e in pairs if s < e]  # a range inside a DST gap is empty

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _closed_error(self, moment: datetime) -> ValueError:
        return ValueError(
            f"calendar {self.name!r} has no open time within 10 years of {moment.isoformat()}"
        )

    def _forward(self, start: datetime, until: datetime | None = None) -> Iterator[Interval]:
        """Open intervals from ``start`` on; without ``until``, raise after 10 closed years."""
        day, idle = self._local_date(start), 0
        while until is None or self._instant(day, 0) < until:
            found = False
            for s, e in self._day(day):
                s, e = max(s, start), e if until is None else min(e, until)
                if s < e:
                    found = True
                    yield s, e
            idle = 0 if found else idle + 1
            if until is None and idle > _MAX_IDLE_DAYS:
                raise self._closed_error(start)
            day += timedelta(days=1)

    def _backward(self, end: datetime) -> Iterator[Interval]:
        """Open intervals before ``end``, latest first; raise after 10 closed years."""
        # A fall-back fold that crosses midnight can put tomorrow's first range before `end`.
        day, idle = self._local_date(end) + timedelta(days=1), 0
        while True:
            found = False
            for s, e in reversed(self._day(day)):
                e = min(e, end)
                if s < e:
                    found = True
                    yield s, e
            idle = 0 if found else idle + 1
            if idle > _MAX_IDLE_DAYS:
                raise self._closed_error(end)
            day -= timedelta(days=1)

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The open intervals clipped to [start, end), in order; touching intervals are merged."""
        pending: Interval | None = None
        for s, e in self._forward(_utc(start), _utc(end)):
            if pending is not None and pending[1] == s:
                pending = (pending[0], e)
                continue
            if pending is not None:
                yield pending
            pending = (s, e)
        if pending is not None:
            yield pending

    def is_open(self, at: datetime) -> bool:
        """Whether the calendar is open at the instant ``at`` (ranges are half-open)."""
        at = _utc(at)
        day = self._local_date(at)
        days = (day - timedelta(days=1), day, day + timedelta(days=1))
        return any(s <= at < e for d in days for s, e in self._day(d))

    def next_open(self, at: datetime) -> datetime:
        """``at`` if open then, else the next opening instant: when a held notification may go."""
        return next(self._forward(_utc(at)))[0]  # the unbounded scan raises rather than ends

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed from ``start`` to ``end``; negative if ``end`` is earlier."""
        start, end = _utc(start), _utc(end)
        if end < start:
            return -self.between(end, start)
        return sum((e - s for s, e in self._forward(start, end)), timedelta(0))

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which ``amount`` of business time has elapsed since ``start``.

        Forward it is the earliest such instant (Friday 16:00 + 1h is Friday 17:00, not Monday
        09:00); backward (negative ``amount``) it is the latest (Monday 09:10 - 15min is Friday
        16:55). Zero returns ``start``, even when closed.
        """
        start = _utc(start)
        if not amount:
            return start
        forward, remaining = amount > timedelta(0), abs(amount)
        for s, e in self._forward(start) if forward else self._backward(start):
            if e - s >= remaining:
                return s + remaining if forward else e - remaining
            remaining -= e - s
        raise self._closed_error(start)  # pragma: no cover - the unbounded scans raise first

    def shift(self, start: datetime, duration: Duration) -> datetime:
        """``start`` moved by ``duration``: in business time, or in real elapsed time."""
        if duration.business:
            return self.add(start, duration.amount)
        return _utc(start) + duration.amount

    def measure(self, start: datetime, end: datetime, business: bool) -> timedelta:
        """Time from ``start`` to ``end``: business time, or real elapsed time."""
        return self.between(start, end) if business else _utc(end) - _utc(start)


ALWAYS_OPEN = BusinessCalendar("always", ZoneInfo("UTC"), (((0, 1440),),) * 7)
"""For rules that name no calendar: business time on it equals calendar time."""
