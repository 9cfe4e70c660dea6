"""The emulated org: filters, ordering, lookups, subqueries, describe and writes.

The clock stands at Tuesday 2026-12-01 21:00 UTC, so TODAY is 2026-12-01 and YESTERDAY
2026-11-30. The four live leads were created at the edges of those days:

    Ada       2026-12-01 00:00:00.000   today's first instant     owner Alice (user)
    Grace     2026-11-30 23:59:59.999   yesterday's last instant  owner Inbound (queue)
    Hedy      2026-11-30 00:00:00.000   yesterday's first instant owner Alice (user)
    Katherine 2026-11-29 23:59:59.000   two days ago              no owner
    Margaret  2026-12-01 20:00:00.000   deleted
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerter.records import SnapshotError
from alerter.sandbox.org import Org, SalesforceError

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
ALICE, MARIA, VICTOR, QUEUE = (
    "005000000000AL1",
    "005000000000MG1",
    "005000000000VP1",
    "00G0000000IQ001",
)
ADA, GRACE, HEDY, KATHERINE, MARGARET = (f"00Q00000000000{n}" for n in "12345")
URL = "/services/data/v60.0/sobjects"

# Id, FirstName, Company, Status, OwnerId, LeadSource, CreatedDate, other fields
LEADS: list[tuple[Any, ...]] = [
    (ADA, "Ada", "acme", "MQL", ALICE, "Web", "2026-12-01T00:00:00.000+0000",
     {"Score__c": 90.5}),
    (GRACE, "Grace", "Beta", "Working", QUEUE, "TradeXShow", "2026-11-30T23:59:59.999+0000",
     {"Score__c": 70}),
    (HEDY, "Hedy", "Zeta", "Nurture", ALICE, "Trade_Show", "2026-11-30T00:00:00.000+0000", {}),
    (KATHERINE, "Katherine", "delta", None, None, None, "2026-11-29T23:59:59.000+0000",
     {"IsConverted": True}),
    (MARGARET, "Margaret", "Omega", "MQL", ALICE, "Web", "2026-12-01T20:00:00.000+0000",
     {"IsDeleted": True}),
]  # fmt: skip


def seed() -> dict[str, list[dict[str, Any]]]:
    """A fresh copy of the org's data."""
    return {
        "User": [
            {"Id": ALICE, "Name": "Alice Chen", "IsActive": True, "ManagerId": MARIA},
            {"Id": MARIA, "Name": "Maria Garcia", "IsActive": True, "ManagerId": VICTOR},
            {"Id": VICTOR, "Name": "Victor Vance", "IsActive": False, "ManagerId": None},
        ],
        "Group": [{"Id": QUEUE, "Name": "Inbound", "Type": "Queue"}],
        "Lead": [lead(*row) for row in LEADS],
        "Task": [
            task(1, ADA, "Call", "2026-12-01T10:00:00.000+0000", ActivityDate="2026-12-01"),
            task(2, ADA, "Email", "2026-12-01T12:00:00.000+0000", ActivityDate="2026-12-02"),
            task(3, ADA, "ListEmail", "2026-12-01T11:00:00.000+0000"),
            task(4, GRACE, "Call", "2026-11-30T09:00:00.000+0000"),
            task(5, ADA, "Call", "2026-11-01T00:00:00.000+0000", IsDeleted=True),
        ],
        "Event": [
            {"Id": "00U000000000001", "WhoId": HEDY, "StartDateTime": "2026-12-02T15:00:00Z"}
        ],
        "LeadHistory": [
            history(1, ADA, "Status", "2026-12-01T00:00:05.000+0000"),
            history(2, ADA, "Owner", "2026-12-01T01:00:00.000+0000"),
            history(3, GRACE, "Status", "2026-11-30T23:59:59.999+0000"),
        ],
    }


