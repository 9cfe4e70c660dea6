"""Business-hours calendars: exact business-time arithmetic around weekends, holidays and DST.

Expected instants are written out by hand. Around DST changes they are given in UTC (with the
local reading in a comment), because that is what the instant really is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alerter.calendars import ALWAYS_OPEN, BusinessCalendar, CalendarSpec, HolidaySpec
from alerter.durations import Duration, parse_duration

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
MIN = timedelta(minutes=1)


def _at(zone: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=zone)


def ny(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return _at(NY, y, mo, d, h, mi, s)


def berlin(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return _at(BERLIN, y, mo, d, h, mi, s)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def calendar(zone: str = "America/New_York", **fields: Any) -> BusinessCalendar:
    return CalendarSpec(time_zone=zone, **fields).build("test")


SALES = calendar(hours={"weekdays": "09:00-17:00"}, holidays={"country": "US"})
SPLIT = calendar(
    "Europe/Berlin",
    hours={"weekdays": ["08:00-12:00", "13:00-17:00"], "saturday": "09:00-12:00"},
    holidays={"country": "DE", "subdivision": "BE"},
)
NY_24X7 = calendar(hours={"every_day": "00:00-24:00"})
BERLIN_24X7 = calendar("Europe/Berlin", hours={"every_day": "00:00-24:00"})
NY_DAYTIME = calendar(hours={"every_day": "09:00-17:00"})


class TestAdd:
    def test_friday_afternoon_rolls_to_monday(self) -> None:
        """Half an hour is left on Friday, the other half is Monday morning."""
        assert SALES.add(ny(2026, 2, 6, 16, 30), H) == ny(2026, 2, 9, 9, 30)

    def test_ends_at_closing_rather_than_next_opening(self) -> None:
        """The earliest instant is Friday 17:00, not Monday 09:00."""
        assert SALES.add(ny(2026, 2, 6, 16, 0), H) == ny(2026, 2, 6, 17, 0)

    def test_full_day_ends_at_closing(self) -> None:
        """Eight business hours from Monday 09:00 end Monday 17:00."""
        assert SALES.add(ny(2026, 2, 9, 9, 0), 8 * H) == ny(2026, 2, 9, 17, 0)

    def test_start_at_closing(self) -> None:
        """A lead arriving at closing time counts from the next opening."""
        assert SALES.add(ny(2026, 2, 6, 17, 0), H) == ny(2026, 2, 9, 10, 0)

    def test_start_on_saturday(self) -> None:
        """Saturday 10:00 plus one business hour is Monday 10:00."""
        assert SALES.add(ny(2026, 2, 7, 10, 0), H) == ny(2026, 2, 9, 10, 0)

    def test_start_on_sunday(self) -> None:
        """A lead arriving on Sunday starts counting Monday 09:00."""
        assert SALES.add(ny(2026, 2, 8, 15, 0), 2 * H) == ny(2026, 2, 9, 11, 0)

    def test_start_before_opening(self) -> None:
        """A lead arriving at 07:00 starts counting at 09:00."""
        assert SALES.add(ny(2026, 2, 9, 7, 0), H) == ny(2026, 2, 9, 10, 0)

    def test_zero_returns_start_even_when_closed(self) -> None:
        """Adding nothing does not move a closed-time start to the next opening."""
        assert SALES.add(ny(2026, 2, 7, 10, 0), timedelta(0)) == ny(2026, 2, 7, 10, 0)

    def test_result_is_utc(self) -> None:
        """Results are aware datetimes in UTC, whatever zone the input was in."""
        assert SALES.add(ny(2026, 2, 9, 9, 0), H).tzinfo is UTC
        assert SALES.add(ny(2026, 2, 9, 9, 0), timedelta(0)).tzinfo is UTC

    def test_seconds_are_exact(self) -> None:
        """Sub-minute amounts carry over the weekend to the second."""
        start = ny(2026, 2, 6, 16, 59, 59)
        assert SALES.add(start, timedelta(seconds=2)) == ny(2026, 2, 9, 9, 0, 1)

    def test_500_business_hours(self) -> None:
        """62 full days and 4 hours, skipping Presidents' Day, Memorial Day and the DST change."""
        assert SALES.add(ny(2026, 2, 9, 9, 0), 500 * H) == ny(2026, 5, 7, 13, 0)

    def test_naive_start_is_rejected(self) -> None:
        """A datetime without a zone is ambiguous, so it is refused."""
        with pytest.raises(ValueError, match="naive datetime"):
            SALES.add(datetime(2026, 2, 9, 9, 0), H)


