"""The ``where:`` of a rule: parsing, and matching that mirrors SOQL on REST records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from alerter.conditions import (
    AllOf,
    AnyOf,
    Condition,
    FieldCondition,
    Not,
    condition_fields,
    matches,
)
from alerter.durations import Duration
from alerter.records import Snapshot

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)
OPERATORS = (
    "equals, not_equals, in, not_in, greater_than, at_least, less_than, at_most, starts_with, "
    "is_null, older_than, newer_than"
)


def cond(**spec: Any) -> Condition:
    """A condition as YAML would give it (``in``/``not`` are passed with a trailing ``_``)."""
    return ADAPTER.validate_python({k.rstrip("_"): v for k, v in spec.items()})


def check(condition: Condition, record: dict[str, Any], snapshot: Snapshot | None = None) -> bool:
    return matches(condition, record, NOW, snapshot)


def error_of(spec: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(spec)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return errors[0]["msg"].removeprefix("Value error, ")


def sf(moment: datetime) -> str:
    """A datetime written the way the Salesforce REST API writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class TestParsing:
    def test_field_condition(self) -> None:
        """A field and an operator make a FieldCondition."""
        parsed = cond(field="Status", equals="MQL")
        assert isinstance(parsed, FieldCondition)
        assert (parsed.operator, parsed.operand) == ("equals", "MQL")

    def test_in_is_spelt_in(self) -> None:
        """``in`` is the YAML key even though it is a Python keyword."""
        parsed = cond(field="Status", in_=["MQL", "SQL"])
        assert (parsed.operator, parsed.operand) == ("in", ("MQL", "SQL"))  # type: ignore[union-attr]

    def test_is_null_false_is_an_operator(self) -> None:
        """``is_null: false`` counts as the one operator even though it is falsy."""
        assert cond(field="Email", is_null=False).operator == "is_null"  # type: ignore[union-attr]

    def test_older_than_is_a_duration(self) -> None:
        """``older_than: 30d`` parses to a calendar-time duration."""
        parsed = cond(field="CreatedDate", older_than="30d")
        assert parsed.operand == Duration(timedelta(days=30))  # type: ignore[union-attr]

    def test_groups(self) -> None:
        """``all``, ``any`` and ``not`` nest."""
        parsed = cond(
            all=[
                {"field": "IsConverted", "equals": False},
                {
                    "any": [
                        {"field": "Status", "equals": "MQL"},
                        {"not": {"field": "Email", "is_null": True}},
                    ]
                },
            ]
        )
        assert isinstance(parsed, AllOf)
        inner = parsed.all[1]
        assert isinstance(inner, AnyOf)
        assert isinstance(inner.any[1], Not)

    def test_frozen(self) -> None:
        """A parsed condition cannot be changed at run time."""
        parsed = cond(field="Status", equals="MQL")
        with pytest.raises(ValidationError):
            parsed.equals = "SQL"  # type: ignore[misc,union-attr]

    def test_condition_fields(self) -> None:
        """Every field a condition reads is listed, parent paths included."""
        parsed = cond(
            any=[
                {"field": "Status", "equals": "MQL"},
                {"not": {"field": "Owner.IsActive", "equals": True}},
                {"all": [{"field": "Status", "equals": "SQL"}]},
            ]
        )
        assert condition_fields(parsed) == {"Status", "Owner.IsActive"}


class TestParsingErrors:
    def test_two_operators(self) -> None:
        """A condition with two operators names both and lists the operators."""
        message = error_of({"field": "Status", "equals": "MQL", "not_equals": "SQL"})
        assert message == (
            f"give exactly one operator for Status (found equals, not_equals); "
            f"operators: {OPERATORS}"
        )

    def test_no_operator(self) -> None:
        """A field alone is not a condition."""
        message = error_of({"field": "Status"})
        assert (
            message == f"give exactly one operator for Status (found none); operators: {OPERATORS}"
        )

    def test_unknown_operator(self) -> None:
        """A misspelt operator is an unknown key, not silently ignored."""
        with pytest.raises(ValidationError) as info:
            ADAPTER.validate_python({"field": "Status", "eqals": "MQL"})
        assert "extra_forbidden" in {e["type"] for e in info.value.errors()}

    def test_business_time_in_older_than(self) -> None:
        """``older_than`` is calendar time, as SOQL date literals are."""
        message = error_of({"field": "CreatedDate", "older_than": "2 business hours"})
        assert message == "older_than is measured in calendar time (write e.g. 30d)"

    def test_empty_in(self) -> None:
        """``in: []`` would match nothing, so it is refused."""
        with pytest.raises(ValidationError):
            ADAPTER.validate_python({"field": "Status", "in": []})

    def test_list_for_equals(self) -> None:
        """``equals`` takes one value; a list is probably meant for ``in``."""
        message = error_of({"field": "Status", "equals": ["MQL", "SQL"]})
        assert message == "expected one value: text, a number, true/false, a date or a datetime"

    def test_empty_group(self) -> None:
        """``all: []`` is refused rather than matching everything."""
        with pytest.raises(ValidationError):
            ADAPTER.validate_python({"all": []})


