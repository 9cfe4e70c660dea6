"""Rules compiled to SOQL: values are escaped data, touches come in the same query."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import make_rule, utc
from pydantic import TypeAdapter

from alerter.conditions import Condition
from alerter.source.soql import compile_condition, ids_query, rule_query

NOW = utc(2026, 12, 1, 21, 0, 30)
CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)  # type: ignore[arg-type]


def soql(condition: dict[str, Any], types: dict[str, str] | None = None) -> str:
    """One condition as SOQL at NOW."""
    return compile_condition(CONDITION.validate_python(condition), NOW, types or {})


class TestConditions:
    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ({"field": "Status", "equals": "MQL"}, "Status = 'MQL'"),
            ({"field": "Status", "not_equals": "MQL"}, "Status != 'MQL'"),
            ({"field": "IsConverted", "equals": False}, "IsConverted = false"),
            ({"field": "AnnualRevenue", "at_least": 1000000}, "AnnualRevenue >= 1000000"),
            ({"field": "NumberOfEmployees", "less_than": 50}, "NumberOfEmployees < 50"),
            ({"field": "Score__c", "greater_than": 7.5}, "Score__c > 7.5"),
            ({"field": "Score__c", "at_most": 3}, "Score__c <= 3"),
            ({"field": "LeadSource", "in": ["Web", "Partner"]}, "LeadSource IN ('Web','Partner')"),
            ({"field": "Status", "not_in": ["Closed"]}, "Status NOT IN ('Closed')"),
            ({"field": "OwnerId", "starts_with": "00G"}, "OwnerId LIKE '00G%'"),
            ({"field": "Email", "is_null": True}, "Email = null"),
            ({"field": "Email", "is_null": False}, "Email != null"),
            ({"field": "Owner.IsActive", "equals": True}, "Owner.IsActive = true"),
            (
                {"field": "CreatedDate", "older_than": "30d"},
                "CreatedDate <= 2026-11-01T21:00:30+00:00",
            ),
            (
                {"field": "CreatedDate", "newer_than": "2h"},
                "CreatedDate > 2026-12-01T19:00:30+00:00",
            ),
        ],
    )
    def test_operator(self, condition: dict[str, Any], expected: str) -> None:
        """Each operator has its SOQL form."""
        assert soql(condition) == expected

    def test_older_than_on_a_date_field(self) -> None:
        """A date field is compared with a date literal (a datetime would be rejected)."""
        condition = {"field": "LastActivityDate", "older_than": "30d"}
        assert soql(condition, {"LastActivityDate": "date"}) == "LastActivityDate <= 2026-11-01"

    def test_groups(self) -> None:
        """all, any and not nest with parentheses."""
        condition = {
            "any": [
                {"field": "Rating", "equals": "Hot"},
                {"not": {"all": [{"field": "A", "equals": 1}, {"field": "B", "is_null": True}]}},
            ]
        }
        assert soql(condition) == "(Rating = 'Hot' OR (NOT (A = 1 AND B = null)))"


class TestEscaping:
    @pytest.mark.parametrize(
        ("value", "literal"),
        [
            ("O'Brien", r"'O\'Brien'"),
            ("back\\slash", r"'back\\slash'"),
            ("two\nlines", r"'two\nlines'"),
            ("' OR Name != '", r"'\' OR Name != \''"),
            ('say "hi"', r"'say \"hi\"'"),
        ],
    )
    def test_hostile_values_stay_data(self, value: str, literal: str) -> None:
        """Quotes, backslashes and newlines are escaped, so a value cannot end the literal."""
        assert soql({"field": "Company", "equals": value}) == f"Company = {literal}"

    def test_like_wildcards_are_escaped(self) -> None:
        """``%`` and ``_`` in a starts_with value match themselves, not anything."""
        assert soql({"field": "Name", "starts_with": "50%_off'"}) == r"Name LIKE '50\%\_off\'%'"


class TestRuleQuery:
    def test_selects_what_the_core_reads(self) -> None:
        """The MQL rule selects its fields, its touches and its history in one query."""
        query = rule_query(make_rule(), NOW)
        assert query == (
            "SELECT Id, Name, OwnerId, CreatedDate, Status, "
            "(SELECT Id, Subject, CreatedDate, TaskSubtype FROM Tasks "
            "WHERE TaskSubtype != 'ListEmail' ORDER BY CreatedDate ASC), "
            "(SELECT Id, Subject, CreatedDate FROM Events ORDER BY CreatedDate ASC), "
            "(SELECT Id, Field, NewValue, CreatedDate FROM Histories WHERE Field IN ('Status') "
            "ORDER BY CreatedDate ASC) "
            "FROM Lead WHERE Status = 'MQL'"
        )

    def test_last_touch_fetches_only_the_newest(self) -> None:
        """A rule timed from the last touch needs one activity of each kind per record."""
        rule = make_rule(
            clock={"starts_at": {"last_touch": True}, "touched_by": {"tasks": True}},
            sla="30d",
            warning=None,
            escalation=[{"to": "owner"}],
        )
        assert "(SELECT Id, Subject, CreatedDate FROM Tasks ORDER BY CreatedDate DESC LIMIT 1)" in (
            rule_query(rule, NOW)
        )

    def test_targeted_recheck(self) -> None:
        """Given Ids, the rule's query is narrowed to them."""
        query = rule_query(make_rule(), NOW, ids=["00Q000000000001", "00Q000000000002"])
        assert query.endswith(
            "WHERE Status = 'MQL' AND Id IN ('00Q000000000001','00Q000000000002')"
        )

    def test_field_names_are_not_repeated(self) -> None:
        """A field the core reads anyway and the rule names too is selected once."""
        rule = make_rule(where=[{"field": "ownerid", "starts_with": "005"}])
        assert rule_query(rule, NOW).startswith("SELECT Id, Name, OwnerId, CreatedDate, (SELECT")

    def test_ids_query(self) -> None:
        """Lookups by Id are one query per chunk."""
        assert ids_query("User", ["Id", "Name", "Id"], ["005A", "005B"]) == (
            "SELECT Id, Name FROM User WHERE Id IN ('005A','005B')"
        )