class TestAddBackward:
    def test_monday_morning_back_to_friday(self) -> None:
        """Monday 09:10 minus 15 minutes is Friday 16:55."""
        assert SALES.add(ny(2026, 2, 9, 9, 10), -15 * MIN) == ny(2026, 2, 6, 16, 55)

    def test_opening_back_to_previous_closing_hour(self) -> None:
        """Monday 09:00 minus one hour is Friday 16:00."""
        assert SALES.add(ny(2026, 2, 9, 9, 0), -H) == ny(2026, 2, 6, 16, 0)

    def test_ends_at_opening_rather_than_previous_closing(self) -> None:
        """The latest instant is Friday 09:00, not Thursday 17:00."""
        assert SALES.add(ny(2026, 2, 6, 17, 0), -8 * H) == ny(2026, 2, 6, 9, 0)

    def test_exactly_back_to_opening(self) -> None:
        """Monday 09:10 minus 10 minutes is Monday 09:00 (the latest such instant)."""
        assert SALES.add(ny(2026, 2, 9, 9, 10), -10 * MIN) == ny(2026, 2, 9, 9, 0)

    def test_from_saturday(self) -> None:
        """Saturday noon minus one hour is Friday 16:00."""
        assert SALES.add(ny(2026, 2, 7, 12, 0), -H) == ny(2026, 2, 6, 16, 0)

    def test_skips_thanksgiving(self) -> None:
        """Friday after Thanksgiving 09:30 minus one hour is Wednesday 16:30."""
        assert SALES.add(ny(2026, 11, 27, 9, 30), -H) == ny(2026, 11, 25, 16, 30)


class TestBetween:
    def test_over_the_weekend(self) -> None:
        """Friday 16:30 to Monday 09:30 is one business hour."""
        assert SALES.between(ny(2026, 2, 6, 16, 30), ny(2026, 2, 9, 9, 30)) == H

    def test_end_before_start_is_negative(self) -> None:
        """Swapping the ends flips the sign."""
        assert SALES.between(ny(2026, 2, 9, 10, 0), ny(2026, 2, 6, 16, 30)) == -90 * MIN

    def test_closed_time_only(self) -> None:
        """Nothing elapses over a weekend."""
        assert SALES.between(ny(2026, 2, 6, 17, 0), ny(2026, 2, 9, 9, 0)) == timedelta(0)

    def test_same_instant(self) -> None:
        """No time elapses between an instant and itself."""
        assert SALES.between(ny(2026, 2, 9, 10, 0), ny(2026, 2, 9, 10, 0)) == timedelta(0)

    def test_thanksgiving_week(self) -> None:
        """Wednesday to Saturday of Thanksgiving week holds two open days."""
        assert SALES.between(ny(2026, 11, 25), ny(2026, 11, 28)) == 16 * H

    def test_mixed_zones(self) -> None:
        """Inputs in different zones are compared as instants."""
        assert SALES.between(utc(2026, 2, 9, 14, 0), ny(2026, 2, 9, 10, 0)) == H


class TestHolidays:
    def test_thanksgiving_is_skipped(self) -> None:
        """Wednesday 16:00 plus two hours skips Thanksgiving 2026-11-26."""
        assert SALES.add(ny(2026, 11, 25, 16, 0), 2 * H) == ny(2026, 11, 27, 10, 0)

    def test_explicit_date_with_country(self) -> None:
        """An explicit 2026-12-24 and Christmas Day both close the office."""
        cal = calendar(
            hours={"weekdays": "09:00-17:00"},
            holidays={"country": "US", "dates": [date(2026, 12, 24)]},
        )
        assert cal.add(ny(2026, 12, 23, 16, 30), H) == ny(2026, 12, 28, 9, 30)

    def test_explicit_date_alone(self) -> None:
        """Without a country only the listed date is closed (Christmas is open here)."""
        cal = calendar(hours={"weekdays": "09:00-17:00"}, holidays={"dates": ["2026-12-24"]})
        assert cal.add(ny(2026, 12, 23, 16, 30), H) == ny(2026, 12, 25, 9, 30)

    def test_is_holiday(self) -> None:
        """Country holidays and explicit dates are holidays; an ordinary day is not."""
        cal = calendar(
            hours={"weekdays": "09:00-17:00"},
            holidays={"country": "US", "subdivision": "NY", "dates": [date(2026, 12, 24)]},
        )
        assert cal.is_holiday(date(2026, 11, 26))
        assert cal.is_holiday(date(2026, 12, 24))
        assert not cal.is_holiday(date(2026, 11, 24))

    def test_berlin_holiday(self) -> None:
        """Good Friday 2026-04-03 and Easter Monday 2026-04-06 are closed in Berlin."""
        assert SPLIT.add(berlin(2026, 4, 2, 16, 30), H) == berlin(2026, 4, 4, 9, 30)
        assert SPLIT.add(berlin(2026, 4, 4, 11, 30), H) == berlin(2026, 4, 7, 8, 30)


