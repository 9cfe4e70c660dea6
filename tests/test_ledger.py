"""The ledger's storage on SQLite and PostgreSQL: schema, recording decisions, the view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from ledger_support import NOW, REP, START, decided, evaluation, key_of
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from alerter.delivery.model import Kind
from alerter.episodes import Closing, Decided, Decision, NotificationKey, Status
from alerter.ledger.engine import LedgerUnavailable, make_engine, masked
from alerter.ledger.migrate import current_revision, head_revision
from alerter.ledger.schema import Base, EpisodeRow, NotificationRow
from alerter.ledger.store import Ledger

pytest_plugins = ["ledger_backends"]


def breach_decision(*records: str) -> Decision:
    evs = [evaluation(r) for r in records or ("00Q000000000001",)]
    return Decision(
        opened=tuple((key_of(ev), ev) for ev in evs),
        notify=tuple(decided(ev) for ev in evs),
    )


class TestMigrations:
    def test_empty_database_migrates_to_head(self, state_url: str) -> None:
        """An empty database gets every table and the newest revision."""
        ledger = Ledger.connect(state_url)
        try:
            tables = set(inspect(ledger.engine).get_table_names())
            assert {"episodes", "notifications", "silences", "alembic_version"} <= tables
            assert current_revision(ledger.engine) == head_revision()
        finally:
            ledger.close()

    def test_migrations_match_the_models(self, state_url: str) -> None:
        """The hand-written migration creates exactly what the models describe."""
        ledger = Ledger.connect(state_url)
        try:
            with ledger.engine.connect() as connection:
                context = MigrationContext.configure(connection)
                assert compare_metadata(context, Base.metadata) == []
        finally:
            ledger.close()

    def test_connecting_again_is_harmless(self, state_url: str) -> None:
        """Migrating an up-to-date database changes nothing and keeps the data."""
        first = Ledger.connect(state_url)
        first.record(breach_decision(), NOW)
        first.close()
        again = Ledger.connect(state_url)
        try:
            assert len(again.view(NOW).episodes) == 1
        finally:
            again.close()

    def test_without_migrate_an_old_schema_is_refused(self, state_url: str) -> None:
        """migrate=False on an empty database asks for `alerter db upgrade`."""
        with pytest.raises(LedgerUnavailable, match="alerter db upgrade"):
            Ledger.connect(state_url, migrate=False)


class TestRecord:
    def test_opens_episodes_and_queues_notifications(self, ledger: Ledger) -> None:
        """A breach opens its episode and queues its notification, returning the new row id."""
        ids = ledger.record(breach_decision(), NOW)
        assert len(ids) == 1
        view = ledger.view(NOW)
        episode = view.episodes["mql-first-touch", "00Q000000000001"]
        assert episode.key == key_of(evaluation())
        assert episode.evaluation == evaluation()
        assert [n.id for n in episode.notifications] == ids
        assert episode.notifications[0].key == NotificationKey(Kind.BREACH, 1, "owner", "slack")
        assert episode.notifications[0].status is Status.QUEUED

    def test_recording_twice_creates_nothing_new(self, ledger: Ledger) -> None:
        """The same decision recorded again returns no ids and leaves the view as it was."""
        decision = breach_decision("00Q000000000001", "00Q000000000002")
        assert len(ledger.record(decision, NOW)) == 2
        before = ledger.view(NOW)
        assert ledger.record(decision, NOW + timedelta(minutes=1)) == []
        assert ledger.view(NOW) == before

    def test_view_of_some_records(self, ledger: Ledger) -> None:
        """A wake-up's view holds only the episodes of the records it re-checks, with the
        whole hour's budget counts."""
        ledger.record(breach_decision("00Q000000000001", "00Q000000000002"), NOW)
        view = ledger.view(NOW, {"mql-first-touch": ["00Q000000000002"], "other": ["x"]})
        assert list(view.episodes) == [("mql-first-touch", "00Q000000000002")]
        assert len(view.episodes["mql-first-touch", "00Q000000000002"].notifications) == 1
        assert view.recent == ledger.view(NOW).recent
        assert ledger.view(NOW, {}).episodes == {}

    def test_a_known_episode_is_resolved_by_key(self, ledger: Ledger) -> None:
        """A later notification names its episode by key; the ledger finds the open one."""
        ledger.record(breach_decision(), NOW)
        repeat = decided(evaluation(), kind=Kind.REPEAT, sequence=1)
        ids = ledger.record(Decision(notify=(repeat,)), NOW + timedelta(hours=1))
        episode = ledger.view(NOW).episodes["mql-first-touch", "00Q000000000001"]
        assert [n.id for n in episode.notifications][-1:] == ids

    def test_notification_for_an_unknown_episode_is_refused(self, ledger: Ledger) -> None:
        """A decision naming an episode never opened is a bug, and records nothing."""
        with pytest.raises(ValueError, match="never opened"):
            ledger.record(Decision(notify=(decided(evaluation()),)), NOW)
        assert ledger.view(NOW).episodes == {}

    def test_updates_close_release_and_cancel(self, ledger: Ledger) -> None:
        """Updated evaluations, closings, releases and cancels land in one go."""
        one, two = evaluation("00Q000000000001"), evaluation("00Q000000000002")
        held = decided(two, status=Status.SILENCED)
        ids = ledger.record(
            Decision(opened=((key_of(one), one), (key_of(two), two)), notify=(decided(one), held)),
            NOW,
        )
        episodes = ledger.view(NOW).episodes
        newer = evaluation("00Q000000000002", tier=2)
        later = NOW + timedelta(minutes=5)
        ledger.record(
            Decision(
                updated=((episodes["mql-first-touch", "00Q000000000002"].id, newer),),
                close=(Closing(episodes["mql-first-touch", "00Q000000000001"].id, "touched"),),
                release=(ids[1],),
                cancel=(ids[0],),
            ),
            later,
        )
        view = ledger.view(later)
        assert list(view.episodes) == [("mql-first-touch", "00Q000000000002")]
        episode = view.episodes["mql-first-touch", "00Q000000000002"]
        assert episode.evaluation.tier == 2
        assert episode.notifications[0].status is Status.QUEUED
        assert episode.notifications[0].not_before == later
        history = {row.id: row for row in ledger.history()}
        assert history[ids[0]].status is Status.CANCELLED
        assert history[ids[0]].close_reason == "touched"

    def test_reopening_a_closed_episode_keeps_its_past(self, ledger: Ledger) -> None:
        """A record back in breach with the same clock start reopens its episode, so the
        tier-1 nudge already decided is not decided again."""
        ids = ledger.record(breach_decision(), NOW)
        episode = ledger.view(NOW).episodes["mql-first-touch", "00Q000000000001"]
        ledger.record(Decision(close=(Closing(episode.id, "left the rule"),)), NOW)
        assert ledger.view(NOW).episodes == {}
        assert ledger.record(breach_decision(), NOW + timedelta(hours=1)) == []
        again = ledger.view(NOW).episodes["mql-first-touch", "00Q000000000001"]
        assert (again.id, [n.id for n in again.notifications]) == (episode.id, ids)

    def test_a_new_clock_start_is_a_new_episode(self, ledger: Ledger) -> None:
        """A restarted clock opens a second episode with notifications of its own."""
        ledger.record(breach_decision(), NOW)
        restarted = evaluation(clock_start=START + timedelta(hours=3))
        ids = ledger.record(
            Decision(opened=((key_of(restarted), restarted),), notify=(decided(restarted),)), NOW
        )
        assert len(ids) == 1
        assert len(ledger.history(record_id="00Q000000000001")) == 2

    def test_folded_rows_point_at_their_summary(self, ledger: Ledger) -> None:
        """A summary (no episode) is recorded once, and the rows it folds link to it."""
        one, two = evaluation("00Q000000000001"), evaluation("00Q000000000002")
        folded = (decided(one, status=Status.FOLDED), decided(two, status=Status.FOLDED))
        summary = Decided(
            episode=None,
            key=NotificationKey(Kind.SUMMARY, 0, "owner", "slack"),
            notification=folded[0].notification,
            status=Status.QUEUED,
            not_before=NOW,
            budget_key=folded[0].budget_key,
            reason="3 notifications in an hour",
            items=tuple(f.notification for f in folded),
        )
        decision = Decision(
            opened=((key_of(one), one), (key_of(two), two)), notify=(*folded, summary)
        )
        ids = ledger.record(decision, NOW)
        assert ledger.record(decision, NOW) == []
        rows = {row.id: row for row in ledger.history()}
        assert [rows[i].summary_id for i in ids] == [ids[2], ids[2], None]
        assert [r.id for r in ledger.history(record_id="00Q000000000002")] == [ids[1], ids[2]]


