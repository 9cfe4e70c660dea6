"""The outbox on SQLite and PostgreSQL: claim, mark, retry with back-off, recover, depth."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from ledger_support import NOW, POLICY, decided, evaluation, key_of

from alerter.episodes import Decision, Status
from alerter.ledger import outbox
from alerter.ledger.engine import transaction
from alerter.ledger.store import Ledger

pytest_plugins = ["ledger_backends"]

LATER = NOW + timedelta(hours=2)


def queue(ledger: Ledger, count: int = 1, **changes: object) -> list[int]:
    """Queue one breach notification for each of ``count`` leads, decided at NOW."""
    evs = [evaluation(f"00Q{i:012d}") for i in range(1, count + 1)]
    decision = Decision(
        opened=tuple((key_of(ev), ev) for ev in evs),
        notify=tuple(decided(ev, **changes) for ev in evs),
    )
    return ledger.record(decision, NOW)


def status_of(ledger: Ledger, row_id: int) -> Status:
    return next(row.status for row in ledger.history() if row.id == row_id)


class TestClaim:
    def test_claims_due_rows_oldest_first(self, ledger: Ledger) -> None:
        """Due rows come out oldest first, marked sending, with everything a sender needs."""
        late = queue(ledger, 1, not_before=NOW + timedelta(minutes=1))
        early = ledger.record(
            Decision(
                opened=((key_of(evaluation("00Q9")), evaluation("00Q9")),),
                notify=(decided(evaluation("00Q9")),),
            ),
            NOW,
        )
        items = ledger.claim(LATER, worker="w1")
        assert [item.id for item in items] == early + late
        assert items[0].attempts == 1
        assert items[0].notification == decided(evaluation("00Q9")).notification
        assert items[0].notification.evaluation.fields == {"Id": "00Q9", "Company": "Analytical"}
        assert items[0].items == ()
        assert status_of(ledger, early[0]) is Status.SENDING

    def test_rows_held_for_later_stay(self, ledger: Ledger) -> None:
        """A row whose not_before is ahead is not claimed until then, to the second."""
        [row_id] = queue(ledger, 1, not_before=NOW + timedelta(hours=1))
        assert ledger.claim(NOW + timedelta(minutes=59, seconds=59), worker="w") == []
        assert [i.id for i in ledger.claim(NOW + timedelta(hours=1), worker="w")] == [row_id]

    def test_limit_and_no_second_claim(self, ledger: Ledger) -> None:
        """A claim takes at most ``limit`` rows, and a claimed row is not claimed again."""
        ids = queue(ledger, 3)
        first = ledger.claim(NOW, worker="w1", limit=2)
        second = ledger.claim(NOW, worker="w2", limit=2)
        assert [i.id for i in first] + [i.id for i in second] == ids
        assert ledger.claim(NOW, worker="w3") == []

    def test_silenced_and_folded_rows_are_not_sent(self, ledger: Ledger) -> None:
        """Only queued rows are in the outbox."""
        queue(ledger, 2, status=Status.SILENCED)
        assert ledger.claim(LATER, worker="w") == []


class TestMarkSent:
    def test_sent_rows_leave_the_outbox(self, ledger: Ledger) -> None:
        """A delivered row is sent, with when and the service's detail, in the history."""
        [row_id] = queue(ledger)
        ledger.claim(NOW, worker="w")
        assert ledger.mark_sent(row_id, detail="ts=1.2", now=NOW + timedelta(seconds=1))
        [row] = ledger.history()
        assert (row.status, row.sent_at, row.detail) == (
            Status.SENT,
            NOW + timedelta(seconds=1),
            "ts=1.2",
        )
        assert ledger.claim(LATER, worker="w") == []

    def test_marking_an_unclaimed_row_does_nothing(self, ledger: Ledger) -> None:
        """Only a row being (or waiting to be) sent can be marked sent."""
        [row_id] = queue(ledger, status=Status.SILENCED)
        assert not ledger.mark_sent(row_id, now=NOW)
        assert not ledger.mark_sent(row_id + 1000, now=NOW)


