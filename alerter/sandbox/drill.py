"""A timed drill of the running service: ``alerter run`` as a real process against a whole
sandbox, with leads whose deadlines fall seconds apart between two polls.

It answers the product's promise, "a breach is told within seconds of its deadline, not up to
one poll interval later", with figures: the delay from each deadline to the Slack message
(read from the Slack fake's arrival times), the API calls per cycle, what ``/healthz`` and
``/metrics`` said, and whether the process stopped cleanly on SIGTERM. The end-to-end test and
``bench/bench_wakeups.py`` both run it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from alerter.records import format_datetime
from alerter.sandbox.run import running_sandbox

REP = {"Id": "005000000000DR1", "Name": "Rita Rep", "Email": "rita@example.com"}
MANAGER = {"Id": "005000000000DM1", "Name": "Max Manager", "Email": "max@example.com"}
RULE = """\
id: drill-first-touch
title: New lead not called within {sla} seconds
object: Lead
where:
  - field: Status
    equals: MQL
clock:
  starts_at:
    field: MQL_Date__c
  touched_by:
    tasks: true
sla: {sla}s
quiet_hours: none
escalation:
  - to: owner
    via: slack
  - after: {escalate}s
    to: manager
    via: email
"""


@dataclass
class DrillResult:
    """What the drill measured."""

    delays: list[float]
    """Seconds from each untouched lead's deadline to its Slack message."""
    missing: list[str]
    """Untouched leads never nudged before the drill gave up."""
    touched_nudged: int
    """Messages about leads that were touched before their deadline (should be none)."""
    escalations: int
    """Emails to the manager (the second tier)."""
    exit_code: int | None
    healthz: tuple[int, dict[str, object]]
    metrics: dict[str, float] = field(default_factory=dict)
    log: str = ""
    secrets: tuple[str, ...] = ()
    """The sandbox's token and passwords, for a test to look for in the log."""
    first_poll: datetime | None = None
    """When the first full poll ran: with no wake-ups, every later one is a poll interval on."""
    deadlines: dict[str, datetime] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.delays) if self.delays else float("nan")

    @property
    def worst(self) -> float:
        return max(self.delays, default=float("nan"))

    @property
    def api_calls_per_cycle(self) -> float:
        cycles = self.metrics.get("alerter_cycles_total", 0.0)
        calls = self.metrics.get("alerter_salesforce_api_calls_total", 0.0)
        return calls / cycles if cycles else float("nan")


def run_drill(
    workdir: Path,
    *,
    templates_dir: Path,
    leads: int = 50,
    touched: int = 2,
    sla: int = 10,
    escalate: int = 5,
    first_deadline: float = 8.0,
    spacing: float = 0.4,
    poll_interval: str = "5m",
    timeout: float = 90.0,
) -> DrillResult:
    """Create ``leads`` MQLs whose deadlines fall ``spacing`` seconds apart from
    ``first_deadline`` seconds on, touch the first ``touched`` of them with a call, start
    ``alerter run`` and wait for every nudge and escalation; then SIGTERM it."""
    workdir.mkdir(parents=True, exist_ok=True)
    rules = workdir / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "drill.yaml").write_text(RULE.format(sla=sla, escalate=escalate), encoding="utf-8")
    start = datetime.now(UTC)
    org, deadlines = _org(start, leads, sla, first_deadline, spacing)
    data = workdir / "org.json"
    data.write_text(json.dumps(org), encoding="utf-8")
    health_port = _free_port()
    with running_sandbox(data) as sandbox:
        for name in list(deadlines)[:touched]:
            lead_id = next(lead["Id"] for lead in org["Lead"] if lead["LastName"] == name)
            sandbox.salesforce.org.create("Task", {"WhoId": lead_id, "Subject": "Call"})
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ALERTER_")},
            **sandbox.environment(),
            "ALERTER_RULES_DIR": str(rules),
            "ALERTER_TEMPLATES_DIR": str(templates_dir),
            "ALERTER_STATE_URL": f"sqlite:///{workdir / 'ledger.db'}",
            "ALERTER_POLL_INTERVAL": poll_interval,
            "ALERTER_HEALTH_HOST": "127.0.0.1",
            "ALERTER_HEALTH_PORT": str(health_port),
            "ALERTER_LOG_FORMAT": "json",
            # One rep gets every lead: measure delay, not the hourly budget's folding.
            "ALERTER_BUDGET_PER_HOUR": str(leads * 2),
        }
        log_path = workdir / "alerter.log"
        with log_path.open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "alerter", "run"], env=env, stderr=log, stdout=log
            )
            try:
                untouched = list(deadlines)[touched:]
                last = max(deadlines.values()) + timedelta(seconds=escalate)
                _wait(
                    lambda: (
                        _done(sandbox.slack.messages, untouched)
                        and len(sandbox.smtp.messages) >= len(untouched)
                        and datetime.now(UTC) > last + timedelta(seconds=2)
                    ),
                    timeout,
                    process,
                )
                url = f"http://127.0.0.1:{health_port}"
                healthz = _get_json(f"{url}/healthz")
                metrics = _metrics(f"{url}/metrics")
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    exit_code: int | None = process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    exit_code = None
        messages, arrivals = sandbox.slack.messages, sandbox.slack.posted_at
        delays, missing = [], []
        for name in untouched:
            seen = [at for m, at in zip(messages, arrivals, strict=True) if _about(m, name)]
            if seen:
                delays.append(seen[0] - deadlines[name].timestamp())
            else:
                missing.append(name)
        touched_nudged = sum(
            _about(m, name) for m in messages for name in list(deadlines)[:touched]
        )
        escalations = sum(r.rcpt_tos == (MANAGER["Email"],) for r in sandbox.smtp.messages)
        secrets = (
            sandbox.slack.token,
            *(v for k, v in env.items() if k.endswith(("PASSWORD", "TOKEN", "SECRET"))),
        )
    log_text = log_path.read_text(encoding="utf-8")
    return DrillResult(
        delays=delays,
        missing=missing,
        touched_nudged=touched_nudged,
        escalations=escalations,
        exit_code=exit_code,
        healthz=healthz,
        metrics=metrics,
        log=log_text,
        secrets=tuple(secret for secret in secrets if secret),
        first_poll=_first_poll(log_text),
        deadlines={name: deadlines[name] for name in untouched},
    )


