"""``alerter demo``'s second half: one cycle of the real service on the demo org, delivered to
the sandbox's Slack fake and SMTP sink, and a table of what arrived.

The same code path as ``alerter run --once`` (the ``Service``), with the clock at the demo
moment and a throw-away ledger, so the demo shows the messages a rep and a manager would get.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.sandbox.run import running_sandbox, slack_users
from alerter.service.app import CycleResult, Service
from alerter.settings import Settings


@dataclass(frozen=True)
class Arrival:
    """One message as its reader got it."""

    channel: str
    to: str
    summary: str


def deliver_demo(settings: Settings) -> tuple[CycleResult, list[Arrival]]:
    """Run one service cycle at the demo moment against a sandbox of the demo org."""
    with (
        tempfile.TemporaryDirectory() as state,
        running_sandbox(demo_snapshot_path(), now=DEMO_AT) as sandbox,
    ):
        configured = sandbox.configure(settings).model_copy(
            update={"state_url": f"sqlite:///{Path(state) / 'demo.db'}", "health_port": None}
        )
        service = Service(configured, clock=lambda: DEMO_AT)
        service.start()
        try:
            result = service.cycle()
        finally:
            service.stop()
        names = {u.id: u.name for u in slack_users(sandbox.salesforce.org.records("User"))}
        arrivals = [
            Arrival("Slack", names.get(str(m["channel"]), str(m["channel"])), str(m["text"]))
            for m in sandbox.slack.messages
        ]
        arrivals += [
            Arrival("email", ", ".join(r.rcpt_tos), str(r.message["Subject"]))
            for r in sandbox.smtp.messages
        ]
    return result, arrivals


def render_arrivals(arrivals: list[Arrival], result: CycleResult, console: Console) -> None:
    """What the cycle delivered, one row per message."""
    table = Table(title="Delivered by one cycle of `alerter run` (Slack fake, SMTP sink)")
    for column in ("Via", "To", "Message"):
        table.add_column(column, overflow="fold")
    for arrival in arrivals:
        table.add_row(arrival.channel, arrival.to, arrival.summary.split(" https://")[0])
    console.print(table)
    poll, send = result.poll, result.send
    console.print(
        f"{poll.evaluated} records evaluated with {poll.api_calls} API calls; "
        f"{poll.decided} notifications decided, {send.sent} sent, {send.failed} failed"
    )
