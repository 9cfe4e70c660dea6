"""Preview rows: most urgent first, a stable JSON contract, and whom each state would notify.

``NOW`` is Wednesday 2026-12-02 10:00 EST (15:00Z). Under the 1-business-hour MQL rule, a lead
that became an MQL at the times below stands as the comment says.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from helpers import REP, history, lead, make_rule, snapshot, task, utc
from rich.console import Console

from alerter.evaluate import State, evaluate
from alerter.preview import notify_for, preview_rows, render_json, render_table

NOW = utc(2026, 12, 2, 15, 0)
RULE = make_rule()

# Ids are chosen so that Id order is not urgency order.
LEADS = {
    # Tue 14:00 EST: due Tue 15:00, 3 business hours overdue (tier 2).
    "00Q000000000006": "2026-12-01T19:00:00.000+0000",
    # Tue 15:00 EST: due Tue 16:00, exactly 2 business hours overdue (tier 2).
    "00Q000000000005": "2026-12-01T20:00:00.000+0000",
    # Wed 09:00 EST: due now (tier 1, 0 s overdue).
    "00Q000000000004": "2026-12-02T14:00:00.000+0000",
    # Wed 09:10 EST: due 10:10, warning since 09:55.
    "00Q000000000003": "2026-12-02T14:10:00.000+0000",
    # Wed 09:40 EST: due 10:40, not due.
    "00Q000000000002": "2026-12-02T14:40:00.000+0000",
}
STOPPED = "00Q000000000001"  # Tue 15:00 EST, called at 15:30
NO_CLOCK = "00Q000000000000"  # no history and no CreatedDate


def team() -> dict[str, list[dict[str, object]]]:
    """Seven leads, one in each place of the urgency order, and their owner."""
    return {
        "Lead": [
            *(lead(i) for i in LEADS),
            lead(STOPPED),
            lead(NO_CLOCK, CreatedDate=None),
        ],
        "LeadHistory": [
            *(history(i, at) for i, at in LEADS.items()),
            history(STOPPED, "2026-12-01T20:00:00.000+0000"),
        ],
        "Task": [task(STOPPED, "2026-12-01T20:30:00.000+0000")],
        "User": [{"Id": REP, "Name": "Alice Chen"}],
    }


def rows_for(data: dict[str, list[dict[str, object]]]) -> list[dict[str, Any]]:
    """Preview rows for a snapshot at ``NOW``."""
    shot = snapshot(**data)
    return preview_rows(evaluate([RULE], shot, NOW), [RULE], shot)


class TestOrder:
    def test_most_urgent_first(self) -> None:
        """Breaches by tier then overdue, then warning, not due, no clock and stopped last."""
        rows = rows_for(team())
        assert [(r["record_id"], r["state"], r["tier"]) for r in rows] == [
            ("00Q000000000006", "breached", 2),
            ("00Q000000000005", "breached", 2),
            ("00Q000000000004", "breached", 1),
            ("00Q000000000003", "warning", None),
            ("00Q000000000002", "not_due", None),
            (NO_CLOCK, "no_clock", None),
            (STOPPED, "stopped", None),
        ]
        assert [r["overdue_seconds"] for r in rows[:2]] == [3 * 3600, 2 * 3600]

    def test_order_does_not_depend_on_input_order(self) -> None:
        """Reversing the snapshot's rows gives the same rows."""
        data = team()
        reversed_data = {name: list(reversed(rows)) for name, rows in data.items()}
        assert rows_for(reversed_data) == rows_for(data)

    def test_higher_tier_beats_longer_overdue(self) -> None:
        """A tier-2 breach of another rule outranks a longer tier-1 breach."""
        quick = make_rule(
            id="a-quick-rule",
            sla="15 business minutes",
            warning=None,
            escalation=[{"to": "owner"}, {"after": "15 business minutes", "to": "manager"}],
        )
        # Wed 09:20 EST: due 09:35 under quick, tier 2 at 09:50, 25 min overdue at 10:00.
        fresh = snapshot(
            Lead=[lead("00Q000000000007"), *team()["Lead"][:1]],
            LeadHistory=[
                history("00Q000000000007", "2026-12-02T14:20:00.000+0000"),
                history("00Q000000000006", "2026-12-01T19:00:00.000+0000"),
            ],
        )
        tier_1_rule = make_rule(escalation=[{"to": "owner"}])
        evaluations = evaluate([tier_1_rule, quick], fresh, NOW)
        rows = preview_rows(evaluations, [tier_1_rule, quick], fresh)
        assert [(r["rule"], r["record_id"], r["tier"]) for r in rows[:2]] == [
            ("a-quick-rule", "00Q000000000006", 2),
            ("a-quick-rule", "00Q000000000007", 2),
        ]
        assert (rows[2]["rule"], rows[2]["tier"], rows[2]["overdue_seconds"]) == (
            "mql-first-touch",
            1,
            3 * 3600,
        )

    def test_warning_due_sooner_first(self) -> None:
        """Of two warnings, the one with less time left is more urgent."""
        data = snapshot(
            Lead=[lead("00Q000000000001"), lead("00Q000000000002")],
            LeadHistory=[
                # 09:46 EST: due 10:46, warning from 10:31 (14 minutes left at 10:32).
                history("00Q000000000001", "2026-12-02T14:46:00.000+0000"),
                # 09:33 EST: due 10:33 (1 minute left at 10:32).
                history("00Q000000000002", "2026-12-02T14:33:00.000+0000"),
            ],
        )
        at = utc(2026, 12, 2, 15, 32)
        rows = preview_rows(evaluate([RULE], data, at), [RULE], data)
        assert [r["state"] for r in rows] == ["warning", "warning"]
        assert [r["record_id"] for r in rows] == ["00Q000000000002", "00Q000000000001"]


