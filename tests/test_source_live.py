"""The live source: the real simple-salesforce client against the emulator over HTTPS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from structlog.testing import capture_logs

from alerter.conditions import FieldCondition
from alerter.delivery.templates import Templates
from alerter.delivery.uses import template_fields
from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.errors import ConfigurationError, SourceError
from alerter.evaluate import Evaluation, evaluate
from alerter.loader import load_rules
from alerter.records import Snapshot
from alerter.sandbox.client import MY_DOMAIN
from alerter.sandbox.generate import generate_org
from alerter.sandbox.logins import Credentials
from alerter.sandbox.org import Org
from alerter.sandbox.run import emulator_settings
from alerter.sandbox.server import SalesforceEmulator
from alerter.source.live import evaluate_live
from alerter.source.salesforce import SalesforceSource

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
SHIPPED = load_rules([RULES_DIR]).rules
SHIPPED_BY_ID = {rule.id: rule for rule in SHIPPED}
TEMPLATES = Templates(RULES_DIR.parent / "templates")
PASSWORD, TOKEN, SECRET = "pa55-word-XYZ", "tok-ABC-123", "consumer-secret-QRS"


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(demo_snapshot_path().read_text(encoding="utf-8"))
    return data


def key(evaluation: Evaluation) -> tuple[Any, ...]:
    """What must agree between a snapshot and a live org (not the owner lookups)."""
    e = evaluation
    return (e.rule_id, e.record_id, e.state, e.tier, e.clock_start, e.due, e.overdue, e.explanation)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key for the module: generating one costs more than a test should."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def credentials(rsa_key: rsa.RSAPrivateKey) -> Credentials:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Credentials(
        username="ops@example.com",
        password=PASSWORD,
        security_token=TOKEN,
        consumer_key="app-key",
        consumer_secret=SECRET,
        jwt_public_key=public.decode(),
    )


@pytest.fixture
def emulator(rsa_key: rsa.RSAPrivateKey) -> Iterator[SalesforceEmulator]:
    """The demo org in pages of 2 records, frozen at the demo moment."""
    org = Org(demo_data(), clock=lambda: DEMO_AT)
    with SalesforceEmulator(org, credentials=credentials(rsa_key), page_size=2) as running:
        yield running


def connect(emulator: SalesforceEmulator, **overrides: Any) -> SalesforceSource:
    """A connected source with no back-off delay (the retry count is unchanged)."""
    source = SalesforceSource(emulator_settings(emulator, retry_wait=0, **overrides))
    source.connect()
    return source


def logins(emulator: SalesforceEmulator) -> int:
    return sum(1 for r in emulator.requests if "/Soap/u/" in r.path or "oauth2/token" in r.path)


class TestLogin:
    def test_username_password_and_token(self, emulator: SalesforceEmulator) -> None:
        """The SOAP login sends password and security token; the client then queries."""
        source = connect(emulator)
        assert source.client.auth_type == "password"
        assert len(source.records_by_id("User", ["Id"], ["005000000000AL1"])) == 1

    def test_oauth_password_flow(self, emulator: SalesforceEmulator) -> None:
        """A connected app's key and secret with the user's password use the OAuth flow."""
        source = connect(emulator, consumer_key="app-key", consumer_secret=SecretStr(SECRET))
        assert source.records_by_id("User", ["Id"], ["005000000000AL1"])
        assert any("oauth2/token" in r.path for r in emulator.requests)

    def test_client_credentials(self, emulator: SalesforceEmulator) -> None:
        """Key and secret alone log in as the app's run-as user (needs a My Domain)."""
        source = connect(
            emulator,
            username=None,
            password=None,
            consumer_key="app-key",
            consumer_secret=SecretStr(SECRET),
            domain=MY_DOMAIN,
        )
        assert source.client.auth_type == "client-credentials"

    def test_jwt_bearer(
        self, emulator: SalesforceEmulator, rsa_key: rsa.RSAPrivateKey, tmp_path: Path
    ) -> None:
        """A private key file signs a JWT assertion for the user."""
        key_file = tmp_path / "server.key"
        key_file.write_bytes(
            rsa_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        source = connect(emulator, password=None, consumer_key="app-key", private_key_file=key_file)
        assert source.client.auth_type == "jwt-bearer"

    def test_given_session(self, emulator: SalesforceEmulator) -> None:
        """A session id and instance URL are used as they are, without a login."""
        source = connect(
            emulator,
            username=None,
            session_id=SecretStr(emulator.issue_session()),
            instance_url=emulator.instance_url,
        )
        assert source.records_by_id("User", ["Id"], ["005000000000AL1"])
        assert logins(emulator) == 0

    def test_wrong_password(self, emulator: SalesforceEmulator) -> None:
        """A refused login is a SourceError naming Salesforce's code."""
        source = SalesforceSource(emulator_settings(emulator, password=SecretStr("nope")))
        with pytest.raises(SourceError, match="Salesforce login failed: INVALID_LOGIN"):
            source.connect()

    def test_no_credentials(self, emulator: SalesforceEmulator) -> None:
        """Settings without any kind of credentials are a configuration error."""
        source = SalesforceSource(emulator_settings(emulator, username=None, password=None))
        with pytest.raises(ConfigurationError, match="no Salesforce credentials"):
            source.connect()

    def test_secrets_never_logged(self, emulator: SalesforceEmulator) -> None:
        """Logging in and a whole pass log no password, token or session id."""
        with capture_logs() as logs:
            source = connect(emulator)
            evaluate_live(SHIPPED, source, DEMO_AT)
        text = repr(logs)
        assert logs
        for secret in (PASSWORD, TOKEN, source.client.session_id):
            assert secret not in text


class TestLivePass:
    def test_same_answer_as_the_snapshot(self, emulator: SalesforceEmulator) -> None:
        """The shipped rules say the same about the demo org live as from its snapshot file."""
        result = evaluate_live(SHIPPED, connect(emulator), DEMO_AT)
        expected = evaluate(SHIPPED, Snapshot(demo_data()), DEMO_AT)
        assert result.error is None
        assert sorted(map(key, result.evaluations)) == sorted(map(key, expected))

    def test_pages_are_followed(self, emulator: SalesforceEmulator) -> None:
        """With 2 records a page, the 14-lead aging rule reads 7 pages through nextRecordsUrl."""
        aging = [r for r in SHIPPED if r.id == "no-activity-30-days"]
        result = evaluate_live(aging, connect(emulator), DEMO_AT)
        cursor_pages = [r for r in emulator.requests if "/query/01g" in r.path]
        assert len(result.evaluations) == 12  # 14 leads less the converted and unqualified ones
        assert len(cursor_pages) >= 5

    def test_owners_are_fetched_once_with_managers(self, emulator: SalesforceEmulator) -> None:
        """Owners, their managers and skip-level managers, and queues come back for lookups."""
        result = evaluate_live(SHIPPED, connect(emulator), DEMO_AT)
        users = {u["Id"] for u in result.owners.records("User")}
        assert users == {"005000000000AL1", "005000000000BB1", "005000000000MG1", "005000000000VP1"}
        assert [g["Id"] for g in result.owners.records("Group")] == ["00G000000000IQ1"]

    def test_fields_messages_show_are_selected(self, emulator: SalesforceEmulator) -> None:
        """Fields the templates read come back with the records; one the org lacks is left
        out of the query instead of failing the rule."""
        shown = {"mql-first-touch": template_fields(SHIPPED_BY_ID["mql-first-touch"], TEMPLATES)}
        assert "Company" in shown["mql-first-touch"]
        shown["mql-first-touch"] |= {"Industry_Segment__c", "Owner.Email"}
        rule = [SHIPPED_BY_ID["mql-first-touch"]]
        result = evaluate_live(rule, connect(emulator), DEMO_AT, shown=shown)
        assert result.error is None
        assert not result.disabled
        companies = {e.fields.get("Company") for e in result.evaluations}
        assert None not in companies
        assert len(companies) > 1
        soql = next(parse_qs(r.query)["q"][0] for r in emulator.requests if "q=" in r.query)
        assert "Company" in soql
        assert "Owner.Email" in soql
        assert "Industry_Segment__c" not in soql

    def test_owners_are_reused_for_a_while(self, emulator: SalesforceEmulator) -> None:
        """Owners read less than ``owner_cache`` seconds ago cost no call (a wake-up is then one
        query); after that they are read again, managers included."""
        clock = [1000.0]
        source = SalesforceSource(
            emulator_settings(emulator, retry_wait=0, owner_cache=300),
            monotonic=lambda: clock[0],
        )
        source.connect()
        owner = ["005000000000AL1"]
        first = source.owners(owner)
        calls = source.counter.calls
        clock[0] += 299.9
        assert source.owners(owner) == first
        assert source.counter.calls == calls
        clock[0] += 0.1
        assert sorted(u["Id"] for u in source.owners(owner)) == sorted(u["Id"] for u in first)
        assert source.counter.calls == calls + 3  # Alice, her manager, his manager

    def test_targeted_recheck(self, emulator: SalesforceEmulator) -> None:
        """Given Ids, only those records are read and evaluated."""
        ids = ["00Q0000000DEM02", "00Q0000000DEM03"]
        rule = [r for r in SHIPPED if r.id == "mql-first-touch"]
        result = evaluate_live(rule, connect(emulator), DEMO_AT, ids=ids)
        assert sorted(e.record_id for e in result.evaluations) == ids

    def test_expired_session_logs_in_again(self, emulator: SalesforceEmulator) -> None:
        """An expired session is renewed by logging in again, and the pass completes."""
        source = connect(emulator)
        emulator.expire_sessions()
        result = evaluate_live(SHIPPED, source, DEMO_AT)
        assert result.error is None
        assert len(result.evaluations) == 22
        assert logins(emulator) == 2

    def test_outage_is_retried(self, emulator: SalesforceEmulator) -> None:
        """Two 503s are retried with back-off; the pass then succeeds and says it retried."""
        source = connect(emulator)
        emulator.faults.fail_next(2, status=503)
        with capture_logs() as logs:
            result = evaluate_live(SHIPPED, source, DEMO_AT)
        assert result.error is None
        assert len(result.evaluations) == 22
        assert [e["event"] for e in logs].count("source.retrying") == 2

    def test_rate_limit_is_retried(self, emulator: SalesforceEmulator) -> None:
        """REQUEST_LIMIT_EXCEEDED is a reason to wait and try again, not to give up."""
        source = connect(emulator)
        emulator.faults.fail_next(1, status=403, error_code="REQUEST_LIMIT_EXCEEDED")
        result = evaluate_live(SHIPPED, source, DEMO_AT)
        assert (result.error, len(result.evaluations)) == (None, 22)

    def test_failure_on_a_later_page(self, emulator: SalesforceEmulator) -> None:
        """A 500 on page 2 restarts that rule's read: nothing lost, nothing counted twice."""
        source = connect(emulator)
        emulator.faults.fail_page(2, status=500, times=1)
        result = evaluate_live(SHIPPED, source, DEMO_AT)
        expected = evaluate(SHIPPED, Snapshot(demo_data()), DEMO_AT)
        assert sorted(map(key, result.evaluations)) == sorted(map(key, expected))

    def test_persistent_outage_abandons_the_pass(self, emulator: SalesforceEmulator) -> None:
        """When retries run out the pass ends with an error, logged, and nothing is raised."""
        source = connect(emulator, retry_attempts=3)
        emulator.faults.fail_next(50, status=500)
        with capture_logs() as logs:
            result = evaluate_live(SHIPPED, source, DEMO_AT)
        assert result.error is not None
        assert "UNKNOWN_EXCEPTION" in result.error
        events = [e["event"] for e in logs]
        assert events[-1] == "source.pass_abandoned"
        assert events[-3:-1] == ["source.retrying", "source.retrying"]  # 3 attempts, 2 waits

    def test_unknown_field_disables_only_that_rule(self, emulator: SalesforceEmulator) -> None:
        """A rule naming a field the org lacks is disabled; the other rules still run."""
        broken = SHIPPED[0].model_copy(
            update={
                "id": "broken",
                "where": (FieldCondition(field="MQL_Date_Time__c", is_null=False),),
            }
        )
        with capture_logs() as logs:
            result = evaluate_live([broken, *SHIPPED], connect(emulator), DEMO_AT)
        assert list(result.disabled) == ["broken"]
        assert "INVALID_FIELD" in result.disabled["broken"]
        assert "MQL_Date_Time__c" in result.disabled["broken"]
        assert len(result.evaluations) == 22
        assert "rule.disabled" in [e["event"] for e in logs]

    def test_malformed_query_disables_the_rule(self, emulator: SalesforceEmulator) -> None:
        """MALFORMED_QUERY is the rule's fault too: it is disabled, not retried."""
        source = connect(emulator)
        source.describe("Lead")
        emulator.faults.fail_next(1, status=400, error_code="MALFORMED_QUERY")
        result = evaluate_live(SHIPPED, source, DEMO_AT)
        assert len(result.disabled) == 1
        assert result.error is None

    def test_api_reserve(self, emulator: SalesforceEmulator) -> None:
        """Below the reserve of remaining daily calls the pass stops and says why."""
        source = connect(emulator, api_reserve=1000)
        emulator.daily_used = emulator.daily_limit - 1000  # 999 left after the first call
        with capture_logs() as logs:
            result = evaluate_live(SHIPPED, source, DEMO_AT)
        assert result.error is not None
        assert "below the reserve of 1000" in result.error
        assert "source.budget_reserve_reached" in [e["event"] for e in logs]
        assert result.evaluations == []
        assert result.api_calls == 1  # the one call that asked how many are left


class TestApiCalls:
    def test_touches_cost_no_extra_calls(self, rsa_key: rsa.RSAPrivateKey) -> None:
        """Touches come inside the rule's query: 300 more Tasks on a lead cost no more calls."""

        def calls(data: dict[str, Any]) -> int:
            org = Org(data, clock=lambda: DEMO_AT)
            with SalesforceEmulator(org, credentials=credentials(rsa_key)) as emu:
                return evaluate_live(SHIPPED, connect(emu), DEMO_AT).api_calls

        busy = demo_data()
        busy["Task"] += [
            {**busy["Task"][0], "Id": f"00T00000000X{n:03d}", "WhoId": "00Q0000000DEM11"}
            for n in range(300)
        ]
        assert calls(busy) == calls(demo_data())


class TestHostileValues:
    def test_quotes_and_backslashes_match_only_their_record(
        self, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        """A filter value with ' and \\ and a newline round-trips exactly through SOQL."""
        hostile = "O'Brien \\' OR Name != '' \\\\ and\nmore"
        data = demo_data()
        data["Lead"][0]["Company"] = hostile
        data["Lead"][1]["Company"] = "O'Brien "
        rule = SHIPPED[2].model_copy(
            update={"where": (FieldCondition(field="Company", equals=hostile),)}
        )
        with SalesforceEmulator(
            Org(data, clock=lambda: DEMO_AT), credentials=credentials(rsa_key)
        ) as emu:
            result = evaluate_live([rule], connect(emu), DEMO_AT)
        assert [e.record_id for e in result.evaluations] == [data["Lead"][0]["Id"]]


class TestGeneratedOrg:
    def test_live_equals_snapshot_for_thousands_of_leads(self, rsa_key: rsa.RSAPrivateKey) -> None:
        """3,000 generated leads: the live org and its snapshot give identical evaluations, in
        about R x ceil(M / page size) queries plus a constant."""
        data = generate_org(3000, seed=7)
        now = DEMO_AT
        org = Org(data, clock=lambda: now)
        with SalesforceEmulator(org, credentials=credentials(rsa_key), page_size=500) as emu:
            source = connect(emu)
            result = evaluate_live(SHIPPED, source, now)
            served_calls = emu.api_calls
        expected = evaluate(SHIPPED, Snapshot(data), now)
        assert served_calls == result.api_calls  # the emulator counted what the client did
        assert result.error is None
        assert sorted(map(key, result.evaluations)) == sorted(map(key, expected))
        matched = {r.id: sum(1 for e in expected if e.rule_id == r.id) for r in SHIPPED}
        pages = sum(-(-m // 500) or 1 for m in matched.values())
        assert pages <= result.api_calls <= pages + 1 + 8  # describe + owner lookups
