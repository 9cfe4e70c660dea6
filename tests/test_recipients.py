"""Routing: every notification ends at an address with the reason it was chosen, or fails
loudly; nobody is dropped in silence.

The org: Victor Vance (VP, no manager) <- Maria Garcia <- Alice Chen, Bob Okafor (inactive),
Carl Mute (no email), Dana Diaz (no Slack account); Nina Solo has no manager, Xavier Gone is
inactive without one, Ivy Left is inactive under the inactive Olga Old. Two queues, one with a
channel.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from helpers import utc

from alerter.delivery.model import Address, DeliveryError, Kind, Notification
from alerter.delivery.people import people_of, with_people
from alerter.delivery.recipients import (
    Directory,
    Owner,
    RoutingError,
    owner_of,
    resolve,
    route,
)
from alerter.evaluate import Evaluation, State
from alerter.records import Snapshot
from alerter.rule import Recipient

VP, MG, AL, BB, CM, DD = (f"005000000000{s}" for s in ("VP1", "MG1", "AL1", "BB1", "CM1", "DD1"))
NS, XG, IL, OO = (f"005000000000{s}" for s in ("NS1", "XG1", "IL1", "OO1"))
INBOUND, OVERFLOW = "00G000000000IQ1", "00G000000000OQ1"
NY, CHI = "America/New_York", "America/Chicago"


def user(
    user_id: str, name: str, manager: str | None, *, active: bool = True, zone: str = NY
) -> dict[str, Any]:
    email = f"{name.split()[0].lower()}@example.com"
    return {
        "Id": user_id,
        "Name": name,
        "Email": email,
        "IsActive": active,
        "ManagerId": manager,
        "TimeZoneSidKey": zone,
    }


LOOKUPS = Snapshot(
    {
        "User": [
            user(VP, "Victor Vance", None),
            user(MG, "Maria Garcia", VP),
            user(AL, "Alice Chen", MG),
            user(BB, "Bob Okafor", MG, active=False, zone=CHI),
            {**user(CM, "Carl Mute", MG), "Email": None},
            user(DD, "Dana Diaz", MG, zone="Not/AZone"),
            user(NS, "Nina Solo", None),
            user(XG, "Xavier Gone", None, active=False),
            user(OO, "Olga Old", VP, active=False),
            user(IL, "Ivy Left", OO, active=False),
        ],
        "Group": [
            {"Id": INBOUND, "Name": "Inbound Queue", "DeveloperName": "Inbound_Queue"},
            {"Id": OVERFLOW, "Name": "Overflow Queue", "DeveloperName": "Overflow"},
        ],
    }
)
SLACK_IDS = {
    "victor@example.com": "UVICTOR",
    "maria@example.com": "UMARIA",
    "alice@example.com": "UALICE",
    "bob@example.com": "UBOB",
    "nina@example.com": "UNINA",
    "ops@example.com": "UOPS",
}


def directory(fallback: str | None = "#sales-ops", **changes: Any) -> Directory:
    """The org above, Slack accounts for everyone but Dana, and a fallback channel."""
    settings: dict[str, Any] = {
        "lookups": LOOKUPS,
        "slack_user_for": SLACK_IDS.get,
        "queue_channels": {"Inbound_Queue": "#inbound"},
        "fallback_channel": fallback,
        "default_time_zone": "UTC",
        **changes,
    }
    return Directory(**settings)


def evaluation(owner_id: str | None = AL, record_id: str = "00Q000000000001") -> Evaluation:
    due = utc(2026, 12, 1, 20, 50)
    return Evaluation(
        rule_id="mql-first-touch",
        object="Lead",
        record_id=record_id,
        name="Ada Lovelace",
        owner_id=owner_id,
        state=State.BREACHED,
        clock_start=due - timedelta(hours=1),
        due=due,
        overdue=timedelta(hours=1, minutes=5),
        tier=1,
        next_change=None,
        explanation="clock started: ...",
        fields={"Id": record_id, "Name": "Ada Lovelace", "OwnerId": owner_id},
    )


def recipient(to: str) -> Recipient:
    if to.startswith("#"):
        return Recipient("channel", to)
    if "@" in to:
        return Recipient("email", to)
    return Recipient(to)  # type: ignore[arg-type]


def notification(
    to: str = "owner",
    via: str = "slack",
    owner_id: str | None = AL,
    record_id: str = "00Q000000000001",
) -> Notification:
    return Notification(
        kind=Kind.BREACH,
        rule_id="mql-first-touch",
        rule_title="New MQL not touched within 1 business hour",
        evaluation=evaluation(owner_id, record_id),
        recipient=recipient(to),
        channel=via,  # type: ignore[arg-type]
        template="nudge",
        tier=1,
    )


def fallback(reason: str) -> Address:
    return Address("slack", "#sales-ops", reason, "#sales-ops", "UTC", fallback=True)


class TestPeople:
    def test_owner_on_slack(self) -> None:
        """The owner is DMed as the Slack user found by their Salesforce email."""
        assert resolve(notification(), directory()) == Address(
            "slack", "UALICE", "owner Alice Chen", "Alice Chen", NY
        )

    def test_owner_by_email(self) -> None:
        """By email, the owner gets their Salesforce address."""
        assert resolve(notification(via="email"), directory()) == Address(
            "email", "alice@example.com", "owner Alice Chen", "Alice Chen", NY
        )

    def test_manager(self) -> None:
        """The manager is the owner's User.ManagerId."""
        assert resolve(notification("manager"), directory()) == Address(
            "slack", "UMARIA", "manager Maria Garcia of owner Alice Chen", "Maria Garcia", NY
        )

    def test_skip_level_manager(self) -> None:
        """The skip-level manager is the manager's manager."""
        address = resolve(notification("skip_level_manager"), directory())
        assert address == Address(
            "slack",
            "UVICTOR",
            "skip-level manager Victor Vance of owner Alice Chen",
            "Victor Vance",
            NY,
        )

    def test_missing_manager(self) -> None:
        """An owner without a manager sends the escalation to the fallback channel."""
        assert resolve(notification("manager", owner_id=NS), directory()) == fallback(
            "owner Nina Solo has no manager; sent to the fallback channel #sales-ops"
        )

    def test_missing_skip_level_manager(self) -> None:
        """A manager without a manager means no skip-level: the fallback, saying so."""
        assert resolve(notification("skip_level_manager", owner_id=MG), directory()) == fallback(
            "manager Victor Vance of owner Maria Garcia has no manager, so there is no "
            "skip-level manager; sent to the fallback channel #sales-ops"
        )

    def test_manager_not_among_users_read(self) -> None:
        """A ManagerId pointing at a user the pass did not read is said as such."""
        lookups = Snapshot({"User": [user(AL, "Alice Chen", MG)]})
        address = resolve(notification("manager"), directory(lookups=lookups))
        assert address.reason == (
            "owner Alice Chen has a manager 005000000000MG1 who is not among the users read; "
            "sent to the fallback channel #sales-ops"
        )

    def test_unknown_owner(self) -> None:
        """An owner Id missing from the lookups goes to the fallback."""
        address = resolve(notification(owner_id="005000000000ZZ9"), directory())
        assert address == fallback(
            "owner 005000000000ZZ9 is not among the users read; "
            "sent to the fallback channel #sales-ops"
        )

    def test_eighteen_character_ids(self) -> None:
        """An 18-character owner Id finds the 15-character User Id of a snapshot."""
        address = resolve(notification(owner_id=AL + "AAA"), directory())
        assert address.target == "UALICE"


