"""Silences and history on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_support import NOW, REP, decided, evaluation, key_of

from alerter.delivery.model import Address, Kind
from alerter.episodes import Closing, Decision, Status
from alerter.errors import UsageError
from alerter.ledger.silences import UnknownSilence
from alerter.ledger.store import Ledger

pytest_plugins = ["ledger_backends"]

HOUR = timedelta(hours=1)


ADA_ON_SLACK = Address("slack", "U0ADA", "owner Ada", name="Ada")


class TestSilences:
    def test_add_and_list(self, ledger: Ledger) -> None:
        """A silence is listed, with who set it and why, until it ends."""
        entry = ledger.add_silence(
            owner_id=REP, ends_at=NOW + HOUR, reason="on leave", created_by="ops", now=NOW
        )
        assert entry.silence.starts_at == NOW
        assert entry.created_at == NOW
        assert ledger.silences(NOW) == [entry]
        assert ledger.silences(NOW + HOUR) == []
        assert ledger.silences(NOW + HOUR, include_ended=True) == [entry]

    def test_covers_what_the_view_hands_decide(self, ledger: Ledger) -> None:
        """The silences in the view hold matching evaluations, and only while they last."""
        ledger.add_silence(
            rule_id="mql-first-touch",
            record_id="00Q000000000001",
            ends_at=NOW + HOUR,
            reason="customer asked for a pause",
            created_by="ops",
            now=NOW,
        )
        [silence] = ledger.view(NOW).silences
        assert silence.covers(evaluation("00Q000000000001"), NOW)
        assert not silence.covers(evaluation("00Q000000000002"), NOW)
        assert not silence.covers(evaluation("00Q000000000001"), NOW + HOUR)

    def test_remove_ends_it_and_keeps_it(self, ledger: Ledger) -> None:
        """Removing ends a silence now; nothing is deleted."""
        entry = ledger.add_silence(
            rule_id="r", ends_at=NOW + HOUR, reason="x", created_by="ops", now=NOW
        )
        later = NOW + timedelta(minutes=10)
        removed = ledger.remove_silence(entry.silence.id, later)
        assert (removed.removed_at, removed.silence.ends_at) == (later, later)
        assert ledger.silences(later) == []
        assert ledger.silences(later, include_ended=True) == [removed]
        assert ledger.view(later).silences == ()

    def test_removing_twice_changes_nothing(self, ledger: Ledger) -> None:
        """A second removal leaves the first one's times."""
        entry = ledger.add_silence(
            rule_id="r", ends_at=NOW + HOUR, reason="x", created_by="o", now=NOW
        )
        first = ledger.remove_silence(entry.silence.id, NOW)
        assert ledger.remove_silence(entry.silence.id, NOW + HOUR) == first

    def test_unknown_id(self, ledger: Ledger) -> None:
        """Removing a silence that does not exist says so."""
        with pytest.raises(UnknownSilence, match="no silence 42"):
            ledger.remove_silence(42, NOW)

    def test_a_silence_must_say_what_it_holds(self, ledger: Ledger) -> None:
        """A silence of everything is refused, as is one that ends before it starts."""
        with pytest.raises(UsageError, match="rule, a record or an owner"):
            ledger.add_silence(ends_at=NOW + HOUR, reason="x", created_by="o", now=NOW)
        with pytest.raises(UsageError, match="end after it starts"):
            ledger.add_silence(rule_id="r", ends_at=NOW, reason="x", created_by="o", now=NOW)


class TestHistory:
    def test_every_notification_about_a_record(self, ledger: Ledger) -> None:
        """History lists a record's notifications oldest first, with outcome and reason."""
        ev, other = evaluation("00Q000000000001"), evaluation("00Q000000000002")
        [first, _] = ledger.record(
            Decision(
                opened=((key_of(ev), ev), (key_of(other), other)),
                notify=(decided(ev), decided(other)),
            ),
            NOW,
        )
        ledger.claim(NOW, worker="w")
        ledger.mark_failed(
            first, error="503", code="http_503", retryable=True, now=NOW, tried=(ADA_ON_SLACK,)
        )
        [repeat] = ledger.record(
            Decision(notify=(decided(ev, kind=Kind.REPEAT, sequence=1),)), NOW + HOUR
        )
        episode = ledger.view(NOW).episodes["mql-first-touch", "00Q000000000001"]
        ledger.record(Decision(close=(Closing(episode.id, "touched: Task 'Call'"),)), NOW + HOUR)
        rows = ledger.history(record_id="00Q000000000001")
        assert [r.id for r in rows] == [first, repeat]
        assert (rows[0].status, rows[0].last_error, rows[0].error_code) == (
            Status.QUEUED,
            "503",
            "http_503",
        )
        assert rows[0].targets == ("U0ADA",)
        assert rows[1].reason == "repeat 1 of tier 1"
        assert rows[1].close_reason == "touched: Task 'Call'"
        assert rows[0].name == "Ada Lovelace"

    def test_by_rule(self, ledger: Ledger) -> None:
        """History can be narrowed to one rule."""
        ev, aging = evaluation(), evaluation(rule_id="lead-aging")
        ledger.record(
            Decision(
                opened=((key_of(ev), ev), (key_of(aging), aging)),
                notify=(decided(ev), decided(aging)),
            ),
            NOW,
        )
        assert len(ledger.history(record_id="00Q000000000001")) == 2
        [row] = ledger.history(record_id="00Q000000000001", rule_id="lead-aging")
        assert row.rule_id == "lead-aging"

    def test_unknown_record_has_no_history(self, ledger: Ledger) -> None:
        """A record never notified about has an empty history."""
        assert ledger.history(record_id="00Q999") == []
