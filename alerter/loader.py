"""Load rule files and calendars, reporting every problem as ``path:line: field: message``.

Each file is parsed once into frozen models. A broken file never hides the errors of the others
and never stops the good rules from loading: the caller gets the valid rules and the full list
of errors, and decides (``alerter check`` exits 1; the service keeps running the good rules).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from alerter.calendars import BusinessCalendar, CalendarSpec, HolidaySpec
from alerter.conditions import AllOf, AnyOf, FieldCondition, Not
from alerter.rule import (
    ActivityTouch,
    Clock,
    Notify,
    QuietWindow,
    Rule,
    StartsAt,
    Tier,
    TouchedBy,
    Warning,
    rule_problems,
)
from alerter.yamlsource import Document, Loc, YamlError, read_yaml

CALENDARS_FILE = "calendars.yaml"
TESTS_DIR = "tests"

_MODELS: tuple[type[BaseModel], ...] = (
    Rule,
    Clock,
    StartsAt,
    TouchedBy,
    ActivityTouch,
    Notify,
    Warning,
    Tier,
    QuietWindow,
    FieldCondition,
    AllOf,
    AnyOf,
    Not,
    CalendarSpec,
    HolidaySpec,
)
_KEYS = sorted(
    {info.alias or name for model in _MODELS for name, info in model.model_fields.items()}
    | {"calendars"}
)


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in one file, at one line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


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
    calendars: dict[str, BusinessCalendar] = {}
    broken: set[str] = set()
    for path in calendar_files(paths):
        _load_calendars(path, calendars, broken, errors)
    rules: list[Rule] = []
    sources: dict[str, RuleSource] = {}
    for path in rule_files(paths):
        document = read_document(path, errors)
        if document is None:
            continue
        if not isinstance(document.data, dict):
            errors.append(RuleError(path, 1, "a rule file is a mapping of keys (id, title, ...)"))
            continue
        context = {"calendars": calendars, "broken_calendars": broken}
        try:
            rule = Rule.model_validate(document.data, context=context)
        except ValidationError as exc:
            errors += validation_errors(path, document, (), exc.errors())
            continue
        problems = rule_problems(rule)
        errors += [RuleError(path, document.line_of(loc), _say(loc, msg)) for loc, msg in problems]
        if rule.id in sources:
            first = sources[rule.id]
            errors.append(
                RuleError(
                    path,
                    document.line_of(("id",)),
                    f"id: duplicate rule id {rule.id!r} "
                    f"(also in {first.path}:{first.line_of(('id',))})",
                )
            )
            continue
        sources[rule.id] = RuleSource(path, document)
        if not problems:
            rules.append(rule)
    return RuleSet(tuple(rules), calendars, sources, tuple(sorted(errors)))


def _load_calendars(
    path: Path, calendars: dict[str, BusinessCalendar], broken: set[str], errors: list[RuleError]
) -> None:
    document = read_document(path, errors)
    if document is None:
        return
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("calendars"), dict):
        errors.append(
            RuleError(path, 1, "calendars.yaml holds `calendars:` mapping names to calendars")
        )
        return
    errors += [
        RuleError(path, document.line_of((key,)), _unknown_key((str(key),)))
        for key in data
        if key != "calendars"
    ]
    for name, spec in data["calendars"].items():
        loc: Loc = ("calendars", name)
        if name in calendars:
            errors.append(RuleError(path, document.line_of(loc), f"duplicate calendar {name!r}"))
            continue
        try:
            calendars[name] = CalendarSpec.model_validate(spec).build(str(name))
        except ValidationError as exc:
            broken.add(str(name))
            errors += validation_errors(path, document, loc, exc.errors())


def read_document(path: Path, errors: list[RuleError]) -> Document | None:
    """Parse a YAML file, or record why not and return None."""
    try:
        return read_yaml(path)
    except YamlError as exc:
        errors.append(RuleError(path, exc.line, exc.message))
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(RuleError(path, 1, f"cannot read: {exc}"))
    return None


def validation_errors(
    path: Path, document: Document, prefix: Loc, details: list[ErrorDetails]
) -> list[RuleError]:
    """Turn pydantic's errors into ``path:line: field: message``, most specific first."""
    located = [(_data_loc(document.data, (*prefix, *d["loc"]), d["type"]), d) for d in details]
    result = []
    for loc, detail in located:
        # A container that failed only because an item inside failed adds nothing.
        if any(
            other is not detail
            and other_loc[: len(loc)] == loc
            and (len(other_loc) > len(loc) or detail["type"] == "too_short")
            for other_loc, other in located
        ):
            continue
        kind = detail["type"]
        if kind == "extra_forbidden":
            where, message = loc[:-1], _unknown_key(loc)
        elif kind == "missing":
            where, message = loc[:-1], f"missing key {loc[-1]!r}"
        else:
            where, message = loc, detail["msg"].removeprefix("Value error, ")
        result.append(RuleError(path, document.line_of(loc), _say(where, message)))
    return list(dict.fromkeys(result))


def _data_loc(data: Any, loc: Loc, kind: str) -> Loc:
    """Keep the parts of pydantic's location that exist in the data, dropping union tags; a
    missing key (the last part) is kept so the message can name it."""
    names_key = kind in ("missing", "extra_forbidden")
    result: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        found, child = _step(node, part)
        if found:
            node = child
        elif not (names_key and index == len(loc) - 1 and isinstance(node, dict)):
            continue
        result.append(part)
    return tuple(result)


def _step(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, dict):
        return part in node, node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def _unknown_key(loc: Loc) -> str:
    key = str(loc[-1])
    close = difflib.get_close_matches(key, _KEYS, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}"


def _say(loc: Loc, message: str) -> str:
    """Prefix a message with its field path, e.g. ``escalation[1].after: ...``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{path}: {message}" if path else message
