"""The org generator: deterministic, well-formed, internally consistent, and rich enough that the
shipped rules show every state on it. One 500-lead org (seed 1, the default ``now``) is shared."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerter.evaluate import State, evaluate
from alerter.loader import load_rules
from alerter.records import Snapshot, parse_date, parse_datetime
from alerter.sandbox.generate import DEFAULT_NOW, Org, generate_org, write_org

RULES = Path(__file__).resolve().parent.parent / "rules"
OBJECTS = ["User", "Group", "Lead", "Task", "Event", "LeadHistory"]
PREFIXES = {"User": "005", "Group": "00G", "Lead": "00Q", "Task": "00T", "Event": "00U"}
DATETIMES = (
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "MQL_Date__c",
    "StartDateTime",
    "EndDateTime",
)
ZONES = {
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
}
STATUSES = {
    "Open",
    "MQL",
    "Working",
    "Nurturing",
    "Qualified",
    "Unqualified",
    "Closed - Not Converted",
}
SOURCES = {"Web", "Webinar", "Partner", "Trade Show", "Content Download", "Referral"}


@pytest.fixture(scope="module")
def org() -> Org:
    return generate_org(500)


@pytest.fixture(scope="module")
def states(org: Org) -> Counter[tuple[str, State]]:
    """How many leads each shipped rule puts in each state at the default now."""
    ruleset = load_rules([RULES])
    assert not ruleset.errors
    evaluations = evaluate(ruleset.rules, Snapshot(org), DEFAULT_NOW)
    return Counter((e.rule_id, e.state) for e in evaluations)


def at(record: dict[str, Any], field: str = "CreatedDate") -> datetime:
    value = parse_datetime(record[field])
    assert value is not None, (record["Id"], field)
    return value


def by_id(org: Org, name: str) -> dict[str, dict[str, Any]]:
    return {record["Id"]: record for record in org[name]}


def rows_of(org: Org, name: str, key: str) -> dict[str, list[dict[str, Any]]]:
    """Records of ``name`` grouped by the parent Id in ``key``, oldest first."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in sorted(org[name], key=at):
        grouped[record[key]].append(record)
    return grouped


def share(values: list[bool]) -> float:
    return sum(values) / len(values)


