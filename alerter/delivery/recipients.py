"""Who actually gets a notification: the rule says "owner", "manager" or "#sales-leads"; this
turns that into a Slack user, a Slack channel or an email address, and says why.

=================================  ==========================================================
the rule names                     it goes to
=================================  ==========================================================
owner / manager / skip-level       that User (the owner; ``User.ManagerId``; the manager's
                                   manager); an inactive one to their manager, once
... via slack                      their Slack user (``slack_user_for(User.Email)``); without
                                   a Slack account, their Salesforce email
... via email                      their ``User.Email``
a queue-owned record's owner       the queue's channel (``queue_channels`` by Group Id or
                                   DeveloperName), on Slack whatever ``via`` says
``#channel``                       that Slack channel, also when ``via`` is email: a channel
                                   has no mailbox
an email address                   that address; via slack, the Slack user with that email
                                   when there is one
nobody (no owner, manager or       the fallback channel, on Slack
email; a queue without channel)
=================================  ==========================================================

Nobody is dropped in silence. The reason of every address says how it was chosen ("owner Bob
Okafor is inactive; sent to their manager Maria Garcia"). When even the fallback channel is
not configured, ``resolve`` raises :class:`RoutingError`: a permanent ``DeliveryError``, so the
deliver step, which records every ``DeliveryError`` as the notification's failure, records this
one too, with the reason, instead of skipping it.

``route`` resolves a batch: notifications that would send one message twice to one address (an
inactive owner's nudge lands on the manager, who is also told) become one message carrying
both, and the unroutable ones come back beside the routes, each with its error.

Everything here is pure: ``slack_user_for`` is the Slack notifier's cached lookup, injected. It
returns None for "no such user" and raises ``DeliveryError`` (retryable) when Slack cannot say,
so a Slack outage retries the notification rather than rerouting it to email.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerter.delivery.model import Address, Channel, DeliveryError, Notification
from alerter.evaluate import Evaluation
from alerter.records import Snapshot

QUEUE_PREFIX = "00G"
"""Key prefix of a Group Id: a record with such an owner sits in a queue."""


class RoutingError(DeliveryError):
    """Nobody to send a notification to, not even a fallback channel; never worth retrying
    until the settings change."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, code="no_recipient")


@dataclass(frozen=True)
class Directory:
    """What routing looks people up in: the pass's User and Group records, the Slack user
    lookup, and the channel settings. Built once per pass by the shell."""

    lookups: Snapshot
    slack_user_for: Callable[[str], str | None]
    queue_channels: Mapping[str, str] = field(default_factory=dict)
    fallback_channel: str | None = None
    default_time_zone: str = "UTC"
    """For channels, addresses and people without a valid ``TimeZoneSidKey``..."""
    rule_time_zones: Mapping[str, str] = field(default_factory=dict)
    """...unless the rule has one here (rule id -> its calendar's zone), so a channel post
    about a New York rule shows New York time."""


@dataclass(frozen=True)
class Owner:
    """The record's owner as messages show it: a person or a queue."""

    id: str | None
    name: str
    email: str | None = None
    queue: bool = False


@dataclass(frozen=True)
class Route:
    """One message to send. It carries more than one notification when several recipients of
    the same message resolve to the same address (the owner is also the manager); render the
    first, record the delivery against all of them."""

    address: Address
    notifications: tuple[Notification, ...]


@dataclass(frozen=True)
class Unroutable:
    """A notification that has no address; record it as failed with ``error``."""

    notification: Notification
    error: DeliveryError


@dataclass(frozen=True)
class Routing:
    """Every notification of a batch, either routed or unroutable: none goes missing."""

    routes: tuple[Route, ...]
    unroutable: tuple[Unroutable, ...]


@dataclass(frozen=True)
class _Person:
    id: str
    name: str
    email: str | None
    active: bool
    manager_id: str | None
    time_zone: str | None


