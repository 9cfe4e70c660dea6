"""Templates: a sandbox where a misspelt variable is an error, lead data is never markup, and
the filters say times and deadlines the way a rep reads them.

Templates are written to ``tmp_path`` per test; the context comes from ``message_context`` for
a lead due Tue 01 Dec 15:50 New York, rendered at 16:55 (1 h 5 min overdue).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import utc
from hypothesis import given
from hypothesis import strategies as st

from alerter.delivery.model import Address, Kind, Notification
from alerter.delivery.mrkdwn import Mrkdwn, escape, link
from alerter.delivery.recipients import Owner
from alerter.delivery.render import message_context
from alerter.delivery.templates import TemplateError, Templates, record_url
from alerter.evaluate import Evaluation, State
from alerter.rule import Recipient

DUE = utc(2026, 12, 1, 20, 50)  # Tue 15:50 EST
NOW = utc(2026, 12, 1, 21, 55)  # Tue 16:55 EST
INSTANCE = "https://acme.my.salesforce.com"


def context(
    *,
    fields: dict[str, Any] | None = None,
    zone: str = "America/New_York",
    due: Any = DUE,
    overdue: timedelta | None = timedelta(hours=1, minutes=5),
) -> dict[str, Any]:
    """The context of a Slack nudge to Alice about Ada Lovelace."""
    record = {"Id": "00Q000000000001", "Name": "Ada Lovelace", "Company": "Analytical Engines"}
    evaluation = Evaluation(
        rule_id="mql-first-touch",
        object="Lead",
        record_id="00Q000000000001",
        name="Ada Lovelace",
        owner_id="005000000000AL1",
        state=State.BREACHED,
        clock_start=DUE - timedelta(hours=1),
        due=due,
        overdue=overdue,
        tier=1,
        next_change=None,
        explanation="clock started: Status became MQL at Tue 01 Dec 14:50 EST (history)",
        fields=record if fields is None else fields,
    )
    notification = Notification(
        Kind.BREACH, "mql-first-touch", "New MQL", evaluation, Recipient("owner"), "slack", "t", 1
    )
    address = Address("slack", "UALICE", "owner Alice Chen", "Alice Chen", zone)
    owner = Owner("005000000000AL1", "Alice Chen", "alice@example.com")
    return message_context(notification, address, instance_url=INSTANCE, now=NOW, owner=owner)


def slack(tmp_path: Path, source: str, **changes: Any) -> str:
    """Render a one-off Slack template."""
    (tmp_path / "slack").mkdir(exist_ok=True)
    (tmp_path / "slack" / "t.md.j2").write_text(source)
    return Templates(tmp_path).slack("t", context(**changes))


def email(tmp_path: Path, subject: str, text: str, html: str, **changes: Any) -> Any:
    """Render a one-off email template."""
    folder = tmp_path / "email"
    folder.mkdir(exist_ok=True)
    for part, source in (("subject", subject), ("txt", text), ("html", html)):
        (folder / f"t.{part}.j2").write_text(source)
    return Templates(tmp_path).email("t", context(**changes))


class TestFilters:
    def test_overdue(self, tmp_path: Path) -> None:
        """Past the deadline: how long, in the SLA's kind of time."""
        assert slack(tmp_path, "{{ evaluation | overdue }}") == "1 h 5 min overdue"

    def test_due_in(self, tmp_path: Path) -> None:
        """Before the deadline: how long until it, on the wall clock."""
        later = NOW + timedelta(minutes=10)
        text = slack(tmp_path, "{{ evaluation | overdue }}", due=later, overdue=None)
        assert text == "due in 10 min"

    def test_due_now(self, tmp_path: Path) -> None:
        """At the deadline exactly."""
        text = slack(tmp_path, "{{ evaluation | overdue }}", due=NOW, overdue=timedelta(0))
        assert text == "due now"

    def test_overdue_of_a_timedelta(self, tmp_path: Path) -> None:
        """The filter also takes the overdue amount itself."""
        assert slack(tmp_path, "{{ evaluation.overdue | overdue }}") == "1 h 5 min overdue"

    def test_local_in_the_recipients_zone(self, tmp_path: Path) -> None:
        """A deadline is shown on the recipient's clock."""
        assert slack(tmp_path, "{{ evaluation.due | local }}") == "Tue 01 Dec 15:50 EST"
        chicago = slack(tmp_path, "{{ evaluation.due | local }}", zone="America/Chicago")
        assert chicago == "Tue 01 Dec 14:50 CST"

    def test_local_in_a_given_zone(self, tmp_path: Path) -> None:
        """A zone can be named."""
        assert slack(tmp_path, '{{ now | local("Europe/Berlin") }}') == "Tue 01 Dec 22:55 CET"

    def test_record_url(self, tmp_path: Path) -> None:
        """The record's Lightning page on the instance of the context."""
        url = f"{INSTANCE}/lightning/r/Lead/00Q000000000001/view"
        assert slack(tmp_path, "{{ record | record_url }}") == url
        assert slack(tmp_path, "{{ url }}") == url

    def test_record_url_of_another_object(self, tmp_path: Path) -> None:
        """An Id and an object name give another record's page."""
        text = slack(tmp_path, '{{ "001000000000001" | record_url("Account") }}')
        assert text == f"{INSTANCE}/lightning/r/Account/001000000000001/view"

    def test_record_url_normalises_the_instance(self) -> None:
        """An instance without a scheme or with a trailing slash still gives one URL."""
        url = "https://acme.my.salesforce.com/lightning/r/Lead/00Q1/view"
        assert record_url("acme.my.salesforce.com/", "Lead", "00Q1") == url

    def test_slack_link(self, tmp_path: Path) -> None:
        """A link we build is markup; its text is escaped."""
        text = slack(tmp_path, "{{ url | slack_link(record.Name) }}", fields={"Name": "R&D <x>"})
        assert text == f"<{INSTANCE}/lightning/r/Lead/00Q000000000001/view|R&amp;D &lt;x&gt;>"

    def test_slack_link_refuses_other_schemes(self) -> None:
        """A javascript: URL from data becomes plain text."""
        assert link("javascript:alert(1)", "click") == "click"

    def test_no_slack_link_in_email(self, tmp_path: Path) -> None:
        """slack_link is a Slack filter: an email template using it fails."""
        with pytest.raises(TemplateError, match="No filter named 'slack_link'"):
            email(tmp_path, "s", "{{ url | slack_link }}", "h")


