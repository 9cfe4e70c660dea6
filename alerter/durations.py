"""Durations as rule authors write them: ``1h``, ``90m``, ``2d``, ``1 business hour``.

A duration is either calendar time (wall-clock elapsed time) or business time (time the rule's
calendar is open). Business time is counted in minutes and hours only: a "business day" means
different things to different teams (8 hours? the next open morning?), so the rule author spells
it out as hours instead of us guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS: dict[str, timedelta] = {}
for _names, _size in (
    (("s", "sec", "secs", "second", "seconds"), timedelta(seconds=1)),
    (("m", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    (("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    (("d", "day", "days"), timedelta(days=1)),
    (("w", "week", "weeks"), timedelta(weeks=1)),
):
    for _name in _names:
        _UNITS[_name] = _size

_BUSINESS_UNITS = {"s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute"}
_BUSINESS_UNITS |= {"minutes", "h", "hr", "hrs", "hour", "hours"}

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(business\s+)?([a-z]+)")
_EXAMPLES = "write e.g. 1h, 90m, 2d, '1h 30m' or '1 business hour'"


@dataclass(frozen=True, order=True)
class Duration:
    """A length of time, and whether it is counted in business time or on the wall clock."""

    amount: timedelta
    business: bool = False

    def __neg__(self) -> Duration:
        return Duration(-self.amount, self.business)

    def __str__(self) -> str:
        """The duration as a rule author writes it; ``parse_duration`` reads it back."""
        seconds = int(self.amount.total_seconds())
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        units: tuple[tuple[str, str, int], ...] = (
            ("d", "day", 86400),
            ("h", "hour", 3600),
            ("m", "minute", 60),
            ("s", "second", 1),
        )
        if self.business:
            units = units[1:]  # business time is said in hours and minutes
        parts = []
        for short, word, size in units:
            count, seconds = divmod(seconds, size)
            if count:
                plural = "s" if count != 1 else ""
                parts.append(
                    f"{count} business {word}{plural}" if self.business else f"{count}{short}"
                )
        if not parts:
            parts = ["0 business minutes" if self.business else "0s"]
        return sign + " ".join(parts)


def parse_duration(text: str) -> Duration:
    """Parse a duration; raise ValueError with an example of the right form when it is wrong."""
    source = text.strip().lower()
    negative = source.startswith("-")
    if negative:
        source = source[1:].lstrip()
    pos = 0
    total = timedelta(0)
    business_parts = 0
    parts = 0
    while pos < len(source):
        match = _PART.match(source, pos)
        if match is None:
            raise ValueError(f"bad duration {text!r}: {_EXAMPLES}")
        number, business, unit = match.groups()
        if unit not in _UNITS:
            raise ValueError(f"bad duration {text!r}: unknown unit {unit!r}; {_EXAMPLES}")
        if business:
            business_parts += 1
            if unit not in _BUSINESS_UNITS:
                raise ValueError(
                    f"bad duration {text!r}: business time is counted in hours and minutes "
                    f"(write '16 business hours' for two 8-hour days)"
                )
        total += float(number) * _UNITS[unit]
        parts += 1
        pos = match.end()
        while pos < len(source) and source[pos] in " ,":
            pos += 1
        if source.startswith("and ", pos):
            pos += 4
    if parts == 0:
        raise ValueError(f"bad duration {text!r}: {_EXAMPLES}")
    if 0 < business_parts < parts:
        raise ValueError(f"bad duration {text!r}: mixes business and calendar time")
    return Duration(-total if negative else total, business=business_parts > 0)


def format_timedelta(delta: timedelta) -> str:
    """Say a timedelta the way a person would: ``2 d 3 h``, ``1 h 5 min``, ``42 s``."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    if secs and not days:
        parts.append(f"{secs} s")
    return sign + (" ".join(parts[:2]) if parts else "0 s")


def _coerce(value: Any) -> Any:
    if isinstance(value, Duration):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"bad duration {value!r}: {_EXAMPLES}")


DurationField = Annotated[Duration, BeforeValidator(_coerce), PlainSerializer(str, return_type=str)]
"""A pydantic field type that accepts the text forms above."""
