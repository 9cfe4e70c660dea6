"""The emulator, exercised only through the real simple-salesforce client over real HTTPS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.util import Usage

from alerter.sandbox.client import MY_DOMAIN, emulator_session, session_for
from alerter.sandbox.logins import Credentials
from alerter.sandbox.org import Org
from alerter.sandbox.server import SalesforceEmulator
from alerter.sandbox.tls import LocalCertificate

VERSION = "60.0"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
LEADS = 10
PAGE = 3  # 10 leads in pages of 3: four pages, the last one short
PASSWORD, TOKEN = "hunter2", "TOKEN123"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key for the module: generating one costs more than a test should."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stranger_key() -> rsa.RSAPrivateKey:
    """A key the emulator does not know."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def credentials(rsa_key: rsa.RSAPrivateKey) -> Credentials:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Credentials(
        username="rep@example.com",
        password=PASSWORD,
        security_token=TOKEN,
        consumer_key="key-1",
        consumer_secret="secret-1",
        jwt_public_key=public.decode(),
    )


class CountingOrg(Org):
    """An org that counts the queries it runs, to show a cursor runs its query once."""

    queries = 0

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        self.queries += 1
        return super().query(soql, include_deleted=include_deleted)


class FakeTimer:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def org() -> CountingOrg:
    leads = [
        {
            "Id": f"00Q0000000LD{n:03d}",
            "LastName": f"Lead {n:02d}",
            "Company": "Acme",
            "Status": "Open",
            "CreatedDate": "2026-12-01T15:00:00.000+0000",
            "SystemModstamp": "2026-12-01T15:00:00.000+0000",
        }
        for n in range(LEADS)
    ]
    return CountingOrg({"Lead": leads}, clock=lambda: NOW)


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def emulator(org: Org, credentials: Credentials, timer: FakeTimer) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(
        org, credentials=credentials, page_size=PAGE, session_ttl=3600, timer=timer
    ) as running:
        yield running


@pytest.fixture
def session(emulator: SalesforceEmulator) -> Iterator[requests.Session]:
    with emulator_session(emulator) as opened:
        yield opened


@pytest.fixture
def sf(session: requests.Session) -> Salesforce:
    """A client logged in with SOAP, as most integrations do."""
    return soap_login(session)


def soap_login(session: requests.Session, password: str = PASSWORD) -> Salesforce:
    return Salesforce(
        username="rep@example.com",
        password=password,
        security_token=TOKEN,
        session=session,
        domain="login",
        version=VERSION,
    )


def direct(emulator: SalesforceEmulator, session: requests.Session) -> Salesforce:
    """A client handed a session id, which cannot log in again by itself."""
    return Salesforce(
        session_id=emulator.issue_session(),
        instance_url=emulator.instance_url,
        session=session,
        version=VERSION,
    )