class TestSlackEscaping:
    @pytest.mark.parametrize(
        ("name", "shown"),
        [
            ("<!channel>", "&lt;!channel&gt;"),
            ("<https://evil|click here>", "&lt;https://evil|click here&gt;"),
            ("<@U123>", "&lt;@U123&gt;"),
            ("Smith & Sons", "Smith &amp; Sons"),
        ],
    )
    def test_every_value_is_escaped(self, tmp_path: Path, name: str, shown: str) -> None:
        """Slack's control characters in data are shown, not obeyed."""
        assert slack(tmp_path, "Lead: {{ record.Name }}", fields={"Name": name}) == f"Lead: {shown}"

    def test_template_text_is_markup(self, tmp_path: Path) -> None:
        """The template's own text is the author's markup and is left alone."""
        assert slack(tmp_path, "*{{ record.Name }}* <!here>") == "*Ada Lovelace* <!here>"

    def test_concatenated_link_is_escaped(self, tmp_path: Path) -> None:
        """A link mixed into a string is no longer ours alone: it is escaped, never injected."""
        text = slack(tmp_path, '{{ (url | slack_link) ~ "" }}')
        assert text.startswith("&lt;https://")

    @given(st.text())
    def test_escape_leaves_no_control_characters(self, value: str) -> None:
        """Whatever the data, escaped text has no < or > and reads back as the data."""
        escaped = escape(value)
        assert "<" not in escaped
        assert ">" not in escaped
        assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == value

    def test_safe_does_not_bypass_escaping(self, tmp_path: Path) -> None:
        """jinja's ``safe`` means safe HTML, not safe mrkdwn: Slack escaping still applies."""
        assert slack(tmp_path, "{{ record.Name | safe }}", fields={"Name": "<!channel>"}) == (
            "&lt;!channel&gt;"
        )

    def test_mrkdwn_is_not_escaped_twice(self) -> None:
        """Text already marked safe passes through."""
        assert escape(Mrkdwn("<https://x|y>")) == "<https://x|y>"


class TestEmail:
    def test_html_is_autoescaped(self, tmp_path: Path) -> None:
        """A script in a lead name is shown in the HTML part, not run."""
        parts = email(
            tmp_path,
            "{{ record.Name }}",
            "{{ record.Name }}",
            "<p>{{ record.Name }}</p>",
            fields={"Name": "<script>alert(1)</script>"},
        )
        assert parts.html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        assert parts.text == "<script>alert(1)</script>\n"

    def test_subject_is_one_line(self, tmp_path: Path) -> None:
        """Line breaks in a subject (from data or the template) become spaces."""
        parts = email(tmp_path, "{{ record.Name }}\n  late", "t", "h", fields={"Name": "A\r\nB"})
        assert parts.subject == "A B late"