class TestFieldNames:
    @pytest.mark.parametrize(
        "name",
        [
            "Status",
            "MQL_Date__c",
            "ns__Score__c",
            "Owner.IsActive",
            "Owner.Manager.Email",
            "Partner__r.Name",
        ],
    )
    def test_api_names(self, name: str) -> None:
        """Salesforce API names and parent paths are accepted."""
        assert cond(field=name, is_null=True).field == name  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        "name",
        [
            "MQL Date",
            "1Field",
            "_Field",
            "Field_",
            "Owner.",
            ".Status",
            "Owner..IsActive",
            "Owner.IsActive_",
            "Status;",
            "Sta-tus",
            "",
        ],
    )
    def test_not_api_names(self, name: str) -> None:
        """Labels, stray punctuation and trailing underscores are refused with an example."""
        message = error_of({"field": name, "is_null": True})
        assert message == (
            f"{name!r} is not a Salesforce API name (letters, digits and underscores, starting "
            "with a letter, e.g. MQL_Date__c or Owner.IsActive)"
        )

    def test_trailing_newline(self) -> None:
        """``field: >`` in YAML gives ``Status\\n``, which is not an API name."""
        with pytest.raises(ValidationError):
            ADAPTER.validate_python({"field": "Status\n", "is_null": True})


class TestText:
    def test_equals_ignores_case(self) -> None:
        """SOQL compares text case-insensitively."""
        assert check(cond(field="Status", equals="MQL"), {"Status": "mql"})

    def test_equals_different_text(self) -> None:
        """Different text does not match."""
        assert not check(cond(field="Status", equals="MQL"), {"Status": "SQL"})

    def test_equals_null(self) -> None:
        """A null field equals nothing."""
        assert not check(cond(field="Status", equals="MQL"), {"Status": None})

    def test_equals_missing_field(self) -> None:
        """A field the record lacks reads as null."""
        assert not check(cond(field="Status", equals="MQL"), {})

    def test_in_ignores_case(self) -> None:
        """``in`` matches any of its values, case-insensitively."""
        condition = cond(field="Status", in_=["MQL", "Working"])
        assert check(condition, {"Status": "working"})

    def test_in_excludes_null(self) -> None:
        """A null field is in no list."""
        assert not check(cond(field="Status", in_=["MQL"]), {"Status": None})

    def test_starts_with_ignores_case(self) -> None:
        """``starts_with`` is SOQL's ``LIKE 'x%'``, case-insensitive."""
        assert check(cond(field="OwnerId", starts_with="00g"), {"OwnerId": "00G000000000IQ1"})

    def test_starts_with_other_prefix(self) -> None:
        """A rep's Id does not start with the queue prefix."""
        assert not check(cond(field="OwnerId", starts_with="00G"), {"OwnerId": "005000000000AL1"})

    def test_starts_with_null(self) -> None:
        """A null field starts with nothing."""
        assert not check(cond(field="OwnerId", starts_with="00G"), {"OwnerId": None})

    def test_starts_with_non_text(self) -> None:
        """A number does not start with text."""
        assert not check(cond(field="Score", starts_with="1"), {"Score": 10})

    def test_text_ordering_ignores_case(self) -> None:
        """``greater_than`` on text compares case-insensitively."""
        assert check(cond(field="LastName", greater_than="a"), {"LastName": "B"})