class TestSplitShifts:
    def test_lunch_break_is_skipped(self) -> None:
        """Monday 11:30 plus one hour is 13:30, not 12:30."""
        assert SPLIT.add(berlin(2026, 2, 9, 11, 30), H) == berlin(2026, 2, 9, 13, 30)

    def test_start_during_lunch(self) -> None:
        """A lead arriving at lunch counts from 13:00."""
        assert SPLIT.add(berlin(2026, 2, 9, 12, 30), 30 * MIN) == berlin(2026, 2, 9, 13, 30)

    def test_ends_at_start_of_lunch(self) -> None:
        """The earliest instant is 12:00, before the break."""
        assert SPLIT.add(berlin(2026, 2, 9, 11, 0), H) == berlin(2026, 2, 9, 12, 0)

    def test_backward_across_lunch(self) -> None:
        """13:00 minus 30 minutes is 11:30 (the latest such instant)."""
        assert SPLIT.add(berlin(2026, 2, 9, 13, 0), -30 * MIN) == berlin(2026, 2, 9, 11, 30)

    def test_day_total(self) -> None:
        """A split day is eight business hours."""
        assert SPLIT.between(berlin(2026, 2, 9, 7, 0), berlin(2026, 2, 9, 18, 0)) == 8 * H

    def test_saturday_morning(self) -> None:
        """Friday 16:30 plus one hour ends Saturday 09:30."""
        assert SPLIT.add(berlin(2026, 2, 13, 16, 30), H) == berlin(2026, 2, 14, 9, 30)

    def test_open_intervals(self) -> None:
        """Monday's two shifts are two intervals, in UTC (CET is UTC+1)."""
        got = list(SPLIT.open_intervals(berlin(2026, 2, 9), berlin(2026, 2, 10)))
        assert got == [
            (utc(2026, 2, 9, 7, 0), utc(2026, 2, 9, 11, 0)),
            (utc(2026, 2, 9, 12, 0), utc(2026, 2, 9, 16, 0)),
        ]


