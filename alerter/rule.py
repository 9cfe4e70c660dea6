"""The SLA rule: what a rule file says, parsed once into frozen, typed models.

A rule reads aloud: "for Leads where Status equals MQL, the clock starts when the lead entered
status MQL and stops at a Task or Event; the SLA is 1 business hour on the us-sales calendar;
warn the owner 15 minutes before; at the deadline nudge the owner; 2 business hours past it,
escalate to the manager." Shape errors are pydantic's; the checks that relate fields to each
other (a tier before the deadline, business time without a calendar) are ``rule_problems``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerter.calendars import ALWAYS_OPEN, BusinessCalendar
from alerter.conditions import ApiName, Condition
from alerter.durations import Duration, DurationField

Loc = tuple[str | int, ...]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9._-]{0,79}$")


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(f"{value!r} must be lower-case letters, digits, '-' or '_'")
    return value


Slug = Annotated[str, AfterValidator(_slug)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


@dataclass(frozen=True)
class Recipient:
    """Who a notification goes to: a role relative to the record, a Slack channel or an address."""

    kind: Literal["owner", "manager", "skip_level_manager", "channel", "email"]
    target: str | None = None

    def __str__(self) -> str:
        return self.target if self.target is not None else self.kind


_ROLES = ("owner", "manager", "skip_level_manager")


def _recipient(value: Any) -> Recipient:
    if isinstance(value, Recipient):
        return value
    if not isinstance(value, str):
        raise ValueError("a recipient is owner, manager, skip_level_manager, #channel or an email")
    text = value.strip()
    if text in _ROLES:
        return Recipient(text)  # type: ignore[arg-type]
    if text.startswith("#"):
        if not _CHANNEL.fullmatch(text):
            raise ValueError(f"{text!r} is not a Slack channel name (lower case, e.g. #sales-ops)")
        return Recipient("channel", text)
    if _EMAIL.fullmatch(text):
        return Recipient("email", text)
    close = difflib.get_close_matches(text, _ROLES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(
        f"unknown recipient {text!r}{hint}: write owner, manager, skip_level_manager, "
        "a Slack channel like #sales-leads or an email address"
    )


RecipientField = Annotated[Recipient, BeforeValidator(_recipient)]
Channel = Literal["slack", "email"]


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Notify(_Strict):
    """Whom to tell, how, and with which template (templates live in ``templates/<channel>/``)."""

    to: Annotated[tuple[RecipientField, ...], BeforeValidator(_listify)] = Field(min_length=1)
    via: Annotated[tuple[Channel, ...], BeforeValidator(_listify)] = ("slack",)
    template: Slug


class Warning(Notify):
    """A "due soon" notice, sent ``before`` the deadline."""

    before: DurationField
    template: Slug = "due-soon"


class Tier(Notify):
    """An escalation step, sent ``after`` this long past the deadline (0 = at the deadline)."""

    after: DurationField = Duration(timedelta(0))
    repeat_every: DurationField | None = None
    template: Slug = "nudge"


class StartsAt(_Strict):
    """When the clock starts: exactly one of ``field``, ``entered_status``, ``owner_assigned``,
    ``last_touch``; ``otherwise`` names a datetime field to use when that has no value."""

    field: ApiName | None = None
    entered_status: str | None = None
    owner_assigned: bool = False
    last_touch: bool = False
    otherwise: ApiName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> StartsAt:
        sources = [name for name in self.sources() if name]
        if len(sources) != 1:
            raise ValueError(
                "give exactly one of field, entered_status, owner_assigned, last_touch "
                f"(found {', '.join(sources) or 'none'})"
            )
        return self

    def sources(self) -> Iterator[str]:
        """The start sources that are set."""
        yield "field" if self.field else ""
        yield "entered_status" if self.entered_status is not None else ""
        yield "owner_assigned" if self.owner_assigned else ""
        yield "last_touch" if self.last_touch else ""


def _flag_or_model(value: Any) -> Any:
    """``tasks: true`` means any Task; ``tasks: false`` or absent means Tasks do not count."""
    if value is True:
        return {}
    if value is False:
        return None
    if not isinstance(value, dict):
        raise ValueError("write true, false, or where: with conditions on the activity")
    return value


class ActivityTouch(_Strict):
    """Tasks or Events on the record count as a touch, optionally only those matching ``where``."""

    where: tuple[Condition, ...] = ()


ActivityField = Annotated[ActivityTouch | None, BeforeValidator(_flag_or_model)]


class TouchedBy(_Strict):
    """Which signals count as a touch of the record after its clock started."""

    tasks: ActivityField = None
    events: ActivityField = None
    status_change: bool = False
    owner_change: bool = False
    fields_set: Annotated[tuple[ApiName, ...], BeforeValidator(_listify)] = ()

    def describe(self) -> str:
        """The signals, as a person would list them."""
        names = [
            "Task" if self.tasks is not None else "",
            "Event" if self.events is not None else "",
            "status change" if self.status_change else "",
            "owner change" if self.owner_change else "",
            *(f"{name} set" for name in self.fields_set),
        ]
        return ", ".join(name for name in names if name) or "nothing"

    def any(self) -> bool:
        """Whether any signal counts."""
        return self.describe() != "nothing"


class Clock(_Strict):
    """When the SLA clock starts, what stops it, and whether a new owner restarts it."""

    starts_at: StartsAt
    touched_by: TouchedBy = TouchedBy()
    restarts_on_owner_change: bool = False


def _time_of_day(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f'{value!r} is not a time of day; write e.g. "20:00"')
    return value


TimeOfDay = Annotated[str, AfterValidator(_time_of_day)]


class QuietWindow(_Strict):
    """A daily window, in the recipient's time zone, when nothing is sent (e.g. 20:00-08:00)."""

    from_: TimeOfDay = Field(alias="from")
    to: TimeOfDay


