"""The commands that read a live org, pointed at the emulator through settings (environment)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from slack_sdk import WebClient

from alerter.cli import main
from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.records import Snapshot
from alerter.sandbox.org import Org
from alerter.sandbox.run import emulator_settings, export_lines
from alerter.sandbox.server import SalesforceEmulator

SHIPPED_RULES = Path(__file__).resolve().parents[1] / "rules"
AT = DEMO_AT.isoformat()
ALERTER = (sys.executable, "-m", "alerter")
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme* is waiting"}}]


def environment(lines: list[str]) -> dict[str, str]:
    """``export NAME=value`` lines as a mapping (values as the shell would unquote them)."""
    pairs = (line.removeprefix("export ").split("=", 1) for line in lines)
    return {name: "".join(shlex.split(value)) for name, value in pairs}


def serve(*options: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``alerter sandbox serve`` on the demo org as another process, and the settings it printed
    before its ``# ready`` line."""
    server = subprocess.Popen(
        [*ALERTER, "sandbox", "serve", "--data", str(demo_snapshot_path()), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    lines = []
    while (line := server.stdout.readline().strip()) not in ("# ready", ""):
        lines.append(line)
    assert line == "# ready", "sandbox serve ended before it was ready"
    return server, environment(lines)


def stop(server: subprocess.Popen[str], signum: signal.Signals) -> str:
    """Send ``signum``, wait for the exit, and return what the server wrote to stderr."""
    server.send_signal(signum)
    _, errors = server.communicate(timeout=10)  # reaps the process and closes its pipes
    return errors


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

    def test_serve_prints_settings_that_work(self) -> None:
        """``sandbox serve`` runs until SIGTERM and prints export lines another process uses."""
        server, settings = serve()
        try:
            env = {**os.environ, **settings, "ALERTER_LOG_FORMAT": "json"}
            preview = subprocess.run(
                [
                    *ALERTER,
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
            errors = stop(server, signal.SIGTERM)
        assert (server.returncode, errors.splitlines()[-1]) == (0, "# stopped")
        assert preview.returncode == 0, preview.stderr
        assert {row["name"] for row in json.loads(preview.stdout)} == {
            "Hedy Lamarr",
            "Katherine Johnson",
            "John Backus",
            "Barbara Liskov",
            "Linus Torvalds",
            "Grace Hopper",
        }

    def test_serve_prints_slack_and_smtp_settings(self) -> None:
        """Besides Salesforce, the export lines name the Slack fake and the STARTTLS sink."""
        server, settings = serve()
        stop(server, signal.SIGTERM)
        assert settings["ALERTER_SLACK__BASE_URL"].endswith("/api/")
        assert settings["ALERTER_SMTP__SECURITY"] == "starttls"
        assert {name.split("__")[0] for name in settings} == {
            "ALERTER_SALESFORCE",
            "ALERTER_SLACK",
            "ALERTER_SMTP",
        }

    def test_serve_outbox_keeps_what_slack_and_smtp_received(self, tmp_path: Path) -> None:
        """With ``--outbox``, a Slack post and an email sent through the printed settings land
        in DIR/slack/0001.json (the body as sent) and DIR/mail/0001.eml; SIGINT stops it."""
        outbox = tmp_path / "outbox"
        server, env = serve("--outbox", str(outbox))
        try:
            slack = WebClient(
                token=env["ALERTER_SLACK__TOKEN"], base_url=env["ALERTER_SLACK__BASE_URL"]
            )
            rep = slack.users_lookupByEmail(email="maria@example.com")["user"]["id"]
            slack.chat_postMessage(channel=rep, text="Lead waiting", blocks=BLOCKS)
            mail = EmailMessage()
            mail["From"], mail["To"] = env["ALERTER_SMTP__FROM"], "maria@example.com"
            mail["Subject"] = "Lead waiting 2 hours"
            mail.set_content("Acme has not been touched.\n")
            tls = ssl.create_default_context(cafile=env["ALERTER_SMTP__CA_BUNDLE"])
            with smtplib.SMTP(
                env["ALERTER_SMTP__HOST"], int(env["ALERTER_SMTP__PORT"]), timeout=10
            ) as smtp:
                smtp.starttls(context=tls)
                smtp.login(env["ALERTER_SMTP__USERNAME"], env["ALERTER_SMTP__PASSWORD"])
                smtp.send_message(mail)
        finally:
            errors = stop(server, signal.SIGINT)
        assert (server.returncode, errors.splitlines()[-1]) == (0, "# stopped")
        assert sorted(p.relative_to(outbox).as_posix() for p in outbox.rglob("*.*")) == [
            "mail/0001.eml",
            "slack/0001.json",
        ]
        posted = json.loads((outbox / "slack" / "0001.json").read_bytes())
        assert posted == {"channel": rep, "text": "Lead waiting", "blocks": BLOCKS}
        received = BytesParser(policy=policy.default).parsebytes(
            (outbox / "mail" / "0001.eml").read_bytes()
        )
        assert (received["Subject"], received["To"]) == (
            "Lead waiting 2 hours",
            "maria@example.com",
        )
