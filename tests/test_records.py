"""Salesforce REST records and snapshots: datetimes, lookups, children and history objects."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from alerter.records import (
    Snapshot,
    SnapshotError,
    child_records,
    format_datetime,
    get_field,
    history_object,
    parse_date,
    parse_datetime,
)

T = datetime(2026, 12, 1, 14, 3, tzinfo=UTC)


class TestParseDatetime:
    @pytest.mark.parametrize(
        "text",
        [
            "2026-12-01T14:03:00.000+0000",
            "2026-12-01T14:03:00Z",
            "2026-12-01T14:03:00.000Z",
            "2026-12-01T14:03:00+00:00",
            "2026-12-01T09:03:00.000-0500",
            "2026-12-01T15:03:00+01:00",
            "2026-12-01T19:33:00.000+0530",
            "  2026-12-01T14:03:00.000+0000  ",
        ],
    )
    def test_salesforce_and_iso_forms(self, text: str) -> None:
        """Every zone form gives the same UTC instant."""
        result = parse_datetime(text)
        assert result == T
        assert result is not None
        assert result.tzinfo is UTC

    def test_naive_text_is_utc(self) -> None:
        """A datetime without a zone is read as UTC, as Salesforce means it."""
        assert parse_datetime("2026-12-01T14:03:00") == T

    def test_date_text_is_midnight_utc(self) -> None:
        """A date field reads as the start of that day in UTC."""
        assert parse_datetime("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)

    def test_aware_datetime_is_converted(self) -> None:
        """An aware datetime is moved to UTC."""
        berlin = datetime(2026, 12, 1, 15, 3, tzinfo=timezone(timedelta(hours=1)))
        assert parse_datetime(berlin) == T
        assert parse_datetime(berlin).tzinfo is UTC  # type: ignore[union-attr]

    def test_naive_datetime_is_utc(self) -> None:
        """A naive datetime (as YAML gives for a time without zone) is UTC."""
        assert parse_datetime(datetime(2026, 12, 1, 14, 3)) == T

    def test_date_object(self) -> None:
        """A date is midnight UTC."""
        assert parse_datetime(date(2026, 12, 1)) == datetime(2026, 12, 1, tzinfo=UTC)

    @pytest.mark.parametrize(
        "garbage", [None, "", "yesterday", "Z", "2026-13-01T00:00:00Z", "12345", 42, True, [T]]
    )
    def test_garbage_is_none(self, garbage: Any) -> None:
        """Anything that is not a datetime reads as no value rather than raising."""
        assert parse_datetime(garbage) is None


class TestParseDate:
    def test_date_text(self) -> None:
        """A Salesforce date is a date."""
        assert parse_date("2026-12-01") == date(2026, 12, 1)

    def test_datetime_text_gives_its_date(self) -> None:
        """A Salesforce datetime (always UTC) gives its date."""
        assert parse_date("2026-12-01T23:59:59.000+0000") == date(2026, 12, 1)

    def test_aware_datetime_gives_its_utc_date(self) -> None:
        """Late evening in New York is already the next day in UTC."""
        late = datetime(2026, 12, 1, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
        assert parse_date(late) == date(2026, 12, 2)

    def test_date_object(self) -> None:
        """A date passes through."""
        assert parse_date(date(2026, 12, 1)) == date(2026, 12, 1)

    @pytest.mark.parametrize("garbage", [None, "", "soon", "2026-02-30", 20261201])
    def test_garbage_is_none(self, garbage: Any) -> None:
        """Anything that is not a date reads as no value."""
        assert parse_date(garbage) is None


class TestFormatDatetime:
    def test_salesforce_form(self) -> None:
        """Datetimes are written in UTC with milliseconds and ``+0000``."""
        moment = datetime(2026, 12, 1, 15, 3, 4, 567_890, tzinfo=timezone(timedelta(hours=1)))
        assert format_datetime(moment) == "2026-12-01T14:03:04.567+0000"

    def test_round_trip(self) -> None:
        """What is written reads back as the same instant."""
        assert parse_datetime(format_datetime(T)) == T


class TestChildRecords:
    def test_embedded_relationship(self) -> None:
        """A REST child relationship gives its records."""
        lead = {"Tasks": {"totalSize": 1, "done": True, "records": [{"Id": "00T1"}]}}
        assert child_records(lead, "Tasks") == [{"Id": "00T1"}]

    @pytest.mark.parametrize("value", [None, [], {"totalSize": 0}, "Tasks"])
    def test_absent_or_malformed(self, value: Any) -> None:
        """A relationship that is absent or not in REST shape is None, not an empty list."""
        assert child_records({"Tasks": value}, "Tasks") is None

    def test_missing_key(self) -> None:
        """No relationship at all is None."""
        assert child_records({}, "Tasks") is None


LEAD = {"Id": "00Q1", "OwnerId": "0051", "Status": "MQL"}
OWNER = {"Id": "0051", "IsActive": True, "ManagerId": "0052"}
MANAGER = {"Id": "0052", "Email": "boss@example.com"}
TASK = {"Id": "00T1", "WhoId": "00Q1"}
EVENT = {"Id": "00U1", "WhatId": "00Q1"}
OTHER_TASK = {"Id": "00T2", "WhoId": "00Q9"}
HISTORY = {"Id": "0171", "LeadId": "00Q1", "Field": "Status", "NewValue": "MQL"}
CUSTOM_HISTORY = {"Id": "a011", "ParentId": "a001", "Field": "Stage__c"}


def snapshot() -> Snapshot:
    return Snapshot(
        {
            "Lead": [LEAD],
            "User": [OWNER, MANAGER],
            "Task": [TASK, OTHER_TASK],
            "Event": [EVENT],
            "LeadHistory": [HISTORY],
            "Deal__History": [CUSTOM_HISTORY],
        }
    )


class TestSnapshot:
    def test_records_by_object(self) -> None:
        """Records are listed per object, in order."""
        assert snapshot().records("Task") == [TASK, OTHER_TASK]

    def test_unknown_object_is_empty(self) -> None:
        """An object the snapshot lacks has no records."""
        assert snapshot().records("Contact") == []

    def test_by_id_across_objects(self) -> None:
        """Any record is found by its Id, whatever its object."""
        found = snapshot()
        assert (found.by_id("0052"), found.by_id("00T1"), found.by_id("nope")) == (
            MANAGER,
            TASK,
            None,
        )

    def test_record_without_id_is_listed_but_not_indexed(self) -> None:
        """A hand-written record may lack an Id."""
        loose = Snapshot({"Lead": [{"Status": "MQL"}]})
        assert loose.records("Lead") == [{"Status": "MQL"}]
        assert loose.by_id("None") is None

    def test_related_by_who_id(self) -> None:
        """Tasks point at a lead by WhoId."""
        assert snapshot().related("Task", "00Q1") == [TASK]

    def test_related_by_what_id(self) -> None:
        """Events may point at a record by WhatId."""
        assert snapshot().related("Event", "00Q1") == [EVENT]

    def test_related_history_by_lead_id(self) -> None:
        """LeadHistory rows point at their lead by LeadId."""
        assert snapshot().related("LeadHistory", "00Q1") == [HISTORY]

    def test_related_custom_history_by_parent_id(self) -> None:
        """A custom object's history points at its parent by ParentId."""
        assert snapshot().related("Deal__History", "a001") == [CUSTOM_HISTORY]

    def test_related_is_per_object(self) -> None:
        """A Task's WhoId does not make it an Event of the lead."""
        assert snapshot().related("Event", "00Q9") == []

    def test_related_nothing(self) -> None:
        """A record with no children has none."""
        assert snapshot().related("Task", "00Q5") == []

    def test_input_is_copied(self) -> None:
        """Changing the caller's lists afterwards does not change the snapshot."""
        leads = [LEAD]
        taken = Snapshot({"Lead": leads})
        leads.append({"Id": "00Q2"})
        assert taken.records("Lead") == [LEAD]


