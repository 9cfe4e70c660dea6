"""Quiet hours: until when a notification waits, so nobody is nudged at 3 a.m.

A rule's ``quiet_hours`` is ``calendar`` (hold while the rule's business calendar is closed),
``none`` (send any time) or a daily window such as 20:00-08:00 on the record owner's clock.
Everything an episode sends is held alike (the owner's nudge, the manager's escalation, the
channel post): the window follows the owner, whose day the lead belongs to.

A window is turned into a business calendar that is open outside it, so the exact wall-clock
arithmetic of ``calendars`` (midnight, daylight-saving gaps and folds) serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerter.calendars import BusinessCalendar, OpenRange
from alerter.clock import moment_text
from alerter.evaluate import Evaluation
from alerter.rule import QuietWindow, Rule


def hold_until(rule: Rule, evaluation: Evaluation, now: datetime) -> datetime | None:
    """When a notification about ``evaluation`` decided at ``now`` may go, or None for now."""
    quiet = rule.quiet_hours
    if quiet == "none":
        return None
    if quiet == "calendar":
        calendar = rule.calendar
    else:
        assert isinstance(quiet, QuietWindow)
        calendar = _window_calendar(owner_zone(rule, evaluation).key, quiet.from_, quiet.to)
    opens = calendar.next_open(now)
    return opens if opens > now else None


def quiet_zone(rule: Rule, evaluation: Evaluation) -> ZoneInfo:
    """The zone the quiet hours are read in: the owner's for a window, else the calendar's."""
    if rule.quiet_hours == "calendar" or rule.quiet_hours == "none":
        return rule.calendar.zone
    return owner_zone(rule, evaluation)


def owner_zone(rule: Rule, evaluation: Evaluation) -> ZoneInfo:
    """The owner's ``TimeZoneSidKey`` when the record carries a valid one, else the calendar's
    zone (queues and unread owners have none)."""
    owner = evaluation.fields.get("Owner")
    name = owner.get("TimeZoneSidKey") if isinstance(owner, Mapping) else None
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return rule.calendar.zone


def held_text(until: datetime, zone: ZoneInfo) -> str:
    """``held for quiet hours until Wed 02 Dec 09:00 EST``."""
    return f"held for quiet hours until {moment_text(until, zone)}"


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=256)
def _window_calendar(zone: str, start: str, end: str) -> BusinessCalendar:
    """A calendar open every day outside the quiet window ``start``-``end`` (which may cross
    midnight); an empty window (start equals end) is always open."""
    quiet_from, quiet_to = _minutes(start), _minutes(end)
    day: tuple[OpenRange, ...]
    if quiet_from == quiet_to:
        day = ((0, 1440),)
    elif quiet_from > quiet_to:  # crosses midnight: open from its end to its start
        day = ((quiet_to, quiet_from),)
    else:
        day = tuple(r for r in ((0, quiet_from), (quiet_to, 1440)) if r[0] < r[1])
    return BusinessCalendar(f"quiet {start}-{end}", ZoneInfo(zone), (day,) * 7)
