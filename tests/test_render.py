"""Rendering: the shipped templates say the facts a rep needs, lead data stays inert in Slack
and in HTML, long content is cut to Slack's limits, and ``check_templates`` points a broken
template at its rule's line.

The lead became an MQL Tue 01 Dec 14:50 New York; under the 1-business-hour rule it was due at
15:50, and at ``NOW`` (16:55) it is 1 h 5 min overdue. Alice reads her messages in Chicago.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import QUEUE, history, lead, only, snapshot, task, utc
from hypothesis import given, settings
from hypothesis import strategies as st

from alerter.delivery.model import Address, EmailMessage, Kind, Notification, SlackMessage
from alerter.delivery.mrkdwn import clip, fit_lines
from alerter.delivery.recipients import Owner
from alerter.delivery.render import check_templates, message_context, render
from alerter.delivery.templates import TemplateError, Templates
from alerter.evaluate import Evaluation
from alerter.loader import load_rules
from alerter.rule import Recipient

ROOT = Path(__file__).resolve().parents[1]
RULESET = load_rules([ROOT / "rules"])
RULES = {rule.id: rule for rule in RULESET.rules}
TEMPLATES = Templates(ROOT / "templates")
INSTANCE = "https://acme.my.salesforce.com"
URL = f"{INSTANCE}/lightning/r/Lead/00Q000000000001/view"
NOW = utc(2026, 12, 1, 21, 55)  # Tue 16:55 EST
ALICE = Owner("005000000000AL1", "Alice Chen", "alice@example.com")
TO_ALICE = {
    "slack": Address("slack", "UALICE", "owner Alice Chen", "Alice Chen", "America/Chicago"),
    "email": Address(
        "email", "alice@example.com", "owner Alice Chen", "Alice Chen", "America/Chicago"
    ),
}


def mql(now: Any = NOW, **fields: Any) -> Evaluation:
    """The MQL lead under the shipped mql-first-touch rule."""
    data = snapshot(
        Lead=[lead(**{"Company": "Analytical Engines", **fields})],
        LeadHistory=[history("00Q000000000001", "2026-12-01T19:50:00.000+0000")],
    )
    return only(RULES["mql-first-touch"], data, now)


def notify(
    evaluation: Evaluation, template: str, channel: str, kind: Kind = Kind.BREACH, title: str = ""
) -> Notification:
    rule = RULES[evaluation.rule_id]
    return Notification(
        kind=kind,
        rule_id=rule.id,
        rule_title=title or rule.title,
        evaluation=evaluation,
        recipient=Recipient("owner"),
        channel=channel,  # type: ignore[arg-type]
        template=template,
        tier=evaluation.tier,
    )


def send(
    evaluation: Evaluation,
    template: str,
    channel: str = "slack",
    kind: Kind = Kind.BREACH,
    *,
    templates: Templates = TEMPLATES,
    title: str = "",
    owner: Owner = ALICE,
    now: Any = NOW,
) -> Any:
    """Render one notification to Alice."""
    return render(
        notify(evaluation, template, channel, kind, title),
        TO_ALICE[channel],
        templates=templates,
        instance_url=INSTANCE,
        now=now,
        owner=owner,
    )


def everything(message: SlackMessage) -> str:
    """All a Slack message says, blocks and fallback text."""
    return json.dumps(message.blocks, ensure_ascii=False) + message.text


def texts(message: SlackMessage) -> list[dict[str, Any]]:
    """Every text object of the message's blocks."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn"):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return found


def summary_files(templates: Path) -> None:
    """Write a plain summary template for both channels (every rule can reach it)."""
    for file in ("slack/summary.md.j2", "email/summary.subject.j2", "email/summary.txt.j2"):
        (templates / file).parent.mkdir(parents=True, exist_ok=True)
        (templates / file).write_text("{{ items | length }}")
    (templates / "email" / "summary.html.j2").write_text("{{ items | length }}")


