"""Rule tests: example records, frozen moments, and the state each record should be in.

Marketing ops write them next to the rules (``rules/tests/*.yaml``) to check that a rule does
what they mean before it pages anyone::

    rule: mql-first-touch            # the rule under test
    records:                         # a snapshot: {"Lead": [...], "Task": [...], ...}
      Lead: [{Id: 00Q1, Status: MQL, ...}]
    cases:
      - name: one second before the deadline
        at: 2026-12-01T10:11:59-05:00
        expect:
          00Q1: warning              # not_due, warning, breached, breached tier N,
                                     # stopped, no_clock or out_of_scope
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from alerter.diagnostics import RuleError, validation_errors
from alerter.evaluate import Evaluation, State, evaluate
from alerter.loader import RuleSet, read_document
from alerter.records import Snapshot

OUT_OF_SCOPE = "out_of_scope"
_EXPECTATION = re.compile(
    "|".join([*(s.value for s in State if s is not State.BREACHED), OUT_OF_SCOPE])
    + r"|breached(?: tier [1-9][0-9]*)?"
)


def _expectation(value: str) -> str:
    if not _EXPECTATION.fullmatch(value.strip()):
        states = ", ".join([*(s.value for s in State), OUT_OF_SCOPE])
        raise ValueError(
            f"unknown expectation {value!r}: write one of {states}, or 'breached tier N'"
        )
    return value.strip()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give the time zone, e.g. 2026-12-01T10:00:00-05:00 or ...Z")
    return value


class Case(BaseModel):
    """One frozen moment and the expected state of some records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    at: Annotated[datetime, AfterValidator(_aware)]
    expect: dict[str, Annotated[str, AfterValidator(_expectation)]] = Field(min_length=1)


class RuleTestFile(BaseModel):
    """A rule test file: one rule, its example records, and the cases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    records: dict[str, list[dict[str, Any]]]
    cases: tuple[Case, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Failure:
    """A record whose state differs from the expectation, at one case of one file."""

    path: Path
    line: int
    case: str
    at: datetime
    rule_id: str
    record_id: str
    expected: str
    actual: str
    why: str

    def __str__(self) -> str:
        return (
            f"FAIL {self.path}:{self.line}: {self.case} (at {self.at.isoformat()})\n"
            f"  {self.rule_id} / {self.record_id}\n"
            f"  - expected: {self.expected}\n"
            f"  + actual:   {self.actual}\n"
            f"    why: {self.why}"
        )


@dataclass(frozen=True)
class RuleTestReport:
    """What running rule test files found."""

    checked: int
    failures: tuple[Failure, ...]
    errors: tuple[RuleError, ...]


def find_test_files(paths: Sequence[Path]) -> list[Path]:
    """Rule test files: ``tests/*.yaml`` under rule folders, and files given directly."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            folder = path if path.name == "tests" else path / "tests"
            found += sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
        else:
            found.append(path)
    return found


def run_rule_tests(files: Sequence[Path], ruleset: RuleSet) -> RuleTestReport:
    """Run every case of every file against the loaded rules."""
    checked = 0
    failures: list[Failure] = []
    errors: list[RuleError] = []
    known = {rule.id: rule for rule in ruleset.rules}
    for path in files:
        document = read_document(path, errors)
        if document is None:
            continue
        try:
            spec = RuleTestFile.model_validate(document.data)
        except ValidationError as exc:
            errors += validation_errors(path, document, RuleTestFile, (), exc.errors())
            continue
        rule = known.get(spec.rule)
        if rule is None:
            message = f"rule: no valid rule with id {spec.rule!r} (see alerter check)"
            errors.append(RuleError(path, document.line_of(("rule",)), message))
            continue
        snapshot = Snapshot(spec.records)
        for index, case in enumerate(spec.cases):
            results = {e.record_id: e for e in evaluate([rule], snapshot, case.at)}
            for record_id, expected in case.expect.items():
                checked += 1
                found = results.get(record_id)
                actual = _describe(found)
                if actual == expected or actual.startswith(f"{expected} tier "):
                    continue
                failures.append(
                    Failure(
                        path=path,
                        line=document.line_of(("cases", index, "expect", record_id)),
                        case=case.name or f"case {index + 1}",
                        at=case.at,
                        rule_id=rule.id,
                        record_id=record_id,
                        expected=expected,
                        actual=actual,
                        why=found.explanation if found else "not in the rule's scope",
                    )
                )
    return RuleTestReport(checked, tuple(failures), tuple(errors))


def _describe(found: Evaluation | None) -> str:
    if found is None:
        return OUT_OF_SCOPE
    tier = f" tier {found.tier}" if found.tier is not None else ""
    return found.state.value + tier
