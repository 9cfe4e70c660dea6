"""The deliver step: send each notification to its first address, fall back after a permanent
failure, and say what happened to every one of them.

    Outgoing(notification, addresses) --render--> message --send--> Delivered
                                                                  | retryable DeliveryError
                                                                  | permanent: next address

A retryable failure (a rate limit past the SDK's own retries, an SMTP 4xx, a connection lost)
ends the attempt there: the outbox tries the same address again later. A permanent one (a
template that does not render, ``channel_not_found``, an SMTP 5xx) moves on to the next address
(Slack, then the person's email, then the fallback channel); when none is left the last error
is the outcome. Emails of one round go out over one SMTP connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alerter.delivery.email import EmailNotifier
from alerter.delivery.model import (
    Address,
    Delivered,
    DeliveryError,
    EmailMessage,
    Message,
    Notification,
    SlackMessage,
)
from alerter.delivery.slack import SlackNotifier


@dataclass(frozen=True)
class Outgoing:
    """A notification and where to try it, first address first. ``items`` are the
    notifications a summary folds."""

    notification: Notification
    addresses: tuple[Address, ...]
    items: tuple[Notification, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of one notification: delivered, or the error that stopped it; ``address``
    is where it went or was last tried; ``fell_back`` says which addresses failed for good
    before it, and why."""

    result: Delivered | DeliveryError
    address: Address | None
    fell_back: tuple[str, ...] = ()
    tried: tuple[Address, ...] = ()
    """Every address tried, in order: ``address`` is the last."""

    @property
    def delivered(self) -> bool:
        return isinstance(self.result, Delivered)


Renderer = Callable[[Outgoing, Address], Message]
"""Builds the message of a notification for one of its addresses (``render.render`` with the
templates, instance URL and clock bound); raises DeliveryError (a TemplateError) if it cannot."""


Results = dict[int, Delivered | DeliveryError]


@dataclass(frozen=True)
class Notifiers:
    """The senders; None for a channel that is not configured (its messages fail permanently,
    and so fall back)."""

    slack: SlackNotifier | None = None
    email: EmailNotifier | None = None


def deliver(batch: Sequence[Outgoing], render: Renderer, notifiers: Notifiers) -> list[Outcome]:
    """One outcome per notification of ``batch``, in order."""
    outcomes: dict[int, Outcome] = {}
    position = {index: 0 for index, item in enumerate(batch) if item.addresses}
    failures: dict[int, list[str]] = {index: [] for index in position}
    while position:
        messages: dict[int, Message] = {}
        results: Results = {}
        for index, at in position.items():
            try:
                messages[index] = render(batch[index], batch[index].addresses[at])
            except DeliveryError as error:
                results[index] = error
        results |= _send(messages, notifiers)
        for index, result in results.items():
            item, at = batch[index], position[index]
            address = item.addresses[at]
            permanent = isinstance(result, DeliveryError) and not result.retryable
            if permanent and at + 1 < len(item.addresses):
                failures[index].append(f"{address.channel} {address.target}: {result}")
                position[index] = at + 1
                continue
            tried = item.addresses[: at + 1]
            outcomes[index] = Outcome(result, address, tuple(failures[index]), tried)
            del position[index]
    return [outcomes.get(index) or _unaddressed() for index in range(len(batch))]


def _send(
    messages: dict[int, Message], notifiers: Notifiers
) -> dict[int, Delivered | DeliveryError]:
    results: dict[int, Delivered | DeliveryError] = {}
    emails: list[tuple[int, EmailMessage]] = []
    for index, message in messages.items():
        if isinstance(message, EmailMessage):
            emails.append((index, message))
        elif notifiers.slack is None:
            results[index] = _not_configured("Slack (ALERTER_SLACK__TOKEN)")
        else:
            results[index] = _send_slack(notifiers.slack, message)
    if emails and notifiers.email is None:
        results |= {index: _not_configured("email (ALERTER_SMTP__HOST)") for index, _ in emails}
    elif emails and notifiers.email is not None:
        sent = notifiers.email.send_batch([message for _, message in emails])
        results |= {index: outcome for (index, _), outcome in zip(emails, sent, strict=True)}
    return results


def _send_slack(notifier: SlackNotifier, message: SlackMessage) -> Delivered | DeliveryError:
    try:
        return notifier.send(message)
    except DeliveryError as error:
        return error


def _not_configured(what: str) -> DeliveryError:
    return DeliveryError(f"{what} is not configured", retryable=False, code="not_configured")


def _unaddressed() -> Outcome:
    return Outcome(
        DeliveryError("no address to send to", retryable=False, code="no_recipient"), None
    )
