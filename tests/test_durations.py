"""Durations as rule authors write them: calendar time, business time, and the errors in between."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from alerter.durations import Duration, DurationField, format_timedelta, parse_duration

H = timedelta(hours=1)
MIN = timedelta(minutes=1)
EXAMPLES = "write e.g. 1h, 90m, 2d, '1h 30m' or '1 business hour'"


class TestParseCalendarTime:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1h", H),
            ("90m", 90 * MIN),
            ("45s", timedelta(seconds=45)),
            ("2d", timedelta(days=2)),
            ("1w", timedelta(weeks=1)),
            ("1 hour", H),
            ("2 hours", 2 * H),
            ("15 minutes", 15 * MIN),
            ("3 days", timedelta(days=3)),
            ("1.5h", 90 * MIN),
        ],
    )
    def test_single_part(self, text: str, expected: timedelta) -> None:
        """A number and a unit, with or without a space, in short or long form."""
        assert parse_duration(text) == Duration(expected)

    @pytest.mark.parametrize("text", ["1h 30m", "1h30m", "1h, 30m", "1 hour and 30 minutes"])
    def test_parts_add_up(self, text: str) -> None:
        """Several parts are summed, whatever separates them."""
        assert parse_duration(text) == Duration(90 * MIN)

    def test_case_and_surrounding_space_are_ignored(self) -> None:
        """``  1 Hour  `` is one hour."""
        assert parse_duration("  1 Hour  ") == Duration(H)

    def test_m_is_minutes_not_months(self) -> None:
        """``m`` means minutes."""
        assert parse_duration("1m") == Duration(MIN)

    def test_calendar_time_is_not_business(self) -> None:
        """A plain duration is wall-clock time."""
        assert parse_duration("1h").business is False

    def test_zero_is_allowed_here(self) -> None:
        """Zero parses; whether it makes sense is the rule's business."""
        assert parse_duration("0m") == Duration(timedelta(0))


class TestParseNegative:
    def test_leading_minus(self) -> None:
        """``-15m`` is fifteen minutes back."""
        assert parse_duration("-15m") == Duration(-15 * MIN)

    def test_minus_applies_to_every_part(self) -> None:
        """``-1h 30m`` is minus ninety minutes, not minus thirty."""
        assert parse_duration("-1h 30m") == Duration(-90 * MIN)

    def test_space_after_minus(self) -> None:
        """``- 15m`` reads the same as ``-15m``."""
        assert parse_duration("- 15m") == Duration(-15 * MIN)

    def test_negative_business_time(self) -> None:
        """The sign and the business flag are independent."""
        assert parse_duration("-1 business hour") == Duration(-H, business=True)

    @pytest.mark.parametrize("text", ["--15m", "1h -30m"])
    def test_misplaced_minus_is_an_error(self, text: str) -> None:
        """Only one minus, and only at the front."""
        with pytest.raises(ValueError, match="bad duration"):
            parse_duration(text)


class TestParseBusinessTime:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1 business hour", H),
            ("2 business hours", 2 * H),
            ("15 business minutes", 15 * MIN),
            ("1 business hour 30 business minutes", 90 * MIN),
            ("1.5 business hours", 90 * MIN),
            ("1 Business Hour", H),
        ],
    )
    def test_business_hours_and_minutes(self, text: str, expected: timedelta) -> None:
        """Business time is counted in hours and minutes."""
        assert parse_duration(text) == Duration(expected, business=True)

    def test_business_days_are_refused(self) -> None:
        """A business day means different things to different teams, so it is spelt as hours."""
        with pytest.raises(ValueError, match="business days") as info:
            parse_duration("2 business days")
        assert str(info.value) == (
            "bad duration '2 business days': business time is counted in hours and minutes "
            "(write '16 business hours' for two 8-hour days)"
        )

    def test_business_weeks_are_refused(self) -> None:
        """Weeks are no more a business unit than days."""
        with pytest.raises(ValueError, match="business time is counted in hours and minutes"):
            parse_duration("1 business week")

    def test_mixing_business_and_calendar_time(self) -> None:
        """``1 business hour 30m`` is ambiguous, so it is refused."""
        with pytest.raises(ValueError, match="mixes") as info:
            parse_duration("1 business hour 30m")
        assert str(info.value) == (
            "bad duration '1 business hour 30m': mixes business and calendar time"
        )