def lead_ids(sf: Salesforce) -> list[str]:
    return [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Lead ORDER BY Id")]


EVERY_LEAD = [f"00Q0000000LD{n:03d}" for n in range(LEADS)]


class TestLogin:
    def test_soap_login_names_the_emulator_as_instance(
        self, emulator: SalesforceEmulator, sf: Salesforce
    ) -> None:
        """A SOAP login with password and token gives a session on the emulator's address."""
        assert (sf.auth_type, f"https://{sf.sf_instance}") == ("password", emulator.url)
        assert sf.query("SELECT Id FROM Lead LIMIT 1")["totalSize"] == 1

    def test_wrong_password_is_refused(self, session: requests.Session) -> None:
        """A wrong password is the SOAP fault INVALID_LOGIN."""
        with pytest.raises(SalesforceAuthenticationFailed) as failed:
            soap_login(session, password="wrong")
        assert failed.value.code == "INVALID_LOGIN"

    def test_oauth_password_grant(self, session: requests.Session) -> None:
        """The OAuth password grant takes the app's key and secret and password + token."""
        sf = Salesforce(
            username="rep@example.com",
            password=PASSWORD + TOKEN,
            consumer_key="key-1",
            consumer_secret="secret-1",
            session=session,
            domain="test",
            version=VERSION,
        )
        assert lead_ids(sf) == EVERY_LEAD

    def test_oauth_wrong_secret_is_invalid_grant(self, session: requests.Session) -> None:
        """A wrong consumer secret is 400 invalid_grant."""
        with pytest.raises(SalesforceAuthenticationFailed) as failed:
            Salesforce(
                username="rep@example.com",
                password=PASSWORD + TOKEN,
                consumer_key="key-1",
                consumer_secret="wrong",
                session=session,
            )
        assert (failed.value.code, failed.value.auth_message) == (
            "invalid_grant",
            "authentication failure",
        )

    def test_client_credentials(self, session: requests.Session) -> None:
        """Client credentials (sent as HTTP Basic) log in on a My Domain."""
        sf = Salesforce(
            consumer_key="key-1",
            consumer_secret="secret-1",
            domain=MY_DOMAIN,
            session=session,
            version=VERSION,
        )
        assert (sf.auth_type, lead_ids(sf)) == ("client-credentials", EVERY_LEAD)

    def test_jwt_bearer(self, session: requests.Session, rsa_key: rsa.RSAPrivateKey) -> None:
        """A JWT signed with the app's private key logs the user in."""
        sf = Salesforce(
            username="rep@example.com",
            consumer_key="key-1",
            privatekey=private_pem(rsa_key),
            session=session,
            version=VERSION,
        )
        assert (sf.auth_type, lead_ids(sf)) == ("jwt-bearer", EVERY_LEAD)

    def test_jwt_for_another_app_is_refused(
        self, session: requests.Session, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        """An assertion issued for another consumer key is invalid_grant."""
        with pytest.raises(SalesforceAuthenticationFailed) as failed:
            Salesforce(
                username="rep@example.com",
                consumer_key="key-2",
                privatekey=private_pem(rsa_key),
                session=session,
            )
        assert failed.value.code == "invalid_grant"

    def test_jwt_signed_by_another_key_is_refused(
        self, session: requests.Session, stranger_key: rsa.RSAPrivateKey
    ) -> None:
        """An assertion the app's public key does not verify is invalid_grant."""
        with pytest.raises(SalesforceAuthenticationFailed) as failed:
            Salesforce(
                username="rep@example.com",
                consumer_key="key-1",
                privatekey=private_pem(stranger_key),
                session=session,
            )
        assert failed.value.code == "invalid_grant"

    def test_given_session_id(
        self, emulator: SalesforceEmulator, session: requests.Session
    ) -> None:
        """A session id and instance URL are enough, with no login at all."""
        assert lead_ids(direct(emulator, session)) == EVERY_LEAD
        assert emulator.api_calls == len(emulator.requests)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class TestQuery:
    def test_pages_return_every_row_once_in_order(
        self, emulator: SalesforceEmulator, sf: Salesforce, org: CountingOrg
    ) -> None:
        """Four pages of 3 give the 10 leads once each, in order, from a single query run."""
        assert lead_ids(sf) == EVERY_LEAD
        pages = [r for r in emulator.requests if "/query" in r.path]
        assert [r.query.startswith("q=") for r in pages] == [True, False, False, False]
        assert org.queries == 1

    def test_query_all_equals_the_iterator(self, sf: Salesforce) -> None:
        """query_all gathers exactly what query_all_iter yields."""
        result = sf.query_all("SELECT Id, LastName FROM Lead ORDER BY Id")
        assert result["totalSize"] == LEADS
        assert result["records"] == list(
            sf.query_all_iter("SELECT Id, LastName FROM Lead ORDER BY Id")
        )

    def test_first_page_shape(self, sf: Salesforce) -> None:
        """The first page has the total, a page of records and a relative nextRecordsUrl."""
        page = sf.query("SELECT Id FROM Lead ORDER BY Id")
        assert (page["totalSize"], page["done"], len(page["records"])) == (LEADS, False, PAGE)
        assert page["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/01g")
        assert page["nextRecordsUrl"].endswith(f"-{PAGE}")

    def test_later_pages_come_from_the_cursor(self, sf: Salesforce) -> None:
        """A lead created after the first page does not shift the pages that follow."""
        rows = sf.query_all_iter("SELECT Id FROM Lead ORDER BY Id")
        first = next(rows)
        sf.Lead.create({"LastName": "Late", "Company": "Acme"})
        assert [first["Id"], *(r["Id"] for r in rows)] == EVERY_LEAD

    def test_query_all_resource(self, sf: Salesforce) -> None:
        """queryAll (include_deleted) pages through the same cursor paths."""
        rows = sf.query_all("SELECT Id FROM Lead ORDER BY Id", include_deleted=True)
        assert [r["Id"] for r in rows["records"]] == EVERY_LEAD

    def test_malformed_query(self, sf: Salesforce) -> None:
        """The org's MALFORMED_QUERY is a 400 the client raises as a malformed request."""
        with pytest.raises(SalesforceMalformedRequest) as failed:
            sf.query("SELEC Id FROM Lead")
        assert failed.value.content[0]["errorCode"] == "MALFORMED_QUERY"

    def test_unknown_cursor(self, sf: Salesforce) -> None:
        """A locator the emulator never issued is INVALID_QUERY_LOCATOR."""
        with pytest.raises(SalesforceMalformedRequest) as failed:
            sf.query_more(f"/services/data/v{VERSION}/query/01gNOSUCHCURSOR-3", True)
        assert failed.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


class TestSObjects:
    def test_describe(self, sf: Salesforce) -> None:
        """sobjects/Lead/describe lists the Lead's fields."""
        fields = {f["name"] for f in sf.Lead.describe()["fields"]}
        assert {"Id", "LastName", "Status", "SystemModstamp"} <= fields

    def test_global_describe(self, sf: Salesforce) -> None:
        """sobjects/ lists the objects."""
        names = {o["name"] for o in sf.describe()["sobjects"]}
        assert "Lead" in names

    def test_unknown_object(self, sf: Salesforce) -> None:
        """Describing an object the org lacks is a 404."""
        with pytest.raises(SalesforceResourceNotFound):
            sf.Nope__c.describe()

    def test_create_then_query(self, sf: Salesforce) -> None:
        """A created lead answers 201 with its Id and is found by a query."""
        created = sf.Lead.create({"LastName": "Hopper", "Company": "Navy"})
        assert (created["success"], created["errors"]) == (True, [])
        found = sf.query(f"SELECT LastName FROM Lead WHERE Id = '{created['id']}'")
        assert [r["LastName"] for r in found["records"]] == ["Hopper"]

    def test_update_stamps_system_modstamp(self, sf: Salesforce) -> None:
        """An update answers 204 and stamps SystemModstamp from the org's clock."""
        assert sf.Lead.update(EVERY_LEAD[0], {"Status": "MQL"}) == 204
        found = sf.query(f"SELECT Status, SystemModstamp FROM Lead WHERE Id = '{EVERY_LEAD[0]}'")
        record = found["records"][0]
        assert (record["Status"], record["SystemModstamp"]) == (
            "MQL",
            "2026-12-02T15:00:00.000+0000",
        )

    def test_versions_and_limits(self, session: requests.Session, sf: Salesforce) -> None:
        """/services/data/ lists versions up to the org's; limits/ reports the allowance."""
        versions = session.get(f"https://{sf.sf_instance}/services/data/").json()
        assert versions[-1]["version"] == VERSION
        assert sf.limits()["DailyApiRequests"] == {"Max": 100_000, "Remaining": 100_000 - 1}


class TestSessions:
    def test_expired_session_id_raises(
        self, emulator: SalesforceEmulator, session: requests.Session
    ) -> None:
        """A client handed a session id sees INVALID_SESSION_ID once sessions expire."""
        sf = direct(emulator, session)
        emulator.expire_sessions()
        with pytest.raises(SalesforceExpiredSession) as failed:
            sf.query("SELECT Id FROM Lead")
        assert failed.value.content[0]["errorCode"] == "INVALID_SESSION_ID"

    def test_session_ttl(
        self, emulator: SalesforceEmulator, session: requests.Session, timer: FakeTimer
    ) -> None:
        """A session lives session_ttl seconds on the emulator's timer, not one more."""
        sf = direct(emulator, session)
        timer.now += 3599
        sf.query("SELECT Id FROM Lead")
        timer.now += 1
        with pytest.raises(SalesforceExpiredSession):
            sf.query("SELECT Id FROM Lead")

    def test_logged_in_client_logs_in_again(
        self, emulator: SalesforceEmulator, sf: Salesforce
    ) -> None:
        """A client that logged in itself renews an expired session and carries on."""
        emulator.expire_sessions()
        assert lead_ids(sf) == EVERY_LEAD
        logins = [r for r in emulator.requests if r.path.startswith("/services/Soap/")]
        assert len(logins) == 2

    def test_no_authorization(
        self, session: requests.Session, emulator: SalesforceEmulator
    ) -> None:
        """A REST call without a session is 401 INVALID_SESSION_ID, with the usage header."""
        answer = session.get(f"{emulator.url}/services/data/v{VERSION}/limits/")
        assert answer.status_code == 401
        assert answer.json()[0]["errorCode"] == "INVALID_SESSION_ID"
        assert answer.headers["Sforce-Limit-Info"] == "api-usage=0/100000"


class TestAllowance:
    def test_api_usage_from_the_header(self, sf: Salesforce) -> None:
        """Each REST call counts, logins do not; the client reads it from Sforce-Limit-Info."""
        sf.query("SELECT Id FROM Lead LIMIT 1")
        sf.query("SELECT Id FROM Lead LIMIT 1")
        assert sf.api_usage["api-usage"] == Usage(used=2, total=100_000)

    def test_daily_limit(self, emulator: SalesforceEmulator, sf: Salesforce) -> None:
        """Past the daily limit a call is 403 REQUEST_LIMIT_EXCEEDED, and is not counted."""
        emulator.daily_used = emulator.daily_limit - 1
        sf.query("SELECT Id FROM Lead LIMIT 1")
        with pytest.raises(SalesforceRefusedRequest) as failed:
            sf.query("SELECT Id FROM Lead LIMIT 1")
        assert failed.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
        assert emulator.daily_used == emulator.daily_limit

    def test_limit_header_on_refusal(
        self, emulator: SalesforceEmulator, session: requests.Session
    ) -> None:
        """The refusal still carries Sforce-Limit-Info, showing the allowance spent."""
        emulator.daily_used = emulator.daily_limit
        headers = {"Authorization": f"Bearer {emulator.issue_session()}"}
        answer = session.get(f"{emulator.url}/services/data/v{VERSION}/limits/", headers=headers)
        assert (answer.status_code, answer.headers["Sforce-Limit-Info"]) == (
            403,
            "api-usage=100000/100000",
        )

    def test_request_log(self, emulator: SalesforceEmulator, sf: Salesforce) -> None:
        """The log records each request; api_calls leaves the login out."""
        sf.query("SELECT Id FROM Lead LIMIT 1")
        login, query = emulator.requests
        assert (login.method, login.path, login.status) == (
            "POST",
            f"/services/Soap/u/{VERSION}",
            200,
        )
        assert (query.method, query.path, query.status) == (
            "GET",
            f"/services/data/v{VERSION}/query/",
            200,
        )
        assert "q=SELECT" in query.query
        assert emulator.api_calls == 1


class TestFaults:
    def test_failure_on_page_two(self, emulator: SalesforceEmulator, sf: Salesforce) -> None:
        """A 500 on the second page raises, and the same page can be fetched again after."""
        emulator.faults.fail_page(2)
        first = sf.query("SELECT Id FROM Lead ORDER BY Id")
        with pytest.raises(SalesforceGeneralError) as failed:
            sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
        assert failed.value.status == 500
        second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
        assert [r["Id"] for r in second["records"]] == EVERY_LEAD[PAGE : 2 * PAGE]

    def test_fail_next_calls(self, emulator: SalesforceEmulator, sf: Salesforce) -> None:
        """The next N REST calls fail with the armed status; then the org is healthy again."""
        emulator.faults.fail_next(2, status=503)
        for _ in range(2):
            with pytest.raises(SalesforceGeneralError) as failed:
                sf.query("SELECT Id FROM Lead LIMIT 1")
            assert failed.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
        assert sf.query("SELECT Id FROM Lead LIMIT 1")["totalSize"] == 1
        assert emulator.daily_used == 1

    def test_injected_limit_exceeded(self, emulator: SalesforceEmulator, sf: Salesforce) -> None:
        """An injected REQUEST_LIMIT_EXCEEDED is the 403 the client refuses."""
        emulator.faults.fail_next(status=403, error_code="REQUEST_LIMIT_EXCEEDED")
        with pytest.raises(SalesforceRefusedRequest):
            sf.query("SELECT Id FROM Lead LIMIT 1")

    def test_dropped_connection(self, emulator: SalesforceEmulator, sf: Salesforce) -> None:
        """A dropped call is a connection error; the next call gets through."""
        emulator.faults.drop_next()
        with pytest.raises(requests.ConnectionError):
            sf.query("SELECT Id FROM Lead LIMIT 1")
        assert sf.query("SELECT Id FROM Lead LIMIT 1")["totalSize"] == 1
        assert [r.status for r in emulator.requests[1:]] == [None, 200]

    def test_latency(self, emulator: SalesforceEmulator, sf: Salesforce) -> None:
        """Latency delays each answer by at least the set time."""
        emulator.faults.latency = 0.05
        started = time.monotonic()
        sf.query("SELECT Id FROM Lead LIMIT 1")
        assert time.monotonic() - started >= 0.05


class TestTLS:
    def test_client_without_the_ca_fails_verification(self, emulator: SalesforceEmulator) -> None:
        """A client trusting another CA refuses the emulator's certificate."""
        other = LocalCertificate.create()
        try:
            with (
                session_for(emulator.url, other.ca_bundle) as untrusting,
                pytest.raises(requests.exceptions.SSLError),
            ):
                soap_login(untrusting)
        finally:
            other.cleanup()

    def test_refused_handshake_stalls_nobody(
        self, emulator: SalesforceEmulator, sf: Salesforce
    ) -> None:
        """After a client drops out of the handshake, others are still served."""
        with requests.Session() as untrusting:
            untrusting.trust_env = False
            with pytest.raises(requests.exceptions.SSLError):
                untrusting.get(f"{emulator.url}/services/data/")
        assert sf.query("SELECT Id FROM Lead LIMIT 1")["totalSize"] == 1


class TestLifecycle:
    def test_stop_ends_every_thread(self, org: Org, credentials: Credentials) -> None:
        """stop() closes kept-alive connections and joins their threads."""
        before = set(threading.enumerate())
        emulator = SalesforceEmulator(org, credentials=credentials).start()
        with emulator_session(emulator) as session:
            assert session.get(f"{emulator.url}/services/data/").status_code == 200
            emulator.stop()
            assert set(threading.enumerate()) == before

    def test_not_running(self, org: Org) -> None:
        """The URL exists only while serving."""
        with pytest.raises(RuntimeError, match="start"):
            _ = SalesforceEmulator(org).url
