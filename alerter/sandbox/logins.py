"""Logins to the emulator: SOAP ``login`` and the OAuth token endpoint, answered the way
Salesforce answers them so simple-salesforce's own login code runs unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import jwt

from alerter.sandbox.tls import Reply

ORG_ID = "00D000000000EMU"
USER_ID = "005000000000EMU"
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_BAD_GRANT = {"error": "invalid_grant", "error_description": "authentication failure"}
_NO_GRANT = {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
_XML = "text/xml;charset=UTF-8"
_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:fault.partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{}</soapenv:Body>'
    "</soapenv:Envelope>"
)
_LOGIN_FAULT = _ENVELOPE.format(
    "<soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid "
    "username, password, security token; or user locked out.</faultstring><detail>"
    '<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>'
    "<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
    "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
)


@dataclass(frozen=True)
class Credentials:
    """What the emulator accepts at login; the defaults suit a demo, tests pass their own."""

    username: str = "alerter@example.com"
    password: str = "sandbox-password"
    security_token: str = "sandbox-token"
    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: str = "sandbox-consumer-secret"
    jwt_public_key: str | bytes | None = None
    """PEM public key of the connected app's certificate; without it JWT logins fail."""
    jwt_audiences: tuple[str, ...] = JWT_AUDIENCES

    def user_ok(self, username: str | None, password: str | None) -> bool:
        """A user's login: the password is followed by the security token, as Salesforce wants
        from outside the org's trusted IP ranges."""
        return username == self.username and password == self.password + self.security_token

    def client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        """The connected app's key and secret."""
        return client_id == self.consumer_key and client_secret == self.consumer_secret

    def assertion_ok(self, assertion: str) -> bool:
        """A JWT bearer assertion: RS256 by the app's key, for our user, not expired."""
        if self.jwt_public_key is None:
            return False
        try:
            claims = jwt.decode(
                assertion,
                self.jwt_public_key,
                algorithms=["RS256"],
                audience=list(self.jwt_audiences),
                issuer=self.consumer_key,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.InvalidTokenError:
            return False
        return bool(claims["sub"] == self.username)


def soap_login(
    credentials: Credentials, version: str, body: bytes, url: str, new_session: Callable[[], str]
) -> Reply:
    """The SOAP ``login`` call: the session and the server URL the client then talks to."""
    try:
        login = ET.fromstring(body).find(".//{*}login")
    except ET.ParseError:
        login = None
    username = login.findtext("{*}username") if login is not None else None
    password = login.findtext("{*}password") if login is not None else None
    if not credentials.user_ok(username, password):
        return Reply(500, _LOGIN_FAULT.encode(), _XML)
    soap = f"{url}/services/Soap"
    user = f"<userId>{USER_ID}</userId>"
    result = (
        f"<metadataServerUrl>{soap}/m/{version}/{ORG_ID}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{soap}/u/{version}/{ORG_ID}</serverUrl>"
        f"<sessionId>{new_session()}</sessionId>{user}<userInfo>"
        f"<organizationId>{ORG_ID}</organizationId>{user}"
        f"<userName>{escape(credentials.username)}</userName></userInfo>"
    )
    xml = _ENVELOPE.format(f"<loginResponse><result>{result}</result></loginResponse>")
    return Reply(200, xml.encode(), _XML)


def oauth_token(
    credentials: Credentials,
    headers: Mapping[str, str],
    body: bytes,
    url: str,
    new_session: Callable[[], str],
) -> Reply:
    """The OAuth token endpoint: password, client-credentials and JWT-bearer grants."""
    form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    grant, creds = form.get("grant_type"), credentials
    if grant == "password":
        ok = creds.client_ok(form.get("client_id"), form.get("client_secret"))
        ok = ok and creds.user_ok(form.get("username"), form.get("password"))
    elif grant == "client_credentials":  # the app's key and secret, in a form or Basic auth
        basic = _basic_auth(headers.get("authorization", ""))
        ok = creds.client_ok(form.get("client_id", basic[0]), form.get("client_secret", basic[1]))
    elif grant == _JWT_GRANT:
        ok = creds.assertion_ok(form.get("assertion", ""))
    else:
        return _json(400, _NO_GRANT)
    if not ok:
        return _json(400, _BAD_GRANT)
    issued_at = str(int(time.time() * 1000))
    identity = f"{url}/id/{ORG_ID}/{USER_ID}"
    # Salesforce signs id + issued_at with the app's secret so the app can check the reply.
    signature = hmac.digest(
        creds.consumer_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
    )
    token = {
        "access_token": new_session(),
        "instance_url": url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(signature).decode(),
    }
    return _json(200, token)


def _json(status: int, payload: object) -> Reply:
    return Reply(status, json.dumps(payload).encode())


def _basic_auth(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    try:
        user, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        return None, None
    return (user, secret) if scheme.lower() == "basic" else (None, None)