def _first_poll(log: str) -> datetime | None:
    """The time of the first full poll's log line (JSON lines; ``cycle`` events)."""
    for line in log.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "cycle":
            return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
    return None


def _org(
    start: datetime, leads: int, sla: int, first: float, spacing: float
) -> tuple[dict[str, list[dict[str, object]]], dict[str, datetime]]:
    deadlines: dict[str, datetime] = {}
    rows: list[dict[str, object]] = [
        # A converted lead, out of the rule's scope, so the org's describe knows every field
        # before the drill's leads exist.
        _lead("00Q0000000DR000", "Old", start - timedelta(days=1), status="Converted")
    ]
    for index in range(1, leads + 1):
        name = f"Drill-{index:03d}"
        deadline = start + timedelta(seconds=first + (index - 1) * spacing)
        deadlines[name] = deadline
        rows.append(_lead(f"00Q0000000DR{index:03d}", name, deadline - timedelta(seconds=sla)))
    org: dict[str, list[dict[str, object]]] = {
        "User": [
            {**REP, "IsActive": True, "ManagerId": MANAGER["Id"], "TimeZoneSidKey": "UTC"},
            {**MANAGER, "IsActive": True, "ManagerId": None, "TimeZoneSidKey": "UTC"},
        ],
        "Lead": rows,
        "Task": [],
        "Group": [],
    }
    return org, deadlines


def _lead(lead_id: str, name: str, mql: datetime, *, status: str = "MQL") -> dict[str, object]:
    return {
        "Id": lead_id,
        "FirstName": "Lead",
        "LastName": name,
        "Name": f"Lead {name}",  # Salesforce derives it; a snapshot states it
        "Company": "Drill Co",
        "Status": status,
        "OwnerId": REP["Id"],
        "MQL_Date__c": format_datetime(mql),
        "CreatedDate": format_datetime(mql - timedelta(minutes=1)),
    }


def _about(message: dict[str, object], name: str) -> bool:
    return f"Lead {name} (" in str(message.get("text", ""))


def _done(messages: list[dict[str, object]], names: list[str]) -> bool:
    return all(any(_about(m, name) for m in messages) for name in names)


def _wait(ready: Callable[[], bool], timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process.poll() is not None:
            return  # it died: the result says what is missing
        time.sleep(0.05)


def _get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def _metrics(url: str) -> dict[str, float]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            figures[sample.name] = figures.get(sample.name, 0.0) + sample.value
    return figures


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