def route(notifications: Iterable[Notification], directory: Directory) -> Routing:
    """Resolve a batch, merging notifications that would send the same message to the same
    address twice (same rule, record, kind, tier and template); their reasons are joined."""
    merged: dict[tuple[Any, ...], Route] = {}
    failed: list[Unroutable] = []
    for notification in notifications:
        try:
            address = resolve(notification, directory)
        except DeliveryError as exc:
            failed.append(Unroutable(notification, exc))
            continue
        evaluation = notification.evaluation
        key = (
            *(notification.rule_id, evaluation.record_id, notification.kind),
            *(notification.tier, notification.template, address.channel, address.target.lower()),
        )
        first = merged.get(key)
        if first is None:
            merged[key] = Route(address, (notification,))
            continue
        joined = replace(
            first.address,
            reason=f"{first.address.reason}; also {address.reason}",
            fallback=first.address.fallback and address.fallback,
        )
        merged[key] = Route(joined, (*first.notifications, notification))
    return Routing(tuple(merged.values()), tuple(failed))


def resolve(notification: Notification, directory: Directory) -> Address:
    """The address of one notification, with its reason; raises RoutingError when there is
    none and no fallback channel."""
    recipient, channel = notification.recipient, notification.channel
    zone = directory.rule_time_zones.get(notification.rule_id, directory.default_time_zone)
    directory = replace(directory, default_time_zone=zone)
    target = recipient.target or ""
    if recipient.kind == "channel":
        note = " (a Slack channel, so on Slack although the rule says email)"
        reason = f"channel {target}" + (note if channel == "email" else "")
        return Address("slack", target, reason, target, directory.default_time_zone)
    if recipient.kind == "email":
        return _to_email_recipient(target, channel, directory)
    return _to_role(notification.evaluation, recipient.kind, channel, directory)


def addresses(notification: Notification, directory: Directory) -> tuple[Address, ...]:
    """Where to try a notification, in order: its address, then after a permanent failure
    (a deactivated Slack account, a bounced address) the same person by email when Slack
    failed, then the fallback channel. Raises RoutingError when there is not even one."""
    first = resolve(notification, directory)
    chain = [first]
    if first.channel == "slack" and not first.fallback and notification.recipient.kind != "channel":
        try:
            by_email = resolve(replace(notification, channel="email"), directory)
        except RoutingError:
            by_email = first
        if by_email.channel == "email":
            chain.append(replace(by_email, reason=f"{by_email.reason}, as Slack failed"))
    if not first.fallback and directory.fallback_channel:
        chain.append(_fallback(f"{first.reason}, but that failed", directory))
    return tuple(chain)


def owner_of(evaluation: Evaluation, lookups: Snapshot) -> Owner:
    """The record's owner for messages: the User or queue, else what the record says."""
    owner_id = evaluation.owner_id
    found = (lookups.by_id(owner_id) or lookups.by_id(owner_id[:15])) if owner_id else None
    nested = evaluation.fields.get("Owner")
    if found is None and isinstance(nested, Mapping):
        found = nested
    queue = bool(owner_id and owner_id.startswith(QUEUE_PREFIX))
    if found is None:
        return Owner(owner_id, owner_id or "nobody", None, queue)
    return Owner(owner_id, str(found.get("Name") or owner_id), found.get("Email"), queue)


def _to_role(evaluation: Evaluation, role: str, channel: Channel, d: Directory) -> Address:
    owner_id = evaluation.owner_id
    if not owner_id:
        return _fallback("the record has no owner", d)
    if owner_id.startswith(QUEUE_PREFIX):
        return _to_queue(owner_id, role, channel, d)
    owner = _person(owner_id, d)
    if owner is None:
        return _fallback(f"owner {owner_id} is not among the users read", d)
    if role == "owner":
        return _to_person(owner, f"owner {owner.name}", channel, d)
    manager = _manager(owner, f"owner {owner.name}", d)
    if isinstance(manager, str):
        return _fallback(manager, d)
    manager_label = f"manager {manager.name} of owner {owner.name}"
    if role == "manager":
        return _to_person(manager, manager_label, channel, d)
    skip = _manager(manager, manager_label, d)
    if isinstance(skip, str):
        return _fallback(f"{skip}, so there is no skip-level manager", d)
    return _to_person(skip, f"skip-level manager {skip.name} of owner {owner.name}", channel, d)


