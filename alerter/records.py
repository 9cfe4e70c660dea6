"""Salesforce REST records and snapshots of an org, as the pure core reads them.

A record is the JSON object the REST API returns: API field names, datetimes as
``2026-12-01T14:03:00.000+0000`` in UTC, parent lookups nested (``"Owner": {...}``) and child
relationships as ``{"totalSize", "done", "records"}``. A snapshot maps object names to lists of
such records; it is the emulator's seed, ``alerter preview --data`` and the rule tests' input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

Record = Mapping[str, Any]


class SnapshotError(ValueError):
    """A snapshot file that cannot be read as ``{"Object": [records...]}``."""


def parse_datetime(value: Any) -> datetime | None:
    """Read a Salesforce datetime (or ISO, or a date as midnight UTC) as an aware UTC time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
            text = f"{text[:-2]}:{text[-2:]}"  # Salesforce writes +0000; fromisoformat wants +00:00
        try:
            result = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """Read a Salesforce date (``2026-12-01``); a datetime gives its UTC date."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def format_datetime(value: datetime) -> str:
    """Write a datetime the way Salesforce does, for snapshots and the emulator."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def child_records(record: Record, relationship: str) -> list[Record] | None:
    """The records of a child relationship embedded in a REST record, or None when absent."""
    value = record.get(relationship)
    if isinstance(value, Mapping) and isinstance(value.get("records"), list):
        return list(value["records"])
    return None


class Snapshot:
    """An org's records by object, indexed by Id and by the parent Ids that activities point at."""

    def __init__(self, objects: Mapping[str, Iterable[Record]]) -> None:
        self._objects = {name: list(records) for name, records in objects.items()}
        self._by_id: dict[str, Record] = {}
        self._children: dict[tuple[str, str], list[Record]] = {}
        for name, records in self._objects.items():
            for record in records:
                record_id = record.get("Id")
                if isinstance(record_id, str):
                    self._by_id[record_id] = record
                for key in ("WhoId", "WhatId", "ParentId", *_history_parent_fields(name)):
                    parent = record.get(key)
                    if isinstance(parent, str):
                        self._children.setdefault((name, parent), []).append(record)

    @classmethod
    def from_json(cls, data: Any) -> Snapshot:
        """Build from parsed JSON, checking its shape."""
        if not isinstance(data, Mapping):
            raise SnapshotError('a snapshot is a JSON object: {"Lead": [...], "Task": [...]}')
        for name, records in data.items():
            if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
                raise SnapshotError(f"{name}: expected a list of records")
        return cls(data)

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        """Read a snapshot file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SnapshotError(f"{path}: {exc}") from None
        except UnicodeDecodeError:
            raise SnapshotError(f"{path}: not UTF-8 text (export JSON as UTF-8)") from None
        try:
            return cls.from_json(data)
        except SnapshotError as exc:
            raise SnapshotError(f"{path}: {exc}") from None

    def records(self, object_name: str) -> list[Record]:
        """All records of an object (empty when the snapshot has none)."""
        return self._objects.get(object_name, [])

    def by_id(self, record_id: str) -> Record | None:
        """Any record by its Id, whatever its object."""
        return self._by_id.get(record_id)

    def related(self, object_name: str, parent_id: str) -> list[Record]:
        """Records of ``object_name`` that point at ``parent_id`` (WhoId, WhatId, LeadId, ...)."""
        return self._children.get((object_name, parent_id), [])


# Opportunity's field history has its own name: OpportunityHistory records stage snapshots.
_HISTORY_OBJECTS = {"Opportunity": "OpportunityFieldHistory"}


def history_object(object_name: str) -> str:
    """The field-history object of an object: ``LeadHistory``, ``Foo__History`` for ``Foo__c``."""
    if object_name.endswith("__c"):
        return object_name[:-3] + "__History"
    return _HISTORY_OBJECTS.get(object_name, object_name + "History")


def _history_parent_fields(object_name: str) -> tuple[str, ...]:
    """The field pointing at the parent: ``LeadHistory.LeadId``; custom objects use ParentId."""
    for suffix in ("FieldHistory", "History"):
        if object_name.endswith(suffix) and not object_name.endswith("__History"):
            return (object_name[: -len(suffix)] + "Id",)
    return ()


def get_field(record: Record, path: str, snapshot: Snapshot | None = None) -> Any:
    """A field by API name or parent path (``Owner.IsActive``).

    A parent path follows the nested lookup the REST API returns; a snapshot without it is
    resolved through the lookup Id (``OwnerId``) so hand-written snapshots can stay flat.
    """
    head, _, rest = path.partition(".")
    if not rest:
        return record.get(head)
    parent = record.get(head)
    if not isinstance(parent, Mapping) and snapshot is not None:
        parent_id = record.get(head[:-3] + "__c" if head.endswith("__r") else head + "Id")
        parent = snapshot.by_id(parent_id) if isinstance(parent_id, str) else None
    if not isinstance(parent, Mapping):
        return None
    return get_field(parent, rest, snapshot)