class TestDaylightSaving:
    def test_spring_forward_business_hours(self) -> None:
        """Friday 16:00 EST plus two hours is Monday 10:00 EDT."""
        start, end = ny(2026, 3, 6, 16, 0), utc(2026, 3, 9, 14, 0)  # Monday 10:00 EDT
        assert SALES.add(start, 2 * H) == end
        assert SALES.between(start, end) == 2 * H

    def test_fall_back_business_hours(self) -> None:
        """Friday 16:00 EDT plus two hours is Monday 10:00 EST."""
        start, end = ny(2026, 10, 30, 16, 0), utc(2026, 11, 2, 15, 0)  # Monday 10:00 EST
        assert SALES.add(start, 2 * H) == end
        assert SALES.between(start, end) == 2 * H

    def test_daytime_range_on_change_day_is_eight_hours(self) -> None:
        """09:00-17:00 on both change days is still eight real hours."""
        assert NY_DAYTIME.between(ny(2026, 3, 8), ny(2026, 3, 9)) == 8 * H
        assert NY_DAYTIME.between(ny(2026, 11, 1), ny(2026, 11, 2)) == 8 * H
        got = list(NY_DAYTIME.open_intervals(ny(2026, 3, 8), ny(2026, 3, 9)))
        assert got == [(utc(2026, 3, 8, 13, 0), utc(2026, 3, 8, 21, 0))]  # 09:00-17:00 EDT

    def test_24x7_day_lengths(self) -> None:
        """00:00-24:00 is 23 real hours on spring-forward day and 25 on fall-back day."""
        assert NY_24X7.between(ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * H
        assert NY_24X7.between(ny(2026, 11, 1), ny(2026, 11, 2)) == 25 * H

    def test_24x7_spring_forward_equals_real_time(self) -> None:
        """Saturday 12:00 EST plus 24 business hours is Sunday 13:00 EDT, 24 real hours later."""
        start = ny(2026, 3, 7, 12, 0)  # 17:00Z
        assert NY_24X7.add(start, 24 * H) == utc(2026, 3, 8, 17, 0)
        assert NY_24X7.add(utc(2026, 3, 8, 17, 0), -24 * H) == start

    def test_24x7_fall_back_equals_real_time(self) -> None:
        """Saturday 12:00 EDT plus 24 business hours is Sunday 11:00 EST, 24 real hours later."""
        start = ny(2026, 10, 31, 12, 0)  # 16:00Z
        assert NY_24X7.add(start, 24 * H) == utc(2026, 11, 1, 16, 0)
        assert NY_24X7.add(utc(2026, 11, 1, 16, 0), -24 * H) == start

    def test_24x7_is_one_interval_across_changes(self) -> None:
        """Adjacent days tile: no gap or overlap at midnight or at the change."""
        got = list(NY_24X7.open_intervals(ny(2026, 10, 30, 12, 0), ny(2026, 11, 3, 12, 0)))
        assert got == [(utc(2026, 10, 30, 16, 0), utc(2026, 11, 3, 17, 0))]

    def test_range_starting_in_spring_gap_starts_when_gap_ends(self) -> None:
        """02:30 does not exist on 2026-03-08, so 02:30-04:00 opens at 03:00 EDT."""
        cal = calendar(hours={"sunday": "02:30-04:00"})
        got = list(cal.open_intervals(ny(2026, 3, 8), ny(2026, 3, 9)))
        assert got == [(utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 8, 0))]

    def test_range_inside_spring_gap_is_empty(self) -> None:
        """02:00-02:45 never appears on the clock on 2026-03-08, so it is never open."""
        cal = calendar(hours={"sunday": "02:00-02:45", "monday": "09:00-10:00"})
        assert cal.between(ny(2026, 3, 8), ny(2026, 3, 9)) == timedelta(0)
        assert cal.next_open(ny(2026, 3, 8)) == ny(2026, 3, 9, 9, 0)

    def test_repeated_time_maps_to_first_occurrence(self) -> None:
        """On 2026-11-01 01:30-03:00 runs from 01:30 EDT to 03:00 EST: 2.5 real hours."""
        cal = calendar(hours={"sunday": "01:30-03:00"})
        got = list(cal.open_intervals(ny(2026, 11, 1), ny(2026, 11, 2)))
        assert got == [(utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 8, 0))]

    def test_range_ending_in_repeated_hour_ends_at_first_occurrence(self) -> None:
        """00:00-01:30 closes at 01:30 EDT; the repeated 01:00-01:30 EST stays closed."""
        cal = calendar(hours={"sunday": "00:00-01:30"})
        assert cal.between(ny(2026, 11, 1), ny(2026, 11, 2)) == 90 * MIN
        assert cal.is_open(utc(2026, 11, 1, 5, 15))  # 01:15 EDT
        assert not cal.is_open(utc(2026, 11, 1, 6, 15))  # 01:15 EST

    def test_ranges_touching_in_repeated_hour_tile(self) -> None:
        """00:00-01:30 and 01:30-24:00 on fall-back day cover exactly its 25 hours."""
        cal = calendar(hours={"sunday": ["00:00-01:30", "01:30-24:00"]})
        got = list(cal.open_intervals(ny(2026, 10, 31), ny(2026, 11, 3)))
        assert got == [(utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 5, 0))]

    def test_berlin_24x7_equals_real_time(self) -> None:
        """In Berlin 24 business hours across either change are 24 real hours."""
        assert BERLIN_24X7.add(berlin(2026, 3, 28, 12, 0), 24 * H) == utc(2026, 3, 29, 11, 0)
        assert BERLIN_24X7.add(berlin(2026, 10, 24, 12, 0), 24 * H) == utc(2026, 10, 25, 10, 0)
        assert BERLIN_24X7.between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * H
        assert BERLIN_24X7.between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * H

    def test_berlin_night_range_across_changes(self) -> None:
        """02:30-03:30 is 30 minutes when 02:30 is skipped and 2 hours when it repeats."""
        cal = calendar("Europe/Berlin", hours={"sunday": "02:30-03:30"})
        spring = list(cal.open_intervals(berlin(2026, 3, 29), berlin(2026, 3, 30)))
        assert spring == [(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30))]
        autumn = list(cal.open_intervals(berlin(2026, 10, 25), berlin(2026, 10, 26)))
        assert autumn == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30))]

    def test_berlin_split_shift_after_spring_forward(self) -> None:
        """Saturday 11:30 CET plus one hour is Monday 08:30 CEST, across the Sunday change."""
        assert SPLIT.add(berlin(2026, 3, 28, 11, 30), H) == utc(2026, 3, 30, 6, 30)