class TestSnapshotRead:
    def write(self, tmp_path: Path, text: str | bytes) -> Path:
        path = tmp_path / "org.json"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def test_reads_a_file(self, tmp_path: Path) -> None:
        """A JSON object of lists of records is a snapshot."""
        path = self.write(tmp_path, json.dumps({"Lead": [LEAD], "Task": [TASK]}))
        assert Snapshot.read(path).related("Task", "00Q1") == [TASK]

    def test_bad_json(self, tmp_path: Path) -> None:
        """Invalid JSON names the file and where the JSON breaks."""
        path = self.write(tmp_path, '{"Lead": [}')
        with pytest.raises(SnapshotError) as info:
            Snapshot.read(path)
        assert str(info.value) == f"{path}: Expecting value: line 1 column 11 (char 10)"

    def test_not_an_object(self, tmp_path: Path) -> None:
        """A JSON list is not a snapshot."""
        path = self.write(tmp_path, json.dumps([LEAD]))
        with pytest.raises(SnapshotError) as info:
            Snapshot.read(path)
        assert str(info.value) == (
            f'{path}: a snapshot is a JSON object: {{"Lead": [...], "Task": [...]}}'
        )

    @pytest.mark.parametrize("records", [LEAD, [LEAD, 1], "00Q1", None])
    def test_not_a_list_of_records(self, tmp_path: Path, records: Any) -> None:
        """Each object maps to a list of JSON objects."""
        path = self.write(tmp_path, json.dumps({"Lead": records}))
        with pytest.raises(SnapshotError) as info:
            Snapshot.read(path)
        assert str(info.value) == f"{path}: Lead: expected a list of records"

    def test_missing_file(self, tmp_path: Path) -> None:
        """A file that is not there is a SnapshotError naming it."""
        path = tmp_path / "missing.json"
        with pytest.raises(SnapshotError, match="No such file"):
            Snapshot.read(path)

    def test_not_utf8(self, tmp_path: Path) -> None:
        """A file that is not UTF-8 (e.g. saved as Latin-1 from Excel) is a SnapshotError."""
        path = self.write(tmp_path, '{"Lead": [{"LastName": "Müller"}]}'.encode("latin-1"))
        with pytest.raises(SnapshotError):
            Snapshot.read(path)


