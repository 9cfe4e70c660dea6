"""JSON for what the ledger keeps whole: notifications (with their evaluation) and addresses.

The outbox must be able to send a notification after a restart without re-evaluating
anything, so a row carries the complete :class:`Notification` as JSON. Datetimes are ISO 8601
in UTC, timedeltas whole microseconds (exact, unlike float seconds), enums their values;
``Evaluation.fields`` is the record's REST JSON and is stored as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from alerter.delivery.model import Address, Channel, Kind, Notification
from alerter.evaluate import Evaluation, State
from alerter.rule import Recipient

Json = dict[str, Any]
VERSION = 1
"""Bumped when the shape changes; decoders read every version still in a ledger."""


def encode_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the ledger stores aware datetimes only")
    return value.astimezone(UTC).isoformat()


def decode_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def encode_timedelta(value: timedelta | None) -> int | None:
    return None if value is None else value // timedelta(microseconds=1)


def decode_timedelta(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(microseconds=value)


def encode_evaluation(evaluation: Evaluation) -> Json:
    return {
        "rule_id": evaluation.rule_id,
        "object": evaluation.object,
        "record_id": evaluation.record_id,
        "name": evaluation.name,
        "owner_id": evaluation.owner_id,
        "state": evaluation.state.value,
        "clock_start": encode_datetime(evaluation.clock_start),
        "due": encode_datetime(evaluation.due),
        "overdue_us": encode_timedelta(evaluation.overdue),
        "tier": evaluation.tier,
        "next_change": encode_datetime(evaluation.next_change),
        "explanation": evaluation.explanation,
        "fields": dict(evaluation.fields),
    }


def decode_evaluation(data: Mapping[str, Any]) -> Evaluation:
    return Evaluation(
        rule_id=data["rule_id"],
        object=data["object"],
        record_id=data["record_id"],
        name=data["name"],
        owner_id=data["owner_id"],
        state=State(data["state"]),
        clock_start=decode_datetime(data["clock_start"]),
        due=decode_datetime(data["due"]),
        overdue=decode_timedelta(data["overdue_us"]),
        tier=data["tier"],
        next_change=decode_datetime(data["next_change"]),
        explanation=data["explanation"],
        fields=data.get("fields") or {},
    )


def encode_recipient(recipient: Recipient) -> Json:
    return {"kind": recipient.kind, "target": recipient.target}


def decode_recipient(data: Mapping[str, Any]) -> Recipient:
    return Recipient(kind=data["kind"], target=data["target"])


def encode_notification(notification: Notification) -> Json:
    return {
        "v": VERSION,
        "kind": notification.kind.value,
        "rule_id": notification.rule_id,
        "rule_title": notification.rule_title,
        "evaluation": encode_evaluation(notification.evaluation),
        "recipient": encode_recipient(notification.recipient),
        "channel": notification.channel,
        "template": notification.template,
        "tier": notification.tier,
    }


def decode_notification(data: Mapping[str, Any]) -> Notification:
    return Notification(
        kind=Kind(data["kind"]),
        rule_id=data["rule_id"],
        rule_title=data["rule_title"],
        evaluation=decode_evaluation(data["evaluation"]),
        recipient=decode_recipient(data["recipient"]),
        channel=_channel(data["channel"]),
        template=data["template"],
        tier=data["tier"],
    )


def encode_address(address: Address) -> Json:
    return {
        "channel": address.channel,
        "target": address.target,
        "reason": address.reason,
        "name": address.name,
        "time_zone": address.time_zone,
        "fallback": address.fallback,
    }


def decode_address(data: Mapping[str, Any]) -> Address:
    return Address(
        channel=_channel(data["channel"]),
        target=data["target"],
        reason=data["reason"],
        name=data.get("name"),
        time_zone=data.get("time_zone", "UTC"),
        fallback=bool(data.get("fallback", False)),
    )


def encode_payload(notification: Notification, items: tuple[Notification, ...]) -> Json:
    """A notification row's payload: the notification and, for a summary, what it folds."""
    return {
        "notification": encode_notification(notification),
        "items": [encode_notification(item) for item in items],
    }


def decode_payload(data: Mapping[str, Any]) -> tuple[Notification, tuple[Notification, ...]]:
    return decode_notification(data["notification"]), tuple(
        decode_notification(item) for item in data.get("items", ())
    )


def _channel(value: str) -> Channel:
    if value not in ("slack", "email"):
        raise ValueError(f"unknown channel {value!r} in the ledger")
    return cast(Channel, value)
