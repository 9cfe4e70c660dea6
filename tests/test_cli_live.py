"""The commands that read a live org, pointed at the emulator through settings (environment)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerter.cli import main
from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.records import Snapshot
from alerter.sandbox.org import Org
from alerter.sandbox.run import emulator_settings, export_lines
from alerter.sandbox.server import SalesforceEmulator

SHIPPED_RULES = Path(__file__).resolve().parents[1] / "rules"
AT = DEMO_AT.isoformat()


def environment(lines: list[str]) -> dict[str, str]:
    """``export NAME=value`` lines as a mapping (values as the shell would unquote them)."""
    pairs = (line.removeprefix("export ").split("=", 1) for line in lines)
    return {name: value.strip("'") for name, value in pairs}


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceEmulator]:
    """The demo org served over HTTPS, with the settings that point ``alerter`` at it."""
    org = Org.from_file(demo_snapshot_path(), clock=lambda: DEMO_AT)
    with SalesforceEmulator(org) as running:
        for name, value in environment(export_lines(emulator_settings(running))).items():
            monkeypatch.setenv(name, value)
        yield running


class TestCheckOnline:
    def test_missing_field_is_reported_at_its_line(
        self, emulator: SalesforceEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A rule timed from MQL_Date__c, which the demo org lacks, fails at the naming line."""
        rules = tmp_path / "rules"
        shutil.copytree(SHIPPED_RULES, rules, ignore=shutil.ignore_patterns("tests"))
        rule = rules / "mql-first-touch.yaml"
        text = rule.read_text(encoding="utf-8").replace(
            "    entered_status: MQL           # when", "    field: MQL_Date__c            # when"
        )
        rule.write_text(text, encoding="utf-8")
        line = (
            text.splitlines().index(
                "    field: MQL_Date__c            # when LeadHistory says Status became MQL..."
            )
            + 1
        )
        assert main(["check", "--online", str(rules)]) == 1
        err = capsys.readouterr().err
        assert f"{rule}:{line}: Lead has no field MQL_Date__c" in err.splitlines()

    def test_shipped_rules_match_the_demo_org(
        self, emulator: SalesforceEmulator, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every field the shipped rules name exists in the demo org."""
        assert main(["check", "--online", str(SHIPPED_RULES)]) == 0
        assert "and match the org" in capsys.readouterr().out

    def test_unreachable_org_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without credentials the online check cannot run, and says why (exit 2)."""
        monkeypatch.delenv("ALERTER_SALESFORCE__USERNAME", raising=False)
        assert main(["check", "--online", str(SHIPPED_RULES)]) == 2
        assert "no Salesforce credentials" in capsys.readouterr().err


class TestPreviewLive:
    def test_live_preview_equals_the_snapshot_preview(
        self, emulator: SalesforceEmulator, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --data the org from the settings is read, with the same answer."""
        assert main(["preview", "--rules", str(SHIPPED_RULES), "--at", AT, "--format", "json"]) == 0
        live = json.loads(capsys.readouterr().out)
        data = str(demo_snapshot_path())
        args = ["preview", "--rules", str(SHIPPED_RULES), "--at", AT, "--format", "json"]
        assert main([*args, "--data", data]) == 0
        assert live == json.loads(capsys.readouterr().out)

    def test_read_only(self, emulator: SalesforceEmulator) -> None:
        """A preview only reads: no request writes to the org."""
        main(["preview", "--rules", str(SHIPPED_RULES), "--at", AT, "--format", "json"])
        assert {r.method for r in emulator.requests} <= {"GET", "POST"}
        posts = [r.path for r in emulator.requests if r.method == "POST"]
        assert all("/Soap/u/" in path for path in posts)  # the login, nothing else


class TestSandboxCommands:
    def test_generate_is_deterministic(self, tmp_path: Path) -> None:
        """The same seed writes the same bytes; the file is a readable snapshot."""
        first, second = tmp_path / "a.json", tmp_path / "b.json"
        for out in (first, second):
            assert (
                main(["sandbox", "generate", "--leads", "60", "--seed", "3", "--out", str(out)])
                == 0
            )
        assert first.read_bytes() == second.read_bytes()
        assert len(Snapshot.read(first).records("Lead")) == 60

    def test_serve_prints_settings_that_work(self, tmp_path: Path) -> None:
        """``sandbox serve`` runs until stopped and prints export lines another process uses."""
        command = [sys.executable, "-m", "alerter"]
        server = subprocess.Popen(
            [*command, "sandbox", "serve", "--data", str(demo_snapshot_path())],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            lines = [server.stdout.readline().strip() for _ in range(7)]
            env = {**os.environ, **environment(lines), "ALERTER_LOG_FORMAT": "json"}
            preview = subprocess.run(
                [
                    *command,
                    "preview",
                    "--rules",
                    str(SHIPPED_RULES),
                    "--at",
                    AT,
                    "--state",
                    "breached",
                    "--format",
                    "json",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            server.terminate()
            server.communicate(timeout=10)  # reaps the process and closes its pipe
        assert preview.returncode == 0, preview.stderr
        assert {row["name"] for row in json.loads(preview.stdout)} == {
            "Hedy Lamarr",
            "Katherine Johnson",
            "John Backus",
            "Barbara Liskov",
            "Linus Torvalds",
            "Grace Hopper",
        }