def lead(
    record_id: str,
    first: str,
    company: str,
    status: str | None,
    owner: str | None,
    source: str | None,
    created: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """A lead as the REST API returns it, attributes included."""
    return {
        "attributes": {"type": "Lead", "url": f"{URL}/Lead/{record_id}"},
        "Id": record_id,
        "FirstName": first,
        "Name": first,
        "Company": company,
        "Status": status,
        "OwnerId": owner,
        "LeadSource": source,
        "CreatedDate": created,
        **extra,
    }


def task(n: int, who: str, subtype: str, created: str, **extra: Any) -> dict[str, Any]:
    """A task on a lead; its subject is its subtype."""
    return {
        "Id": f"00T00000000000{n}",
        "WhoId": who,
        "Subject": subtype,
        "TaskSubtype": subtype,
        "CreatedDate": created,
        **extra,
    }


def history(n: int, lead_id: str, field: str, created: str) -> dict[str, Any]:
    """A LeadHistory row."""
    return {
        "Id": f"01700000000000{n}",
        "LeadId": lead_id,
        "Field": field,
        "NewValue": "x",
        "CreatedDate": created,
    }


@pytest.fixture
def org() -> Org:
    return Org(seed(), clock=lambda: NOW)


def ids(org: Org, soql: str, **kwargs: Any) -> list[str]:
    """The Ids a query returns, in its order."""
    return [record["Id"] for record in org.query(soql, **kwargs)]


def leads_where(org: Org, condition: str) -> list[str]:
    """The live leads matching a condition, by Id."""
    return ids(org, f"SELECT Id FROM Lead WHERE {condition} ORDER BY Id")


def error(call: Any, *args: Any) -> SalesforceError:
    """The SalesforceError a call raises."""
    with pytest.raises(SalesforceError) as raised:
        call(*args)
    return raised.value


class TestTextFilters:
    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("Status = 'mql'", [ADA]),
            ("Status != 'MQL'", [GRACE, HEDY, KATHERINE]),
            ("Status <> 'mql'", [GRACE, HEDY, KATHERINE]),
            ("Status IN ('mql', 'NURTURE')", [ADA, HEDY]),
            ("Status NOT IN ('MQL', 'Working')", [HEDY, KATHERINE]),
            ("Status < 'N'", [ADA]),
            ("Status >= 'n'", [GRACE, HEDY]),
            ("Status = null", [KATHERINE]),
            ("Status != null", [ADA, GRACE, HEDY]),
        ],
    )
    def test_case_and_nulls(self, org: Org, condition: str, expected: list[str]) -> None:
        """Text compares case-insensitively; != and NOT IN keep nulls, < and >= do not."""
        assert leads_where(org, condition) == expected

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("LeadSource LIKE 'WEB%'", [ADA]),
            ("LeadSource LIKE 'trade_show'", [GRACE, HEDY]),
            (r"LeadSource LIKE 'trade\_show'", [HEDY]),
            ("LeadSource LIKE '%show'", [GRACE, HEDY]),
            ("LeadSource LIKE 'Trade'", []),
            ("NOT LeadSource LIKE 'trade%'", [ADA, KATHERINE]),
        ],
    )
    def test_like(self, org: Org, condition: str, expected: list[str]) -> None:
        """LIKE matches the whole value, ignoring case; ``\\_`` is a literal underscore."""
        assert leads_where(org, condition) == expected

    def test_ids_compare_case_sensitively_in_either_length(self, org: Org) -> None:
        """An 18-character Id finds its record; Ids are case-sensitive, a lower-cased one is not."""
        assert leads_where(org, f"Id = '{ADA}AAC'") == [ADA]
        assert leads_where(org, f"OwnerId = '{ALICE.lower()}'") == []

    def test_boolean_missing_is_false(self, org: Org) -> None:
        """A boolean a record lacks is false, as Salesforce booleans are never null."""
        assert leads_where(org, "IsConverted = false") == [ADA, GRACE, HEDY]
        assert leads_where(org, "IsConverted = TRUE") == [KATHERINE]

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("Score__c > 80", [ADA]),
            ("Score__c <= 70", [GRACE]),
            ("Score__c = 90.5", [ADA]),
            ("Score__c != 70", [ADA, HEDY, KATHERINE]),
        ],
    )
    def test_numbers(self, org: Org, condition: str, expected: list[str]) -> None:
        """Numbers compare numerically; a null number fails every comparison but !=."""
        assert leads_where(org, condition) == expected

    def test_and_or_not(self, org: Org) -> None:
        """Grouped OR inside AND, and NOT over a group."""
        condition = "(Status = 'MQL' OR Status = 'Working') AND LeadSource = 'web'"
        assert leads_where(org, condition) == [ADA]
        assert leads_where(org, "NOT (Status = 'MQL' OR Status = null)") == [GRACE, HEDY]

    def test_parent_field_in_where(self, org: Org) -> None:
        """A WHERE may follow a lookup: leads owned by a queue."""
        assert leads_where(org, "Owner.Type = 'Queue'") == [GRACE]
        assert leads_where(org, "Owner.Name LIKE 'alice%'") == [ADA, HEDY]