class TestOpenIntervals:
    def test_clipped_to_window(self) -> None:
        """Friday afternoon and Monday morning, cut at the window's ends."""
        got = list(SALES.open_intervals(ny(2026, 2, 6, 12, 0), ny(2026, 2, 9, 12, 0)))
        assert got == [
            (utc(2026, 2, 6, 17, 0), utc(2026, 2, 6, 22, 0)),
            (utc(2026, 2, 9, 14, 0), utc(2026, 2, 9, 17, 0)),
        ]

    def test_empty_window(self) -> None:
        """A window that ends before it starts holds nothing."""
        assert list(SALES.open_intervals(ny(2026, 2, 9, 12, 0), ny(2026, 2, 9, 10, 0))) == []

    def test_naive_end_is_rejected(self) -> None:
        """Both ends must carry a zone."""
        with pytest.raises(ValueError, match="naive datetime"):
            list(SALES.open_intervals(ny(2026, 2, 9), datetime(2026, 2, 10)))


class TestIsOpenAndNextOpen:
    def test_half_open_ranges(self) -> None:
        """Open at 09:00 and 16:59:59, closed at 17:00."""
        assert SALES.is_open(ny(2026, 2, 9, 9, 0))
        assert SALES.is_open(ny(2026, 2, 9, 16, 59, 59))
        assert not SALES.is_open(ny(2026, 2, 9, 17, 0))
        assert not SALES.is_open(ny(2026, 2, 9, 8, 59, 59))

    def test_closed_on_weekend_and_holiday(self) -> None:
        """Saturday and Thanksgiving are closed."""
        assert not SALES.is_open(ny(2026, 2, 7, 12, 0))
        assert not SALES.is_open(ny(2026, 11, 26, 12, 0))

    def test_next_open_when_open(self) -> None:
        """When open, the next open instant is now."""
        assert SALES.next_open(ny(2026, 2, 9, 12, 0)) == ny(2026, 2, 9, 12, 0)

    def test_next_open_over_weekend(self) -> None:
        """At Friday closing the next opening is Monday 09:00."""
        assert SALES.next_open(ny(2026, 2, 6, 17, 0)) == ny(2026, 2, 9, 9, 0)

    def test_next_open_over_holiday(self) -> None:
        """On Thanksgiving eve the next opening is Friday 09:00."""
        assert SALES.next_open(ny(2026, 11, 25, 18, 0)) == ny(2026, 11, 27, 9, 0)


class TestShiftAndMeasure:
    def test_shift_business(self) -> None:
        """A business duration is added in business time."""
        got = SALES.shift(ny(2026, 2, 6, 16, 30), parse_duration("1 business hour"))
        assert got == ny(2026, 2, 9, 9, 30)

    def test_shift_calendar_time_is_real_elapsed_time(self) -> None:
        """24h from Saturday 12:00 EDT is Sunday 11:00 EST, not wall-clock 12:00."""
        got = SALES.shift(ny(2026, 10, 31, 12, 0), Duration(24 * H))
        assert got == utc(2026, 11, 1, 16, 0)
        assert got.tzinfo is UTC

    def test_measure(self) -> None:
        """Business measure counts open time; calendar measure counts real time."""
        start, end = ny(2026, 2, 6, 16, 30), ny(2026, 2, 9, 9, 30)
        assert SALES.measure(start, end, business=True) == H
        assert SALES.measure(start, end, business=False) == 65 * H


class TestAlwaysOpen:
    def test_business_time_is_calendar_time(self) -> None:
        """On the default calendar business time equals elapsed time."""
        start = ny(2026, 10, 31, 12, 0)
        assert ALWAYS_OPEN.name == "always"
        assert ALWAYS_OPEN.add(start, 30 * H) == utc(2026, 11, 1, 22, 0)
        assert ALWAYS_OPEN.between(start, utc(2026, 11, 1, 22, 0)) == 30 * H
        assert ALWAYS_OPEN.is_open(utc(2026, 12, 25, 3, 0))