class TestShippedTemplates:
    def test_nudge_on_slack(self) -> None:
        """The nudge names the lead, its company, the rule, how late, and the deadline on the
        rep's clock, and opens the lead in Salesforce."""
        message = send(mql(), "nudge")
        assert isinstance(message, SlackMessage)
        assert message.target == "UALICE"
        header, section, context, actions = message.blocks
        assert header["text"]["text"] == "New MQL not touched within 1 business hour"
        body = section["text"]["text"]
        assert f"*<{URL}|Ada Lovelace>* at Analytical Engines is *1 h 5 min overdue*." in body
        assert "it was due Tue 01 Dec 14:50 CST" in body
        facts = [element["text"] for element in context["elements"]]
        assert facts[:2] == [
            "*Owner:* Alice Chen",
            "*Due:* Tue 01 Dec 14:50 CST (1 h 5 min overdue)",
        ]
        assert facts[2].startswith("*Evidence:* clock started: Status became MQL")
        assert facts[3] == "*Sent to:* owner Alice Chen"
        (button,) = actions["elements"]
        assert button["url"] == URL
        assert (button["text"]["text"], button["style"]) == ("Open in Salesforce", "primary")
        assert message.text == (
            "New MQL not touched within 1 business hour: Ada Lovelace (Analytical Engines), "
            f"1 h 5 min overdue, due Tue 01 Dec 14:50 CST. Owner: Alice Chen. {URL}"
        )

    def test_nudge_by_email(self) -> None:
        """The email nudge carries the same facts in subject, text and HTML."""
        message = send(mql(), "nudge", "email")
        assert isinstance(message, EmailMessage)
        assert (message.to, message.to_name) == ("alice@example.com", "Alice Chen")
        assert message.subject == (
            "Ada Lovelace (Analytical Engines) is 1 h 5 min overdue: "
            "New MQL not touched within 1 business hour"
        )
        for part in (message.text, message.html):
            assert "Ada Lovelace" in part
            assert "Analytical Engines" in part
            assert "1 h 5 min overdue" in part
            assert "Tue 01 Dec 14:50 CST" in part
            assert URL in part
        assert f'<a href="{URL}"' in message.html

    def test_repeat_says_so(self) -> None:
        """A repeated nudge says the lead is still untouched."""
        assert "Still untouched" in send(mql(), "nudge", kind=Kind.REPEAT).blocks[1]["text"]["text"]

    def test_due_soon(self) -> None:
        """The warning says how long is left and when the deadline is."""
        at = utc(2026, 12, 1, 20, 40)  # 15:40 EST, due 15:50
        body = send(mql(at), "due-soon", kind=Kind.WARNING, now=at).blocks[1]["text"]["text"]
        assert "is due in 10 min, at Tue 01 Dec 14:50 CST" in body

    @pytest.mark.parametrize("channel", ["slack", "email"])
    def test_escalation(self, channel: str) -> None:
        """The manager learns whose lead it is and how late it is."""
        message = send(replace(mql(), tier=2), "escalation", channel, Kind.ESCALATION)
        said = everything(message) if channel == "slack" else message.text
        assert "Alice Chen's lead" in said
        assert re.search(r"1 h 5 min overdue\*? \(escalation tier 2\)", said)

    def test_queue(self) -> None:
        """A queue post names the queue the lead waits in."""
        data = snapshot(
            Lead=[lead(OwnerId=QUEUE, CreatedDate="2026-12-01T20:50:00.000+0000")],
            Group=[{"Id": QUEUE, "Name": "Inbound Queue"}],
        )
        waiting = only(RULES["lead-in-queue"], data, NOW)
        queue = Owner(QUEUE, "Inbound Queue", queue=True)
        body = send(waiting, "queue", owner=queue).blocks[1]["text"]["text"]
        assert "is waiting in Inbound Queue and is *50 min overdue*" in body

    @pytest.mark.parametrize("channel", ["slack", "email"])
    def test_resolved(self, channel: str) -> None:
        """The all-clear says the lead no longer needs attention, and why."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history("00Q000000000001", "2026-12-01T19:50:00.000+0000")],
            Task=[task("00Q000000000001", "2026-12-01T21:00:00.000+0000")],
        )
        touched = only(RULES["mql-first-touch"], data, NOW)
        message = send(touched, "resolved", channel, Kind.RESOLVED)
        if isinstance(message, SlackMessage):
            assert message.blocks[0]["text"]["text"].startswith("Resolved: ")
            assert "Ada Lovelace, no longer needs attention. Owner" in message.text
            assert "touched: Task" in message.blocks[1]["text"]["text"]
        else:
            assert message.subject.startswith("Resolved: Ada Lovelace")

    def test_rerouted_message_says_why(self) -> None:
        """A fallback post says in its facts why it landed there."""
        reason = (
            "owner Bob Okafor is inactive and has no manager; sent to the fallback channel #ops"
        )
        address = Address("slack", "#ops", reason, "#ops", "UTC", fallback=True)
        message = render(
            notify(mql(), "nudge", "slack"),
            address,
            templates=TEMPLATES,
            instance_url=INSTANCE,
            now=NOW,
        )
        assert isinstance(message, SlackMessage)
        assert message.blocks[2]["elements"][-1]["text"] == f"*Sent to:* {reason}"


HOSTILE_NAME = "<!channel> <https://evil.example|click here> & *bold*"
HOSTILE_COMPANY = "<@U0BOSS> <!here> <#C123>"
# Every < left in a Slack message must open one of our own links.
FOREIGN_MARKUP = re.compile(r"<(?!https://acme\.my\.salesforce\.com/lightning/r/Lead/)")


class TestHostileData:
    @pytest.mark.parametrize("template", ["nudge", "escalation", "queue", "resolved"])
    def test_slack_pings_and_links_nobody(self, template: str) -> None:
        """Mentions and links in lead data are escaped in every block and in the text."""
        evaluation = mql(Name=HOSTILE_NAME, Company=HOSTILE_COMPANY)
        message = send(evaluation, template)
        said = everything(message)
        for markup in ("<!channel>", "<https://evil", "<@U0BOSS>", "<!here>", "<#C123>"):
            assert markup not in said
        assert "&lt;!channel&gt;" in said
        assert "&lt;https://evil.example|click here&gt;" in said
        for text in [t["text"] for t in texts(message) if t["type"] == "mrkdwn"] + [message.text]:
            assert not FOREIGN_MARKUP.search(text)

    def test_mrkdwn_is_verbatim(self) -> None:
        """Bare words like @here are not turned into mentions by Slack's preprocessing."""
        message = send(mql(Name="@here"), "nudge")
        assert all(t["verbatim"] for t in texts(message) if t["type"] == "mrkdwn")

    @given(name=st.text(min_size=1, max_size=60))
    @settings(max_examples=60, deadline=None)
    def test_any_name_is_inert(self, name: str) -> None:
        """Whatever a lead is called, the only markup in the message is ours."""
        evaluation = replace(mql(), name=name, fields={"Name": name, "Company": name})
        message = send(evaluation, "nudge")
        for text in [t["text"] for t in texts(message) if t["type"] == "mrkdwn"] + [message.text]:
            assert not FOREIGN_MARKUP.search(text)

    def test_email_html_escapes_scripts(self) -> None:
        """A script in a lead name is text in the HTML part."""
        message = send(mql(Name="<script>alert(1)</script>", Company="A&B"), "nudge", "email")
        assert "<script>" not in message.html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
        assert "A&amp;B" in message.html
        assert "<script>alert(1)</script>" in message.text