class TestDateFilters:
    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("CreatedDate = TODAY", [ADA]),
            ("CreatedDate != TODAY", [GRACE, HEDY, KATHERINE]),
            ("CreatedDate < TODAY", [GRACE, HEDY, KATHERINE]),
            ("CreatedDate <= TODAY", [ADA, GRACE, HEDY, KATHERINE]),
            ("CreatedDate > TODAY", []),
            ("CreatedDate >= TODAY", [ADA]),
            ("CreatedDate = YESTERDAY", [GRACE, HEDY]),
            ("CreatedDate > YESTERDAY", [ADA]),
            ("CreatedDate < YESTERDAY", [KATHERINE]),
            ("CreatedDate = LAST_N_DAYS:1", [ADA, GRACE, HEDY]),
            ("CreatedDate = N_DAYS_AGO:2", [KATHERINE]),
            ("CreatedDate = NEXT_N_DAYS:3", []),
            ("CreatedDate = TOMORROW", []),
        ],
    )
    def test_date_literals_at_day_edges(
        self, org: Org, condition: str, expected: list[str]
    ) -> None:
        """Each literal is a UTC day range: = within, < before its start, > at or after its end."""
        assert leads_where(org, condition) == expected

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("CreatedDate = 2026-11-30", [GRACE, HEDY]),
            ("CreatedDate > 2026-11-30", [ADA]),
            ("CreatedDate <= 2026-11-30", [GRACE, HEDY, KATHERINE]),
        ],
    )
    def test_date_against_datetime_field(
        self, org: Org, condition: str, expected: list[str]
    ) -> None:
        """A date compared with a datetime field stands for that whole UTC day."""
        assert leads_where(org, condition) == expected

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("CreatedDate > 2026-11-30T23:59:59.998Z", [ADA, GRACE]),
            ("CreatedDate > 2026-11-30T23:59:59.999Z", [ADA]),
            ("CreatedDate >= 2026-11-30T18:59:59-05:00", [ADA, GRACE]),
            ("CreatedDate = 2026-12-01T05:30:00+05:30", [ADA]),
            ("CreatedDate < 2026-11-30T00:00:00.000+0000", [KATHERINE]),
        ],
    )
    def test_datetime_literals(self, org: Org, condition: str, expected: list[str]) -> None:
        """Datetimes compare as instants, to the millisecond, whatever zone they are written in."""
        assert leads_where(org, condition) == expected

    def test_date_field(self, org: Org) -> None:
        """A date field compares by day with dates and date literals."""
        soql = "SELECT Id FROM Task WHERE ActivityDate {} ORDER BY Id"
        assert ids(org, soql.format("= TODAY")) == ["00T000000000001"]
        assert ids(org, soql.format("> 2026-12-01")) == ["00T000000000002"]


class TestOrdering:
    @pytest.mark.parametrize(
        ("order", "expected"),
        [
            ("Status", [KATHERINE, ADA, HEDY, GRACE]),
            ("Status DESC", [GRACE, HEDY, ADA, KATHERINE]),
            ("Status DESC NULLS FIRST", [KATHERINE, GRACE, HEDY, ADA]),
            ("Status NULLS LAST", [ADA, HEDY, GRACE, KATHERINE]),
            ("Company", [ADA, GRACE, KATHERINE, HEDY]),
            ("OwnerId, CreatedDate DESC", [KATHERINE, ADA, HEDY, GRACE]),
            ("Owner.Name DESC, Id DESC", [GRACE, HEDY, ADA, KATHERINE]),
            ("CreatedDate", [KATHERINE, HEDY, GRACE, ADA]),
        ],
    )
    def test_order_by(self, org: Org, order: str, expected: list[str]) -> None:
        """Nulls first ascending and last descending unless told; text sorts ignoring case."""
        assert ids(org, f"SELECT Id FROM Lead ORDER BY {order}") == expected

    def test_limit_after_order(self, org: Org) -> None:
        """LIMIT keeps the first rows of the sorted result."""
        assert ids(org, "SELECT Id FROM Lead ORDER BY CreatedDate DESC LIMIT 2") == [ADA, GRACE]

    def test_limit_zero(self, org: Org) -> None:
        """LIMIT 0 returns nothing."""
        assert ids(org, "SELECT Id FROM Lead LIMIT 0") == []


class TestResultShape:
    def test_record_shape(self, org: Org) -> None:
        """Attributes first, then the selected fields in SELECT order, absent ones null."""
        (record,) = org.query(f"SELECT Company, Id, Email, Score__c FROM Lead WHERE Id = '{ADA}'")
        assert record == {
            "attributes": {"type": "Lead", "url": f"{URL}/Lead/{ADA}"},
            "Company": "acme",
            "Id": ADA,
            "Email": None,
            "Score__c": 90.5,
        }
        assert list(record) == ["attributes", "Company", "Id", "Email", "Score__c"]

    def test_names_in_any_case_come_back_canonical(self, org: Org) -> None:
        """Objects and fields resolve in any case; results use the API names."""
        (record,) = org.query(f"select id, leadsource from LEAD where ID = '{ADA}'")
        assert record == {
            "attributes": {"type": "Lead", "url": f"{URL}/Lead/{ADA}"},
            "Id": ADA,
            "LeadSource": "Web",
        }

    def test_datetimes_written_as_salesforce_does(self, org: Org) -> None:
        """A datetime stored in another form comes back as ``...000+0000``."""
        (record,) = org.query("SELECT StartDateTime FROM Event")
        assert record["StartDateTime"] == "2026-12-02T15:00:00.000+0000"

    def test_duplicate_field(self, org: Org) -> None:
        """Selecting a field twice (in any case) is refused, as Salesforce refuses it."""
        failed = error(org.query, "SELECT Id, id FROM Lead")
        assert failed.error_code == "MALFORMED_QUERY"
        assert failed.message.endswith("duplicate field selected: Id")

    def test_empty_standard_object(self, org: Org) -> None:
        """A standard object without records answers an empty list."""
        assert org.query("SELECT Id, Name, AccountId FROM Contact") == []