class TestNotEqualsAndNotIn:
    def test_not_equals_keeps_null(self) -> None:
        """SOQL's ``!=`` keeps records whose field is null."""
        assert check(cond(field="TaskSubtype", not_equals="ListEmail"), {"TaskSubtype": None})

    def test_not_equals_keeps_missing(self) -> None:
        """A field the record lacks is null, so it is kept too."""
        assert check(cond(field="TaskSubtype", not_equals="ListEmail"), {})

    def test_not_equals_ignores_case(self) -> None:
        """``listemail`` is the excluded value."""
        assert not check(
            cond(field="TaskSubtype", not_equals="ListEmail"), {"TaskSubtype": "listemail"}
        )

    def test_not_equals_other_value(self) -> None:
        """Another value is kept."""
        assert check(cond(field="TaskSubtype", not_equals="ListEmail"), {"TaskSubtype": "Call"})

    def test_not_in_keeps_null(self) -> None:
        """SOQL's ``NOT IN`` keeps records whose field is null."""
        condition = cond(field="Status", not_in=["Closed - Not Converted", "Unqualified"])
        assert check(condition, {"Status": None})

    def test_not_in_ignores_case(self) -> None:
        """A listed value in another case is excluded."""
        condition = cond(field="Status", not_in=["Closed - Not Converted", "Unqualified"])
        assert not check(condition, {"Status": "UNQUALIFIED"})

    def test_not_in_other_value(self) -> None:
        """An unlisted value is kept."""
        assert check(cond(field="Status", not_in=["Unqualified"]), {"Status": "Working"})

    def test_not_of_equals_keeps_null(self) -> None:
        """``not: equals`` keeps nulls too: a null field fails ``equals``, so ``not`` holds."""
        assert check(cond(not_={"field": "Status", "equals": "MQL"}), {"Status": None})


class TestBooleansAndNumbers:
    def test_boolean_equals(self) -> None:
        """``equals: false`` matches a false checkbox."""
        assert check(cond(field="IsConverted", equals=False), {"IsConverted": False})

    def test_boolean_is_not_text(self) -> None:
        """A checkbox does not equal the text "false"."""
        assert not check(cond(field="IsConverted", equals="false"), {"IsConverted": False})

    def test_boolean_is_not_a_number(self) -> None:
        """``true`` does not equal 1."""
        assert not check(cond(field="Score", equals=1), {"Score": True})

    def test_int_equals_float(self) -> None:
        """Salesforce numbers may come back as 10.0."""
        assert check(cond(field="Score", equals=10), {"Score": 10.0})

    @pytest.mark.parametrize(
        ("operator", "value", "expected"),
        [
            ("greater_than", 51, True),
            ("greater_than", 50, False),
            ("at_least", 50, True),
            ("at_least", 49, False),
            ("less_than", 49, True),
            ("less_than", 50, False),
            ("at_most", 50, True),
            ("at_most", 51, False),
        ],
    )
    def test_comparisons_at_the_boundary(self, operator: str, value: int, expected: bool) -> None:
        """Strict and inclusive comparisons differ exactly at the operand."""
        assert check(cond(field="Score", **{operator: 50}), {"Score": value}) is expected

    def test_comparison_with_null(self) -> None:
        """A null number compares as nothing."""
        assert not check(cond(field="Score", less_than=50), {"Score": None})

    def test_comparison_with_text_in_a_number_field(self) -> None:
        """Text never compares with a number (no TypeError either)."""
        assert not check(cond(field="Score", greater_than=5), {"Score": "10"})


class TestDatetimes:
    OPERAND = datetime(2026, 12, 1, 14, 3, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("operator", "value", "expected"),
        [
            ("equals", "2026-12-01T14:03:00.000+0000", True),
            ("equals", "2026-12-01T09:03:00.000-0500", True),
            ("equals", "2026-12-01T14:03:01.000+0000", False),
            ("greater_than", "2026-12-01T14:03:00.000+0000", False),
            ("greater_than", "2026-12-01T14:03:01.000+0000", True),
            ("at_least", "2026-12-01T14:03:00.000+0000", True),
            ("less_than", "2026-12-01T14:02:59.000+0000", True),
            ("less_than", "2026-12-01T14:03:00.000+0000", False),
            ("at_most", "2026-12-01T14:03:00.000+0000", True),
            ("not_equals", "2026-12-01T14:03:00.000+0000", False),
        ],
    )
    def test_salesforce_strings(self, operator: str, value: str, expected: bool) -> None:
        """A record's datetime text compares as the instant it names."""
        condition = cond(field="LastActivity__c", **{operator: self.OPERAND})
        assert check(condition, {"LastActivity__c": value}) is expected

    def test_naive_operand_is_utc(self) -> None:
        """A YAML datetime without a zone is UTC, like the REST API's."""
        condition = cond(field="LastActivity__c", equals=datetime(2026, 12, 1, 14, 3))
        assert check(condition, {"LastActivity__c": "2026-12-01T14:03:00.000+0000"})

    def test_garbage_value(self) -> None:
        """A value that is not a datetime matches no comparison."""
        condition = cond(field="LastActivity__c", at_most=self.OPERAND)
        assert not check(condition, {"LastActivity__c": "soon"})

    def test_in_datetimes(self) -> None:
        """``in`` works on instants too."""
        condition = cond(field="LastActivity__c", in_=[self.OPERAND])
        assert check(condition, {"LastActivity__c": "2026-12-01T14:03:00.000+0000"})