class TestRetry:
    def test_retryable_failure_backs_off(self, ledger: Ledger) -> None:
        """A retryable failure re-queues the row after half to all of base x 2^(n-1)."""
        [row_id] = queue(ledger)
        ledger.claim(NOW, worker="w")
        assert ledger.mark_failed(row_id, error="ratelimited", retryable=True, now=NOW) is (
            Status.QUEUED
        )
        [row] = ledger.history()
        assert row.next_attempt_at is not None
        wait = row.next_attempt_at - NOW
        assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)
        assert ledger.claim(row.next_attempt_at - timedelta(microseconds=1), worker="w") == []
        [again] = ledger.claim(row.next_attempt_at, worker="w")
        assert again.attempts == 2
        at = row.next_attempt_at
        ledger.mark_failed(row_id, error="ratelimited", retryable=True, now=at)
        [row] = ledger.history()
        assert row.next_attempt_at is not None
        assert timedelta(seconds=10) <= row.next_attempt_at - at <= timedelta(seconds=20)

    def test_out_of_attempts_fails(self, ledger: Ledger) -> None:
        """After max_attempts tries a retryable failure is final."""
        [row_id] = queue(ledger)
        at = NOW
        results = []
        for _ in range(POLICY.max_attempts):
            [item] = ledger.claim(at, worker="w")
            results.append(
                ledger.mark_failed(item.id, error="503", code="http_503", retryable=True, now=at)
            )
            at += timedelta(minutes=5)
        assert results == [Status.QUEUED, Status.QUEUED, Status.FAILED]
        [row] = ledger.history()
        assert (row.status, row.attempts, row.error_code) == (Status.FAILED, 3, "http_503")
        assert ledger.claim(at, worker="w") == []
        assert row_id == row.id

    def test_too_old_fails(self, ledger: Ledger) -> None:
        """A row max_age past its not_before is not retried: late news is noise."""
        [row_id] = queue(ledger)
        late = NOW + POLICY.max_age
        ledger.claim(late, worker="w")
        assert ledger.mark_failed(row_id, error="503", retryable=True, now=late) is Status.FAILED

    def test_retry_after_is_honoured(self, ledger: Ledger) -> None:
        """A service's Retry-After is waited at least."""
        [row_id] = queue(ledger)
        ledger.claim(NOW, worker="w")
        ledger.mark_failed(
            row_id, error="429", retryable=True, now=NOW, retry_after=timedelta(minutes=3)
        )
        [row] = ledger.history()
        assert row.next_attempt_at == NOW + timedelta(minutes=3)

    def test_backoff_is_capped(self) -> None:
        """The wait never exceeds retry_max, however many tries."""
        waits = [outbox.backoff(n, POLICY, random.Random(n), None) for n in range(1, 20)]
        assert max(waits) <= timedelta(seconds=POLICY.retry_max)
        assert min(waits) >= timedelta(seconds=POLICY.retry_base / 2)


class TestPermanentFailure:
    def test_permanent_failure_is_final_at_once(self, ledger: Ledger) -> None:
        """A permanent failure fails the row on the first try, with the error in history."""
        [row_id] = queue(ledger)
        ledger.claim(NOW, worker="w")
        result = ledger.mark_failed(
            row_id, error="channel_not_found", code="channel_not_found", retryable=False, now=NOW
        )
        assert result is Status.FAILED
        [row] = ledger.history()
        assert (row.last_error, row.attempts) == ("channel_not_found", 1)
        assert ledger.claim(LATER, worker="w") == []

    def test_failing_a_row_not_being_sent_does_nothing(self, ledger: Ledger) -> None:
        """A late mark for a row someone else already settled changes nothing."""
        [row_id] = queue(ledger)
        assert ledger.mark_failed(row_id, error="x", retryable=False, now=NOW) is None
        assert status_of(ledger, row_id) is Status.QUEUED