class TestParents:
    def test_owner_user_queue_and_none(self, org: Org) -> None:
        """Owner is polymorphic: Name entity attributes, Type User or Queue, null when empty."""
        soql = "SELECT Owner.Name, Owner.Type, Owner.IsActive FROM Lead ORDER BY Id"
        records = org.query(soql)
        assert [r["Owner"] for r in records] == [
            {
                "attributes": {"type": "Name", "url": f"{URL}/User/{ALICE}"},
                "Name": "Alice Chen",
                "Type": "User",
                "IsActive": True,
            },
            {
                "attributes": {"type": "Name", "url": f"{URL}/Group/{QUEUE}"},
                "Name": "Inbound",
                "Type": "Queue",
                "IsActive": None,
            },
            {
                "attributes": {"type": "Name", "url": f"{URL}/User/{ALICE}"},
                "Name": "Alice Chen",
                "Type": "User",
                "IsActive": True,
            },
            None,
        ]

    def test_parent_chain(self, org: Org) -> None:
        """Non-polymorphic lookups nest as deep as the path goes; an empty one is null."""
        records = org.query("SELECT Name, Manager.Name, Manager.Manager.Name FROM User")
        assert records[0]["Manager"] == {
            "attributes": {"type": "User", "url": f"{URL}/User/{MARIA}"},
            "Name": "Maria Garcia",
            "Manager": {
                "attributes": {"type": "User", "url": f"{URL}/User/{VICTOR}"},
                "Name": "Victor Vance",
            },
        }
        assert records[2]["Manager"] is None

    def test_history_to_lead_to_owner(self, org: Org) -> None:
        """A path may cross a plain lookup and then a polymorphic one."""
        (record,) = org.query(f"SELECT Lead.Owner.Name FROM LeadHistory WHERE LeadId = '{GRACE}'")
        assert record["Lead"]["Owner"]["Name"] == "Inbound"

    def test_dangling_lookup_is_null(self) -> None:
        """A lookup to a record the org does not hold is null, not an error."""
        data = seed()
        data["Lead"][0]["OwnerId"] = "005000000000ZZZ"
        org = Org(data, clock=lambda: NOW)
        (record,) = org.query(f"SELECT Owner.Name FROM Lead WHERE Id = '{ADA}'")
        assert record["Owner"] is None

    def test_polymorphic_lookup_reads_only_the_name_entity(self, org: Org) -> None:
        """Owner.Manager is refused, as on Salesforce: a polymorphic Owner is a Name."""
        failed = error(org.query, "SELECT Owner.Manager.Email FROM Lead")
        assert (failed.error_code, failed.status) == ("INVALID_FIELD", 400)
        assert failed.message == (
            "\nSELECT Owner.Manager.Email FROM Lead\n       ^\nERROR at Row:1:Column:8\n"
            "Didn't understand relationship 'Manager' in field path. If you are attempting to "
            "use a custom relationship, be sure to append the '__r' after the custom relationship "
            "name. Please reference your WSDL or the describe call for the appropriate names."
        )

    def test_unknown_field_on_a_parent(self, org: Org) -> None:
        """An unknown field behind a lookup names the parent's entity."""
        failed = error(org.query, "SELECT Owner.Foo, Manager.Bar FROM Lead")
        assert "No such column 'Foo' on entity 'Name'." in failed.message
        failed = error(org.query, "SELECT Manager.Bar FROM User")
        assert "No such column 'Bar' on entity 'User'." in failed.message