class TestDates:
    @pytest.mark.parametrize(
        ("operator", "value", "expected"),
        [
            ("equals", "2026-12-01", True),
            ("equals", "2026-12-02", False),
            ("greater_than", "2026-12-01", False),
            ("greater_than", "2026-12-02", True),
            ("at_least", "2026-12-01", True),
            ("less_than", "2026-11-30", True),
            ("at_most", "2026-12-01", True),
            ("at_most", "2026-12-02", False),
        ],
    )
    def test_date_fields(self, operator: str, value: str, expected: bool) -> None:
        """A Salesforce date compares as a date."""
        condition = cond(field="MQL_Date__c", **{operator: date(2026, 12, 1)})
        assert check(condition, {"MQL_Date__c": value}) is expected

    def test_in_dates(self) -> None:
        """``in`` works on dates."""
        condition = cond(field="MQL_Date__c", in_=[date(2026, 11, 30), date(2026, 12, 1)])
        assert check(condition, {"MQL_Date__c": "2026-12-01"})

    def test_not_a_date(self) -> None:
        """A value that is not a date matches no comparison."""
        assert not check(cond(field="MQL_Date__c", equals=date(2026, 12, 1)), {"MQL_Date__c": "x"})


class TestRelativeTime:
    def test_older_than_at_the_boundary(self) -> None:
        """Exactly 30 days old is older than 30 days."""
        condition = cond(field="CreatedDate", older_than="30d")
        assert check(condition, {"CreatedDate": sf(NOW - timedelta(days=30))})

    def test_older_than_a_second_short(self) -> None:
        """One second short of 30 days is not yet older than 30 days."""
        condition = cond(field="CreatedDate", older_than="30d")
        assert not check(condition, {"CreatedDate": sf(NOW - timedelta(days=30, seconds=-1))})

    def test_newer_than_at_the_boundary(self) -> None:
        """Exactly 15 minutes old is not newer than 15 minutes."""
        condition = cond(field="CreatedDate", newer_than="15m")
        assert not check(condition, {"CreatedDate": sf(NOW - timedelta(minutes=15))})

    def test_newer_than_a_second_inside(self) -> None:
        """One second younger than 15 minutes is newer than 15 minutes."""
        condition = cond(field="CreatedDate", newer_than="15m")
        assert check(condition, {"CreatedDate": sf(NOW - timedelta(minutes=15, seconds=-1))})

    def test_future_is_newer(self) -> None:
        """A datetime after now is newer than any age."""
        condition = cond(field="NextCall__c", newer_than="1h")
        assert check(condition, {"NextCall__c": sf(NOW + timedelta(days=1))})

    def test_date_field_counts_from_midnight_utc(self) -> None:
        """A date reads as midnight UTC: 2026-11-30 is 39 hours old at 15:00 on 2026-12-01."""
        assert check(cond(field="MQL_Date__c", older_than="39h"), {"MQL_Date__c": "2026-11-30"})
        assert not check(cond(field="MQL_Date__c", older_than="40h"), {"MQL_Date__c": "2026-11-30"})

    @pytest.mark.parametrize("operator", ["older_than", "newer_than"])
    @pytest.mark.parametrize("value", [None, "soon"])
    def test_no_datetime_matches_neither(self, operator: str, value: Any) -> None:
        """A null or unreadable datetime is neither older nor newer."""
        assert not check(cond(field="CreatedDate", **{operator: "1d"}), {"CreatedDate": value})

    @given(st.integers(-(10**6), 10**6), st.integers(0, 10**6))
    def test_exactly_one_holds(self, age_seconds: int, limit_seconds: int) -> None:
        """For any readable datetime, exactly one of older_than and newer_than holds."""
        record = {"CreatedDate": sf(NOW - timedelta(seconds=age_seconds))}
        older = cond(field="CreatedDate", older_than=f"{limit_seconds}s")
        newer = cond(field="CreatedDate", newer_than=f"{limit_seconds}s")
        assert check(older, record) != check(newer, record)


