"""Rules compiled to SOQL: one query per rule, touches fetched in the same query.

Pure: values from rule files are quoted with simple-salesforce's own escaping (quotes,
backslashes, newlines; ``%`` and ``_`` in LIKE), never pasted raw. The filters pushed into WHERE
are re-checked in Python by the core, so a snapshot and a live org answer alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from simple_salesforce.format import format_soql, quote_soql_value

from alerter.conditions import AllOf, AnyOf, Condition, FieldCondition, Not
from alerter.fieldrefs import (
    ACTIVITY_FIELDS,
    ACTIVITY_RELATIONSHIPS,
    HISTORY_FIELDS,
    HISTORY_RELATIONSHIP,
    RECORD_FIELDS,
    condition_refs,
    field_refs,
    history_fields_tracked,
)
from alerter.rule import ActivityTouch, Rule

FieldTypes = Mapping[str, str]
"""Field path -> Salesforce field type (``date``, ``datetime``, ...), from describe calls."""

_COMPARISONS = {
    "equals": "=",
    "not_equals": "!=",
    "greater_than": ">",
    "at_least": ">=",
    "less_than": "<",
    "at_most": "<=",
    "in": "IN",
    "not_in": "NOT IN",
}


def rule_query(
    rule: Rule,
    now: datetime,
    *,
    ids: Sequence[str] = (),
    field_types: FieldTypes | None = None,
    shown: Iterable[str] = (),
) -> str:
    """The SOQL that fetches a rule's records with their touches; with ``ids``, only those.
    ``shown`` adds fields messages show."""
    types = field_types or {}
    own = (ref.path for ref in field_refs(rule) if ref.object == rule.object)
    fields = _unique([*RECORD_FIELDS, *own, *shown])
    touched = rule.clock.touched_by
    newest_first = rule.clock.starts_at.last_touch  # only the latest touch matters
    for kind, spec in (("Task", touched.tasks), ("Event", touched.events)):
        if spec is not None:
            fields.append(_activity_subquery(kind, spec, now, types, newest_first))
    tracked = history_fields_tracked(rule)
    if tracked:
        fields.append(
            f"(SELECT {', '.join(HISTORY_FIELDS)} FROM {HISTORY_RELATIONSHIP} "
            f"WHERE Field IN {quote_soql_value(list(tracked))} ORDER BY CreatedDate ASC)"
        )
    where = [compile_condition(c, now, types) for c in rule.where]
    if ids:
        where.append(f"Id IN {quote_soql_value(list(ids))}")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {', '.join(fields)} FROM {rule.object}{clause}"


def ids_query(object_name: str, fields: Iterable[str], ids: Sequence[str]) -> str:
    """Fetch given records by Id (owners, managers, queues)."""
    id_list = quote_soql_value(list(ids))
    return f"SELECT {', '.join(_unique(fields))} FROM {object_name} WHERE Id IN {id_list}"


def _activity_subquery(
    kind: str, spec: ActivityTouch, now: datetime, types: FieldTypes, newest_first: bool
) -> str:
    where_fields = [ref.path for ref in condition_refs(spec.where, (), kind)]
    fields = _unique([*ACTIVITY_FIELDS, *where_fields])
    where = [compile_condition(c, now, types, prefix=f"{kind}.") for c in spec.where]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    order = " ORDER BY CreatedDate DESC LIMIT 1" if newest_first else " ORDER BY CreatedDate ASC"
    return f"(SELECT {', '.join(fields)} FROM {ACTIVITY_RELATIONSHIPS[kind]}{clause}{order})"


def compile_condition(
    condition: Condition, now: datetime, types: FieldTypes, *, prefix: str = ""
) -> str:
    """One rule condition as a SOQL expression (``prefix`` namespaces field types by object)."""
    if isinstance(condition, AllOf | AnyOf):
        items, joiner = (
            (condition.all, " AND ") if isinstance(condition, AllOf) else (condition.any, " OR ")
        )
        return (
            "(" + joiner.join(compile_condition(c, now, types, prefix=prefix) for c in items) + ")"
        )
    if isinstance(condition, Not):
        return f"(NOT {compile_condition(condition.not_, now, types, prefix=prefix)})"
    return _field_condition(condition, now, types.get(prefix + condition.field, "datetime"))


def _field_condition(condition: FieldCondition, now: datetime, field_type: str) -> str:
    field, operator, operand = condition.field, condition.operator, condition.operand
    if operator == "is_null":
        return f"{field} {'=' if operand else '!='} null"
    if operator == "starts_with":
        return format_soql(f"{field} LIKE '{{:like}}%'", operand)
    if operator in ("older_than", "newer_than"):
        limit = now - operand.amount  # quote_soql_value drops microseconds: exact for whole seconds
        value = limit.date() if field_type == "date" else limit
        return f"{field} {'<=' if operator == 'older_than' else '>'} {quote_soql_value(value)}"
    values = list(operand) if operator in ("in", "not_in") else operand
    return f"{field} {_COMPARISONS[operator]} {quote_soql_value(values)}"


def _unique(items: Iterable[str]) -> list[str]:
    """Keep the first of each field name, case-insensitively (SOQL rejects duplicates)."""
    seen: set[str] = set()
    result = []
    for item in items:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            result.append(item)
    return result