class TestUniqueConstraints:
    def test_duplicate_episode_key_is_rejected(self, ledger: Ledger) -> None:
        """The database itself refuses a second episode with the same key."""
        ledger.record(breach_decision(), NOW)
        with ledger.engine.begin() as connection, pytest.raises(IntegrityError):
            connection.execute(
                EpisodeRow.__table__.insert().values(
                    rule_id="mql-first-touch",
                    object="Lead",
                    record_id="00Q000000000001",
                    clock_start=START,
                    opened_at=NOW,
                    evaluation={},
                )
            )

    def test_duplicate_notification_key_is_rejected(self, ledger: Ledger) -> None:
        """The database refuses a second notification with the same episode and key, even
        under another dedup key."""
        ledger.record(breach_decision(), NOW)
        with ledger.engine.connect() as connection:
            row = connection.execute(select(NotificationRow.__table__)).mappings().one()
        copy = {k: v for k, v in row.items() if k != "id"} | {"dedup_key": "other"}
        with ledger.engine.begin() as connection, pytest.raises(IntegrityError):
            connection.execute(NotificationRow.__table__.insert().values(copy))

    def test_duplicate_dedup_key_is_rejected(self, ledger: Ledger) -> None:
        """Summaries have no episode, so their dedup key is what keeps them unique."""
        ledger.record(breach_decision(), NOW)
        with ledger.engine.connect() as connection:
            row = connection.execute(select(NotificationRow.__table__)).mappings().one()
        copy = {k: v for k, v in row.items() if k != "id"} | {"episode_id": None}
        with ledger.engine.begin() as connection, pytest.raises(IntegrityError):
            connection.execute(NotificationRow.__table__.insert().values(copy))