class TestJson:
    KEYS = frozenset(
        {
            "rule",
            "object",
            "record_id",
            "name",
            "owner_id",
            "owner",
            "state",
            "tier",
            "clock_start",
            "due",
            "overdue_seconds",
            "next_change",
            "notify",
            "via",
            "template",
            "explanation",
        }
    )

    def test_keys_are_stable(self) -> None:
        """Every row, whatever its state, has exactly the documented keys."""
        parsed = json.loads(render_json(rows_for(team())))
        assert len(parsed) == 7
        for row in parsed:
            assert set(row) == self.KEYS

    def test_values_of_a_breach(self) -> None:
        """Times are UTC ISO strings with Z; overdue is whole seconds; the owner is by name."""
        row = json.loads(render_json(rows_for(team())))[1]
        assert row["record_id"] == "00Q000000000005"
        assert row["rule"] == "mql-first-touch"
        assert row["object"] == "Lead"
        assert row["name"] == "Ada Lovelace"
        assert row["owner_id"] == REP
        assert row["owner"] == "Alice Chen"
        assert row["clock_start"] == "2026-12-01T20:00:00Z"
        assert row["due"] == "2026-12-01T21:00:00Z"
        assert row["overdue_seconds"] == 7200
        assert row["next_change"] is None
        assert "Status became MQL" in row["explanation"]

    def test_breach_at_the_deadline_is_zero_seconds_overdue(self) -> None:
        """Breached at exactly 10:00 EST, the lead is 0 seconds overdue, not "not overdue"."""
        row = next(r for r in rows_for(team()) if r["record_id"] == "00Q000000000004")
        assert (row["state"], row["tier"]) == ("breached", 1)
        assert row["overdue_seconds"] == 0

    def test_values_without_a_clock(self) -> None:
        """A record without a clock has nulls for its times, and an unknown owner is null."""
        data = team()
        data["User"] = []
        row = next(r for r in rows_for(data) if r["record_id"] == NO_CLOCK)
        assert row["owner"] is None
        assert row["clock_start"] is None
        assert row["due"] is None
        assert row["overdue_seconds"] is None
        assert row["next_change"] is None

    def test_empty(self) -> None:
        """No evaluations give an empty JSON list."""
        assert json.loads(render_json([])) == []


class TestNotify:
    def by_id(self) -> dict[object, dict[str, object]]:
        return {row["record_id"]: row for row in rows_for(team())}

    def test_tier_2_lists_its_recipients(self) -> None:
        """A tier-2 breach would tell the manager and the channel, by Slack and email."""
        row = self.by_id()["00Q000000000005"]
        assert row["notify"] == ["manager", "#sales-leads"]
        assert row["via"] == ["slack", "email"]
        assert row["template"] == "escalation"

    def test_tier_1_lists_the_owner(self) -> None:
        """A tier-1 breach would nudge the owner on Slack."""
        row = self.by_id()["00Q000000000004"]
        assert (row["notify"], row["via"], row["template"]) == (["owner"], ["slack"], "nudge")

    def test_warning_uses_the_warning(self) -> None:
        """A warning would send the due-soon notice."""
        row = self.by_id()["00Q000000000003"]
        assert (row["notify"], row["template"]) == (["owner"], "due-soon")

    @pytest.mark.parametrize("record_id", ["00Q000000000002", NO_CLOCK, STOPPED])
    def test_quiet_states_notify_nobody(self, record_id: str) -> None:
        """Not due, no clock and stopped notify nobody."""
        row = self.by_id()[record_id]
        assert (row["notify"], row["via"], row["template"]) == ([], [], None)

    def test_breach_before_the_first_tier_notifies_nobody(self) -> None:
        """A breach whose first tier has not fired yet has nothing to send."""
        rule = make_rule(escalation=[{"after": "30 business minutes", "to": "owner"}])
        data = snapshot(
            Lead=[lead()], LeadHistory=[history("00Q000000000001", "2026-12-01T20:00:00.000+0000")]
        )
        (evaluation,) = evaluate([rule], data, utc(2026, 12, 1, 21, 0))
        assert evaluation.state is State.BREACHED
        assert notify_for(rule, evaluation) is None


class TestTable:
    def render(self, rows: list[dict[str, object]]) -> str:
        out = io.StringIO()
        render_table(rows, {RULE.id: RULE}, NOW, Console(file=out, width=250), explain=True)
        return out.getvalue()

    def test_shows_who_would_be_told(self) -> None:
        """The table shows the tier, the local due time, lateness and recipients."""
        text = self.render(rows_for(team()))
        assert "SLA preview at 2026-12-02T15:00+00:00" in text
        assert "breached (tier 2)" in text
        assert "Tue 01 Dec 16:00 EST" in text
        assert "2 h over" in text
        assert "10 min left" in text
        assert "manager, #sales-leads via slack, email" in text
        assert "Alice Chen" in text

    def test_counts_by_state(self) -> None:
        """The summary line counts each state present."""
        text = self.render(rows_for(team()))
        assert "1 not_due, 1 warning, 3 breached, 1 stopped, 1 no_clock" in text

    def test_nothing_in_scope(self) -> None:
        """An empty preview says so."""
        assert "nothing in scope" in self.render([])