class TestLimits:
    def test_long_explanation_is_cut(self) -> None:
        """A 10,000-character explanation is cut to Slack's 3,000 per text, not rejected."""
        message = send(replace(mql(), explanation="x" * 10_000), "nudge")
        evidence = message.blocks[2]["elements"][2]["text"]
        assert len(evidence) == 3000
        assert evidence.endswith("x…")
        assert all(len(t["text"]) <= 3000 for t in texts(message))
        assert len(message.text) <= 3000

    def test_long_title_fits_the_header(self) -> None:
        """A header holds 150 characters."""
        header = send(mql(), "nudge", title="T" * 300).blocks[0]["text"]["text"]
        assert len(header) == 150
        assert header.endswith("…")

    def test_long_body_says_what_was_left_out(self, tmp_path: Path) -> None:
        """A body past 3,000 characters ends at a line break with a count of what is left."""
        (tmp_path / "slack").mkdir()
        source = "{% for i in range(500) %}line {{ i }} of the body\n{% endfor %}"
        (tmp_path / "slack" / "long.md.j2").write_text(source)
        message = send(mql(), "long", templates=Templates(tmp_path))
        body = message.blocks[1]["text"]["text"]
        assert len(body) <= 3000
        assert re.search(r"\nline \d+ of the body\n… and \d+ more lines$", body)
        assert len(message.blocks) <= 50

    def test_long_name_everywhere(self) -> None:
        """A huge lead name keeps every text within its limit and the button within 75."""
        message = send(mql(Name="&" * 5000), "escalation")
        assert all(len(t["text"]) <= 3000 for t in texts(message))
        assert message.text.endswith(URL)
        assert len(message.blocks[3]["elements"][0]["text"]["text"]) <= 75

    def test_cut_never_splits_an_entity(self) -> None:
        """An escaped character is kept whole or dropped, never shown half."""
        assert clip("ab&amp;cd", 6) == "ab…"
        assert clip("ab&amp;cd", 8) == "ab&amp;…"

    def test_cut_never_splits_a_link(self) -> None:
        """A link cut in half is dropped whole."""
        assert clip("see <https://x.example/long|the lead> now", 20) == "see…"

    def test_fit_lines_counts_what_is_left_out(self) -> None:
        """Whole lines are kept, then a count of the rest."""
        text = "one\ntwo\nthree\n" + "x" * 30
        assert fit_lines(text, 30) == "one\ntwo\n… and 2 more lines"
        assert fit_lines("short", 16) == "short"
        assert fit_lines("x" * 40, 16) == "x" * 15 + "…"