class TestView:
    def test_recent_counts_the_last_hour_by_budget(self, ledger: Ledger) -> None:
        """Queued, sending, sent and failed rows of the last hour count; older, folded,
        silenced and cancelled ones do not."""
        evs = [evaluation(f"00Q00000000000{i}") for i in range(1, 6)]
        statuses = [Status.QUEUED, Status.QUEUED, Status.FOLDED, Status.SILENCED, Status.QUEUED]
        ledger.record(
            Decision(
                opened=tuple((key_of(ev), ev) for ev in evs[:4]),
                notify=tuple(
                    decided(ev, status=s) for ev, s in zip(evs[:4], statuses, strict=False)
                ),
            ),
            NOW,
        )
        ledger.record(
            Decision(opened=((key_of(evs[4]), evs[4]),), notify=(decided(evs[4]),)),
            NOW - timedelta(hours=1),
        )
        assert ledger.view(NOW).recent == {f"user:{REP}": 2}
        assert ledger.view(NOW + timedelta(hours=1)).recent == {}

    def test_silences_not_yet_ended_are_in_view(self, ledger: Ledger) -> None:
        """Current and future silences are in the view; ended ones are not."""
        now_one = ledger.add_silence(
            rule_id="r", ends_at=NOW + timedelta(hours=1), reason="x", created_by="me", now=NOW
        )
        later = ledger.add_silence(
            owner_id=REP,
            starts_at=NOW + timedelta(hours=2),
            ends_at=NOW + timedelta(hours=3),
            reason="holiday",
            created_by="me",
            now=NOW,
        )
        ledger.add_silence(
            record_id="x",
            ends_at=NOW - timedelta(minutes=1),
            starts_at=NOW - timedelta(hours=1),
            reason="old",
            created_by="me",
            now=NOW,
        )
        assert ledger.view(NOW).silences == (now_one.silence, later.silence)


class TestDatetimes:
    def test_aware_datetimes_round_trip_as_utc(self, ledger: Ledger) -> None:
        """Datetimes in any zone come back aware, in UTC, as the same instant."""
        eastern = timezone(timedelta(hours=-5))
        start = datetime(2026, 12, 1, 14, 50, 0, 123456, tzinfo=eastern)
        ev = evaluation(clock_start=start)
        ledger.record(Decision(opened=((key_of(ev), ev),), notify=(decided(ev),)), NOW)
        episode = ledger.view(NOW).episodes["mql-first-touch", "00Q000000000001"]
        assert episode.key.clock_start == start
        assert episode.key.clock_start.tzinfo == UTC
        assert episode.opened_at.tzinfo == UTC
        assert episode.notifications[0].decided_at == NOW

    def test_naive_datetimes_are_refused(self, ledger: Ledger) -> None:
        """A naive datetime is a bug upstream; the ledger will not guess its zone."""
        with pytest.raises(Exception, match="aware"):
            ledger.record(breach_decision(), NOW.replace(tzinfo=None))


class TestSqlite:
    def test_sqlite_runs_in_wal_mode(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """SQLite journals with a write-ahead log, so readers never block the writer."""
        ledger = Ledger.connect(f"sqlite:///{tmp_path / 'wal.db'}")
        try:
            with ledger.engine.connect() as connection:
                mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
            assert mode == "wal"
        finally:
            ledger.close()

    def test_unreachable_database_is_one_line(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """A file in a missing folder gives a one-line reason, not a traceback."""
        with pytest.raises(LedgerUnavailable, match="unable to open database file") as raised:
            Ledger.connect(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
        assert "\n" not in str(raised.value)

    def test_other_databases_are_refused(self) -> None:
        """Only SQLite and PostgreSQL are supported."""
        with pytest.raises(LedgerUnavailable, match="unsupported database 'mysql'"):
            make_engine("mysql://u:secret@host/db")


class TestUrls:
    def test_passwords_are_hidden(self) -> None:
        """A URL fit for logs has its password masked."""
        url = "postgresql+psycopg://alerter:s3cret@db.internal:5432/alerter"
        assert masked(url) == "postgresql+psycopg://alerter:***@db.internal:5432/alerter"

    def test_ledger_url_is_masked(self, state_url: str) -> None:
        """The ledger names its database without a password."""
        ledger = Ledger.connect(state_url)
        try:
            assert ledger.url.startswith(state_url.split(":")[0])
        finally:
            ledger.close()
