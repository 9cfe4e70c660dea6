"""The in-memory org behind the emulator: records, describe, SOQL queries, creates and updates.

The HTTPS server owns the protocol (auth, pagination, status codes); this module owns what an
org knows and answers, and fails the way Salesforce fails, with :class:`SalesforceError`. One
lock guards all state because the server answers from several threads. The schema is inferred
once from the seed (see :mod:`alerter.sandbox.describe`) and never grows, as a real org's
metadata does not change under a data load.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerter.records import Snapshot, SnapshotError, format_datetime
from alerter.sandbox import soql
from alerter.sandbox.describe import (
    AUDIT_FIELDS,
    SYSTEM_FIELDS,
    SObject,
    build_schema,
    describe_object,
    global_describe,
    id15,
)
from alerter.sandbox.errors import SalesforceError, not_found
from alerter.sandbox.query import Executor, Row

__all__ = ["Org", "SalesforceError"]

# Objects whose Name Salesforce composes from FirstName and LastName.
_PERSON_OBJECTS = frozenset({"Lead", "Contact", "User"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Records:
    """Every record by object, by Id and (built on first use) by the parent Id a field holds."""

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.by_object = data
        self.by_id: dict[str, tuple[str, dict[str, Any]]] = {}
        for name, records in data.items():
            for record in records:
                record_id = record.get("Id")
                if isinstance(record_id, str):  # id15(), inlined: this runs once per record
                    self.by_id[record_id[:15] if len(record_id) == 18 else record_id] = (
                        name,
                        record,
                    )
        self._links: dict[tuple[str, str], dict[str, list[Row]]] = {}

    def rows(self, object_name: str) -> Sequence[Row]:
        return self.by_object.get(object_name, [])

    def lookup(self, record_id: str) -> tuple[str, Row] | None:
        return self.by_id.get(id15(record_id))

    def children(self, object_name: str, field: str, parent_id: str) -> Sequence[Row]:
        index = self._links.get((object_name, field))
        if index is None:
            index = self._links[object_name, field] = {}
            for record in self.rows(object_name):
                self._link(index, record.get(field), record)
        return index.get(id15(parent_id), [])

    def add(self, object_name: str, record: dict[str, Any]) -> None:
        self.by_object.setdefault(object_name, []).append(record)
        self.by_id[id15(record["Id"])] = (object_name, record)
        for (name, field), index in self._links.items():
            if name == object_name:
                self._link(index, record.get(field), record)

    def change(self, object_name: str, record: dict[str, Any], fields: Mapping[str, Any]) -> None:
        """Apply new values, moving the record between parents in any index of a changed field."""
        for field, value in fields.items():
            index = self._links.get((object_name, field))
            old = record.get(field)
            if index is not None and isinstance(old, str) and old != value:
                index[id15(old)] = [row for row in index[id15(old)] if row is not record]
            record[field] = value
            if index is not None and old != value:
                self._link(index, value, record)

    @staticmethod
    def _link(index: dict[str, list[Row]], parent: Any, record: Row) -> None:
        if isinstance(parent, str):
            index.setdefault(id15(parent), []).append(record)


class Org:
    """An org seeded from a snapshot, answering as Salesforce's REST API would."""

    def __init__(
        self,
        data: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        clock: Callable[[], datetime] = _utc_now,
        api_version: str = "60.0",
    ) -> None:
        seed = {name: [_flat(record) for record in records] for name, records in data.items()}
        self._seeded = list(seed)
        self._schema = build_schema(seed)
        self._records = _Records({name: seed.get(name, []) for name in self._schema.objects})
        self._clock = clock
        self._api_version = api_version
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> Org:
        """An org seeded from a snapshot file; a bad file raises :class:`SnapshotError`."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SnapshotError(f"{path}: {exc}") from None
        try:
            Snapshot.from_json(data)
        except SnapshotError as exc:
            raise SnapshotError(f"{path}: {exc}") from None
        return cls(data, **kwargs)

    def query(self, soql_text: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every result record of a query (``include_deleted`` is queryAll); the server pages."""
        parsed = soql.parse(soql_text)
        with self._lock:
            today = self._clock().astimezone(UTC).date()
            executor = Executor(
                soql_text, self._schema, self._records, today=today, api_version=self._api_version
            )
            return executor.run(parsed, include_deleted=include_deleted)

    def describe(self, object_name: str) -> dict[str, Any]:
        """The ``sobjects/<Name>/describe`` body; an unknown object is NOT_FOUND (404)."""
        with self._lock:
            sobject = self._object(object_name)
            return describe_object(sobject, self._records.rows(sobject.name), self._api_version)

    def global_describe(self) -> dict[str, Any]:
        """The ``sobjects`` body listing every object."""
        with self._lock:
            return global_describe(self._schema, self._api_version)

    def create(self, object_name: str, fields: Mapping[str, Any]) -> str:
        """Insert a record, stamped from the clock, and return its new Id."""
        with self._lock:
            sobject = self._object(object_name)
            values = self._writable(sobject, fields, read_only=SYSTEM_FIELDS)
            now = format_datetime(self._clock())
            record = {"Id": self._new_id(sobject), "IsDeleted": False}
            record |= {"CreatedDate": now, "LastModifiedDate": now} | values
            record["SystemModstamp"] = now
            if sobject.name in _PERSON_OBJECTS and "Name" not in values:
                record["Name"] = _full_name(record)
            self._records.add(sobject.name, record)
            return str(record["Id"])

    def update(self, object_name: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Change fields of a record, stamping LastModifiedDate; an unknown Id is NOT_FOUND."""
        with self._lock:
            sobject = self._object(object_name)
            found = self._records.by_id.get(id15(record_id))
            if found is None or found[0] != sobject.name:
                raise not_found()
            values = self._writable(sobject, fields, read_only=SYSTEM_FIELDS | AUDIT_FIELDS)
            record = found[1]
            now = format_datetime(self._clock())
            values |= {"LastModifiedDate": now, "SystemModstamp": now}
            names_changed = "FirstName" in values or "LastName" in values
            if sobject.name in _PERSON_OBJECTS and names_changed and "Name" not in values:
                values["Name"] = _full_name({**record, **values})
            self._records.change(sobject.name, record, values)

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """A copy of one object's current records (flat: parents by Id), without a query: for
        seeding the other fakes, e.g. Slack users from ``User`` rows."""
        with self._lock:
            return [copy.deepcopy(dict(row)) for row in self._records.rows(object_name)]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """A copy of the current data: the seeded objects and any object written since."""
        with self._lock:
            records = self._records.by_object
            names = [*self._seeded, *(name for name in records if records[name])]
            return {
                name: [copy.deepcopy(record) for record in records[name]]
                for name in dict.fromkeys(names)
            }

    def _object(self, name: str) -> SObject:
        sobject = self._schema.get(name)
        if sobject is None:
            raise not_found()
        return sobject

    def _writable(
        self, sobject: SObject, fields: Mapping[str, Any], *, read_only: frozenset[str]
    ) -> dict[str, Any]:
        """The fields of a write under their API names, or the error Salesforce gives."""
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "attributes":
                continue
            known = sobject.field(name)
            if known is None:
                message = f"No such column '{name}' on sobject of type {sobject.name}"
                raise SalesforceError("INVALID_FIELD", message, 400)
            if known.name in read_only:
                message = (
                    f"Unable to create/update fields: {known.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set."
                )
                raise SalesforceError("INVALID_FIELD_FOR_INSERT_UPDATE", message, 400)
            values[known.name] = copy.deepcopy(value)
        return values

    def _new_id(self, sobject: SObject) -> str:
        """The next free Id of the object: its key prefix and a 12-digit counter, 15 characters."""
        while True:
            count = self._counters[sobject.name] = self._counters.get(sobject.name, 0) + 1
            candidate = f"{sobject.key_prefix}{count:012d}"
            if id15(candidate) not in self._records.by_id:
                return candidate


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    """A private copy of a seed record without ``attributes`` and nested relationship values."""
    flat = dict(record)
    flat.pop("attributes", None)
    containers = [key for key, value in flat.items() if isinstance(value, dict | list)]
    for key in containers:  # JSON's only containers; most records have none
        value = flat[key]
        if isinstance(value, dict) and _is_relationship(value):
            del flat[key]
        else:
            flat[key] = copy.deepcopy(value)
    return flat


def _is_relationship(value: Mapping[str, Any]) -> bool:
    """A nested parent (``attributes``) or child list (``records``), not a compound field."""
    return "attributes" in value or "records" in value


def _full_name(record: Mapping[str, Any]) -> str:
    parts = (record.get("FirstName"), record.get("LastName"))
    return " ".join(part for part in parts if isinstance(part, str) and part)
