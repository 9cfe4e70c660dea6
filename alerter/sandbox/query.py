"""Runs a parsed SOQL query against the org's records and writes REST-shaped result records.

A query is first compiled against the schema, so every name is checked (and fails as Salesforce
fails) before any record is read, and each WHERE becomes a closure evaluated once per record.
Child rows come from a per-parent index and semi-joins are computed once, so a query over 100k
leads with a subquery stays linear.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from alerter.records import format_datetime, parse_datetime
from alerter.sandbox import soql
from alerter.sandbox.describe import NAME, Child, Field, Schema, SObject, id15
from alerter.sandbox.errors import (
    SalesforceError,
    no_such_column,
    query_error,
    unknown_relationship,
    unsupported_object,
)

Row = Mapping[str, Any]
Getter = Callable[[Row], Any]
Predicate = Callable[[Row], bool]
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TEXT_KEYS = {"id", "reference"}  # Ids compare case-sensitively, on their 15-character form


class Store(Protocol):
    """The org's records as the executor reads them (the caller holds the org's lock)."""

    def rows(self, object_name: str) -> Sequence[Row]:
        """Every record of an object, deleted ones included."""

    def lookup(self, record_id: str) -> tuple[str, Row] | None:
        """Any record by Id (15 or 18 characters), with its object name."""

    def children(self, object_name: str, field: str, parent_id: str) -> Sequence[Row]:
        """Records of ``object_name`` whose ``field`` holds ``parent_id``."""


@dataclass
class _Select:
    """What one result record shows: fields, parent lookups, child subqueries, in SELECT order."""

    sobject: SObject
    items: dict[str, Field | _Parent | _Plan] = field(default_factory=dict)


@dataclass
class _Parent:
    lookup: Field
    select: _Select


@dataclass
class _Plan:
    """A compiled query: what to read, keep, sort, cut and show."""

    sobject: SObject
    select: _Select
    where: Predicate
    order: list[tuple[Getter, Callable[[Any], Any], bool, bool]]
    limit: int | None
    link: Child | None = None


class Executor:
    """Compiles and runs one query; built per call with the date that TODAY means."""

    def __init__(
        self, soql_text: str, schema: Schema, store: Store, *, today: date, api_version: str
    ) -> None:
        self._soql = soql_text
        self._schema = schema
        self._store = store
        self._today = today
        self._api = f"/services/data/v{api_version}/sobjects"
        self._include_deleted = False

    def run(self, query: soql.Query, *, include_deleted: bool) -> list[dict[str, Any]]:
        """The result records of a top-level query."""
        self._include_deleted = include_deleted
        sobject = self._schema.get(query.source)
        if sobject is None:
            raise self._error("INVALID_TYPE", query, unsupported_object(query.source))
        plan = self._plan(query, sobject)
        rows = self._rows(plan, self._store.rows(sobject.name))
        return [self._render(row, sobject.name, plan.select) for row in rows]

    def _error(self, code: str, at: soql.FieldPath | soql.Query, text: str) -> SalesforceError:
        return query_error(code, self._soql, at.line, at.column, text)

    def _plan(self, query: soql.Query, sobject: SObject, link: Child | None = None) -> _Plan:
        select = _Select(sobject)
        for item in query.fields:
            if isinstance(item, soql.Query):
                child = sobject.child(item.source)
                child_object = self._schema.get(child.child_object) if child else None
                if child is None or child_object is None:
                    text = unknown_relationship(item.source, "FROM part")
                    raise self._error("INVALID_TYPE", item, text)
                self._add(select, child.name, self._plan(item, child_object, child), item)
                continue
            node = select
            steps, final = self._resolve(sobject, item)
            for step in steps:
                assert step.relationship is not None
                parent = node.items.get(step.relationship)
                if not isinstance(parent, _Parent):
                    parent = _Parent(step, _Select(self._target(step)))
                    self._add(node, step.relationship, parent, item)
                node = parent.select
            self._add(node, final.name, final, item)
        where = self._condition(query.where, sobject) if query.where else _always
        order = []
        for key in query.order_by:
            getter, final = self._getter(sobject, key.field)
            order.append((getter, _sort_key(final.type), key.descending, key.nulls_first))
        return _Plan(sobject, select, where, order, query.limit, link)

    def _add(self, select: _Select, key: str, item: Field | _Parent | _Plan, at: Any) -> None:
        if key in select.items:
            raise self._error("MALFORMED_QUERY", at, f"duplicate field selected: {key}")
        select.items[key] = item

    def _target(self, lookup: Field) -> SObject:
        if lookup.polymorphic:
            return NAME
        target = self._schema.get(lookup.reference_to[0])
        assert target is not None
        return target

    def _resolve(self, sobject: SObject, path: soql.FieldPath) -> tuple[list[Field], Field]:
        """The lookups a path follows and its final field, or the error Salesforce gives."""
        steps = []
        for part in path.parts[:-1]:
            lookup = sobject.parent(part)
            usable = lookup and (lookup.polymorphic or self._schema.get(lookup.reference_to[0]))
            if lookup is None or not usable:
                raise self._error("INVALID_FIELD", path, unknown_relationship(part, "field path"))
            steps.append(lookup)
            sobject = self._target(lookup)
        final = sobject.field(path.parts[-1])
        if final is None:
            raise self._error("INVALID_FIELD", path, no_such_column(path.parts[-1], sobject.name))
        return steps, final

    def _getter(self, sobject: SObject, path: soql.FieldPath) -> tuple[Getter, Field]:
        """A function reading a path's value from a record, following lookups through the org."""
        steps, final = self._resolve(sobject, path)
        name, boolean = final.name, final.type == "boolean"
        if not steps:
            if boolean:
                return (lambda row: row.get(name) or False), final
            return (lambda row: row.get(name)), final
        lookup, polymorphic = self._store.lookup, bool(steps[-1].polymorphic)

        def get(row: Row) -> Any:
            object_name = ""
            for step in steps:
                ref = row.get(step.name)
                found = lookup(ref) if isinstance(ref, str) else None
                if found is None:
                    return None
                object_name, row = found
            return self._value(object_name, row, final if not polymorphic else None, name)

        return get, final

    def _value(self, object_name: str, row: Row, known: Field | None, name: str) -> Any:
        """A field of a record; through a polymorphic lookup, as Salesforce's Name entity has it."""
        if known is None:
            if name == "Type":
                queue = object_name == "Group" and row.get("Type") == "Queue"
                return "Queue" if queue else object_name
            sobject = self._schema.get(object_name)
            known = sobject.field(name) if sobject else None
            if known is None:
                return None  # e.g. Owner.IsActive on a queue: a Group has no IsActive
        value = row.get(known.name)
        return False if value is None and known.type == "boolean" else value

    def _condition(self, condition: soql.Condition, sobject: SObject) -> Predicate:
        if isinstance(condition, soql.And | soql.Or):
            parts = [self._condition(operand, sobject) for operand in condition.operands]
            if isinstance(condition, soql.And):
                return lambda row: all(part(row) for part in parts)
            return lambda row: any(part(row) for part in parts)
        if isinstance(condition, soql.Not):
            inner = self._condition(condition.operand, sobject)
            return lambda row: not inner(row)
        get, final = self._getter(sobject, condition.field)
        if isinstance(condition, soql.Comparison):
            test = _comparison(final.type, condition.op, condition.value, self._today)
        elif isinstance(condition, soql.Like):
            test = _like(condition.regex)
        elif isinstance(condition, soql.InList):
            test = _membership(final.type, condition.values, self._today, condition.negated)
        else:
            test = _among(self._semi_join(condition.query), condition.negated)
        return lambda row: test(get(row))

    def _semi_join(self, query: soql.Query) -> set[str]:
        """The Ids an uncorrelated ``IN (SELECT ...)`` selects, computed once per query."""
        sobject = self._schema.get(query.source)
        if sobject is None:
            raise self._error("INVALID_TYPE", query, unsupported_object(query.source))
        (path,) = query.fields
        assert isinstance(path, soql.FieldPath)
        get, _ = self._getter(sobject, path)
        where = self._condition(query.where, sobject) if query.where else _always
        plan = _Plan(sobject, _Select(sobject), where, [], None)
        rows = self._rows(plan, self._store.rows(sobject.name))
        return {id15(v) for row in rows if isinstance(v := get(row), str)}

    def _rows(self, plan: _Plan, source: Sequence[Row]) -> list[Row]:
        """The records of ``source`` a plan keeps, sorted and cut."""
        include_deleted, where = self._include_deleted, plan.where
        rows = [r for r in source if (include_deleted or not r.get("IsDeleted")) and where(r)]
        for get, key, descending, nulls_first in reversed(plan.order if len(rows) > 1 else ()):
            values = [(get(row), row) for row in rows]
            present = [(key(v), row) for v, row in values if v is not None]
            present.sort(key=lambda pair: pair[0], reverse=descending)
            nulls = [row for v, row in values if v is None]
            ordered = [row for _, row in present]
            rows = nulls + ordered if nulls_first else ordered + nulls
        return rows if plan.limit is None else rows[: plan.limit]

    def _render(self, row: Row, object_name: str, select: _Select) -> dict[str, Any]:
        """One result record: attributes, then the selected items in SELECT order."""
        record_id = row.get("Id")
        url = f"{self._api}/{object_name}/{record_id}"
        result: dict[str, Any] = {"attributes": {"type": select.sobject.name, "url": url}}
        polymorphic = select.sobject is NAME
        for key, item in select.items.items():
            if isinstance(item, Field):
                if polymorphic:
                    value = self._value(object_name, row, None, item.name)
                else:  # _value(), inlined: this runs for every field of every result record
                    value = row.get(item.name)
                    if value is None and item.type == "boolean":
                        value = False
                result[key] = _output(value, item.type)
            elif isinstance(item, _Parent):
                ref = row.get(item.lookup.name)
                found = self._store.lookup(ref) if isinstance(ref, str) else None
                result[key] = self._render(found[1], found[0], item.select) if found else None
            else:
                result[key] = self._subquery(item, record_id)
        return result

    def _subquery(self, plan: _Plan, parent_id: Any) -> dict[str, Any] | None:
        """A child relationship's rows of one parent; Salesforce writes null rather than none."""
        link = plan.link
        if link is None or not isinstance(parent_id, str):
            return None
        source = self._store.children(link.child_object, link.field, parent_id)
        records = [
            self._render(row, link.child_object, plan.select) for row in self._rows(plan, source)
        ]
        return {"totalSize": len(records), "done": True, "records": records} if records else None


