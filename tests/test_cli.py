"""The ``alerter`` command, driven in-process through ``main`` and once as a real process.

Exit codes are the contract: 0 ok, 1 rule errors or failed rule tests, 2 usage errors. The wall
clock is only read by ``preview`` without ``--at``; freezegun drives it here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from freezegun import freeze_time

from alerter import __version__
from alerter.cli import main

SHIPPED_RULES = Path(__file__).resolve().parents[1] / "rules"
SHIPPED_TEMPLATES = SHIPPED_RULES.parent / "templates"

CALENDARS = """\
calendars:
  us-sales:
    time_zone: America/New_York
    hours:
      weekdays: "09:00-17:00"
    holidays:
      country: US
      dates: [2026-12-24, 2026-12-31]
"""

MQL_RULE = """\
id: mql-first-touch
title: New MQL not touched within 1 business hour
object: Lead
where:
  - field: Status
    equals: MQL
clock:
  starts_at:
    entered_status: MQL
    otherwise: CreatedDate
  touched_by:
    tasks: true
sla: 1 business hour
calendar: us-sales
warning:
  before: 15 minutes
  to: owner
escalation:
  - to: owner
  - after: 2 business hours
    to: manager
    via: [slack, email]
    template: escalation
"""

# Ada became an MQL on Tuesday 2026-12-01 at 15:00 EST (20:00Z): due 16:00 EST (21:00Z).
SNAPSHOT = {
    "Lead": [
        {
            "Id": "00Q000000000001",
            "Name": "Ada Lovelace",
            "Status": "MQL",
            "OwnerId": "005000000000001",
            "CreatedDate": "2026-11-02T14:00:00.000+0000",
        },
        {
            "Id": "00Q000000000002",
            "Name": "Bob Okafor",
            "Status": "Working",
            "OwnerId": "005000000000001",
            "CreatedDate": "2026-11-02T14:00:00.000+0000",
        },
    ],
    "LeadHistory": [
        {
            "Id": "017000000000001",
            "LeadId": "00Q000000000001",
            "Field": "Status",
            "OldValue": "Open",
            "NewValue": "MQL",
            "CreatedDate": "2026-12-01T20:00:00.000+0000",
        }
    ],
    "User": [{"Id": "005000000000001", "Name": "Alice Chen"}],
}


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each command from an empty folder with no ALERTER_* settings but the shipped
    templates, as on a fresh host."""
    for name in list(os.environ):
        if name.startswith("ALERTER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALERTER_TEMPLATES_DIR", str(SHIPPED_TEMPLATES))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A rules folder with the MQL rule and the us-sales calendar."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "calendars.yaml").write_text(CALENDARS, encoding="utf-8")
    (folder / "mql-first-touch.yaml").write_text(MQL_RULE, encoding="utf-8")
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The snapshot file."""
    path = tmp_path / "org.json"
    path.write_text(json.dumps(SNAPSHOT), encoding="utf-8")
    return path


def preview_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    """Run ``preview --format json`` and parse what it printed."""
    assert main(["preview", "--format", "json", *args]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


class TestProcess:
    def test_help_as_a_real_process(self) -> None:
        """``python -m alerter --help`` runs and lists the commands."""
        done = subprocess.run(
            [sys.executable, "-m", "alerter", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0
        for command in ("check", "test", "preview", "demo"):
            assert command in done.stdout

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``--version`` prints the version and exits 0."""
        with pytest.raises(SystemExit) as exit_info:
            main(["--version"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.strip() == f"alerter {__version__}"

    def test_no_command_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Calling without a command exits 2 with the usage."""
        with pytest.raises(SystemExit) as exit_info:
            main([])
        assert exit_info.value.code == 2
        assert "usage: alerter" in capsys.readouterr().err


class TestCheck:
    def test_shipped_rules_are_valid(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The rules in the repository pass ``check``."""
        assert main(["check", str(SHIPPED_RULES)]) == 0
        captured = capsys.readouterr()
        assert captured.out.startswith("ok: ")
        assert captured.err == ""

    def test_rules_dir_from_settings(
        self, rules: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without paths, ``check`` reads ALERTER_RULES_DIR."""
        monkeypatch.setenv("ALERTER_RULES_DIR", str(rules))
        assert main(["check"]) == 0
        assert capsys.readouterr().out == "ok: 1 rule(s), 1 calendar(s), their templates render\n"

    def test_misspelt_template_variable(
        self,
        rules: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A template reading an undefined variable fails ``check`` at the rule's template line,
        naming the template file and its line."""
        templates = tmp_path / "templates"
        shutil.copytree(SHIPPED_TEMPLATES, templates)
        escalation = templates / "slack" / "escalation.md.j2"
        escalation.write_text("Hello {{ recod.Company }}\n", encoding="utf-8")
        monkeypatch.setenv("ALERTER_TEMPLATES_DIR", str(templates))
        assert main(["check", str(rules)]) == 1
        err = capsys.readouterr().err
        rule_file = rules / "mql-first-touch.yaml"
        assert f"{rule_file}:23: template 'escalation' (slack): 'recod' is undefined" in err
        assert f"{escalation}:1" in err

    def test_missing_templates_folder(
        self,
        rules: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Templates that cannot be found fail ``check`` for every rule that uses them."""
        monkeypatch.setenv("ALERTER_TEMPLATES_DIR", str(tmp_path / "nowhere"))
        assert main(["check", str(rules)]) == 1
        assert "no template file" in capsys.readouterr().err

    def test_broken_rule(self, rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A broken rule exits 1 and says ``path:line: field: message`` on stderr."""
        broken = rules / "broken.yaml"
        broken.write_text(
            MQL_RULE.replace("id: mql-first-touch", "id: broken").replace(
                "sla: 1 business hour", "sla: 1 business fortnight"
            ),
            encoding="utf-8",
        )
        assert main(["check", str(rules)]) == 1
        err = capsys.readouterr().err
        assert f"{broken}:13: sla: bad duration '1 business fortnight'" in err
        assert "1 error(s); 1 valid rule(s)" in err

    def test_missing_path(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A path that does not exist is a usage error."""
        missing = tmp_path / "nowhere"
        assert main(["check", str(missing)]) == 2
        assert f"no such file or folder: {missing}" in capsys.readouterr().err

    def test_folder_without_rules(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A folder with no rule files is a usage error, not a silent success."""
        assert main(["check", str(tmp_path / "cwd")]) == 2
        assert "no rule files" in capsys.readouterr().err


class TestRuleTests:
    def test_shipped_rule_tests_pass(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``alerter test rules/`` passes on the repository's rules."""
        assert main(["test", str(SHIPPED_RULES)]) == 0
        out = capsys.readouterr().out
        assert "FAIL" not in out
        assert out.startswith("rule tests: ")

    def test_failing_rule_test(self, rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A wrong expectation exits 1 and prints expected and actual."""
        (rules / "tests").mkdir()
        test_file = rules / "tests" / "mql.yaml"
        test_file.write_text(
            textwrap.dedent(
                """\
                rule: mql-first-touch
                records:
                  Lead:
                    - {Id: 00Q000000000001, Status: MQL, CreatedDate: "2026-12-01T20:00:00Z"}
                cases:
                  - name: at the deadline
                    at: 2026-12-01T16:00:00-05:00
                    expect:
                      00Q000000000001: not_due
                """
            ),
            encoding="utf-8",
        )
        assert main(["test", str(rules)]) == 1
        out = capsys.readouterr().out
        assert f"FAIL {test_file}:9: at the deadline" in out
        assert "- expected: not_due" in out
        assert "+ actual:   breached tier 1" in out
        assert "rule tests: 0 of 1 expectations met in 1 file(s)" in out

    def test_passing_rule_test_file(self, rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A test file given directly, with ``--rules``, passes and exits 0."""
        test_file = rules.parent / "mql-test.yaml"
        test_file.write_text(
            "rule: mql-first-touch\n"
            "records: {Lead: [{Id: 00Q1, Status: MQL, CreatedDate: '2026-12-01T20:00:00Z'}]}\n"
            "cases: [{at: '2026-12-01T20:59:59Z', expect: {00Q1: warning}}]\n",
            encoding="utf-8",
        )
        assert main(["test", str(test_file), "--rules", str(rules)]) == 0
        assert "1 of 1 expectations met" in capsys.readouterr().out

    def test_no_test_files(self, rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A rules folder without tests is a usage error."""
        assert main(["test", str(rules)]) == 2
        assert "no rule test files" in capsys.readouterr().err


class TestPreview:
    def test_json_at_a_moment(
        self, rules: Path, data: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """At the deadline the in-scope lead is breached at tier 1; the other is left out."""
        rows = preview_json(
            capsys, "--rules", str(rules), "--data", str(data), "--at", "2026-12-01T16:00-05:00"
        )
        (row,) = rows
        assert set(row) >= {"rule", "record_id", "state", "tier", "due", "notify", "explanation"}
        assert row["record_id"] == "00Q000000000001"
        assert row["state"] == "breached"
        assert row["tier"] == 1
        assert row["due"] == "2026-12-01T21:00:00Z"
        assert row["owner"] == "Alice Chen"
        assert row["notify"] == ["owner"]

    def test_state_filter(
        self, rules: Path, data: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``--state`` keeps only the states asked for."""
        args = ["--rules", str(rules), "--data", str(data), "--at", "2026-12-01T21:00Z"]
        assert preview_json(capsys, *args, "--state", "warning") == []
        assert len(preview_json(capsys, *args, "--state", "warning", "--state", "breached")) == 1

    def test_rules_from_settings(
        self,
        rules: Path,
        data: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Without ``--rules``, preview reads ALERTER_RULES_DIR."""
        monkeypatch.setenv("ALERTER_RULES_DIR", str(rules))
        rows = preview_json(capsys, "--data", str(data), "--at", "2026-12-01T20:45Z")
        assert [row["state"] for row in rows] == ["warning"]

    def test_wall_clock_one_second_before_the_deadline(
        self, rules: Path, data: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without ``--at``, at 15:59:59 EST by the wall clock, the lead is in warning."""
        with freeze_time("2026-12-01 20:59:59", tz_offset=0):
            rows = preview_json(capsys, "--rules", str(rules), "--data", str(data))
        assert [(row["state"], row["tier"]) for row in rows] == [("warning", None)]

    def test_wall_clock_at_the_deadline(
        self, rules: Path, data: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without ``--at``, at 16:00:00 EST by the wall clock, the lead is breached."""
        with freeze_time("2026-12-01 21:00:00", tz_offset=0):
            rows = preview_json(capsys, "--rules", str(rules), "--data", str(data))
        assert [(row["state"], row["tier"]) for row in rows] == [("breached", 1)]

    def test_table(self, rules: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The default table names the lead, its owner and its state."""
        args = ["--rules", str(rules), "--data", str(data), "--at", "2026-12-01T21:00Z"]
        assert main(["preview", *args]) == 0
        out = capsys.readouterr().out
        assert "Ada Lovelace" in out
        assert "Alice Chen" in out
        assert "breached (tier 1)" in out
        assert "Bob Okafor" not in out

    def test_without_data(self, rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Without ``--data`` the live org is read, which needs credentials in the settings."""
        assert main(["preview", "--rules", str(rules), "--at", "2026-12-01T21:00Z"]) == 2
        assert "no Salesforce credentials" in capsys.readouterr().err

    def test_unreadable_data(
        self, rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A snapshot file that does not exist is a usage error naming the file."""
        missing = tmp_path / "missing.json"
        args = ["--rules", str(rules), "--data", str(missing), "--at", "2026-12-01T21:00Z"]
        assert main(["preview", *args]) == 2
        assert str(missing) in capsys.readouterr().err

    def test_at_without_time_zone(
        self, rules: Path, data: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A moment without a zone is refused with exit code 2."""
        with pytest.raises(SystemExit) as exit_info:
            main(
                ["preview", "--rules", str(rules), "--data", str(data), "--at", "2026-12-01T16:00"]
            )
        assert exit_info.value.code == 2
        assert "has no time zone" in capsys.readouterr().err

    def test_at_not_a_time(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A moment that is not ISO is refused with exit code 2."""
        with pytest.raises(SystemExit) as exit_info:
            main(["preview", "--data", str(data), "--at", "tomorrow"])
        assert exit_info.value.code == 2
        assert "not an ISO time" in capsys.readouterr().err


class TestDemo:
    def test_table_shows_a_breach(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The demo previews the shipped rules on the demo org, shows breached leads, then what
        one delivered cycle sent: Grace Hopper's nudge to Alice on Slack, escalations by email,
        and nothing failed."""
        monkeypatch.setenv("ALERTER_RULES_DIR", str(SHIPPED_RULES))
        assert main(["demo"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "SLA preview at 2026-12-01T16:00-05:00" in out
        assert "breached (tier" in out
        assert "Delivered by one cycle of `alerter run`" in out
        assert "Slack │ Alice Chen │ New MQL not touched" in out
        assert "email │ maria@example.com │ Escalation:" in out
        assert "sent, 0 failed" in out

    def test_json_has_breached_leads(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The demo's JSON holds breached demo leads."""
        assert main(["demo", "--rules", str(SHIPPED_RULES), "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        breached = [row for row in rows if row["state"] == "breached"]
        assert breached
        assert all(str(row["record_id"]).startswith("00Q0000000DEM") for row in breached)