def _to_queue(queue_id: str, role: str, channel: Channel, d: Directory) -> Address:
    """A queue has a channel but no manager and no mailbox here (Group.Email is not read)."""
    group = d.lookups.by_id(queue_id) or {}
    name = str(group.get("Name") or queue_id)
    if role != "owner":
        return _fallback(f"the owner is queue {name}, which has no {role.replace('_', '-')}", d)
    keys = (queue_id, queue_id[:15], group.get("Id"), group.get("DeveloperName"))
    target = next((d.queue_channels[k] for k in keys if k and k in d.queue_channels), None)
    if target is None:
        return _fallback(f"the owner is queue {name}, which has no channel in queue_channels", d)
    reason = f"the owner is queue {name}; sent to its channel {target}"
    if channel == "email":
        reason += " on Slack (a queue has no email address here)"
    return Address("slack", target, reason, name, d.default_time_zone)


def _to_person(person: _Person, label: str, channel: Channel, d: Directory) -> Address:
    """A person by the channel asked for; an inactive one is replaced by their manager."""
    reason = label
    if not person.active:
        manager = _manager(person, label, d)
        if isinstance(manager, str):
            return _fallback(f"{label} is inactive and {manager.removeprefix(label + ' ')}", d)
        if not manager.active:
            return _fallback(f"{label} is inactive and so is their manager {manager.name}", d)
        person, reason = manager, f"{label} is inactive; sent to their manager {manager.name}"
    zone = _zone(person.time_zone, d.default_time_zone)
    if channel == "slack":
        if not person.email:
            return _fallback(f"{reason}; {person.name} has no email address to find on Slack", d)
        user = d.slack_user_for(person.email)
        if user:
            return Address("slack", user, reason, person.name, zone)
        reason += f"; no Slack account for {person.email}, so sent by email"
    if not person.email:
        return _fallback(f"{reason}; {person.name} has no email address", d)
    return Address("email", person.email, reason, person.name, zone)


def _to_email_recipient(email: str, channel: Channel, d: Directory) -> Address:
    """An address from the rule; a matching User lends it a name and a time zone."""
    user = next(
        (u for u in d.lookups.records("User") if str(u.get("Email", "")).lower() == email.lower()),
        None,
    )
    name = str(user["Name"]) if user and user.get("Name") else None
    zone = _zone(user.get("TimeZoneSidKey") if user else None, d.default_time_zone)
    reason = f"address {email}"
    if channel == "slack":
        slack_user = d.slack_user_for(email)
        if slack_user:
            return Address("slack", slack_user, f"{reason} (their Slack account)", name, zone)
        reason += "; no Slack account for it, so sent by email"
    return Address("email", email, reason, name, zone)


def _fallback(why: str, d: Directory) -> Address:
    if not d.fallback_channel:
        raise RoutingError(f"{why}, and no fallback channel is configured (slack.fallback_channel)")
    reason = f"{why}; sent to the fallback channel {d.fallback_channel}"
    return Address(
        "slack", d.fallback_channel, reason, d.fallback_channel, d.default_time_zone, True
    )


def _manager(person: _Person, label: str, d: Directory) -> _Person | str:
    """The person's manager, or why there is none (to be said after ``label``)."""
    if not person.manager_id:
        return f"{label} has no manager"
    manager = _person(person.manager_id, d)
    if manager is None:
        return f"{label} has a manager {person.manager_id} who is not among the users read"
    return manager


def _person(user_id: str, d: Directory) -> _Person | None:
    """A User by Id; 18-character Ids also find the 15-character form."""
    record = d.lookups.by_id(user_id) or d.lookups.by_id(user_id[:15])
    if record is None:
        return None
    return _Person(
        id=str(record.get("Id") or user_id),
        name=str(record.get("Name") or user_id),
        email=record.get("Email") or None,
        # Only an explicit false is inactive: a lookup that did not select IsActive is not.
        active=record.get("IsActive") is not False,
        manager_id=record.get("ManagerId") or None,
        time_zone=record.get("TimeZoneSidKey"),
    )


def _zone(name: Any, default: str) -> str:
    """An IANA zone name that zoneinfo knows, else the default (a message must still render)."""
    if not isinstance(name, str) or not name:
        return default
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default
    return name