def _always(row: Row) -> bool:
    return True


def _output(value: Any, kind: str) -> Any:
    """A value as the REST API writes it: datetimes as ``2026-12-01T14:03:00.000+0000``."""
    if kind == "datetime" and value is not None:
        return _instant(value) or value
    return value


def _instant(value: Any) -> str | None:
    """A date or datetime as Salesforce's UTC text, which sorts and compares as the instant does.

    Seed and stored values are nearly always in that form already, so they skip parsing: a
    100k-lead query reads a few hundred thousand of them.
    """
    if isinstance(value, str):
        if len(value) == 28 and value[10] == "T" and value.endswith("+0000") and value[19] == ".":
            return value
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            return value + "T00:00:00.000+0000"
    moment = parse_datetime(value)
    return format_datetime(moment) if moment else None


def _day_start(day: date) -> str:
    return format_datetime(datetime.combine(day, time(), tzinfo=UTC))


def _comparison(kind: str, op: str, literal: soql.Value, today: date) -> Callable[[Any], bool]:
    """A test of one field value; a null (or a value of another type) only satisfies ``!=``."""
    if literal is None:
        if op in ("=", "!="):
            return (lambda v: v is None) if op == "=" else (lambda v: v is not None)
        return lambda v: False
    if isinstance(literal, soql.DateLiteral) or type(literal) is date:
        start, end = (
            literal.day_range(today)
            if isinstance(literal, soql.DateLiteral)
            else (literal, literal + timedelta(days=1))
        )
        return _in_range(_day_start(start), _day_start(end), op)
    key, wanted = _key(kind, literal)
    compare = _OPS[op]

    def test(value: Any) -> bool:
        found = key(value) if value is not None else None
        return op == "!=" if found is None else compare(found, wanted)

    return test