class TestRecover:
    def test_stuck_rows_are_sent_again_once(self, ledger: Ledger) -> None:
        """A row left in sending by a crash goes back to the queue, and out once more."""
        [row_id] = queue(ledger)
        ledger.claim(NOW, worker="crashed")
        stale = NOW + POLICY.stale_after
        assert ledger.recover(stale - timedelta(seconds=1)) == []
        assert ledger.recover(stale) == [row_id]
        assert ledger.recover(stale) == []
        [again] = ledger.claim(stale, worker="w2")
        assert (again.id, again.attempts) == (row_id, 2)
        [row] = ledger.history()
        assert row.error_code == outbox.LOST

    def test_a_slow_sender_still_marks_sent(self, ledger: Ledger) -> None:
        """A sender thought dead that marks sent after recovery spares a duplicate."""
        [row_id] = queue(ledger)
        ledger.claim(NOW, worker="slow")
        ledger.recover(NOW + timedelta(hours=1), stale_after=timedelta(minutes=1))
        assert ledger.mark_sent(row_id, now=NOW + timedelta(hours=1))
        assert ledger.claim(LATER, worker="w") == []

    def test_stuck_rows_out_of_attempts_fail(self, ledger: Ledger) -> None:
        """A row that used its last attempt and got stuck fails rather than loops."""
        [row_id] = queue(ledger)
        at = NOW
        for _ in range(POLICY.max_attempts - 1):
            ledger.claim(at, worker="w")
            ledger.mark_failed(row_id, error="503", retryable=True, now=at)
            at += timedelta(minutes=5)
        ledger.claim(at, worker="w")
        assert ledger.recover(at + timedelta(hours=1)) == []
        assert status_of(ledger, row_id) is Status.FAILED


class TestDepth:
    def test_depth_counts_due_rows_and_the_oldest_wait(self, ledger: Ledger) -> None:
        """Depth is the due queued rows and the age of the oldest; held rows wait apart."""
        assert ledger.outbox_depth(NOW) == (0, None)
        queue(ledger, 2)
        assert ledger.outbox_depth(NOW + timedelta(minutes=3)) == (2, timedelta(minutes=3))
        ledger.claim(NOW, worker="w", limit=1)
        assert ledger.outbox_depth(NOW + timedelta(minutes=3)) == (1, timedelta(minutes=3))


class TestConcurrentClaims:
    def test_two_claimers_never_share_a_row(self, state_url: str) -> None:
        """Two senders on separate connections claiming at once take every row exactly once."""
        first, second = Ledger.connect(state_url), Ledger.connect(state_url, migrate=False)
        try:
            ids = queue(first, 20)
            taken: dict[str, list[int]] = {"a": [], "b": []}

            def drain(name: str, ledger: Ledger) -> None:
                while items := ledger.claim(NOW, worker=name, limit=1):
                    taken[name] += [item.id for item in items]

            threads = [
                threading.Thread(target=drain, args=("a", first)),
                threading.Thread(target=drain, args=("b", second)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert sorted(taken["a"] + taken["b"]) == ids
        finally:
            first.close()
            second.close()

    def test_postgres_skips_rows_locked_by_another_claim(self, state_url: str) -> None:
        """While one claim's transaction is open, another claims the other rows at once
        instead of waiting (FOR UPDATE SKIP LOCKED)."""
        if not state_url.startswith("postgresql"):
            pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises claims instead")
        holder, other = Ledger.connect(state_url), Ledger.connect(state_url, migrate=False)
        try:
            ids = queue(holder, 4)
            done = threading.Event()
            got: list[int] = []

            def claim_other() -> None:
                got.extend(item.id for item in other.claim(NOW, worker="b", limit=4))
                done.set()

            with transaction(holder.engine, write=True) as session:
                held = outbox.claim(session, NOW, worker="a", limit=2)
                thread = threading.Thread(target=claim_other)
                thread.start()
                assert done.wait(timeout=10), "the second claim waited for the first's locks"
            thread.join()
            assert [i.id for i in held] == ids[:2]
            assert got == ids[2:]
        finally:
            holder.close()
            other.close()