class TestNeverOpen:
    CLOSED = BusinessCalendar(
        "closed",
        NY,
        (((540, 1020),),) * 7,
        frozenset(date(2015, 1, 1) + timedelta(days=n) for n in range(25 * 366)),
    )

    def test_add_gives_up_after_ten_years(self) -> None:
        """A calendar with no open time raises instead of looping forever."""
        with pytest.raises(ValueError, match="calendar 'closed' has no open time within 10 years"):
            self.CLOSED.add(ny(2026, 2, 9), H)

    def test_add_backward_gives_up(self) -> None:
        """The backward scan is guarded too."""
        with pytest.raises(ValueError, match="no open time within 10 years"):
            self.CLOSED.add(ny(2031, 2, 9), -H)

    def test_next_open_gives_up(self) -> None:
        """next_open raises rather than returning a bogus instant."""
        with pytest.raises(ValueError, match="no open time within 10 years"):
            self.CLOSED.next_open(ny(2026, 2, 9))

    def test_between_is_zero(self) -> None:
        """A bounded measure needs no guard: it is simply zero."""
        assert self.CLOSED.between(ny(2026, 2, 9), ny(2026, 3, 9)) == timedelta(0)

    def test_bad_week_is_rejected(self) -> None:
        """Direct construction checks the week's shape."""
        with pytest.raises(ValueError, match="7 days of sorted ranges"):
            BusinessCalendar("bad", NY, (((600, 540),),) * 7)