class TestInactive:
    def test_inactive_owner_goes_to_their_manager(self) -> None:
        """An owner who left is replaced by their manager, and the reason says so."""
        assert resolve(notification(owner_id=BB), directory()) == Address(
            "slack",
            "UMARIA",
            "owner Bob Okafor is inactive; sent to their manager Maria Garcia",
            "Maria Garcia",
            NY,
        )

    def test_inactive_owner_without_manager(self) -> None:
        """An inactive owner without a manager sends to the fallback channel."""
        assert resolve(notification(owner_id=XG), directory()) == fallback(
            "owner Xavier Gone is inactive and has no manager; "
            "sent to the fallback channel #sales-ops"
        )

    def test_inactive_owner_and_inactive_manager(self) -> None:
        """Replacement goes one level up only: an inactive manager too means the fallback."""
        assert resolve(notification(owner_id=IL), directory()) == fallback(
            "owner Ivy Left is inactive and so is their manager Olga Old; "
            "sent to the fallback channel #sales-ops"
        )

    def test_inactive_manager_goes_to_their_manager(self) -> None:
        """An inactive manager is replaced the same way as an inactive owner."""
        address = resolve(notification("manager", owner_id=IL), directory())
        assert address.target == "UVICTOR"
        assert address.reason == (
            "manager Olga Old of owner Ivy Left is inactive; sent to their manager Victor Vance"
        )

    def test_missing_is_active_counts_as_active(self) -> None:
        """A User read without IsActive is not taken for inactive."""
        record = {k: v for k, v in user(AL, "Alice Chen", MG).items() if k != "IsActive"}
        address = resolve(notification(), directory(lookups=Snapshot({"User": [record]})))
        assert address.target == "UALICE"


