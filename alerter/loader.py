"""Load rule files and calendars, reporting every problem as ``path:line: field: message``.

Each file is parsed once into frozen models. A broken file never hides the errors of the others
and never stops the good rules from loading: the caller gets the valid rules and the full list
of errors, and decides (``alerter check`` exits 1; the service keeps running the good rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from alerter.calendars import BusinessCalendar, CalendarSpec
from alerter.diagnostics import RuleError, say, unknown_key_error, validation_errors
from alerter.rule import ALL_CALENDARS_BROKEN, Rule, rule_problems
from alerter.yamlsource import Document, Loc, YamlError, read_yaml

CALENDARS_FILE = "calendars.yaml"


class CalendarsFile(BaseModel):
    """The shape of ``calendars.yaml``; each calendar is validated on its own, so one broken
    calendar leaves the others usable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calendars: dict[str, CalendarSpec]


@dataclass(frozen=True)
class RuleSource:
    """Where a rule came from, to point later errors (e.g. a field the org lacks) at a line."""

    path: Path
    document: Document

    def line_of(self, loc: Iterable[str | int]) -> int:
        """The line of a location in the rule file."""
        return self.document.line_of(loc)


@dataclass(frozen=True)
class RuleSet:
    """The valid rules, the calendars, and every error found while loading."""

    rules: tuple[Rule, ...] = ()
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    sources: Mapping[str, RuleSource] = field(default_factory=dict)
    errors: tuple[RuleError, ...] = ()


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """The rule files named by ``paths``: files as given, and ``*.yaml`` directly in folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.suffix in (".yaml", ".yml") and p.name != CALENDARS_FILE and p.is_file()
            )
        elif path.name != CALENDARS_FILE:
            found.append(path)
    return found


def calendar_files(paths: Sequence[Path]) -> list[Path]:
    """The ``calendars.yaml`` beside the rules named by ``paths`` (each folder's, once)."""
    folders = {path if path.is_dir() else path.parent for path in paths}
    return sorted(
        folder / CALENDARS_FILE for folder in folders if (folder / CALENDARS_FILE).exists()
    )


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Load every rule and calendar under ``paths``; collect all errors rather than stop."""
    errors: list[RuleError] = []
    calendars = _Calendars()
    for path in calendar_files(paths):
        calendars.load(path, errors)
    context = {"calendars": calendars.built, "broken_calendars": calendars.broken}
    rules: list[Rule] = []
    sources: dict[str, RuleSource] = {}
    for path in rule_files(paths):
        document = read_document(path, errors)
        if document is None:
            continue
        if not isinstance(document.data, dict):
            empty = "the file is empty; " if document.data is None else ""
            message = f"{empty}a rule file is a mapping of keys (id, title, object, ...)"
            errors.append(RuleError(path, 1, message))
            continue
        try:
            rule = Rule.model_validate(document.data, context=context)
        except ValidationError as exc:
            errors += validation_errors(path, document, Rule, (), exc.errors())
            continue
        problems = rule_problems(rule)
        errors += [RuleError(path, document.line_of(loc), say(loc, msg)) for loc, msg in problems]
        if rule.id in sources:
            first = sources[rule.id]
            where = f"{first.path}:{first.line_of(('id',))}"
            message = f"id: duplicate rule id {rule.id!r} (also in {where})"
            errors.append(RuleError(path, document.line_of(("id",)), message))
            continue
        sources[rule.id] = RuleSource(path, document)
        if not problems:
            rules.append(rule)
    return RuleSet(tuple(rules), calendars.built, sources, tuple(sorted(errors)))


class _Calendars:
    """Calendars as they load from one or more ``calendars.yaml``, and the names that failed."""

    def __init__(self) -> None:
        self.built: dict[str, BusinessCalendar] = {}
        self.broken: set[str] = set()
        self._where: dict[str, str] = {}

    def load(self, path: Path, errors: list[RuleError]) -> None:
        document = read_document(path, errors)
        data = document.data if document is not None else None
        if (
            document is None
            or not isinstance(data, dict)
            or not isinstance(data.get("calendars"), dict)
        ):
            self.broken.add(ALL_CALENDARS_BROKEN)
            if document is not None:
                message = "calendars.yaml holds `calendars:`, a mapping of names to calendars"
                errors.append(RuleError(path, 1, message))
            return
        errors += [
            unknown_key_error(path, document, CalendarsFile, (str(key),))
            for key in data
            if key != "calendars"
        ]
        for name, spec in data["calendars"].items():
            loc: Loc = ("calendars", name)
            line = document.line_of(loc)
            if name in self._where:
                message = f"duplicate calendar {name!r} (also in {self._where[name]})"
                errors.append(RuleError(path, line, message))
                continue
            self._where[name] = f"{path}:{line}"
            try:
                self.built[name] = CalendarSpec.model_validate(spec).build(str(name))
            except ValidationError as exc:
                self.broken.add(str(name))
                errors += validation_errors(path, document, CalendarSpec, loc, exc.errors())


def read_document(path: Path, errors: list[RuleError]) -> Document | None:
    """Parse a YAML file, or record why not and return None."""
    try:
        return read_yaml(path)
    except YamlError as exc:
        errors.append(RuleError(path, exc.line, exc.message))
    except OSError as exc:
        errors.append(RuleError(path, 1, f"cannot read the file: {exc.strerror or exc}"))
    except UnicodeDecodeError:
        errors.append(RuleError(path, 1, "cannot read the file: it is not UTF-8 text"))
    return None
