"""Which templates a rule can send, as which kinds of message and on which channels.

One answer serves two askers: ``alerter check`` renders each use against a sample record, and
the live query selects the record fields those templates read (``record.Company``), so a
message shows what its template asks for without the rule author listing fields twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from alerter.delivery.model import Channel, Kind
from alerter.delivery.templates import Templates
from alerter.rule import Notify, Rule
from alerter.yamlsource import Loc


@dataclass(frozen=True)
class TemplateUse:
    """A template a rule sends: where the rule names it (``loc``), as which kinds, for which
    tier (None for the warning), on which channel, and why that channel when the rule does
    not name it (``note``)."""

    loc: Loc
    notify: Notify
    tier: int | None
    kinds: tuple[Kind, ...]
    channel: Channel
    note: str = ""

    @property
    def template(self) -> str:
        return self.notify.template


SUMMARY_NOTE = " (over the hourly budget, messages are folded into the summary template)"


def template_uses(rule: Rule) -> Iterator[TemplateUse]:
    """Every (template, channel) the rule's warning, tiers, resolved message and the budget's
    summary can reach."""
    if rule.warning is not None:
        warning, warned = rule.warning, ("warning", "template")
        for channel, note in reachable(warning):
            yield TemplateUse(warned, warning, None, (Kind.WARNING,), channel, note)
    for index, tier in enumerate(rule.escalation):
        kinds: tuple[Kind, ...] = (Kind.BREACH if index == 0 else Kind.ESCALATION,)
        kinds += (Kind.REPEAT,) if tier.repeat_every else ()
        loc: Loc = ("escalation", index, "template")
        for channel, note in reachable(tier):
            yield TemplateUse(loc, tier, index + 1, kinds, channel, note)
    told = Notify(
        to=tuple(dict.fromkeys(r for tier in rule.escalation for r in tier.to)),
        via=tuple(dict.fromkeys(c for tier in rule.escalation for c in tier.via)),
        template=rule.resolved.template if rule.resolved else "summary",
    )
    if rule.resolved is not None:  # to whoever was told of the breach
        for channel, note in reachable(told):
            yield TemplateUse(("resolved", "template"), told, None, (Kind.RESOLVED,), channel, note)
    # Anything the rule sends may be folded into a summary when someone's budget runs out.
    summary = told.model_copy(update={"template": "summary"})
    for channel in ("slack", "email"):
        yield TemplateUse(("escalation",), summary, None, (Kind.SUMMARY,), channel, SUMMARY_NOTE)


def reachable(notify: Notify) -> list[tuple[Channel, str]]:
    """The channels a notification may be rendered for, each with why when the rule does not
    name it: routing moves some messages to the other channel."""
    channels: list[tuple[Channel, str]] = [(channel, "") for channel in notify.via]
    if "slack" not in notify.via:
        channels.append(("slack", " (needed: Slack channels and the fallback are on Slack)"))
    if "email" not in notify.via and any(r.kind != "channel" for r in notify.to):
        channels.append(("email", " (needed: a person without a Slack account is emailed)"))
    return channels


def template_fields(rule: Rule, templates: Templates) -> frozenset[str]:
    """The record fields (``Company``, ``Owner.Title``) the rule's templates read."""
    return frozenset(
        path
        for use in template_uses(rule)
        for path in templates.record_fields(use.template, use.channel)
    )
