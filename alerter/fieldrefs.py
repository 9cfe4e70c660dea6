"""Every Salesforce field a rule reads, with where in the rule file it is named.

The live source selects exactly these fields, and ``alerter check --online`` checks each one
against the org's describe, reporting a missing field at the line that names it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from alerter.conditions import AllOf, AnyOf, Condition, Not
from alerter.rule import Rule
from alerter.yamlsource import Loc

ACTIVITY_RELATIONSHIPS = {"Task": "Tasks", "Event": "Events"}
HISTORY_RELATIONSHIP = "Histories"

# Fields the core reads on every record, whatever the rule says: the record's identity, its
# owner (for routing) and its creation time (the usual clock fallback).
RECORD_FIELDS = ("Id", "Name", "OwnerId", "CreatedDate")
ACTIVITY_FIELDS = ("Id", "Subject", "CreatedDate")
HISTORY_FIELDS = ("Id", "Field", "NewValue", "CreatedDate")


@dataclass(frozen=True)
class FieldRef:
    """A field (or parent path) of an object, named at ``loc`` of the rule file."""

    loc: Loc
    object: str
    path: str


def field_refs(rule: Rule) -> list[FieldRef]:
    """The fields a rule names, on its own object and on the activities it counts as touches."""
    refs = list(condition_refs(rule.where, ("where",), rule.object))
    start = rule.clock.starts_at
    if start.field:
        refs.append(FieldRef(("clock", "starts_at", "field"), rule.object, start.field))
    if start.otherwise:
        refs.append(FieldRef(("clock", "starts_at", "otherwise"), rule.object, start.otherwise))
    touched = rule.clock.touched_by
    for index, name in enumerate(touched.fields_set):
        refs.append(FieldRef(("clock", "touched_by", "fields_set", index), rule.object, name))
    for kind, spec in (("Task", touched.tasks), ("Event", touched.events)):
        if spec is not None:
            key = ACTIVITY_RELATIONSHIPS[kind].lower()
            refs += condition_refs(spec.where, ("clock", "touched_by", key, "where"), kind)
    return refs


def condition_refs(
    conditions: Sequence[Condition], loc: Loc, object_name: str
) -> Iterator[FieldRef]:
    """The fields named in a list of conditions, with their locations."""
    for index, condition in enumerate(conditions):
        here: Loc = (*loc, index)
        if isinstance(condition, AllOf):
            yield from condition_refs(condition.all, (*here, "all"), object_name)
        elif isinstance(condition, AnyOf):
            yield from condition_refs(condition.any, (*here, "any"), object_name)
        elif isinstance(condition, Not):
            yield from condition_refs([condition.not_], (*here, "not"), object_name)
        else:
            yield FieldRef((*here, "field"), object_name, condition.field)


def reads_history(rule: Rule) -> bool:
    """Whether the rule needs the record's field history (status or owner changes)."""
    start, touched = rule.clock.starts_at, rule.clock.touched_by
    return bool(
        start.entered_status is not None
        or start.owner_assigned
        or touched.status_change
        or touched.owner_change
        or rule.clock.restarts_on_owner_change
    )


def history_fields_tracked(rule: Rule) -> tuple[str, ...]:
    """Which field-history rows matter: ``Status`` and/or ``Owner``."""
    start, touched = rule.clock.starts_at, rule.clock.touched_by
    names = []
    if start.entered_status is not None or touched.status_change:
        names.append("Status")
    if start.owner_assigned or touched.owner_change or rule.clock.restarts_on_owner_change:
        names.append("Owner")
    return tuple(names)