class TestParseErrors:
    def test_unknown_unit(self) -> None:
        """A misspelt unit is named, with examples of the right form."""
        with pytest.raises(ValueError, match="hourz") as info:
            parse_duration("1 hourz")
        assert str(info.value) == f"bad duration '1 hourz': unknown unit 'hourz'; {EXAMPLES}"

    def test_months_are_not_a_unit(self) -> None:
        """Months vary in length, so there is no ``mo`` unit."""
        with pytest.raises(ValueError, match="unknown unit 'mo'"):
            parse_duration("1mo")

    @pytest.mark.parametrize("text", ["", "   ", "-", "h", "60", "1h 30", ".5h", "+15m", "and 1h"])
    def test_not_a_duration(self, text: str) -> None:
        """Text without a number and a unit gives the examples."""
        with pytest.raises(ValueError, match="bad duration") as info:
            parse_duration(text)
        assert str(info.value) == f"bad duration {text!r}: {EXAMPLES}"

    def test_business_without_unit(self) -> None:
        """``1 business`` is missing its unit."""
        with pytest.raises(ValueError, match="unknown unit 'business'"):
            parse_duration("1 business")


class TestParseProperties:
    @given(st.integers(0, 10_000), st.integers(0, 59))
    def test_hours_and_minutes(self, hours: int, minutes: int) -> None:
        """``<h>h <m>m`` is exactly that many hours and minutes."""
        expected = Duration(timedelta(hours=hours, minutes=minutes))
        assert parse_duration(f"{hours}h {minutes}m") == expected

    @given(st.integers(0, 10_000), st.sampled_from(["s", "m", "h", "d", "w"]))
    def test_negation(self, amount: int, unit: str) -> None:
        """A leading minus negates the duration."""
        assert parse_duration(f"-{amount}{unit}") == -parse_duration(f"{amount}{unit}")


class TestDuration:
    def test_negation_keeps_business(self) -> None:
        """Negating business time gives negative business time."""
        assert -Duration(H, business=True) == Duration(-H, business=True)

    def test_str_calendar_time(self) -> None:
        """Calendar time is written the way a rule author writes it."""
        assert str(Duration(90 * MIN)) == "1h 30m"

    def test_str_business_time(self) -> None:
        """Business time says so, in words."""
        assert str(Duration(H, business=True)) == "1 business hour"
        assert str(Duration(150 * MIN, business=True)) == "2 business hours 30 business minutes"

    @pytest.mark.parametrize(
        "text", ["1h", "90m", "2d 3h 4m 5s", "-15m", "45s", "16 business hours", "0m"]
    )
    def test_str_reads_back(self, text: str) -> None:
        """What str() writes, parse_duration reads back to the same duration."""
        duration = parse_duration(text)
        assert parse_duration(str(duration)) == duration


class TestFormatTimedelta:
    @pytest.mark.parametrize(
        ("delta", "expected"),
        [
            (timedelta(0), "0 s"),
            (timedelta(seconds=42), "42 s"),
            (timedelta(hours=1, minutes=5), "1 h 5 min"),
            (timedelta(hours=1, seconds=5), "1 h 5 s"),
            (timedelta(days=2, hours=3), "2 d 3 h"),
            (timedelta(days=1, seconds=30), "1 d"),
            (timedelta(days=1, hours=2, minutes=3), "1 d 2 h"),
            (-90 * MIN, "-1 h 30 min"),
        ],
    )
    def test_format(self, delta: timedelta, expected: str) -> None:
        """At most two parts, largest first; seconds only when under a day."""
        assert format_timedelta(delta) == expected


class _Model(BaseModel):
    value: DurationField


class TestDurationField:
    def test_accepts_text(self) -> None:
        """A model field parses the text form."""
        assert _Model(value="90m").value == Duration(90 * MIN)  # type: ignore[arg-type]

    def test_accepts_a_duration(self) -> None:
        """An already-parsed Duration passes through."""
        assert _Model(value=Duration(H)).value == Duration(H)

    def test_number_without_unit_is_an_error(self) -> None:
        """YAML ``sla: 60`` is a number and gets the examples."""
        with pytest.raises(ValidationError) as info:
            _Model(value=60)  # type: ignore[arg-type]
        assert info.value.errors()[0]["msg"] == f"Value error, bad duration 60: {EXAMPLES}"

    def test_serialises_as_text(self) -> None:
        """Dumping a model writes the duration as a person would say it."""
        dumped = _Model(value=Duration(H, business=True)).model_dump()
        assert dumped == {"value": "1 business hour"}