class TestGetField:
    def test_plain_field(self) -> None:
        """An API name reads the record's field."""
        assert get_field(LEAD, "Status") == "MQL"

    def test_missing_field(self) -> None:
        """A field the record lacks is None."""
        assert get_field(LEAD, "Rating") is None

    def test_nested_parent(self) -> None:
        """A parent path follows the lookup nested in a REST record."""
        lead = {"Owner": {"IsActive": False, "Manager": {"Email": "m@example.com"}}}
        assert get_field(lead, "Owner.IsActive") is False
        assert get_field(lead, "Owner.Manager.Email") == "m@example.com"

    def test_nested_parent_wins_over_snapshot(self) -> None:
        """When the REST record carries the parent, the snapshot is not consulted."""
        lead = {"OwnerId": "0051", "Owner": {"IsActive": False}}
        assert get_field(lead, "Owner.IsActive", snapshot()) is False

    def test_parent_through_snapshot(self) -> None:
        """A flat record resolves ``Owner`` through ``OwnerId``."""
        assert get_field(LEAD, "Owner.IsActive", snapshot()) is True

    def test_grandparent_through_snapshot(self) -> None:
        """Each step of the path resolves through its own lookup Id."""
        assert get_field(LEAD, "Owner.Manager.Email", snapshot()) == "boss@example.com"

    def test_custom_relationship_through_snapshot(self) -> None:
        """``Partner__r`` resolves through ``Partner__c``."""
        lead = {"Partner__c": "0052"}
        assert get_field(lead, "Partner__r.Email", snapshot()) == "boss@example.com"

    def test_null_parent_through_snapshot(self) -> None:
        """A REST ``"Owner": null`` still resolves through the Id when a snapshot is given."""
        lead = {"Owner": None, "OwnerId": "0051"}
        assert get_field(lead, "Owner.IsActive", snapshot()) is True

    def test_parent_without_snapshot(self) -> None:
        """A flat record without a snapshot has no parent."""
        assert get_field(LEAD, "Owner.IsActive") is None

    def test_parent_id_unknown_to_snapshot(self) -> None:
        """A lookup to a record the snapshot lacks reads as None."""
        assert get_field({"OwnerId": "005X"}, "Owner.IsActive", snapshot()) is None

    def test_parent_is_not_a_record(self) -> None:
        """A lookup field that holds text, not a record, has no fields."""
        assert get_field({"Owner": "0051"}, "Owner.IsActive") is None


class TestHistoryObject:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Lead", "LeadHistory"),
            ("Account", "AccountHistory"),
            ("Case", "CaseHistory"),
            ("Deal__c", "Deal__History"),
            ("ns__Deal__c", "ns__Deal__History"),
        ],
    )
    def test_names(self, name: str, expected: str) -> None:
        """Standard objects add ``History``; custom objects swap ``__c`` for ``__History``."""
        assert history_object(name) == expected

    def test_opportunity(self) -> None:
        """Opportunity's field history is OpportunityFieldHistory (OpportunityHistory is stages)."""
        assert history_object("Opportunity") == "OpportunityFieldHistory"

    def test_opportunity_history_rows_point_by_opportunity_id(self) -> None:
        """OpportunityFieldHistory rows are related to their opportunity by OpportunityId."""
        row = {"Id": "0171", "OpportunityId": "0061", "Field": "StageName"}
        taken = Snapshot({"OpportunityFieldHistory": [row]})
        assert taken.related(history_object("Opportunity"), "0061") == [row]