class TestQueues:
    def test_queue_with_a_channel(self) -> None:
        """A queue-owned record goes to the queue's channel, keyed by DeveloperName."""
        assert resolve(notification(owner_id=INBOUND), directory()) == Address(
            "slack",
            "#inbound",
            "the owner is queue Inbound Queue; sent to its channel #inbound",
            "Inbound Queue",
            "UTC",
        )

    def test_queue_channel_by_group_id(self) -> None:
        """The queue's Group Id works as the key too."""
        routing = directory(queue_channels={OVERFLOW: "#overflow"})
        assert resolve(notification(owner_id=OVERFLOW), routing).target == "#overflow"

    def test_queue_without_a_channel(self) -> None:
        """A queue without a channel sends to the fallback channel."""
        assert resolve(notification(owner_id=OVERFLOW), directory()) == fallback(
            "the owner is queue Overflow Queue, which has no channel in queue_channels; "
            "sent to the fallback channel #sales-ops"
        )

    def test_queue_by_email_goes_to_slack(self) -> None:
        """A queue has no mailbox here: its channel is used, and the reason says so."""
        address = resolve(notification(via="email", owner_id=INBOUND), directory())
        assert (address.channel, address.target) == ("slack", "#inbound")
        assert address.reason.endswith("on Slack (a queue has no email address here)")

    def test_queue_has_no_manager(self) -> None:
        """An escalation to the manager of a queue-owned record goes to the fallback."""
        assert resolve(notification("skip_level_manager", owner_id=INBOUND), directory()) == (
            fallback(
                "the owner is queue Inbound Queue, which has no skip-level-manager; "
                "sent to the fallback channel #sales-ops"
            )
        )


class TestSlackAccounts:
    def test_no_slack_account_is_emailed(self) -> None:
        """A rep without a Slack account gets the nudge by email, in a valid time zone."""
        assert resolve(notification(owner_id=DD), directory()) == Address(
            "email",
            "dana@example.com",
            "owner Dana Diaz; no Slack account for dana@example.com, so sent by email",
            "Dana Diaz",
            "UTC",
        )

    def test_no_email_on_slack(self) -> None:
        """Without an email there is no Slack account to find: the fallback channel."""
        assert resolve(notification(owner_id=CM), directory()) == fallback(
            "owner Carl Mute; Carl Mute has no email address to find on Slack; "
            "sent to the fallback channel #sales-ops"
        )

    def test_no_email_by_email(self) -> None:
        """An email to a person without an address goes to the fallback channel on Slack."""
        assert resolve(notification(via="email", owner_id=CM), directory()) == fallback(
            "owner Carl Mute; Carl Mute has no email address; "
            "sent to the fallback channel #sales-ops"
        )

    def test_lookup_failure_is_not_rerouted(self) -> None:
        """When Slack cannot say (an outage), the error propagates: retry, don't email."""

        def failing(email: str) -> str | None:
            raise DeliveryError("slack down", retryable=True, code="http_503")

        with pytest.raises(DeliveryError) as caught:
            resolve(notification(), directory(slack_user_for=failing))
        assert caught.value.retryable