def _quiet_kind(value: Any) -> str:
    return "preset" if isinstance(value, str) else "window"


QuietHours = Annotated[
    Annotated[Literal["calendar", "none"], Tag("preset")] | Annotated[QuietWindow, Tag("window")],
    Discriminator(_quiet_kind),
]
"""``calendar``: hold notifications while the rule's calendar is closed; ``none``: send any
time; or an explicit daily window."""


ALL_CALENDARS_BROKEN = "*"
"""Marks, among the broken calendar names, a calendars.yaml that could not be read at all."""


def _calendar(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, BusinessCalendar):
        return value
    calendars: dict[str, BusinessCalendar] = (info.context or {}).get("calendars", {})
    if not isinstance(value, str):
        raise ValueError("calendar must be the name of a calendar in calendars.yaml")
    broken = (info.context or {}).get("broken_calendars", set())
    if value in broken:
        raise ValueError(f"calendar {value!r} has errors (see calendars.yaml)")
    if value not in calendars and ALL_CALENDARS_BROKEN in broken:
        raise ValueError(f"calendar {value!r} is not available: calendars.yaml has errors")
    if value not in calendars:
        known = ", ".join(sorted(calendars)) or "none are defined"
        raise ValueError(f"unknown calendar {value!r} (calendars: {known})")
    return calendars[value]


class Resolved(_Strict):
    """A "resolved" message to everyone told of a breach, once the record is touched or leaves
    the rule (``resolved: true`` or ``resolved: {template: ...}``)."""

    template: Slug = "resolved"


def _resolved_flag(value: Any) -> Any:
    """``resolved: true`` means the default template; ``false`` or absent means no message."""
    if value is True:
        return {}
    if value is False:
        return None
    if value is not None and not isinstance(value, dict | Resolved):
        raise ValueError("write true, false, or template: <name>")
    return value


MIN_POLL_EVERY = timedelta(seconds=30)


