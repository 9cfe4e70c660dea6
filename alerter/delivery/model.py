"""What delivery works on: a decided notification, the concrete address it goes to, the message
rendered for that address, and the outcome of sending it.

    Notification --resolve--> Address (+ reason) --render--> SlackMessage | EmailMessage
                 --send--> Delivered | DeliveryError(retryable or permanent)

Every step is a plain function of plain values; only the notifiers do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from alerter.errors import AlerterError
from alerter.evaluate import Evaluation
from alerter.rule import Recipient

Channel = Literal["slack", "email"]


class Kind(StrEnum):
    """Why a notification is sent."""

    WARNING = "warning"
    BREACH = "breach"
    REPEAT = "repeat"
    ESCALATION = "escalation"
    RESOLVED = "resolved"
    SUMMARY = "summary"
    """Several notifications to one recipient, folded into one message (the hourly budget)."""


@dataclass(frozen=True)
class Notification:
    """One decided message: about which evaluation, of what kind, to whom (as the rule names
    them), by which channel, with which template."""

    kind: Kind
    rule_id: str
    rule_title: str
    evaluation: Evaluation
    recipient: Recipient
    channel: Channel
    template: str
    tier: int | None = None


@dataclass(frozen=True)
class Address:
    """Where a notification actually goes, and why there.

    ``target`` is a Slack user id (``U...``) or channel (``#name`` or ``C...``) for Slack, an
    email address for email. ``reason`` says how it was chosen ("manager of inactive owner Bob
    Okafor", "fallback: queue Inbound Queue has no channel") and is recorded with the send.
    """

    channel: Channel
    target: str
    reason: str
    name: str | None = None
    time_zone: str = "UTC"
    fallback: bool = False


@dataclass(frozen=True)
class SlackMessage:
    """A rendered Slack message: Block Kit blocks and the plain-text fallback."""

    target: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class EmailMessage:
    """A rendered email: one recipient, a subject, a text part and an HTML part."""

    to: str
    subject: str
    text: str
    html: str
    to_name: str | None = None


Message = SlackMessage | EmailMessage


@dataclass(frozen=True)
class Delivered:
    """A message the service accepted (Slack's ``ts``, the SMTP queue id, ...)."""

    at: datetime
    detail: str = ""


class DeliveryError(AlerterError):
    """A message that was not delivered; ``retryable`` says whether trying again can help
    (rate limits, 5xx, connection errors) or not (channel_not_found, 5xx SMTP replies)."""

    def __init__(self, message: str, *, retryable: bool, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
