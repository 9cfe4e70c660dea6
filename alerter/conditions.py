"""Record filters: the ``where:`` of a rule, and how a record is checked against it.

A condition is a field and one operator (``field: Status`` / ``equals: MQL``), or a group
(``all:``, ``any:``, ``not:``). The same conditions are pushed down into SOQL by the live source
and re-checked here, so a snapshot and a live org give the same answer. The matching mirrors
SOQL: text compares case-insensitively, ``!=`` and ``not in`` keep records whose field is null.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    model_validator,
)

from alerter.durations import DurationField
from alerter.records import Record, Snapshot, get_field, parse_date, parse_datetime

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


def _check_api_name(value: str) -> str:
    if not _API_NAME.fullmatch(value) or any(part.endswith("_") for part in value.split(".")):
        raise ValueError(
            f"{value!r} is not a Salesforce API name (letters, digits and underscores, starting "
            "with a letter, e.g. MQL_Date__c or Owner.IsActive)"
        )
    return value


ApiName = Annotated[str, AfterValidator(_check_api_name)]
"""A field API name or a parent path of them (``Owner.IsActive``)."""

ScalarValue = bool | int | float | datetime | date | str


def _scalar(value: Any) -> ScalarValue:
    if isinstance(value, bool | int | float | datetime | date | str):
        return value
    raise ValueError("expected one value: text, a number, true/false, a date or a datetime")


Scalar = Annotated[ScalarValue, PlainValidator(_scalar)]

OPERATORS = (
    "equals",
    "not_equals",
    "in",
    "not_in",
    "greater_than",
    "at_least",
    "less_than",
    "at_most",
    "starts_with",
    "is_null",
    "older_than",
    "newer_than",
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class FieldCondition(_Strict):
    """One field compared with one operator; the value is data, never SOQL text."""

    field: ApiName
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(None, alias="in", min_length=1)
    not_in: tuple[Scalar, ...] | None = Field(None, min_length=1)
    greater_than: Scalar | None = None
    at_least: Scalar | None = None
    less_than: Scalar | None = None
    at_most: Scalar | None = None
    starts_with: str | None = None
    is_null: bool | None = None
    older_than: DurationField | None = None
    newer_than: DurationField | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> FieldCondition:
        used = [name for name in OPERATORS if getattr(self, _attr(name)) is not None]
        empty = [name for name in OPERATORS if _attr(name) in self.model_fields_set]
        if not used and empty:
            raise ValueError(
                f"{empty[0]} has no value; to match an empty field write is_null: true"
            )
        if len(used) != 1:
            found = f"found {', '.join(used)}" if used else "found none"
            raise ValueError(
                f"give exactly one operator for {self.field} ({found}); "
                f"operators: {', '.join(OPERATORS)}"
            )
        for name in ("older_than", "newer_than"):
            value = getattr(self, name)
            if value is not None and value.business:
                raise ValueError(f"{name} is measured in calendar time (write e.g. 30d)")
        return self

    @property
    def operator(self) -> str:
        """The one operator this condition uses."""
        return next(name for name in OPERATORS if getattr(self, _attr(name)) is not None)

    @property
    def operand(self) -> Any:
        """The operator's value."""
        return getattr(self, _attr(self.operator))


class AllOf(_Strict):
    """Every condition holds."""

    all: tuple[Condition, ...] = Field(min_length=1)


class AnyOf(_Strict):
    """At least one condition holds."""

    any: tuple[Condition, ...] = Field(min_length=1)


class Not(_Strict):
    """The condition does not hold."""

    not_: Condition = Field(alias="not")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return f"{key}-of"
    if isinstance(value, AllOf):
        return "all-of"
    if isinstance(value, AnyOf):
        return "any-of"
    return "not-of" if isinstance(value, Not) else "field-condition"


Condition = Annotated[
    Annotated[FieldCondition, Tag("field-condition")]
    | Annotated[AllOf, Tag("all-of")]
    | Annotated[AnyOf, Tag("any-of")]
    | Annotated[Not, Tag("not-of")],
    Discriminator(_kind),
]

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


def _attr(operator: str) -> str:
    return "in_" if operator == "in" else operator


def matches(
    condition: Condition, record: Record, now: datetime, snapshot: Snapshot | None = None
) -> bool:
    """Whether a record satisfies a condition at ``now``."""
    if isinstance(condition, AllOf):
        return all(matches(c, record, now, snapshot) for c in condition.all)
    if isinstance(condition, AnyOf):
        return any(matches(c, record, now, snapshot) for c in condition.any)
    if isinstance(condition, Not):
        return not matches(condition.not_, record, now, snapshot)
    value = get_field(record, condition.field, snapshot)
    operator, operand = condition.operator, condition.operand
    if operator == "is_null":
        return (value is None) is operand
    if operator in ("older_than", "newer_than"):
        moment = parse_datetime(value)
        if moment is None:
            return False
        limit: datetime = now - operand.amount
        return moment <= limit if operator == "older_than" else moment > limit
    if operator == "not_equals":
        return value is None or _key(value, operand) != _key(operand, operand)
    if operator == "not_in":
        return value is None or _key(value, operand[0]) not in {_key(v, v) for v in operand}
    if value is None:
        return False
    if operator == "in":
        return _key(value, operand[0]) in {_key(v, v) for v in operand}
    if operator == "starts_with":
        return isinstance(value, str) and value.casefold().startswith(operand.casefold())
    left, right = _key(value, operand), _key(operand, operand)
    if left is None or (type(left) is not type(right) and not _both_numbers(left, right)):
        return False
    return bool(_COMPARE[operator](left, right))


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda a, b: a == b,
    "greater_than": lambda a, b: a > b,
    "at_least": lambda a, b: a >= b,
    "less_than": lambda a, b: a < b,
    "at_most": lambda a, b: a <= b,
}


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))


def _key(value: Any, like: Any) -> Any:
    """Bring a record value into the type of the rule's value so the two compare like SOQL."""
    if isinstance(like, datetime):
        return parse_datetime(value)
    if isinstance(like, date):
        return parse_date(value)
    if isinstance(like, str) and isinstance(value, str):
        return value.casefold()
    return value


def condition_fields(condition: Condition) -> set[str]:
    """Every field path a condition reads (for SOQL field lists and ``check --online``)."""
    if isinstance(condition, AllOf | AnyOf):
        items = condition.all if isinstance(condition, AllOf) else condition.any
        return set().union(*(condition_fields(c) for c in items))
    if isinstance(condition, Not):
        return condition_fields(condition.not_)
    return {condition.field}