class Rule(_Strict):
    """One SLA rule, as written in one file of ``rules/``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: Slug
    title: str = Field(min_length=1)
    description: str = ""
    object: ApiName
    where: tuple[Condition, ...] = ()
    clock: Clock
    sla: DurationField
    calendar: Annotated[BusinessCalendar, BeforeValidator(_calendar)] = ALWAYS_OPEN
    warning: Warning | None = None
    escalation: tuple[Tier, ...] = Field(min_length=1)
    quiet_hours: QuietHours = "calendar"
    resolved: Annotated[Resolved | None, BeforeValidator(_resolved_flag)] = None
    digest: bool = True
    poll_every: DurationField | None = None
    """Poll this rule more often than the service's poll interval: new records in scope are
    found sooner (deadlines of known records get wake-ups whatever the interval)."""

    @field_validator("object")
    @classmethod
    def _object_name(cls, value: str) -> str:
        if "." in value:
            raise ValueError(f"{value!r} is a field path; object is an object name like Lead")
        return value


def rule_problems(rule: Rule) -> list[tuple[Loc, str]]:
    """Checks that relate a rule's fields to each other, each with the location it concerns."""
    problems: list[tuple[Loc, str]] = []
    if rule.sla.amount <= timedelta(0):
        problems.append((("sla",), "the SLA must be longer than 0"))
    durations: list[tuple[Loc, Duration]] = [(("sla",), rule.sla)]
    if rule.warning is not None:
        before = rule.warning.before
        durations.append((("warning", "before"), before))
        if before.amount <= timedelta(0):
            problems.append((("warning", "before"), "the warning must come before the deadline"))
        elif before.business == rule.sla.business and before.amount >= rule.sla.amount:
            problems.append(
                (
                    ("warning", "before"),
                    f"{before} before the deadline is at or before the clock start "
                    f"(the SLA is {rule.sla})",
                )
            )
    previous: Duration | None = None
    for index, tier in enumerate(rule.escalation):
        loc: Loc = ("escalation", index, "after")
        durations.append((loc, tier.after))
        if tier.repeat_every is not None:
            durations.append((("escalation", index, "repeat_every"), tier.repeat_every))
            if tier.repeat_every.amount <= timedelta(0):
                problems.append(((*loc[:-1], "repeat_every"), "repeat_every must be longer than 0"))
        if tier.after.amount < timedelta(0):
            problems.append(
                (
                    loc,
                    f"this tier fires {-tier.after} before the SLA deadline; "
                    "tiers count from the deadline (use warning: for notices before it)",
                )
            )
        elif previous is not None and _not_after(tier.after, previous):
            when = f"{previous} past the deadline" if previous.amount else "at the deadline"
            problems.append((loc, f"this tier must come after the previous one ({when})"))
        previous = tier.after
    if rule.calendar is ALWAYS_OPEN:
        problems += [
            (loc, f"{duration} needs a calendar: add calendar: <name from calendars.yaml>")
            for loc, duration in durations
            if duration.business
        ]
    if rule.poll_every is not None and (
        rule.poll_every.business or rule.poll_every.amount < MIN_POLL_EVERY
    ):
        problems.append(
            (
                ("poll_every",),
                f"poll_every is wall-clock time of at least {MIN_POLL_EVERY.seconds} s "
                f"(not {rule.poll_every}): every poll costs API calls",
            )
        )
    clock = rule.clock
    if clock.starts_at.last_touch and not clock.touched_by.any():
        problems.append((("clock", "touched_by"), "last_touch needs at least one touch signal"))
    if clock.restarts_on_owner_change and clock.touched_by.owner_change:
        problems.append(
            (
                ("clock", "restarts_on_owner_change"),
                "an owner change cannot both stop the clock (touched_by) and restart it",
            )
        )
    return problems


def _not_after(current: Duration, previous: Duration) -> bool:
    """Whether a tier surely fires no later than the one before it. Business time elapses no
    faster than the wall clock, so only some mixes of business and calendar time can be told."""
    if current.amount > previous.amount:
        return False
    return current.business == previous.business or previous.business or not current.amount
