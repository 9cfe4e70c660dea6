"""The people a notification may reach, carried inside it.

Routing needs the record's owner, their manager and skip-level manager (or the queue), which a
pass reads once for all its records. A notification may be sent long after that pass (quiet
hours, a silence, a Slack outage, a restart), so the chain is copied into the evaluation it
carries, under ``Owner`` as Salesforce nests a parent lookup (``Owner.Manager.Manager``), and
read back from there at send time: the ledger row alone is enough to route and render it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from alerter.evaluate import Evaluation
from alerter.records import Snapshot

_LEVELS = 3  # the owner, the manager, the skip-level manager


def with_people(evaluation: Evaluation, lookups: Snapshot) -> Evaluation:
    """``evaluation`` with its owner's chain nested under ``fields["Owner"]`` (what the record
    already nests is kept where the lookups know nothing)."""
    owner_id = evaluation.owner_id
    found = _lookup(owner_id, lookups) if owner_id else None
    if found is None:
        return evaluation
    chain = _chain(found, lookups, _LEVELS - 1)
    nested = evaluation.fields.get("Owner")
    if isinstance(nested, Mapping):
        chain = {**nested, **chain}
    return replace(evaluation, fields={**evaluation.fields, "Owner": chain})


def people_of(evaluation: Evaluation) -> Snapshot:
    """The Users (or the Group) nested by :func:`with_people`, as lookups for routing."""
    users: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    record = evaluation.fields.get("Owner")
    for _ in range(_LEVELS):
        if not isinstance(record, Mapping) or not record.get("Id"):
            break
        flat = {k: v for k, v in record.items() if k != "Manager" and k != "attributes"}
        (groups if str(record["Id"]).startswith("00G") else users).append(flat)
        record = record.get("Manager")
    return Snapshot({"User": users, "Group": groups})


def _lookup(record_id: str, lookups: Snapshot) -> Mapping[str, Any] | None:
    return lookups.by_id(record_id) or lookups.by_id(record_id[:15])


def _chain(person: Mapping[str, Any], lookups: Snapshot, levels: int) -> dict[str, Any]:
    copied = {k: v for k, v in person.items() if k != "attributes"}
    manager_id = person.get("ManagerId")
    manager = _lookup(str(manager_id), lookups) if manager_id and levels else None
    if manager is not None:
        copied["Manager"] = _chain(manager, lookups, levels - 1)
    return copied
