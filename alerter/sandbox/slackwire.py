"""How Slack reads a Web API call and how it answers one, for the Slack fake.

Slack takes a method's parameters from the query string and from a JSON or form body, and the
token from an ``Authorization: Bearer`` header or a ``token`` field; ``blocks`` in a form arrive
as a JSON string. Every refusal is ``{"ok": false, "error": ...}``, with HTTP 200.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import parse_qsl

from alerter.sandbox.tls import Reply, Request

_JSON = "application/json; charset=utf-8"


class Refused(Exception):
    """A Slack error answer: ``{"ok": false, "error": ...}`` plus any detail fields."""

    def __init__(self, error: str, **detail: Any) -> None:
        super().__init__(error)
        self.error, self.detail = error, detail


def parse(request: Request) -> tuple[dict[str, Any], str | None]:
    """The call's parameters (query, then body) and its token, as Slack reads them."""
    params: dict[str, Any] = dict(parse_qsl(request.query, keep_blank_values=True))
    kind = _content_type(request)
    if request.body and kind == "application/json":
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise Refused("invalid_json") from None
        if not isinstance(payload, dict):
            raise Refused("invalid_json")
        params.update(payload)
    elif request.body and kind == "application/x-www-form-urlencoded":
        params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
    elif request.body:
        raise Refused("invalid_post_type" if kind else "missing_post_type")
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    form_token = params.pop("token", None)
    token = bearer.strip() if scheme.lower() == "bearer" else form_token
    if isinstance(params.get("blocks"), str):  # left a string if not JSON: invalid_blocks_format
        with contextlib.suppress(ValueError):
            params["blocks"] = json.loads(params["blocks"])
    return params, token if isinstance(token, str) else None


def as_received(request: Request, params: dict[str, Any]) -> bytes:
    """A message for the outbox: a JSON body byte for byte when it holds the whole call; else
    (a form body, parameters in the query, a token in the body) the parameters as Slack read
    them, as JSON with ``blocks`` decoded and without the token."""
    whole = not request.query and _content_type(request) == "application/json"
    if whole and "token" not in json.loads(request.body):  # parsed once already: an object
        return request.body
    return json.dumps(params, indent=2).encode()


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def json_reply(
    data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Reply:
    """A Slack answer: JSON, whatever the status."""
    return Reply(status, json.dumps(data).encode(), _JSON, headers or {})


def answer(refused: Refused) -> Reply:
    """A refusal as Slack sends it: HTTP 200 with ``ok`` false."""
    return json_reply({"ok": False, "error": refused.error, **refused.detail})
