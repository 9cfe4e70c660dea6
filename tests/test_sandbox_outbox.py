"""The outbox: numbered files of what the Slack fake and the SMTP sink accepted."""

from __future__ import annotations

import json
import smtplib
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from alerter.sandbox.outbox import write_numbered
from alerter.sandbox.slack import DEFAULT_TOKEN, SlackChannel, SlackFake
from alerter.sandbox.smtp import SmtpSink
from alerter.sandbox.tls import LocalCertificate

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme* is waiting"}}]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[SlackFake]:
    with SlackFake(channels=[SlackChannel("C0SLA", "sla-alerts")], outbox=tmp_path) as running:
        yield running


def post(fake: SlackFake, body: bytes, content_type: str, *, query: str = "") -> dict[str, object]:
    """A raw ``chat.postMessage`` with the bot token in the header, and Slack's answer."""
    request = urllib.request.Request(
        f"{fake.url}chat.postMessage{'?' + query if query else ''}",
        data=body,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {DEFAULT_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, object] = json.load(response)
    return answer


def written(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


class TestWriteNumbered:
    def test_first_file_is_0001(self, tmp_path: Path) -> None:
        """An empty (or missing) folder starts at 0001, created on the way."""
        path = write_numbered(tmp_path / "slack", ".json", b"{}")
        assert (path.name, path.read_bytes()) == ("0001.json", b"{}")

    def test_numbering_continues_after_the_highest(self, tmp_path: Path) -> None:
        """Existing files are kept and the next number is one past the highest of that kind."""
        for name in ("0002.json", "0007.json", "0009.eml", "notes.json", "12a.json"):
            (tmp_path / name).write_text("old")
        assert write_numbered(tmp_path, ".json", b"new").name == "0008.json"
        assert (tmp_path / "0007.json").read_text() == "old"

    def test_past_9999_a_fifth_digit(self, tmp_path: Path) -> None:
        """Four digits is a minimum, not a ceiling."""
        (tmp_path / "9999.eml").write_bytes(b"")
        assert write_numbered(tmp_path, ".eml", b"x").name == "10000.eml"
        assert write_numbered(tmp_path, ".eml", b"y").name == "10001.eml"

    def test_concurrent_writers_never_share_a_number(self, tmp_path: Path) -> None:
        """Threads writing at once each get their own file; nothing is lost or overwritten."""

        def writer(n: int) -> None:
            for i in range(25):
                write_numbered(tmp_path, ".json", f"{n}-{i}".encode())

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert written(tmp_path) == [f"{n:04d}.json" for n in range(1, 201)]
        contents = {path.read_text() for path in tmp_path.iterdir()}
        assert contents == {f"{n}-{i}" for n in range(8) for i in range(25)}


class TestSlackOutbox:
    def test_json_body_byte_for_byte(self, fake: SlackFake, tmp_path: Path) -> None:
        """A JSON body is kept exactly as it came, spacing and key order included."""
        body = b'{ "text":"hi",   "channel": "#sla-alerts" }'
        assert post(fake, body, "application/json; charset=utf-8")["ok"] is True
        assert (tmp_path / "slack" / "0001.json").read_bytes() == body

    def test_form_body_as_json_with_blocks_decoded(self, fake: SlackFake, tmp_path: Path) -> None:
        """A form body is written as its fields in JSON, ``blocks`` decoded, the token left out."""
        fields = {
            "token": DEFAULT_TOKEN,
            "channel": "C0SLA",
            "text": "t",
            "blocks": json.dumps(BLOCKS),
        }
        post(fake, urlencode(fields).encode(), "application/x-www-form-urlencoded")
        saved = json.loads((tmp_path / "slack" / "0001.json").read_bytes())
        assert saved == {"channel": "C0SLA", "text": "t", "blocks": BLOCKS}

    def test_token_in_a_json_body_is_not_written(self, fake: SlackFake, tmp_path: Path) -> None:
        """A JSON body carrying a token is written as the parsed call, without the token."""
        body = json.dumps({"token": DEFAULT_TOKEN, "channel": "C0SLA", "text": "t"}).encode()
        post(fake, body, "application/json")
        assert DEFAULT_TOKEN not in (tmp_path / "slack" / "0001.json").read_text()

    def test_query_parameters_are_kept(self, fake: SlackFake, tmp_path: Path) -> None:
        """Parameters in the query string are part of the message written."""
        post(fake, b'{"text": "t"}', "application/json", query="channel=C0SLA")
        saved = json.loads((tmp_path / "slack" / "0001.json").read_bytes())
        assert saved == {"channel": "C0SLA", "text": "t"}

    def test_only_accepted_messages_are_written(self, fake: SlackFake, tmp_path: Path) -> None:
        """Refused posts and other methods leave no file."""
        client = WebClient(token=DEFAULT_TOKEN, base_url=fake.url, retry_handlers=[])
        client.auth_test()
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C0NOPE", text="lost")
        client.chat_postMessage(channel="C0SLA", text="kept")
        assert written(tmp_path / "slack") == ["0001.json"]

    def test_numbered_in_arrival_order_under_load(self, fake: SlackFake, tmp_path: Path) -> None:
        """Messages posted from many threads are numbered in the order the fake accepted them."""

        def sender(n: int) -> None:
            client = WebClient(token=DEFAULT_TOKEN, base_url=fake.url)
            for i in range(10):
                client.chat_postMessage(channel="C0SLA", text=f"{n}-{i}")

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        files = sorted((tmp_path / "slack").iterdir())
        assert [json.loads(path.read_bytes()) for path in files] == fake.messages
        assert len(files) == 40


class TestSmtpOutbox:
    def test_a_restarted_sink_adds_to_the_outbox(self, tmp_path: Path) -> None:
        """A second sink on the same outbox numbers after the first's files, overwriting none."""
        certificate = LocalCertificate.create()
        try:
            for n in (1, 2):
                sink = SmtpSink(security="none", outbox=tmp_path, certificate=certificate)
                with sink, smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
                    client.sendmail(
                        "a@example.com", ["b@example.com"], f"Subject: {n}\r\n\r\nhi\r\n"
                    )
        finally:
            certificate.cleanup()
        assert written(tmp_path / "mail") == ["0001.eml", "0002.eml"]
        assert b"Subject: 1" in (tmp_path / "mail" / "0001.eml").read_bytes()