class TestChildren:
    def test_subquery_with_where_order_limit(self, org: Org) -> None:
        """Each lead gets its newest non-list-email task; a lead with none gets null."""
        soql = (
            "SELECT Id, (SELECT Subject, CreatedDate FROM Tasks WHERE TaskSubtype != 'ListEmail' "
            "ORDER BY CreatedDate DESC LIMIT 1) FROM Lead ORDER BY Id"
        )
        records = org.query(soql)
        assert [r["Tasks"] for r in records] == [
            {
                "totalSize": 1,
                "done": True,
                "records": [
                    {
                        "attributes": {"type": "Task", "url": f"{URL}/Task/00T000000000002"},
                        "Subject": "Email",
                        "CreatedDate": "2026-12-01T12:00:00.000+0000",
                    }
                ],
            },
            {
                "totalSize": 1,
                "done": True,
                "records": [
                    {
                        "attributes": {"type": "Task", "url": f"{URL}/Task/00T000000000004"},
                        "Subject": "Call",
                        "CreatedDate": "2026-11-30T09:00:00.000+0000",
                    }
                ],
            },
            None,
            None,
        ]

    def test_events_and_histories(self, org: Org) -> None:
        """Events by WhoId and Histories by LeadId, ordered as asked."""
        soql = (
            "SELECT (SELECT Id FROM Events), (SELECT Field FROM Histories ORDER BY CreatedDate "
            "DESC) FROM Lead ORDER BY Id"
        )
        records = org.query(soql)
        assert [r["Events"] and [e["Id"] for e in r["Events"]["records"]] for r in records] == [
            None,
            None,
            ["00U000000000001"],
            None,
        ]
        assert [r["Field"] for r in records[0]["Histories"]["records"]] == ["Owner", "Status"]

    def test_unknown_child_relationship(self, org: Org) -> None:
        """A relationship the object lacks is INVALID_TYPE, located at its name."""
        failed = error(org.query, "SELECT Id, (SELECT Id FROM Cases) FROM Lead")
        assert (failed.error_code, failed.status) == ("INVALID_TYPE", 400)
        assert failed.message == (
            "\nSELECT Id, (SELECT Id FROM Cases) FROM Lead\n                           ^\n"
            "ERROR at Row:1:Column:28\n"
            "Didn't understand relationship 'Cases' in FROM part of query call. If you are "
            "attempting to use a custom relationship, be sure to append the '__r' after the "
            "custom relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names."
        )

    def test_unknown_field_in_subquery(self, org: Org) -> None:
        """A subquery's fields are checked against the child object."""
        failed = error(org.query, "SELECT Id, (SELECT Company FROM Tasks) FROM Lead")
        assert "No such column 'Company' on entity 'Task'." in failed.message


class TestSemiJoin:
    def test_semi_join(self, org: Org) -> None:
        """Leads with a call task."""
        condition = "Id IN (SELECT WhoId FROM Task WHERE TaskSubtype = 'Call')"
        assert leads_where(org, condition) == [ADA, GRACE]

    def test_anti_join(self, org: Org) -> None:
        """Leads without any task."""
        assert leads_where(org, "Id NOT IN (SELECT WhoId FROM Task)") == [HEDY, KATHERINE]

    def test_deleted_rows_do_not_join(self, org: Org) -> None:
        """The deleted task dated 2026-11-01 does not make Ada match."""
        condition = "Id IN (SELECT WhoId FROM Task WHERE CreatedDate < 2026-11-02)"
        assert leads_where(org, condition) == []


class TestDeleted:
    def test_query_skips_deleted(self, org: Org) -> None:
        """query() leaves out IsDeleted records, at the top and in subqueries."""
        assert MARGARET not in ids(org, "SELECT Id FROM Lead")
        (ada,) = org.query(f"SELECT (SELECT Id FROM Tasks) FROM Lead WHERE Id = '{ADA}'")
        assert ada["Tasks"]["totalSize"] == 3

    def test_query_all_includes_deleted(self, org: Org) -> None:
        """include_deleted (queryAll) returns them, with IsDeleted true."""
        soql = "SELECT Id, IsDeleted FROM Lead WHERE Status = 'MQL' ORDER BY Id"
        assert org.query(soql, include_deleted=True) == [
            {"attributes": {"type": "Lead", "url": f"{URL}/Lead/{ADA}"}, "Id": ADA,
             "IsDeleted": False},
            {"attributes": {"type": "Lead", "url": f"{URL}/Lead/{MARGARET}"}, "Id": MARGARET,
             "IsDeleted": True},
        ]  # fmt: skip
        (ada,) = org.query(
            f"SELECT (SELECT Id FROM Tasks) FROM Lead WHERE Id = '{ADA}'", include_deleted=True
        )
        assert ada["Tasks"]["totalSize"] == 4


class TestNameErrors:
    def test_unknown_field(self, org: Org) -> None:
        """An unknown field is INVALID_FIELD with Salesforce's text, located at the field."""
        failed = error(org.query, "SELECT Id, Foo FROM Lead")
        assert (failed.error_code, failed.status) == ("INVALID_FIELD", 400)
        assert failed.message == (
            "\nSELECT Id, Foo FROM Lead\n           ^\nERROR at Row:1:Column:12\n"
            "No such column 'Foo' on entity 'Lead'. If you are attempting to use a custom field, "
            "be sure to append the '__c' after the custom field name. Please reference your WSDL "
            "or the describe call for the appropriate names."
        )

    def test_unknown_field_in_where_and_order(self, org: Org) -> None:
        """WHERE and ORDER BY fields are checked too."""
        assert error(org.query, "SELECT Id FROM Lead WHERE Foo = 1").error_code == "INVALID_FIELD"
        assert error(org.query, "SELECT Id FROM Lead ORDER BY Bar").error_code == "INVALID_FIELD"

    def test_unknown_object(self, org: Org) -> None:
        """An unknown object is INVALID_TYPE with Salesforce's text, located at the name."""
        failed = error(org.query, "SELECT Id FROM Foo")
        assert (failed.error_code, failed.status) == ("INVALID_TYPE", 400)
        assert failed.message == (
            "\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\n"
            "sObject type 'Foo' is not supported. If you are attempting to use a custom object, "
            "be sure to append the '__c' after the entity name. Please reference your WSDL or "
            "the describe call for the appropriate names."
        )

    def test_unknown_object_in_semi_join(self, org: Org) -> None:
        """A semi-join's object is checked as well."""
        failed = error(org.query, "SELECT Id FROM Lead WHERE Id IN (SELECT WhoId FROM Foo)")
        assert failed.error_code == "INVALID_TYPE"

    def test_a_relationship_is_not_a_field(self, org: Org) -> None:
        """Selecting Owner or Tasks as if a field is INVALID_FIELD."""
        assert error(org.query, "SELECT Owner FROM Lead").error_code == "INVALID_FIELD"
        assert error(org.query, "SELECT Tasks FROM Lead").error_code == "INVALID_FIELD"