def _in_range(start: str, end: str, op: str) -> Callable[[Any], bool]:
    """A day range against a date or datetime field: ``=`` within, ``<`` before the start, ..."""

    def test(value: Any) -> bool:
        moment = _instant(value)
        if moment is None:
            return op == "!="
        return {
            "=": start <= moment < end,
            "!=": not start <= moment < end,
            "<": moment < start,
            "<=": moment < end,
            ">": moment >= end,
            ">=": moment >= start,
        }[op]

    return test


def _like(regex: str) -> Callable[[Any], bool]:
    """LIKE matches the whole text, ignoring case; a null never matches."""
    pattern = re.compile(regex, re.IGNORECASE | re.DOTALL)
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


def _among(ids: set[str], negated: bool) -> Callable[[Any], bool]:
    """A semi-join (or, negated, an anti-join) on Ids a subquery selected."""
    return lambda value: (isinstance(value, str) and id15(value) in ids) != negated


def _key(kind: str, literal: soql.Value) -> tuple[Callable[[Any], Any], Any]:
    """How to read a field value for comparing with ``literal``, and the literal so read."""
    if isinstance(literal, bool):
        return (lambda v: v if isinstance(v, bool) else None), literal
    if isinstance(literal, int | float):
        return (
            lambda v: v if isinstance(v, int | float) and not isinstance(v, bool) else None
        ), literal
    if isinstance(literal, datetime):
        return _instant, format_datetime(literal)
    assert isinstance(literal, str)
    if kind in _TEXT_KEYS:
        return (lambda v: id15(v) if isinstance(v, str) else None), id15(literal)
    return (lambda v: v.casefold() if isinstance(v, str) else None), literal.casefold()


def _membership(
    kind: str, literals: tuple[soql.Value, ...], today: date, negated: bool
) -> Callable[[Any], bool]:
    """``IN`` / ``NOT IN``; a null is in no list, so ``NOT IN`` keeps it."""
    if all(isinstance(literal, str) for literal in literals):
        key = _key(kind, "")[0]
        wanted = {_key(kind, literal)[1] for literal in literals}
        return lambda v: (v is not None and key(v) in wanted) != negated
    tests = [_comparison(kind, "=", literal, today) for literal in literals]
    return lambda v: any(test(v) for test in tests) != negated


def _sort_key(kind: str) -> Callable[[Any], Any]:
    """A key ordering one field's values as Salesforce does: text case-insensitively."""
    if kind in ("datetime", "date"):
        return lambda v: (0, moment) if (moment := _instant(v)) else (1, str(v))
    if kind in _TEXT_KEYS:
        return lambda v: (1, str(v))
    return lambda v: (1, v.casefold()) if isinstance(v, str) else (0, float(v))