class TestIsNull:
    @pytest.mark.parametrize(
        ("flag", "value", "expected"),
        [
            (True, None, True),
            (True, "a@b.co", False),
            (False, None, False),
            (False, "a@b.co", True),
        ],
    )
    def test_is_null(self, flag: bool, value: Any, expected: bool) -> None:
        """``is_null: true`` keeps nulls; ``is_null: false`` keeps values."""
        assert check(cond(field="Email", is_null=flag), {"Email": value}) is expected

    def test_false_is_a_value(self) -> None:
        """An unticked checkbox is false, not null."""
        assert not check(cond(field="IsConverted", is_null=True), {"IsConverted": False})


class TestGroups:
    MQL: ClassVar[dict[str, Any]] = {"field": "Status", "equals": "MQL"}
    OPEN: ClassVar[dict[str, Any]] = {"field": "IsConverted", "equals": False}

    def test_all(self) -> None:
        """``all`` needs every condition."""
        condition = cond(all=[self.MQL, self.OPEN])
        assert check(condition, {"Status": "MQL", "IsConverted": False})
        assert not check(condition, {"Status": "MQL", "IsConverted": True})

    def test_any(self) -> None:
        """``any`` needs one condition."""
        condition = cond(any=[self.MQL, self.OPEN])
        assert check(condition, {"Status": "SQL", "IsConverted": False})
        assert not check(condition, {"Status": "SQL", "IsConverted": True})

    def test_not(self) -> None:
        """``not`` inverts."""
        condition = cond(not_=self.MQL)
        assert check(condition, {"Status": "SQL"})
        assert not check(condition, {"Status": "MQL"})

    def test_nested(self) -> None:
        """Groups nest: open, and MQL or not owned by a queue."""
        condition = cond(
            all=[
                self.OPEN,
                {"any": [self.MQL, {"not": {"field": "OwnerId", "starts_with": "00G"}}]},
            ]
        )
        assert check(condition, {"IsConverted": False, "Status": "SQL", "OwnerId": "0051"})
        assert not check(condition, {"IsConverted": False, "Status": "SQL", "OwnerId": "00G1"})


class TestParentPaths:
    ACTIVE: ClassVar[dict[str, Any]] = {"field": "Owner.IsActive", "equals": True}

    def test_nested_rest_lookup(self) -> None:
        """A REST record carries its parent nested."""
        assert check(cond(**self.ACTIVE), {"Owner": {"IsActive": True}})

    def test_through_snapshot(self) -> None:
        """A flat record resolves its owner through OwnerId in the snapshot."""
        snapshot = Snapshot({"User": [{"Id": "0051", "IsActive": False}]})
        assert not check(cond(**self.ACTIVE), {"OwnerId": "0051"}, snapshot)
        snapshot = Snapshot({"User": [{"Id": "0051", "IsActive": True}]})
        assert check(cond(**self.ACTIVE), {"OwnerId": "0051"}, snapshot)

    def test_unresolved_parent_is_null(self) -> None:
        """A parent that cannot be found reads as null: ``equals`` fails, ``not_equals`` holds."""
        record = {"OwnerId": "00G1"}  # a queue, not in the snapshot's users
        snapshot = Snapshot({"User": []})
        assert not check(cond(**self.ACTIVE), record, snapshot)
        assert check(cond(field="Owner.IsActive", not_equals=True), record, snapshot)

    def test_grandparent(self) -> None:
        """``Owner.Manager.Email`` follows two lookups."""
        snapshot = Snapshot(
            {"User": [{"Id": "0051", "ManagerId": "0052"}, {"Id": "0052", "Email": "Boss@X.com"}]}
        )
        condition = cond(field="Owner.Manager.Email", equals="boss@x.com")
        assert check(condition, {"OwnerId": "0051"}, snapshot)