class TestDescribe:
    def test_lead_fields_and_types(self, org: Org) -> None:
        """Baseline, standard and seen fields, with types inferred or known."""
        fields = {f["name"]: f for f in org.describe("Lead")["fields"]}
        assert {name: fields[name]["type"] for name in (
            "Id", "IsDeleted", "CreatedDate", "SystemModstamp", "Company", "Status", "OwnerId",
            "IsConverted", "LastActivityDate", "Score__c", "Rating",
        )} == {
            "Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime",
            "SystemModstamp": "datetime", "Company": "string", "Status": "picklist",
            "OwnerId": "reference", "IsConverted": "boolean", "LastActivityDate": "date",
            "Score__c": "double", "Rating": "picklist",
        }  # fmt: skip
        assert {
            key: fields["OwnerId"][key]
            for key in ("referenceTo", "relationshipName", "polymorphicForeignKey", "custom")
        } == {
            "referenceTo": ["Group", "User"],
            "relationshipName": "Owner",
            "polymorphicForeignKey": True,
            "custom": False,
        }
        assert fields["Score__c"]["custom"] is True

    def test_picklist_values_come_from_the_data(self, org: Org) -> None:
        """A picklist lists the values its records hold, in first-seen order."""
        fields = {f["name"]: f for f in org.describe("Lead")["fields"]}
        assert [v["value"] for v in fields["Status"]["picklistValues"]] == [
            "MQL",
            "Working",
            "Nurture",
        ]

    def test_object_summary_and_children(self, org: Org) -> None:
        """Name, key prefix, URLs and the child relationships queries may use."""
        described = org.describe("Lead")
        assert {k: described[k] for k in ("name", "label", "keyPrefix", "custom", "urls")} == {
            "name": "Lead",
            "label": "Lead",
            "keyPrefix": "00Q",
            "custom": False,
            "urls": {
                "sobject": f"{URL}/Lead",
                "describe": f"{URL}/Lead/describe",
                "rowTemplate": f"{URL}/Lead/{{ID}}",
            },
        }
        assert [
            (c["relationshipName"], c["childSObject"], c["field"])
            for c in described["childRelationships"]
        ] == [("Tasks", "Task", "WhoId"), ("Events", "Event", "WhoId"),
              ("Histories", "LeadHistory", "LeadId")]  # fmt: skip

    def test_custom_object_relationships(self) -> None:
        """A custom object's lookups and children: WhatId activities, Foo__History.ParentId."""
        account = {"Id": "001000000000001", "Name": "Acme"}
        project = {"Id": "a05000000000001", "Name": "P1", "Account__c": "001000000000001"}
        org = Org({"Account": [account], "Project__c": [project]}, clock=lambda: NOW)
        described = org.describe("Project__c")
        fields = {f["name"]: f for f in described["fields"]}
        assert (fields["Account__c"]["referenceTo"], fields["Account__c"]["relationshipName"]) == (
            ["Account"],
            "Account__r",
        )
        assert described["keyPrefix"] == "a05"
        assert [
            (c["relationshipName"], c["childSObject"], c["field"])
            for c in described["childRelationships"]
        ] == [("Tasks", "Task", "WhatId"), ("Events", "Event", "WhatId"),
              ("Histories", "Project__History", "ParentId")]  # fmt: skip
        (record,) = org.query("SELECT Account__r.Name, (SELECT Id FROM Histories) FROM Project__c")
        assert (record["Account__r"]["Name"], record["Histories"]) == ("Acme", None)

    def test_unknown_object(self, org: Org) -> None:
        """Describing an object the org lacks is NOT_FOUND, 404."""
        failed = error(org.describe, "Nope__c")
        assert (failed.error_code, failed.message, failed.status) == (
            "NOT_FOUND",
            "The requested resource does not exist",
            404,
        )

    def test_global_describe(self, org: Org) -> None:
        """Every standard object and every object of the seed is listed."""
        names = [o["name"] for o in org.global_describe()["sobjects"]]
        assert names == [
            "Lead", "Contact", "Account", "Opportunity", "Task", "Event", "User", "Group",
            "LeadHistory", "ContactHistory", "AccountHistory", "OpportunityFieldHistory",
        ]  # fmt: skip