class TestRenderErrors:
    def test_strict_undefined(self, tmp_path: Path) -> None:
        """A misspelt variable fails the render instead of sending a blank."""
        (tmp_path / "slack").mkdir()
        (tmp_path / "slack" / "nudge.md.j2").write_text("{{ evaluation.nmae }}")
        with pytest.raises(TemplateError, match=r"has no attribute 'nmae'"):
            send(mql(), "nudge", templates=Templates(tmp_path))


RULE = """\
id: x
title: X
object: Lead
clock:
  starts_at:
    field: CreatedDate
sla: 1h
warning:
  before: 15m
  to: owner
escalation:
  - to: owner
    template: nudge
    repeat_every: 1h
  - after: 1h
    to: owner
  - after: 2h
    to: "#leads"
    template: broken
"""


class TestCheckTemplates:
    def test_shipped_rules_and_templates(self) -> None:
        """Every template the shipped rules use renders, on every channel it can reach."""
        assert check_templates(RULESET, ROOT / "templates") == []

    def test_errors_point_at_the_template_line(self, tmp_path: Path) -> None:
        """A broken or missing template is reported at the rule's line that names it, the
        tier's or the warning's line when the template is the default, once per rule."""
        rules, templates = tmp_path / "rules", tmp_path / "templates"
        rules.mkdir()
        (rules / "x.yaml").write_text(RULE)
        (templates / "slack").mkdir(parents=True)
        (templates / "slack" / "nudge.md.j2").write_text("Hi\n{{ recod.Name }}")
        (templates / "slack" / "due-soon.md.j2").write_text("ok")
        summary_files(templates)
        ruleset = load_rules([rules])
        assert ruleset.errors == ()
        found = [str(error) for error in check_templates(ruleset, templates)]
        path = rules / "x.yaml"
        emailed = " (needed: a person without a Slack account is emailed)"
        assert found == [
            f"{path}:8: template 'due-soon' (email): no template file "
            f"{templates}/email/due-soon.subject.j2{emailed}",
            f"{path}:13: template 'nudge' (slack): 'recod' is undefined "
            f"({templates}/slack/nudge.md.j2:2)",
            f"{path}:13: template 'nudge' (email): no template file "
            f"{templates}/email/nudge.subject.j2{emailed}",
            f"{path}:19: template 'broken' (slack): no template file "
            f"{templates}/slack/broken.md.j2",
        ]

    def test_every_kind_is_rendered(self, tmp_path: Path) -> None:
        """A mistake in the branch for repeats is found though the first nudge renders."""
        rules, templates = tmp_path / "rules", tmp_path / "templates"
        rules.mkdir()
        (rules / "x.yaml").write_text(RULE.replace("to: owner\n", 'to: "#a"\n'))
        (templates / "slack").mkdir(parents=True)
        for name in ("due-soon", "broken"):
            (templates / "slack" / f"{name}.md.j2").write_text("ok")
        nudge = '{% if kind == "repeat" %}{{ agian }}{% endif %}'
        (templates / "slack" / "nudge.md.j2").write_text(nudge)
        summary_files(templates)
        found = [e.message for e in check_templates(load_rules([rules]), templates)]
        assert found == [
            f"template 'nudge' (slack): 'agian' is undefined ({templates}/slack/nudge.md.j2:1)"
        ]

    def test_email_rule_needs_slack_too(self, tmp_path: Path) -> None:
        """The fallback channel is on Slack, so an email-only rule needs its Slack template."""
        rules, templates = tmp_path / "rules", tmp_path / "templates"
        rules.mkdir()
        text = RULE.split("warning:")[0] + "escalation:\n  - to: a@example.com\n    via: email\n"
        (rules / "x.yaml").write_text(text)
        (templates / "email").mkdir(parents=True)
        for part in ("subject", "txt", "html"):
            (templates / "email" / f"nudge.{part}.j2").write_text("{{ rule.title }}")
        summary_files(templates)
        (error,) = check_templates(load_rules([rules]), templates)
        assert error.line == 9
        assert error.message.endswith("(needed: Slack channels and the fallback are on Slack)")


