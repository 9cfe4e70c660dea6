"""JSON round trips of what the ledger keeps whole: evaluations, notifications, addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledger_support import evaluation, notification

from alerter.delivery.model import Address, Kind, Notification
from alerter.evaluate import Evaluation, State
from alerter.ledger import codec
from alerter.rule import Recipient

zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones
)
texts = st.text(max_size=20)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=10,
)
evaluations = st.builds(
    Evaluation,
    rule_id=texts,
    object=texts,
    record_id=texts,
    name=texts,
    owner_id=st.none() | texts,
    state=st.sampled_from(State),
    clock_start=st.none() | moments,
    due=st.none() | moments,
    overdue=st.none()
    | st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)),
    tier=st.none() | st.integers(1, 9),
    next_change=st.none() | moments,
    explanation=texts,
    fields=st.dictionaries(texts, json_values, max_size=4),
)
recipients = st.sampled_from(
    [
        Recipient("owner"),
        Recipient("manager"),
        Recipient("channel", "#sales"),
        Recipient("email", "a@b.co"),
    ]
)
notifications = st.builds(
    Notification,
    kind=st.sampled_from(Kind),
    rule_id=texts,
    rule_title=texts,
    evaluation=evaluations,
    recipient=recipients,
    channel=st.sampled_from(["slack", "email"]),
    template=texts,
    tier=st.none() | st.integers(0, 9),
)
addresses = st.builds(
    Address,
    channel=st.sampled_from(["slack", "email"]),
    target=texts,
    reason=texts,
    name=st.none() | texts,
    time_zone=st.sampled_from(["UTC", "America/New_York"]),
    fallback=st.booleans(),
)


def through_json(data: dict[str, Any]) -> Any:
    """What the database gives back: the JSON text parsed again."""
    return json.loads(json.dumps(data))


class TestRoundTrip:
    @given(evaluations)
    def test_evaluations(self, value: Evaluation) -> None:
        """An evaluation, its fields included, survives JSON exactly."""
        back = codec.decode_evaluation(through_json(codec.encode_evaluation(value)))
        assert back == value
        assert back.fields == value.fields

    @given(notifications, st.lists(notifications, max_size=2))
    def test_notifications_and_summary_items(
        self, value: Notification, items: list[Notification]
    ) -> None:
        """A notification and the items a summary folds survive JSON exactly."""
        payload = through_json(codec.encode_payload(value, tuple(items)))
        assert codec.decode_payload(payload) == (value, tuple(items))

    @given(addresses)
    def test_addresses(self, value: Address) -> None:
        """An address survives JSON exactly."""
        assert codec.decode_address(through_json(codec.encode_address(value))) == value


class TestExactValues:
    @pytest.mark.parametrize(
        ("delta", "encoded"),
        [
            (timedelta(0), 0),
            (timedelta(microseconds=1), 1),
            (timedelta(days=-1, seconds=1), -86_399_000_000),
            (timedelta(days=999, microseconds=7), 999 * 86_400_000_000 + 7),
        ],
    )
    def test_timedeltas_are_whole_microseconds(self, delta: timedelta, encoded: int) -> None:
        """Timedeltas are stored exactly, never as float seconds."""
        assert codec.encode_timedelta(delta) == encoded
        assert codec.decode_timedelta(encoded) == delta

    def test_datetimes_are_utc_iso(self) -> None:
        """Datetimes are written in UTC and read back as the same instant."""
        eastern = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
        assert codec.encode_datetime(eastern) == "2026-12-01T14:30:00+00:00"
        assert codec.decode_datetime("2026-12-01T14:30:00+00:00") == eastern

    def test_naive_datetimes_are_refused(self) -> None:
        """A naive datetime has no instant; storing one would be a guess."""
        with pytest.raises(ValueError, match="naive"):
            codec.encode_datetime(datetime(2026, 12, 1, 9, 30))

    def test_unknown_channel_is_refused(self) -> None:
        """A channel the code no longer knows fails loudly rather than mis-sends."""
        data = codec.encode_notification(notification(evaluation())) | {"channel": "fax"}
        with pytest.raises(ValueError, match="fax"):
            codec.decode_notification(data)