class TestExplicitRecipients:
    def test_channel(self) -> None:
        """A #channel goes to that channel, in the rule calendar's zone when known."""
        routing = directory(rule_time_zones={"mql-first-touch": NY})
        assert resolve(notification("#sales-leadership"), routing) == Address(
            "slack", "#sales-leadership", "channel #sales-leadership", "#sales-leadership", NY
        )

    def test_channel_by_email_goes_to_slack(self) -> None:
        """A channel has no mailbox: it is posted to on Slack, and the reason says so."""
        address = resolve(notification("#sales-leadership", via="email"), directory())
        assert (address.channel, address.target) == ("slack", "#sales-leadership")
        assert address.reason == (
            "channel #sales-leadership (a Slack channel, so on Slack although the rule says email)"
        )

    def test_email_address(self) -> None:
        """An address is mailed; a User with that email lends their name and zone."""
        assert resolve(notification("Maria@example.com", via="email"), directory()) == Address(
            "email", "Maria@example.com", "address Maria@example.com", "Maria Garcia", NY
        )

    def test_email_address_on_slack(self) -> None:
        """Via Slack, an address with a Slack account is DMed."""
        address = resolve(notification("ops@example.com"), directory())
        assert address == Address(
            "slack", "UOPS", "address ops@example.com (their Slack account)", None, "UTC"
        )

    def test_email_address_without_slack_account(self) -> None:
        """Via Slack, an address without a Slack account is mailed."""
        address = resolve(notification("boss@example.org"), directory())
        assert (address.channel, address.target) == ("email", "boss@example.org")
        assert (
            address.reason == "address boss@example.org; no Slack account for it, so sent by email"
        )


class TestNoFallback:
    def test_unroutable_raises(self) -> None:
        """Nobody and no fallback: a permanent DeliveryError carrying the whole reason."""
        with pytest.raises(RoutingError) as caught:
            resolve(notification(owner_id=OVERFLOW), directory(fallback=None))
        error = caught.value
        assert isinstance(error, DeliveryError)
        assert (error.retryable, error.code) == (False, "no_recipient")
        assert str(error) == (
            "the owner is queue Overflow Queue, which has no channel in queue_channels, "
            "and no fallback channel is configured (slack.fallback_channel)"
        )

    def test_record_without_owner(self) -> None:
        """A record with no OwnerId at all still reaches the fallback."""
        assert resolve(notification(owner_id=None), directory()) == fallback(
            "the record has no owner; sent to the fallback channel #sales-ops"
        )


class TestTimeZones:
    def test_person_zone(self) -> None:
        """A person's TimeZoneSidKey is their address's zone."""
        lookups = Snapshot({"User": [user(BB, "Bob Okafor", MG, zone=CHI)]})
        assert resolve(notification(owner_id=BB), directory(lookups=lookups)).time_zone == CHI

    def test_unknown_zone_falls_back(self) -> None:
        """A zone zoneinfo does not know falls back to the rule's zone, so rendering works."""
        routing = directory(rule_time_zones={"mql-first-touch": NY})
        assert resolve(notification(owner_id=DD), routing).time_zone == NY