class TestSummary:
    def folded(self, count: int, **fields: Any) -> tuple[Notification, ...]:
        """``count`` breach notifications about the MQL lead (as the budget folds them)."""
        return tuple(notify(mql(**fields), "nudge", "slack") for _ in range(count))

    def summary(self, channel: str, items: tuple[Notification, ...]) -> Any:
        first = replace(items[0], kind=Kind.SUMMARY, template="summary", tier=None)
        return render(
            replace(first, channel=channel),
            TO_ALICE[channel],
            templates=TEMPLATES,
            instance_url=INSTANCE,
            now=NOW,
            owner=ALICE,
            items=items,
        )

    def test_slack_lists_every_item(self) -> None:
        """A Slack summary says how many, and links each lead with how late it is and why."""
        message = self.summary("slack", self.folded(3))
        body = message.blocks[1]["text"]["text"]
        assert message.blocks[0]["text"]["text"] == "3 more leads need attention"
        assert body.count(f"<{URL}|Ada Lovelace>* is 1 h 5 min overdue: New MQL") == 3
        assert [b["type"] for b in message.blocks] == ["header", "section", "context"]

    def test_email_lists_every_item(self) -> None:
        """An email summary lists each lead with its link, in text and HTML."""
        message = self.summary("email", self.folded(2))
        assert message.subject == "2 more leads need attention"
        assert message.text.count(URL) == 2
        assert message.html.count(f'<a href="{URL}">Ada Lovelace</a>') == 2

    def test_lead_data_is_inert(self) -> None:
        """A lead named like a mention pings nobody in a summary either."""
        message = self.summary("slack", self.folded(1, FirstName="<!channel>", LastName="x"))
        assert "<!channel>" not in everything(message)
        assert "&lt;!channel&gt; x" in message.blocks[1]["text"]["text"]

    def test_other_messages_see_no_items(self) -> None:
        """Outside a summary, ``items`` is an empty list (a template may test it)."""
        context = message_context(
            notify(mql(), "nudge", "slack"), TO_ALICE["slack"], instance_url=INSTANCE, now=NOW
        )
        assert context["items"] == []


class TestCheckResolvedAndSummary:
    def test_broken_summary_is_reported_at_escalation(self, tmp_path: Path) -> None:
        """Every rule can be folded into a summary, so a broken summary template is reported
        at the rule's escalation line, saying why it is needed."""
        rules, templates = tmp_path / "rules", tmp_path / "templates"
        rules.mkdir()
        (rules / "x.yaml").write_text(RULE.replace('to: "#leads"', "to: owner"))
        summary_files(templates)
        for name in ("due-soon", "nudge", "broken"):
            (templates / "slack" / f"{name}.md.j2").write_text("ok")
            for part in ("subject", "txt", "html"):
                (templates / "email" / f"{name}.{part}.j2").write_text("ok")
        (templates / "slack" / "summary.md.j2").write_text("{{ itmes }}")
        (error,) = check_templates(load_rules([rules]), templates)
        assert error.line == 11
        assert error.message == (
            f"template 'summary' (slack): 'itmes' is undefined ({templates}/slack/summary.md.j2:1)"
            " (over the hourly budget, messages are folded into the summary template)"
        )

    def test_resolved_template_is_checked_when_asked(self, tmp_path: Path) -> None:
        """``resolved:`` makes its template part of the check, reported at its line."""
        rules, templates = tmp_path / "rules", tmp_path / "templates"
        rules.mkdir()
        text = RULE.replace('to: "#leads"', "to: owner") + "resolved: {template: done}\n"
        (rules / "x.yaml").write_text(text)
        summary_files(templates)
        for name in ("due-soon", "nudge", "broken"):
            (templates / "slack" / f"{name}.md.j2").write_text("ok")
            for part in ("subject", "txt", "html"):
                (templates / "email" / f"{name}.{part}.j2").write_text("ok")
        found = [(e.line, e.message) for e in check_templates(load_rules([rules]), templates)]
        assert found == [
            (20, f"template 'done' (slack): no template file {templates}/slack/done.md.j2"),
            (
                20,
                f"template 'done' (email): no template file {templates}/email/done.subject.j2"
                " (needed: a person without a Slack account is emailed)",
            ),
        ]