class TestCreate:
    def test_new_id_and_stamps(self, org: Org) -> None:
        """The next free Id with the key prefix, stamped from the clock, Name composed."""
        new_id = org.create("Lead", {"FirstName": "Alan", "LastName": "Turing", "Company": "GCHQ"})
        assert new_id == "00Q000000000006"  # 1 to 5 are taken
        (record,) = org.query(
            "SELECT Name, CreatedDate, LastModifiedDate, SystemModstamp, IsDeleted FROM Lead "
            f"WHERE Id = '{new_id}'"
        )
        assert record == {
            "attributes": {"type": "Lead", "url": f"{URL}/Lead/{new_id}"},
            "Name": "Alan Turing",
            "CreatedDate": "2026-12-01T21:00:00.000+0000",
            "LastModifiedDate": "2026-12-01T21:00:00.000+0000",
            "SystemModstamp": "2026-12-01T21:00:00.000+0000",
            "IsDeleted": False,
        }
        assert org.create("Lead", {"LastName": "Lamport"}) == "00Q000000000007"

    def test_backdated_create(self, org: Org) -> None:
        """CreatedDate may be set on create, as with "Set Audit Fields upon Record Creation"."""
        fields = {"LastName": "Old", "CreatedDate": "2026-01-05T09:00:00.000+0000"}
        new_id = org.create("Lead", fields)
        (record,) = org.query(f"SELECT CreatedDate, SystemModstamp FROM Lead WHERE Id = '{new_id}'")
        assert (record["CreatedDate"], record["SystemModstamp"]) == (
            "2026-01-05T09:00:00.000+0000",
            "2026-12-01T21:00:00.000+0000",
        )

    def test_new_child_joins_a_built_index(self, org: Org) -> None:
        """A task created after a subquery ran shows up in the next one, in any-case names."""
        soql = f"SELECT (SELECT Id FROM Tasks) FROM Lead WHERE Id = '{HEDY}'"
        assert org.query(soql)[0]["Tasks"] is None
        new_id = org.create("Task", {"whoid": HEDY, "Subject": "Call"})
        assert new_id == "00T000000000006"
        assert [t["Id"] for t in org.query(soql)[0]["Tasks"]["records"]] == [new_id]

    def test_history_rows_for_tests(self, org: Org) -> None:
        """Tests write field history explicitly; it is not created by updates."""
        org.update("Lead", ADA, {"Status": "Working"})
        assert len(org.query(f"SELECT Id FROM LeadHistory WHERE LeadId = '{ADA}'")) == 2
        org.create("LeadHistory", {"LeadId": ADA, "Field": "Status", "NewValue": "Working"})
        assert len(org.query(f"SELECT Id FROM LeadHistory WHERE LeadId = '{ADA}'")) == 3

    def test_unknown_field(self, org: Org) -> None:
        """A field the object lacks is INVALID_FIELD, 400."""
        failed = error(org.create, "Lead", {"LastName": "X", "Foo__c": 1})
        assert (failed.error_code, failed.message, failed.status) == (
            "INVALID_FIELD",
            "No such column 'Foo__c' on sobject of type Lead",
            400,
        )

    def test_system_field(self, org: Org) -> None:
        """Id is not writable."""
        failed = error(org.create, "Lead", {"Id": "00Q000000000099", "LastName": "X"})
        assert (failed.error_code, failed.status) == ("INVALID_FIELD_FOR_INSERT_UPDATE", 400)
        assert failed.message.startswith("Unable to create/update fields: Id.")

    def test_unknown_object(self, org: Org) -> None:
        """Creating in an object the org lacks is NOT_FOUND, 404."""
        assert error(org.create, "Nope__c", {}).status == 404