class TestStrictness:
    def test_misspelt_variable(self, tmp_path: Path) -> None:
        """An unknown variable fails with its name, the template and the file line."""
        with pytest.raises(TemplateError) as caught:
            slack(tmp_path, "Hello\n{{ recod.Name }}")
        assert str(caught.value) == (
            f"template 't' (slack): 'recod' is undefined ({tmp_path}/slack/t.md.j2:2)"
        )

    def test_misspelt_attribute(self, tmp_path: Path) -> None:
        """An unknown key of a context object fails too."""
        with pytest.raises(TemplateError, match="has no attribute 'dew'"):
            slack(tmp_path, "{{ evaluation.dew }}")

    def test_missing_record_field_is_empty(self, tmp_path: Path) -> None:
        """A field the query did not read is empty rather than an error: only the org knows
        which fields exist."""
        assert slack(tmp_path, "[{{ record.Phone }}]{% if record.Phone %}x{% endif %}") == "[]"

    def test_nested_lookup(self, tmp_path: Path) -> None:
        """Parent lookups nested in the record read the same way."""
        fields = {"Owner": {"Name": "Alice Chen"}}
        assert slack(
            tmp_path, "{{ record.Owner.Name }}{{ record.Owner.Title }}", fields=fields
        ) == ("Alice Chen")

    def test_missing_file(self, tmp_path: Path) -> None:
        """A template without its file fails with the path it looked for."""
        with pytest.raises(TemplateError) as caught:
            Templates(tmp_path).slack("nudge", context())
        assert (
            str(caught.value)
            == f"template 'nudge' (slack): no template file {tmp_path}/slack/nudge.md.j2"
        )

    def test_syntax_error(self, tmp_path: Path) -> None:
        """A syntax error is reported with its line."""
        with pytest.raises(TemplateError) as caught:
            slack(tmp_path, "a\nb\n{{ x + }}")
        assert str(caught.value) == (
            "template 't' (slack): unexpected 'end of print statement' "
            f"({tmp_path}/slack/t.md.j2:3)"
        )

    def test_sandbox(self, tmp_path: Path) -> None:
        """Templates cannot reach Python internals."""
        with pytest.raises(TemplateError, match="unsafe"):
            slack(tmp_path, "{{ record.__class__.__init__.__globals__ }}")

    def test_error_in_a_layout_names_the_layout(self, tmp_path: Path) -> None:
        """A failure inside a shared layout points at the layout's line."""
        folder = tmp_path / "email"
        folder.mkdir()
        (folder / "_base.txt.j2").write_text("a\n{{ evaluation.nope }}")
        with pytest.raises(TemplateError) as caught:
            email(tmp_path, "s", '{% extends "email/_base.txt.j2" %}', "h")
        assert str(caught.value).endswith(f"({tmp_path}/email/_base.txt.j2:2)")

    def test_runtime_error(self, tmp_path: Path) -> None:
        """Anything a template raises is a TemplateError, never a crash of the pass."""
        with pytest.raises(TemplateError, match="TypeError"):
            slack(tmp_path, "{{ record.Phone > 3 }}")

    def test_template_error_is_a_permanent_delivery_error(self, tmp_path: Path) -> None:
        """The deliver step records it as a failure that retrying will not fix."""
        with pytest.raises(TemplateError) as caught:
            Templates(tmp_path).slack("nudge", context())
        assert (caught.value.retryable, caught.value.code) == (False, "template")


class TestRecordFields:
    def test_fields_a_template_reads(self, tmp_path: Path) -> None:
        """``record.X``, ``record["X"]``, ``record.get("X")`` and parent paths are found, in
        layouts too, so the live query can select them."""
        folder = tmp_path / "email"
        folder.mkdir()
        (folder / "_base.txt.j2").write_text("{{ record.Phone }}{% block b %}{% endblock %}")
        (folder / "t.subject.j2").write_text('{{ record["Company"] }} {{ record.get("Title") }}')
        (folder / "t.txt.j2").write_text(
            '{% extends "email/_base.txt.j2" %}{% block b %}x{% endblock %}'
        )
        (folder / "t.html.j2").write_text("{{ record.Owner.Name }} {{ record.items() }}")
        assert Templates(tmp_path).record_fields("t", "email") == {
            "Phone",
            "Company",
            "Title",
            "Owner.Name",
        }

    def test_shipped_templates(self) -> None:
        """The shipped templates read Company beyond the fields every query selects."""
        templates = Templates(Path(__file__).resolve().parents[1] / "templates")
        assert templates.record_fields("nudge", "slack") == {"Company"}
