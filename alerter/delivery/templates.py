"""Message templates: jinja2 files in ``templates/<channel>/``, rendered in a sandbox where a
misspelt variable is an error and lead data cannot turn into markup.

Rule authors write templates, so they run in jinja's ``SandboxedEnvironment`` with
``StrictUndefined`` (``{{ recod.Name }}`` fails ``alerter check`` instead of sending a blank).
Slack bodies are mrkdwn: ``finalize`` escapes every ``{{ value }}`` (see ``mrkdwn``), so a lead
named ``<!channel>`` pings nobody; email HTML is autoescaped; subjects and text parts are plain.

The context each template gets is documented in ``templates/README.md`` and built by
``render.message_context``. ``record`` is lenient where everything else is strict: a field the
query did not select reads as empty, because offline nobody can tell a misspelt field from one
the org has; ``record_fields`` lists the fields a template reads, for the query to select and
for the online check to verify.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from alerter.clock import moment_text
from alerter.delivery.model import Channel, DeliveryError
from alerter.delivery.mrkdwn import Mrkdwn, escape, link
from alerter.durations import format_timedelta

EMAIL_PARTS = ("subject", "txt", "html")
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


class TemplateError(DeliveryError):
    """A template that is missing or fails to render: permanent until someone fixes it."""

    def __init__(self, name: str, channel: Channel, problem: str) -> None:
        super().__init__(f"template {name!r} ({channel}): {problem}", retryable=False)
        self.code = "template"
        self.name = name
        self.channel = channel
        self.problem = problem


@dataclass(frozen=True)
class EmailParts:
    """The three rendered parts of an email."""

    subject: str
    text: str
    html: str


def template_files(name: str, channel: Channel) -> list[str]:
    """The files of a template, relative to the templates folder."""
    if channel == "slack":
        return [f"slack/{name}.md.j2"]
    return [f"email/{name}.{part}.j2" for part in EMAIL_PARTS]


class Templates:
    """The templates folder, with one environment per kind of output. Files are read on first
    use and cached (jinja reloads a file that changed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._slack = _environment(directory, _finalize_mrkdwn, autoescape=False)
        self._slack.filters["slack_link"] = _slack_link
        self._email = _environment(directory, _finalize_plain, autoescape=_is_html)

    def slack(self, name: str, context: Mapping[str, Any]) -> Mrkdwn:
        """The mrkdwn body of a Slack message (lead data escaped)."""
        return Mrkdwn(self._render(self._slack, name, "slack", 0, context).strip())

    def email(self, name: str, context: Mapping[str, Any]) -> EmailParts:
        """Subject (one line), text part and HTML part (autoescaped) of an email."""
        subject, text, html = (
            self._render(self._email, name, "email", index, context) for index in range(3)
        )
        return EmailParts(" ".join(subject.split()), text.strip() + "\n", html)

    def record_fields(self, name: str, channel: Channel) -> frozenset[str]:
        """The record fields (``Company``, ``Owner.Name``) a template reads, layouts and
        includes too, so the live query can select them; a missing file reads none."""
        env = self._slack if channel == "slack" else self._email
        found: set[str] = set()
        files, done = template_files(name, channel), set()
        while files:
            file = files.pop()
            done.add(file)
            try:
                tree = env.parse(env.loader.get_source(env, file)[0])  # type: ignore[union-attr]
            except jinja2.TemplateError:
                continue
            found |= set(_record_paths(tree))
            files += [f for f in meta.find_referenced_templates(tree) if f and f not in done]
        return frozenset(path for path in found if not any(p.startswith(path + ".") for p in found))

    def _render(
        self,
        env: SandboxedEnvironment,
        name: str,
        channel: Channel,
        part: int,
        context: Mapping[str, Any],
    ) -> str:
        file = template_files(name, channel)[part]
        shown = self.directory / file
        try:
            return env.get_template(file).render(context)
        except jinja2.TemplateNotFound:
            raise TemplateError(name, channel, f"no template file {shown}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(name, channel, f"{exc.message} ({shown}:{exc.lineno})") from None
        # Template code is written by rule authors: whatever it raises (an undefined variable,
        # None > 3, a sandbox refusal) is a problem of that template, said with its line.
        except Exception as exc:
            problem = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            where = _template_line(exc)
            raise TemplateError(
                name, channel, f"{problem} ({where})" if where else problem
            ) from exc


def record_url(instance_url: str, object_name: str, record_id: str) -> str:
    """The record's Lightning page: ``https://<instance>/lightning/r/<Object>/<Id>/view``."""
    base = instance_url.strip().rstrip("/")
    if "://" not in base:
        base = f"https://{base}"
    parts = (quote(object_name, safe=""), quote(record_id, safe=""))
    return f"{base}/lightning/r/{parts[0]}/{parts[1]}/view"


class RecordFields(Mapping[str, Any]):
    """A record's fields for templates: a field that is not there reads as None (printed as
    nothing), and nested parent lookups (``record.Owner.Name``) read the same way."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields

    def __getitem__(self, key: str) -> Any:
        value = self._fields.get(key)
        return RecordFields(value) if isinstance(value, Mapping) else value

    def __contains__(self, key: object) -> bool:
        return key in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def overdue_text(overdue: timedelta | None, due: datetime | None, now: datetime) -> str:
    """``2 h 15 min overdue``, ``due in 10 min``, ``due now`` or ``no deadline``."""
    if overdue is None and due is not None and due <= now:
        overdue = now - due
    if overdue is not None:
        return f"{format_timedelta(overdue)} overdue" if overdue > timedelta(0) else "due now"
    if due is not None:
        return f"due in {format_timedelta(due - now)}"
    return "no deadline"


def local_text(moment: datetime | None, zone: str) -> str:
    """A moment on the recipient's clock: ``Tue 01 Dec 16:00 EST``."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment_text(moment, ZoneInfo(zone))


def _environment(directory: Path, finalize: Any, *, autoescape: Any) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(overdue=_overdue, local=_local, record_url=_record_url)
    return env


def _is_html(name: str | None) -> bool:
    return bool(name and name.endswith(".html.j2"))


def _finalize_mrkdwn(value: Any) -> str:
    """Every ``{{ value }}`` of a Slack template: data is escaped, None prints as nothing."""
    return escape(value)


def _finalize_plain(value: Any) -> Any:
    """None prints as nothing rather than "None" (an unselected or empty field)."""
    return "" if value is None else value


@jinja2.pass_context
def _overdue(context: jinja2.runtime.Context, value: Any) -> str:
    """``{{ evaluation | overdue }}``; also takes an overdue timedelta or a due datetime."""
    now: datetime = context["now"]
    if isinstance(value, Mapping):
        return overdue_text(value.get("overdue"), value.get("due"), now)
    if isinstance(value, timedelta):
        return overdue_text(value, None, now)
    return overdue_text(None, value, now)


@jinja2.pass_context
def _local(context: jinja2.runtime.Context, value: datetime | None, zone: str | None = None) -> str:
    """``{{ evaluation.due | local }}`` in the recipient's zone, or ``local("Europe/Berlin")``."""
    return local_text(value, zone or context["recipient"]["time_zone"])


@jinja2.pass_context
def _record_url(context: jinja2.runtime.Context, value: Any, object_name: str | None = None) -> str:
    """``{{ record | record_url }}`` (or an Id) on the instance of the context."""
    record_id = value["Id"] if isinstance(value, Mapping) else value
    obj = object_name or context["evaluation"]["object"]
    return record_url(context["instance_url"], obj, str(record_id))


def _slack_link(url: str, text: Any = None) -> Mrkdwn:
    """``{{ url | slack_link(evaluation.name) }}``: a link whose text is escaped."""
    return link(str(url), text)


def _record_paths(tree: nodes.Template) -> Iterator[str]:
    """``record.A.B``, ``record["A"]`` and ``record.get("A")`` in a parsed template."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Call)):
        chain: list[str] = []
        base: nodes.Node = node
        if isinstance(node, nodes.Call):
            if not (isinstance(node.node, nodes.Getattr) and node.node.attr == "get"):
                continue
            if not (node.args and isinstance(node.args[0], nodes.Const)):
                continue
            chain, base = [str(node.args[0].value)], node.node.node
        while isinstance(base, nodes.Getattr | nodes.Getitem):
            key = base.attr if isinstance(base, nodes.Getattr) else _const(base.arg)
            if key is None or key in _MAPPING_METHODS:
                break
            chain.insert(0, key)
            base = base.node
        if isinstance(base, nodes.Name) and base.name == "record" and chain:
            yield ".".join(chain)


def _const(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _template_line(exc: BaseException) -> str | None:
    """Where in the templates a render error happened (``templates/email/_layout.html.j2:7``):
    jinja rewrites tracebacks so that frames of template code carry the template's file name
    and line; the innermost one is where it failed (a layout, an include)."""
    where = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where