class TestRoute:
    def test_same_person_twice_is_merged(self) -> None:
        """An inactive owner's nudge and the manager's copy both land on Maria: one message,
        carrying both notifications and both reasons."""
        first, second = notification(owner_id=BB), notification("manager", owner_id=BB)
        routing = route([first, second], directory())
        assert routing.unroutable == ()
        (only,) = routing.routes
        assert only.notifications == (first, second)
        assert only.address.target == "UMARIA"
        assert only.address.reason == (
            "owner Bob Okafor is inactive; sent to their manager Maria Garcia; "
            "also manager Maria Garcia of owner Bob Okafor"
        )

    def test_channel_by_slack_and_email_is_one_post(self) -> None:
        """``to: "#x", via: [slack, email]`` posts once."""
        both = [notification("#leads"), notification("#leads", via="email")]
        (only,) = route(both, directory()).routes
        assert len(only.notifications) == 2

    def test_direct_and_fallback_to_one_channel_merge(self) -> None:
        """A fallback that is also a named channel posts once, and is not marked fallback."""
        both = [notification("#sales-ops"), notification("manager", owner_id=NS)]
        (only,) = route(both, directory()).routes
        assert not only.address.fallback

    def test_slack_and_email_to_one_person_stay_two(self) -> None:
        """The rule asked for both channels: both are sent."""
        both = [notification("manager"), notification("manager", via="email")]
        assert len(route(both, directory()).routes) == 2

    def test_different_records_stay_apart(self) -> None:
        """The same rep with two late leads gets two messages."""
        two = [notification(), notification(record_id="00Q000000000002")]
        assert len(route(two, directory()).routes) == 2

    def test_unroutable_is_listed_not_dropped(self) -> None:
        """Without a fallback, the unroutable notification is returned with its error."""
        lost, fine = notification(owner_id=OVERFLOW), notification()
        routing = route([lost, fine], directory(fallback=None))
        assert [r.notifications for r in routing.routes] == [(fine,)]
        (failure,) = routing.unroutable
        assert failure.notification == lost
        assert isinstance(failure.error, RoutingError)


class TestOwnerOf:
    def test_user(self) -> None:
        """A User owner gives their name and email."""
        assert owner_of(evaluation(), LOOKUPS) == Owner(AL, "Alice Chen", "alice@example.com")

    def test_queue(self) -> None:
        """A queue owner is marked as a queue."""
        assert owner_of(evaluation(INBOUND), LOOKUPS) == Owner(INBOUND, "Inbound Queue", None, True)

    def test_unknown_owner_shows_the_id(self) -> None:
        """Without lookups the owner's Id stands in for the name."""
        assert owner_of(evaluation(), Snapshot({})).name == AL


class TestCarriedPeople:
    """The owner's chain travels inside the notification, so a send long after the pass (a
    restart, quiet hours) routes as the pass would have."""

    @pytest.mark.parametrize("owner", [AL, BB, CM, DD, NS, XG, IL, INBOUND, OVERFLOW, None])
    @pytest.mark.parametrize("to", ["owner", "manager", "skip_level_manager"])
    def test_routes_as_with_the_pass_lookups(self, owner: str | None, to: str) -> None:
        """Every routing case gives the same address from the carried chain alone."""
        carried = with_people(evaluation(owner), LOOKUPS)
        for via in ("slack", "email"):
            n = notification(to, via, owner)
            expected = _address_or_error(n, directory())
            alone = directory(lookups=people_of(carried))
            assert _address_or_error(replace(n, evaluation=carried), alone) == expected

    def test_chain_is_nested_like_salesforce(self) -> None:
        """The owner, manager and skip-level manager nest as ``Owner.Manager.Manager``."""
        fields = with_people(evaluation(AL), LOOKUPS).fields
        assert fields["Owner"]["Name"] == "Alice Chen"
        assert fields["Owner"]["Manager"]["Name"] == "Maria Garcia"
        assert fields["Owner"]["Manager"]["Manager"]["Name"] == "Victor Vance"
        assert "Manager" not in fields["Owner"]["Manager"]["Manager"]

    def test_unknown_owner_is_left_alone(self) -> None:
        """An owner the lookups do not know adds nothing."""
        plain = evaluation("005000000000ZZ1")
        assert with_people(plain, LOOKUPS) is plain
        assert people_of(plain).records("User") == []


def _address_or_error(n: Notification, d: Directory) -> Address | str:
    try:
        return resolve(n, d)
    except RoutingError as error:
        return str(error)