class TestCalendarSpec:
    def test_builds_from_yaml_shape(self) -> None:
        """The documented example builds, a named day overriding weekdays."""
        spec = CalendarSpec.model_validate(
            {
                "time_zone": "America/New_York",
                "hours": {"weekdays": "09:00-17:00", "saturday": ["10:00-12:00", "13:00-14:00"]},
                "holidays": {"country": "US", "subdivision": "NY", "dates": [date(2026, 12, 24)]},
            }
        )
        cal = spec.build("us-east-sales")
        assert cal.name == "us-east-sales"
        assert cal.zone == NY
        assert cal.week == (((540, 1020),),) * 5 + (((600, 720), (780, 840)), ())
        assert cal.holiday_dates == {date(2026, 12, 24)}
        assert cal.is_holiday(date(2026, 11, 26))

    def test_precedence(self) -> None:
        """A named day beats weekdays, which beats every_day; an empty list closes a day."""
        cal = calendar(
            hours={
                "every_day": "10:00-14:00",
                "weekdays": "09:00-17:00",
                "friday": "09:00-12:00",
                "monday": [],
            }
        )
        assert cal.week == (
            (),
            ((540, 1020),),
            ((540, 1020),),
            ((540, 1020),),
            ((540, 720),),
            ((600, 840),),
            ((600, 840),),
        )

    def test_holidays_default_to_none(self) -> None:
        """Without a holidays section nothing is a holiday."""
        cal = calendar(hours={"weekdays": "09:00-17:00"})
        assert cal.country_holidays is None
        assert not cal.is_holiday(date(2026, 12, 25))

    def test_lowercase_country_is_accepted(self) -> None:
        """Country codes are normalised to upper case."""
        assert HolidaySpec(country="us").country == "US"

    def test_unknown_time_zone(self) -> None:
        """A misspelt zone names the zone and where it was wrong."""
        with pytest.raises(ValidationError, match="unknown time zone 'America/NewYork'") as err:
            CalendarSpec(time_zone="America/NewYork", hours={"weekdays": "09:00-17:00"})
        assert err.value.errors()[0]["loc"] == ("time_zone",)

    @pytest.mark.parametrize(
        ("hours", "loc", "message"),
        [
            ({"weekdays": "9-17"}, ("hours", "weekdays"), "bad opening hours '9-17'"),
            ({"monday": "17:00-09:00"}, ("hours", "monday"), "'17:00-09:00' must end after"),
            ({"monday": "09:00-09:00"}, ("hours", "monday"), "must end after it starts"),
            ({"monday": "09:00-24:30"}, ("hours", "monday"), "is not a time of day"),
            ({"monday": "24:00-24:00"}, ("hours", "monday"), "is not a time of day"),
            ({"monday": "09:60-10:00"}, ("hours", "monday"), "is not a time of day"),
            (
                {"friday": ["09:00-13:00", "12:00-17:00"]},
                ("hours", "friday"),
                "opening hours 09:00-13:00 and 12:00-17:00 overlap",
            ),
            ({"monday": 9}, ("hours", "monday"), "write opening hours like '09:00-17:00'"),
            ({"mon": "09:00-17:00"}, ("hours", "mon"), "Extra inputs are not permitted"),
            ({}, ("hours",), "a calendar must be open at some time in the week"),
            ({"every_day": []}, ("hours",), "a calendar must be open at some time in the week"),
        ],
    )
    def test_bad_hours(self, hours: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
        """Each mistake in hours is reported against the day it concerns, in plain words."""
        with pytest.raises(ValidationError, match=message) as err:
            CalendarSpec.model_validate({"time_zone": "America/New_York", "hours": hours})
        assert err.value.errors()[0]["loc"] == loc

    def test_touching_ranges_and_midnight_are_fine(self) -> None:
        """Ranges may touch, and 24:00 is a valid end."""
        cal = calendar(hours={"monday": ["00:00-12:00", "12:00-24:00"]})
        assert cal.week[0] == ((0, 720), (720, 1440))

    def test_unknown_country(self) -> None:
        """A country without a holiday list is rejected."""
        with pytest.raises(ValidationError, match="no holiday list for country 'XX'"):
            HolidaySpec(country="XX")

    def test_unknown_subdivision(self) -> None:
        """A subdivision the country does not have is rejected, listing the known ones."""
        with pytest.raises(ValidationError, match="US has no subdivision 'ZZ'; known: AK, AL"):
            HolidaySpec(country="US", subdivision="ZZ")

    def test_subdivision_without_country(self) -> None:
        """A subdivision alone means nothing."""
        with pytest.raises(ValidationError, match="a subdivision needs a country"):
            HolidaySpec(subdivision="NY")

    def test_extra_fields_are_forbidden(self) -> None:
        """A misspelt key is an error, not silently ignored."""
        with pytest.raises(ValidationError, match="timezone"):
            CalendarSpec.model_validate({"timezone": "UTC", "hours": {"weekdays": "09:00-17:00"}})


PROPERTY_CALENDARS = st.sampled_from([SALES, SPLIT, NY_24X7])
STARTS = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from([UTC, NY, BERLIN]),
)
AMOUNTS = st.one_of(
    st.integers(0, 300 * 60).map(lambda n: timedelta(minutes=n)),
    st.integers(0, 300 * 3600).map(lambda n: timedelta(seconds=n)),
)
PROPERTY = settings(max_examples=200, deadline=None)


class TestProperties:
    @PROPERTY
    @given(cal=PROPERTY_CALENDARS, start=STARTS, amount=AMOUNTS)
    def test_between_inverts_add(
        self, cal: BusinessCalendar, start: datetime, amount: timedelta
    ) -> None:
        """Business time from start to start + d is exactly d."""
        assert cal.between(start, cal.add(start, amount)) == amount

    @PROPERTY
    @given(cal=PROPERTY_CALENDARS, start=STARTS, a=AMOUNTS, b=AMOUNTS)
    def test_add_is_monotonic(
        self, cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
    ) -> None:
        """Adding more business time never lands earlier."""
        small, large = sorted((a, b))
        assert cal.add(start, small) <= cal.add(start, large)

    @PROPERTY
    @given(cal=PROPERTY_CALENDARS, start=STARTS, amount=AMOUNTS)
    def test_add_then_subtract_returns(
        self, cal: BusinessCalendar, start: datetime, amount: timedelta
    ) -> None:
        """Going forward then back by d lands zero business time from start."""
        back = cal.add(cal.add(start, amount), -amount)
        assert back >= start
        assert cal.between(start, back) == timedelta(0)

    @PROPERTY
    @given(start=STARTS, amount=AMOUNTS)
    def test_24x7_is_real_time(self, start: datetime, amount: timedelta) -> None:
        """On a 24x7 calendar business time is real elapsed time, across DST changes."""
        assert NY_24X7.add(start, amount) == start.astimezone(UTC) + amount
        assert NY_24X7.add(start, -amount) == start.astimezone(UTC) - amount
        assert NY_24X7.between(start, start.astimezone(UTC) + amount) == amount
