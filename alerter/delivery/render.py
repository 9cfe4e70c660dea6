"""Turn a routed notification into the message for its address: Block Kit for Slack, a
multipart email otherwise. Pure: the clock, the instance URL and the owner are handed in.

A Slack message is built in Python around the template's mrkdwn body::

    header   the rule title (plain text)
    section  the rendered body
    context  owner, deadline on the recipient's clock, the evidence, how it was routed
    actions  "Open in Salesforce" (the record's Lightning page)

plus a ``text`` fallback with the same facts, which notifications and screen readers show.
Slack rejects a message past its limits (3,000 characters per text, 150 for a header, 75 for
a button, 50 blocks), so long content is cut to fit ("…", "… and 12 more lines"), never sent
to fail. Lead data is escaped everywhere it appears, the fallback text included.

``check_templates`` renders sample notifications through this same path, so a template that
passes ``alerter check`` renders when it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerter.delivery.model import (
    Address,
    Channel,
    EmailMessage,
    Kind,
    Notification,
    SlackMessage,
)
from alerter.delivery.mrkdwn import Mrkdwn, clip, escape, fit_lines
from alerter.delivery.recipients import Owner, owner_of
from alerter.delivery.templates import (
    RecordFields,
    TemplateError,
    Templates,
    local_text,
    overdue_text,
    record_url,
)
from alerter.delivery.uses import template_uses
from alerter.diagnostics import RuleError
from alerter.evaluate import Evaluation, State
from alerter.loader import RuleSet
from alerter.records import Snapshot
from alerter.rule import Notify, Rule

TEXT_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_LIMIT = 75
CONTEXT_ELEMENTS = 10
NAME_LIMIT = 200
BUTTON_TEXT = "Open in Salesforce"

_EVALUATION_KEYS: tuple[str, ...] = ("name", "record_id", "object", "clock_start", "due")
_EVALUATION_KEYS += ("overdue", "tier", "next_change", "explanation")


def render(
    notification: Notification,
    address: Address,
    *,
    templates: Templates,
    instance_url: str,
    now: datetime,
    owner: Owner | None = None,
    items: Sequence[Notification] = (),
) -> SlackMessage | EmailMessage:
    """The message for ``address`` (by its channel, which routing may have changed from the
    notification's). ``owner`` comes from ``recipients.owner_of``; without it the record's
    nested ``Owner`` or its owner Id is shown; ``items`` are what a summary folds. Raises
    TemplateError."""
    context = message_context(
        notification, address, instance_url=instance_url, now=now, owner=owner, items=items
    )
    if address.channel == "slack" and notification.kind is Kind.SUMMARY:
        return _slack_summary(address, context, templates.slack(notification.template, context))
    if address.channel == "slack":
        return _slack(
            notification, address, context, templates.slack(notification.template, context)
        )
    parts = templates.email(notification.template, context)
    return EmailMessage(
        to=address.target,
        subject=parts.subject,
        text=parts.text,
        html=parts.html,
        to_name=address.name,
    )


def message_context(
    notification: Notification,
    address: Address,
    *,
    instance_url: str,
    now: datetime,
    owner: Owner | None = None,
    items: Sequence[Notification] = (),
) -> dict[str, Any]:
    """Everything a template may use (``templates/README.md`` lists it)."""
    e = notification.evaluation
    owner = owner or owner_of(e, Snapshot({}))
    return {
        "items": [
            {
                "name": item.evaluation.name,
                "rule_title": item.rule_title,
                "overdue": overdue_text(item.evaluation.overdue, item.evaluation.due, now),
                "url": record_url(instance_url, item.evaluation.object, item.evaluation.record_id),
            }
            for item in items
        ],
        "rule": {"id": notification.rule_id, "title": notification.rule_title},
        "record": RecordFields(e.fields),
        "evaluation": {key: getattr(e, key) for key in _EVALUATION_KEYS} | {"state": str(e.state)},
        "kind": str(notification.kind),
        "tier": notification.tier,
        "channel": address.channel,
        "recipient": {
            "kind": notification.recipient.kind,
            "target": address.target,
            "name": address.name,
            "time_zone": address.time_zone,
            "reason": address.reason,
            "fallback": address.fallback,
        },
        "owner": {"id": owner.id, "name": owner.name, "email": owner.email, "queue": owner.queue},
        "url": record_url(instance_url, e.object, e.record_id),
        "instance_url": instance_url,
        "now": now,
    }


def _slack(
    notification: Notification, address: Address, context: Mapping[str, Any], body: Mrkdwn
) -> SlackMessage:
    evaluation: Mapping[str, Any] = context["evaluation"]
    title = notification.rule_title
    if notification.kind is Kind.RESOLVED:
        title = f"Resolved: {title}"
    due = local_text(evaluation["due"], address.time_zone)
    status = overdue_text(evaluation["overdue"], evaluation["due"], context["now"])
    if notification.kind is Kind.RESOLVED:
        status = "no longer needs attention"
    facts = [f"*Owner:* {escape(context['owner']['name'])}"]
    if due:
        facts.append(f"*Due:* {escape(due)} ({escape(status)})")
    facts += [
        f"*Evidence:* {escape(evaluation['explanation'])}",
        f"*Sent to:* {escape(address.reason)}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_LIMIT)},
        {"type": "section", "text": _mrkdwn(body or escape(evaluation["name"]))},
        {"type": "context", "elements": [_mrkdwn(f) for f in facts[:CONTEXT_ELEMENTS]]},
    ]
    url: str = context["url"]
    if len(url) <= TEXT_LIMIT:  # a button with a longer URL is rejected; the text keeps it
        button = {
            "type": "button",
            "text": _plain(BUTTON_TEXT, BUTTON_LIMIT),
            "url": url,
            "style": "primary",
            "action_id": "open_record",
        }
        blocks.append({"type": "actions", "elements": [button]})
    # Name and company are cut first, so a huge one cannot push the link out of the text.
    company = context["record"].get("Company")
    what = escape(clip(str(evaluation["name"]), NAME_LIMIT))
    if company:
        what = Mrkdwn(f"{what} ({escape(clip(str(company), NAME_LIMIT))})")
    text = f"{escape(title)}: {what}, {escape(status)}"
    text += f", due {escape(due)}" if due else ""
    text += f". Owner: {escape(context['owner']['name'])}. {escape(url)}"
    return SlackMessage(target=address.target, text=clip(text, TEXT_LIMIT), blocks=blocks)


def _slack_summary(address: Address, context: Mapping[str, Any], body: Mrkdwn) -> SlackMessage:
    """A summary is about several records: no one record's facts or button, only the list the
    template writes and why this recipient gets it."""
    items: list[dict[str, Any]] = context["items"]
    title = f"{len(items)} more {'lead needs' if len(items) == 1 else 'leads need'} attention"
    names = ", ".join(clip(str(item["name"]), NAME_LIMIT) for item in items)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_LIMIT)},
        {"type": "section", "text": _mrkdwn(body or escape(names))},
        {"type": "context", "elements": [_mrkdwn(f"*Sent to:* {escape(address.reason)}")]},
    ]
    text = f"{escape(title)}: {escape(names)}"
    return SlackMessage(target=address.target, text=clip(text, TEXT_LIMIT), blocks=blocks)


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object: Slack shows it as typed, so it is cut but not escaped."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn object; ``verbatim`` keeps Slack from turning bare words (``@here``, channel
    names) into mentions and links: only the escaped ``<...>`` we wrote are parsed."""
    return {"type": "mrkdwn", "text": fit_lines(text, TEXT_LIMIT), "verbatim": True}


# --- alerter check -------------------------------------------------------------------------

SAMPLE_NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
"""The moment sample notifications are rendered at (a Tuesday, 16:00 in New York)."""

SAMPLE_INSTANCE = "https://example.my.salesforce.com"

_SAMPLE_FIELDS = {
    "Id": "00Q000000000001",
    "Name": "Ada Lovelace",
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "Company": "Analytical Engines",
    "Email": "ada@example.com",
    "Phone": "+1 555 0100",
    "Title": "CTO",
    "Status": "MQL",
    "LeadSource": "Web",
    "OwnerId": "005000000000001",
    "CreatedDate": "2026-12-01T19:00:00.000+0000",
}


def check_templates(ruleset: RuleSet, templates_dir: Path) -> list[RuleError]:
    """Render every template each rule uses, as every kind it is sent as and on every channel
    it can reach, for a sample lead; a failure is reported at the rule's ``template:`` line
    (the tier's or the warning's line when the template is the default)."""
    templates = Templates(templates_dir)
    errors: list[RuleError] = []
    for rule in ruleset.rules:
        source = ruleset.sources[rule.id]
        seen: set[str] = set()
        for use in template_uses(rule):
            for kind in use.kinds:
                try:
                    _render_sample(templates, rule, use.notify, kind, use.tier, use.channel)
                except TemplateError as exc:
                    message = f"{exc}{use.note}"
                    if message not in seen:
                        seen.add(message)
                        errors.append(RuleError(source.path, source.line_of(use.loc), message))
    return errors


def _render_sample(
    templates: Templates, rule: Rule, notify: Notify, kind: Kind, tier: int | None, channel: Channel
) -> None:
    warning, resolved = kind is Kind.WARNING, kind is Kind.RESOLVED
    late = timedelta(hours=1, minutes=5)
    due = SAMPLE_NOW + timedelta(minutes=10) if warning else SAMPLE_NOW - late
    evaluation = Evaluation(
        rule_id=rule.id,
        object=rule.object,
        record_id=_SAMPLE_FIELDS["Id"],
        name=_SAMPLE_FIELDS["Name"],
        owner_id=_SAMPLE_FIELDS["OwnerId"],
        state=State.WARNING if warning else State.STOPPED if resolved else State.BREACHED,
        clock_start=due - timedelta(hours=1),
        due=due,
        overdue=None if warning else late,
        tier=tier,
        next_change=None,
        explanation="clock started: Status became MQL at Tue 01 Dec 14:50 EST (history); "
        "no Task, Event after it; due Tue 01 Dec 15:50 EST, 1 h 5 min overdue",
        fields=_SAMPLE_FIELDS,
    )
    notification = Notification(
        kind, rule.id, rule.title, evaluation, notify.to[0], channel, notify.template, tier
    )
    target = "U000SAMPLE" if channel == "slack" else "alice@example.com"
    address = Address(channel, target, "owner Alice Chen", "Alice Chen", rule.calendar.zone.key)
    owner = Owner(_SAMPLE_FIELDS["OwnerId"], "Alice Chen", "alice@example.com")
    render(
        notification,
        address,
        templates=templates,
        instance_url=SAMPLE_INSTANCE,
        now=SAMPLE_NOW,
        owner=owner,
        items=(notification, notification) if kind is Kind.SUMMARY else (),
    )