class TestUpdate:
    def test_stamps_and_values(self, org: Org) -> None:
        """An update changes the fields and LastModifiedDate/SystemModstamp, not CreatedDate."""
        org.update("Lead", ADA, {"Status": "Working", "LastName": "King"})
        (record,) = org.query(
            "SELECT Status, Name, CreatedDate, LastModifiedDate, SystemModstamp FROM Lead "
            f"WHERE Id = '{ADA}'"
        )
        assert record == {
            "attributes": {"type": "Lead", "url": f"{URL}/Lead/{ADA}"},
            "Status": "Working",
            "Name": "Ada King",
            "CreatedDate": "2026-12-01T00:00:00.000+0000",
            "LastModifiedDate": "2026-12-01T21:00:00.000+0000",
            "SystemModstamp": "2026-12-01T21:00:00.000+0000",
        }

    def test_moving_a_child_moves_it_between_parents(self, org: Org) -> None:
        """Re-pointing a task's WhoId moves it in subquery results."""
        soql = "SELECT Id, (SELECT Id FROM Tasks) FROM Lead WHERE Id IN ('{}', '{}') ORDER BY Id"
        before = org.query(soql.format(GRACE, HEDY))
        assert [r["Tasks"] and r["Tasks"]["totalSize"] for r in before] == [1, None]
        org.update("Task", "00T000000000004", {"WhoId": HEDY})
        after = org.query(soql.format(GRACE, HEDY))
        assert [r["Tasks"] and r["Tasks"]["totalSize"] for r in after] == [None, 1]

    def test_eighteen_character_id(self, org: Org) -> None:
        """An 18-character Id addresses the same record."""
        org.update("Lead", f"{ADA}AAC", {"Status": "Working"})
        assert leads_where(org, "Status = 'Working'") == [ADA, GRACE]

    @pytest.mark.parametrize(
        ("object_name", "record_id"),
        [("Lead", "00Q000000000099"), ("Task", ADA), ("Nope__c", ADA)],
    )
    def test_not_found(self, org: Org, object_name: str, record_id: str) -> None:
        """An unknown Id, an Id of another object, or an unknown object is NOT_FOUND, 404."""
        failed = error(org.update, object_name, record_id, {"Status": "x"})
        assert (failed.error_code, failed.status) == ("NOT_FOUND", 404)

    def test_audit_fields_are_read_only(self, org: Org) -> None:
        """CreatedDate cannot be changed by an update."""
        failed = error(org.update, "Lead", ADA, {"CreatedDate": "2020-01-01T00:00:00Z"})
        assert failed.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE"

    def test_unknown_field(self, org: Org) -> None:
        """A field the object lacks is INVALID_FIELD."""
        assert error(org.update, "Lead", ADA, {"Nope": 1}).error_code == "INVALID_FIELD"


class TestIsolation:
    def test_callers_data_is_not_mutated(self) -> None:
        """Writes change the org's copy, never the seed handed in."""
        data = seed()
        before = json.dumps(data, sort_keys=True)
        org = Org(data, clock=lambda: NOW)
        org.update("Lead", ADA, {"Status": "Working"})
        org.create("Task", {"WhoId": ADA})
        org.query("SELECT Id, (SELECT Id FROM Tasks) FROM Lead")
        assert json.dumps(data, sort_keys=True) == before

    def test_snapshot_is_a_copy(self, org: Org) -> None:
        """Changing a snapshot does not change the org."""
        org.snapshot()["Lead"][0]["Status"] = "Changed"
        assert leads_where(org, "Status = 'Changed'") == []

    def test_snapshot_is_flat_current_data(self, org: Org) -> None:
        """The snapshot holds the seeded objects, flat, with writes applied."""
        org.update("Lead", ADA, {"Status": "Working"})
        shot = org.snapshot()
        assert list(shot) == ["User", "Group", "Lead", "Task", "Event", "LeadHistory"]
        assert shot["Lead"][0] == {
            "Id": ADA,
            "FirstName": "Ada",
            "Name": "Ada",
            "Company": "acme",
            "Status": "Working",
            "OwnerId": ALICE,
            "LeadSource": "Web",
            "CreatedDate": "2026-12-01T00:00:00.000+0000",
            "Score__c": 90.5,
            "LastModifiedDate": "2026-12-01T21:00:00.000+0000",
            "SystemModstamp": "2026-12-01T21:00:00.000+0000",
        }

    def test_nested_relationships_in_the_seed_are_not_fields(self) -> None:
        """A REST-shaped seed with nested Owner and Tasks keeps only its flat fields."""
        nested = {
            "Id": ADA,
            "OwnerId": ALICE,
            "Owner": {"attributes": {"type": "User"}, "Name": "Alice Chen"},
            "Tasks": {"totalSize": 0, "done": True, "records": []},
        }
        org = Org({"Lead": [nested]}, clock=lambda: NOW)
        assert org.snapshot()["Lead"] == [{"Id": ADA, "OwnerId": ALICE}]
        assert error(org.query, "SELECT Tasks FROM Lead").error_code == "INVALID_FIELD"

    def test_concurrent_creates_get_distinct_ids(self, org: Org) -> None:
        """Creates from many threads never hand out the same Id."""
        created: list[str] = []

        def create_many() -> None:
            for _ in range(25):
                created.append(org.create("Task", {"Subject": "Call"}))

        threads = [threading.Thread(target=create_many) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(created)) == 200


class TestFromFile:
    def test_reads_a_snapshot_file(self, tmp_path: Path) -> None:
        """A snapshot file seeds the org."""
        path = tmp_path / "org.json"
        path.write_text(json.dumps(seed()), encoding="utf-8")
        org = Org.from_file(path, clock=lambda: NOW)
        assert leads_where(org, "Status = 'MQL'") == [ADA]

    def test_bad_file(self, tmp_path: Path) -> None:
        """A file that is not a snapshot raises SnapshotError naming the file."""
        path = tmp_path / "org.json"
        path.write_text('{"Lead": {}}', encoding="utf-8")
        with pytest.raises(SnapshotError, match=r"org\.json: Lead: expected a list of records"):
            Org.from_file(path)
