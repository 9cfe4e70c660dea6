"""``alerter check --online``: do the fields the rules name exist in this org?

A rule can be valid YAML and still name a field the org lacks (``MQL_Date__c`` in an org that
calls it ``MQL_Date_Time__c``); Salesforce would reject its query at 3 a.m. Describing each
object once turns that into ``path:line: Lead has no field MQL_Date__c`` before it runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from alerter.diagnostics import RuleError
from alerter.fieldrefs import (
    ACTIVITY_FIELDS,
    ACTIVITY_RELATIONSHIPS,
    HISTORY_RELATIONSHIP,
    RECORD_FIELDS,
    FieldRef,
    field_refs,
    history_fields_tracked,
)
from alerter.loader import RuleSet
from alerter.rule import Rule
from alerter.source.salesforce import SalesforceSource
from alerter.yamlsource import Loc


def check_online(ruleset: RuleSet, source: SalesforceSource) -> list[RuleError]:
    """Every field and relationship a rule needs that the org does not have."""
    errors: list[RuleError] = []
    for rule in ruleset.rules:
        origin = ruleset.sources[rule.id]
        for loc, problem in _problems(rule, source):
            errors.append(RuleError(origin.path, origin.line_of(loc), problem))
    return sorted(errors)


def _problems(rule: Rule, source: SalesforceSource) -> Iterable[tuple[Loc, str]]:
    refs = [FieldRef(("object",), rule.object, name) for name in RECORD_FIELDS]
    refs += field_refs(rule)
    touched = rule.clock.touched_by
    needed_children: dict[str, Loc] = {
        ACTIVITY_RELATIONSHIPS[kind]: ("clock", "touched_by", ACTIVITY_RELATIONSHIPS[kind].lower())
        for kind, spec in (("Task", touched.tasks), ("Event", touched.events))
        if spec is not None
    }
    if history_fields_tracked(rule):
        needed_children[HISTORY_RELATIONSHIP] = ("clock",)
    for kind in ("Task", "Event"):
        if ACTIVITY_RELATIONSHIPS[kind] in needed_children:
            refs += [
                FieldRef(needed_children[ACTIVITY_RELATIONSHIPS[kind]], kind, name)
                for name in ACTIVITY_FIELDS
            ]
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        if (ref.object, ref.path.casefold()) in seen:
            continue
        seen.add((ref.object, ref.path.casefold()))
        problem = source.lacks(ref.object, ref.path)
        if problem:
            yield ref.loc, problem
    children = {
        str(child.get("relationshipName")): child
        for child in source.describe(rule.object).get("childRelationships", [])
    }
    for name, loc in needed_children.items():
        if name not in children:
            yield loc, f"{rule.object} has no child relationship {name}"