class TestDeterminism:
    def test_same_arguments_give_equal_orgs(self, org: Org) -> None:
        """The same leads, seed and now give an equal org."""
        assert generate_org(500) == org

    def test_another_seed_gives_another_org(self, org: Org) -> None:
        """A different seed gives a different org."""
        assert generate_org(500, seed=2) != org

    def test_written_file_is_the_compact_json_of_the_org(self, org: Org, tmp_path: Path) -> None:
        """write_org writes exactly json.dumps of the org, compact and UTF-8."""
        write_org(tmp_path / "org.json", 500)
        expected = json.dumps(org, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert (tmp_path / "org.json").read_bytes() == expected

    def test_written_file_reads_as_a_snapshot(self, tmp_path: Path) -> None:
        """The written file loads with Snapshot.read, non-ASCII names included."""
        write_org(tmp_path / "org.json", 60, seed=3)
        assert len(Snapshot.read(tmp_path / "org.json").records("Lead")) == 60

    def test_naive_now_is_refused(self) -> None:
        """A now without a time zone is refused rather than guessed."""
        with pytest.raises(ValueError, match="timezone-aware"):
            generate_org(5, now=datetime(2026, 12, 1, 21, 0))

    def test_negative_leads_are_refused(self) -> None:
        """A negative lead count is refused."""
        with pytest.raises(ValueError, match="zero or more"):
            generate_org(-1)


class TestSizes:
    def test_objects_and_lead_count(self, org: Org) -> None:
        """The org has the six objects and exactly the leads asked for."""
        assert list(org) == OBJECTS
        assert len(org["Lead"]) == 500

    def test_about_one_rep_per_forty_leads_in_teams(self, org: Org) -> None:
        """About one rep per 40 leads, teams of about six, one or two VPs."""
        titles = Counter(user["Title"] for user in org["User"])
        assert titles["Sales Development Rep"] == 12
        assert titles["Sales Manager"] == 2
        assert titles["VP Sales"] == 1

    def test_a_small_org_still_has_three_reps(self) -> None:
        """Even an org without leads has three reps and two queues."""
        small = generate_org(0)
        assert sum(user["Title"] == "Sales Development Rep" for user in small["User"]) == 3
        assert len(small["Group"]) == 2
        assert small["Lead"] == []

    def test_queues(self, org: Org) -> None:
        """Groups are queues with a developer name."""
        assert {group["Type"] for group in org["Group"]} == {"Queue"}
        assert all(" " not in group["DeveloperName"] for group in org["Group"])

    def test_status_mix(self, org: Org) -> None:
        """About a quarter of leads are MQLs, every status occurs, and none is unknown."""
        statuses = [lead["Status"] for lead in org["Lead"]]
        assert set(statuses) == STATUSES
        assert 0.18 <= share([s == "MQL" for s in statuses]) <= 0.32

    def test_converted_leads_are_qualified(self, org: Org) -> None:
        """About a tenth are converted, and exactly those are Qualified."""
        converted = [lead["IsConverted"] for lead in org["Lead"]]
        assert 0.05 <= share(converted) <= 0.15
        assert all(lead["IsConverted"] == (lead["Status"] == "Qualified") for lead in org["Lead"])

    def test_a_few_leads_wait_in_queues(self, org: Org) -> None:
        """A few percent of leads are queue-owned, all of them Open or MQL."""
        queued = [lead for lead in org["Lead"] if lead["OwnerId"].startswith("00G")]
        assert 0.01 <= len(queued) / 500 <= 0.08
        assert {lead["Status"] for lead in queued} <= {"Open", "MQL"}

    def test_about_three_activities_per_lead(self, org: Org) -> None:
        """Tasks and Events together average two to four per lead."""
        assert 2.0 <= (len(org["Task"]) + len(org["Event"])) / 500 <= 4.0

    def test_picklists(self, org: Org) -> None:
        """Lead sources, ratings and task subtypes come from their picklists."""
        assert {lead["LeadSource"] for lead in org["Lead"]} == SOURCES
        assert {lead["Rating"] for lead in org["Lead"]} == {"Hot", "Warm", "Cold", None}
        subtypes = {task["TaskSubtype"] for task in org["Task"]}
        assert subtypes == {"Call", "Email", "ListEmail", "Task"}

    def test_some_reps_left_but_still_own_leads(self, org: Org) -> None:
        """A rep who left is inactive and still owns leads."""
        gone = {user["Id"] for user in org["User"] if not user["IsActive"]}
        assert gone
        assert any(lead["OwnerId"] in gone for lead in org["Lead"])


class TestIds:
    def test_ids_are_unique(self, org: Org) -> None:
        """No Id is used twice across the org."""
        ids = [record["Id"] for records in org.values() for record in records]
        assert len(ids) == len(set(ids))

    def test_ids_have_the_key_prefix_of_their_object(self, org: Org) -> None:
        """Ids are 15 characters starting with their object's key prefix."""
        for name, records in org.items():
            prefix = PREFIXES.get(name, "017")
            assert all(len(r["Id"]) == 15 and r["Id"].startswith(prefix) for r in records), name

    def test_ids_ascend_with_created_date(self, org: Org) -> None:
        """Leads, history rows and activities are numbered in order of creation, like Salesforce."""
        for name in ("Lead", "Task", "Event", "LeadHistory"):
            assert [r["Id"] for r in org[name]] == [r["Id"] for r in sorted(org[name], key=at)]

    def test_attributes_name_the_object_and_its_url(self, org: Org) -> None:
        """Every record carries REST attributes with its type and URL."""
        for name, records in org.items():
            for record in records:
                url = f"/services/data/v60.0/sobjects/{name}/{record['Id']}"
                assert record["attributes"] == {"type": name, "url": url}


class TestReferences:
    def test_lead_owners_are_users_or_queues(self, org: Org) -> None:
        """Every lead is owned by an existing user or queue."""
        owners = by_id(org, "User") | by_id(org, "Group")
        assert all(lead["OwnerId"] in owners for lead in org["Lead"])

    def test_activities_point_at_leads_and_are_owned_by_users(self, org: Org) -> None:
        """Every Task and Event names an existing lead and a user, and no WhatId."""
        leads, users = by_id(org, "Lead"), by_id(org, "User")
        for activity in org["Task"] + org["Event"]:
            assert activity["WhoId"] in leads
            assert activity["OwnerId"] in users
            assert activity["WhatId"] is None

    def test_history_points_at_leads_and_owner_rows_at_owners(self, org: Org) -> None:
        """History rows name existing leads; owner rows name existing users or queues."""
        leads, owners = by_id(org, "Lead"), by_id(org, "User") | by_id(org, "Group")
        for row in org["LeadHistory"]:
            assert row["LeadId"] in leads
            if row["Field"] == "Owner":
                assert {row["OldValue"], row["NewValue"]} <= set(owners)

    def test_manager_chains_end_at_a_vp(self, org: Org) -> None:
        """Following ManagerId from any user reaches a user without a manager, without a cycle."""
        users = by_id(org, "User")
        for user in users.values():
            seen = {user["Id"]}
            while user["ManagerId"] is not None:
                user = users[user["ManagerId"]]
                assert user["Id"] not in seen
                seen.add(user["Id"])
            assert user["Title"] == "VP Sales"

    def test_user_emails_are_unique_and_lower_case(self, org: Org) -> None:
        """User emails are unique, lower-case, at example.com; zones are the sales zones."""
        emails = [user["Email"] for user in generate_org(4000)["User"]]
        assert len(emails) == len(set(emails))
        assert all(e == e.lower() and e.endswith("@example.com") and e.isascii() for e in emails)
        assert {user["TimeZoneSidKey"] for user in org["User"]} <= ZONES


class TestTimes:
    def test_datetimes_are_salesforce_utc_text(self, org: Org) -> None:
        """Every datetime reads with parse_datetime and is written as UTC with milliseconds."""
        for records in org.values():
            for record in records:
                for field in DATETIMES:
                    value = record.get(field)
                    if value is not None:
                        assert value.endswith(".000+0000"), (field, value)
                        assert parse_datetime(value) is not None

    def test_dates_are_dates(self, org: Org) -> None:
        """ActivityDate, LastActivityDate and ConvertedDate are plain dates."""
        for record in org["Lead"] + org["Task"] + org["Event"]:
            for field in ("ActivityDate", "LastActivityDate", "ConvertedDate"):
                value = record.get(field)
                assert value is None or (len(value) == 10 and parse_date(value) is not None)

    def test_leads_were_created_in_the_sixty_days_before_now(self, org: Org) -> None:
        """Leads were created in the 60 days before now, more of them lately."""
        ages = [(DEFAULT_NOW - at(lead)).days for lead in org["Lead"]]
        assert all(0 <= age < 60 for age in ages)
        assert sum(age < 20 for age in ages) > sum(age >= 40 for age in ages)

    def test_history_and_activities_happen_between_creation_and_now(self, org: Org) -> None:
        """No history row or activity predates its lead or follows now."""
        leads = by_id(org, "Lead")
        for row in org["LeadHistory"]:
            assert at(leads[row["LeadId"]]) <= at(row) <= DEFAULT_NOW
        for activity in org["Task"] + org["Event"]:
            assert at(leads[activity["WhoId"]]) <= at(activity) <= DEFAULT_NOW

    def test_meetings_end_before_they_are_logged(self, org: Org) -> None:
        """An Event starts after its lead was created and ends before it was logged."""
        leads = by_id(org, "Lead")
        for event in org["Event"]:
            start, end = at(event, "StartDateTime"), at(event, "EndDateTime")
            assert at(leads[event["WhoId"]]) <= start < end <= at(event)

    def test_mql_rows_match_the_mql_date(self, org: Org) -> None:
        """A lead has one Open-to-MQL row exactly when MQL_Date__c is set, at that moment."""
        history = rows_of(org, "LeadHistory", "LeadId")
        for lead in org["Lead"]:
            rows = history[lead["Id"]]
            mql = [r for r in rows if r["Field"] == "Status" and r["NewValue"] == "MQL"]
            expected = [at(lead, "MQL_Date__c")] if lead["MQL_Date__c"] else []
            assert [at(row) for row in mql] == expected
            assert all(row["OldValue"] == "Open" for row in mql)

    def test_status_and_owner_history_chain_to_the_current_values(self, org: Org) -> None:
        """Each change starts where the last ended, and the last ends at the lead's value."""
        history = rows_of(org, "LeadHistory", "LeadId")
        for lead in org["Lead"]:
            for field, first, current in (
                ("Status", "Open", lead["Status"]),
                ("Owner", None, lead["OwnerId"]),
            ):
                rows = [row for row in history[lead["Id"]] if row["Field"] == field]
                values = [first or (rows[0]["OldValue"] if rows else current)]
                for row in rows:
                    assert row["OldValue"] == values[-1]
                    values.append(row["NewValue"])
                assert values[-1] == current

    def test_activities_are_owned_by_the_owner_of_the_moment(self, org: Org) -> None:
        """An activity's OwnerId is the lead's owner when it happened, never a queue."""
        history = rows_of(org, "LeadHistory", "LeadId")
        leads = by_id(org, "Lead")
        for activity in org["Task"] + org["Event"]:
            lead = leads[activity["WhoId"]]
            moves = [row for row in history[lead["Id"]] if row["Field"] == "Owner"]
            owner = moves[0]["OldValue"] if moves else lead["OwnerId"]
            for move in moves:
                if at(move) <= at(activity):
                    owner = move["NewValue"]
            assert activity["OwnerId"] == owner

    def test_last_activity_date_is_the_latest_activity(self, org: Org) -> None:
        """LastActivityDate is the latest ActivityDate of the lead's Tasks and Events, or null."""
        latest: dict[str, str] = {}
        for activity in org["Task"] + org["Event"]:
            lead = activity["WhoId"]
            latest[lead] = max(latest.get(lead, ""), activity["ActivityDate"])
        assert all(lead["LastActivityDate"] == latest.get(lead["Id"]) for lead in org["Lead"])

    def test_most_rep_work_falls_in_office_hours(self, org: Org) -> None:
        """Most calls, emails and meetings fall on weekdays 08:00-18:00 in the owner's zone."""
        zones = {user["Id"]: ZoneInfo(user["TimeZoneSidKey"]) for user in org["User"]}
        tasks = [task for task in org["Task"] if task["TaskSubtype"] != "ListEmail"]
        local = [at(a).astimezone(zones[a["OwnerId"]]) for a in tasks + org["Event"]]
        office = [t.weekday() < 5 and 8 <= t.hour < 18 for t in local]
        assert 0.75 <= share(office) < 1.0

    def test_another_now_moves_everything_before_it(self) -> None:
        """Given a Saturday morning as now, nothing happens after it."""
        now = datetime(2027, 3, 13, 10, 30, 15, tzinfo=UTC)
        shifted = generate_org(200, now=now)
        records = shifted["Lead"] + shifted["Task"] + shifted["Event"] + shifted["LeadHistory"]
        times = [at(record) for record in records]
        assert max(times) <= now
        assert min(times) >= datetime(2027, 1, 12, tzinfo=UTC)


class TestShippedRules:
    def test_mql_first_touch_shows_every_state(self, states: Counter[tuple[str, State]]) -> None:
        """New MQLs are not due, in warning, breached and touched at the default now."""
        shown = {state for rule, state in states if rule == "mql-first-touch"}
        assert shown >= {State.NOT_DUE, State.WARNING, State.BREACHED, State.STOPPED}

    def test_some_leads_go_thirty_days_without_activity(
        self, states: Counter[tuple[str, State]]
    ) -> None:
        """Some open leads have gone 30 days untouched, and most have not."""
        breached = states["no-activity-30-days", State.BREACHED]
        assert 0 < breached < states["no-activity-30-days", State.NOT_DUE]

    def test_some_leads_wait_too_long_in_a_queue(self, states: Counter[tuple[str, State]]) -> None:
        """Some queue-owned leads are past the 15 business minutes."""
        assert states["lead-in-queue", State.BREACHED] > 0

    @pytest.mark.parametrize("seed", [2, 3])
    def test_other_seeds_show_every_mql_state(self, seed: int) -> None:
        """Other seeds also show every MQL state, so demos do not hang on seed 1."""
        rules = [r for r in load_rules([RULES]).rules if r.id == "mql-first-touch"]
        evaluations = evaluate(rules, Snapshot(generate_org(500, seed=seed)), DEFAULT_NOW)
        shown = {evaluation.state for evaluation in evaluations}
        assert shown >= {State.NOT_DUE, State.WARNING, State.BREACHED, State.STOPPED}
