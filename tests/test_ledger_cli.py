"""``alerter db``, ``silence`` and ``history`` through ``alerter.cli.main``, on a SQLite file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from ledger_support import NOW, decided, evaluation, key_of

from alerter.cli import main
from alerter.delivery.model import Address
from alerter.episodes import Decision
from alerter.ledger.store import Ledger


@pytest.fixture
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ALERTER_STATE_URL points at a fresh SQLite file."""
    path = tmp_path / "state.db"
    monkeypatch.setenv("ALERTER_STATE_URL", f"sqlite:///{path}")
    monkeypatch.chdir(tmp_path)  # no stray .env
    return path


class TestDbUpgrade:
    def test_creates_the_schema(self, state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`db upgrade` creates the ledger and names its revision."""
        assert main(["db", "upgrade"]) == 0
        assert state_file.exists()
        assert "schema at revision 0001" in capsys.readouterr().out

    def test_unreachable_database_exits_2(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unreachable PostgreSQL is one line on stderr, password hidden, exit 2."""
        monkeypatch.setenv(
            "ALERTER_STATE_URL", "postgresql+psycopg://alerter:s3cret@127.0.0.1:1/none"
        )
        assert main(["db", "upgrade"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            "alerter db: cannot use the ledger at postgresql+psycopg://alerter:***@"
        )
        assert "s3cret" not in err
        assert err.count("\n") == 1


class TestSilenceCommands:
    @freeze_time(NOW)
    def test_add_list_remove(self, state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A silence added for 2h is listed (table and JSON), then removed."""
        code = main(
            [
                "silence",
                "add",
                "--owner",
                "005A",
                "--for",
                "2h",
                "--reason",
                "on leave",
                "--by",
                "ops",
            ]
        )
        assert code == 0
        assert "silence 1 holds owner 005A until 2026-12-01 23:00 UTC" in capsys.readouterr().out
        assert main(["silence", "list"]) == 0
        table = capsys.readouterr().out
        assert "on leave" in table
        assert "active" in table
        assert main(["silence", "list", "--format", "json"]) == 0
        [listed] = json.loads(capsys.readouterr().out)
        assert listed["owner_id"] == "005A"
        assert listed["ends_at"] == "2026-12-01T23:00:00+00:00"
        assert listed["created_by"] == "ops"
        assert listed["active"] is True
        assert main(["silence", "remove", "1"]) == 0
        assert "ended at 2026-12-01 21:00 UTC" in capsys.readouterr().out
        assert main(["silence", "list", "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
        assert main(["silence", "list", "--all", "--format", "json"]) == 0
        [ended] = json.loads(capsys.readouterr().out)
        assert ended["removed_at"] == "2026-12-01T21:00:00+00:00"

    @freeze_time(NOW)
    def test_until(self, state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--until takes an ISO time with its zone."""
        args = ["silence", "add", "--rule", "r", "--until", "2026-12-02T09:00-05:00"]
        assert main([*args, "--reason", "offsite"]) == 0
        assert "until 2026-12-02 14:00 UTC" in capsys.readouterr().out

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--rule", "r", "--for", "1 business hour"], "wall-clock"),
            (["--rule", "r", "--until", "2026-12-02T09:00"], "no time zone"),
            (["--rule", "r"], "one of the arguments --for --until is required"),
        ],
    )
    def test_bad_arguments_exit_2(
        self, state_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
    ) -> None:
        """Business-time durations, zoneless times and a missing end are usage errors."""
        with pytest.raises(SystemExit) as exited:
            main(["silence", "add", *args, "--reason", "x"])
        assert exited.value.code == 2
        assert message in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--rule", "r", "--until", "2026-11-30T09:00Z"], "already past"),
            (["--for", "2h"], "a rule, a record or an owner"),
        ],
    )
    @freeze_time(NOW)
    def test_silences_that_cannot_hold_exit_2(
        self, state_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
    ) -> None:
        """A silence already over or of everything is refused with exit 2."""
        assert main(["silence", "add", *args, "--reason", "x"]) == 2
        assert message in capsys.readouterr().err

    def test_removing_an_unknown_silence_exits_2(
        self, state_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unknown id is a usage error."""
        assert main(["silence", "remove", "7"]) == 2
        assert "no silence 7" in capsys.readouterr().err


class TestHistoryCommand:
    def test_table_and_json(self, state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """history shows a record's notifications as a table or as JSON."""
        ev = evaluation()
        ledger = Ledger.connect(f"sqlite:///{state_file}")
        [row_id] = ledger.record(Decision(opened=((key_of(ev), ev),), notify=(decided(ev),)), NOW)
        ledger.claim(NOW, worker="w")
        ada = Address("slack", "U0ADA", "owner Ada", name="Ada")
        ledger.mark_sent(row_id, detail="ts=1", now=NOW + timedelta(seconds=2), tried=(ada,))
        ledger.close()
        assert main(["history", "--record", ev.record_id]) == 0
        out = capsys.readouterr().out
        assert "Ada Lovelace" in out
        assert "first breach" in out
        assert "U0ADA" in out
        assert main(["history", "--record", ev.record_id, "--format", "json"]) == 0
        [row] = json.loads(capsys.readouterr().out)
        assert (row["status"], row["sent_at"]) == ("sent", "2026-12-01T21:00:02+00:00")
        assert (row["kind"], row["rule_id"], row["targets"]) == (
            "breach",
            "mql-first-touch",
            ["U0ADA"],
        )

    def test_no_history(self, state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A record never notified about says so."""
        assert main(["history", "--record", "00Q1"]) == 0
        assert "no notifications about 00Q1" in capsys.readouterr().out
