"""The emulated org's schema: which objects and fields exist, their types and relationships.

A real org's schema comes from metadata; here it is inferred once from the seed data, on top
of a baseline of standard fields, so a query naming a field no record carries still fails with
``INVALID_FIELD`` as it would against Salesforce. The schema is fixed after construction: like
a real org, writes cannot add fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerter.records import history_object

AUDIT = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "CreatedById": "reference",
    "LastModifiedDate": "datetime",
    "SystemModstamp": "datetime",
}
_PERSON = {"FirstName": "string", "LastName": "string", "Name": "string", "Email": "email"}
_ACTIVITY = {"WhoId": "reference", "WhatId": "reference", "Subject": "string", "Type": "picklist"}
_ACTIVITY |= {"OwnerId": "reference", "ActivityDate": "date"}
_HISTORY = {"Field": "picklist", "OldValue": "anyType", "NewValue": "anyType"}
_STANDARD: dict[str, dict[str, str]] = {
    "Lead": _PERSON
    | {"Company": "string", "Status": "picklist", "OwnerId": "reference"}
    | {"IsConverted": "boolean", "LeadSource": "picklist", "LastActivityDate": "date"}
    | {"Rating": "picklist"},
    "Contact": _PERSON
    | {"AccountId": "reference", "OwnerId": "reference", "LastActivityDate": "date"},
    "Account": {"Name": "string", "OwnerId": "reference", "Type": "picklist"},
    "Opportunity": {"Name": "string", "AccountId": "reference", "OwnerId": "reference"}
    | {"StageName": "picklist", "CloseDate": "date", "Amount": "currency"}
    | {"IsClosed": "boolean", "IsWon": "boolean"},
    # Salesforce has no Task.StartDateTime and no Event.Status; the emulator should not either.
    "Task": _ACTIVITY
    | {"TaskSubtype": "picklist", "Status": "picklist", "CompletedDateTime": "datetime"},
    "Event": _ACTIVITY
    | {"EventSubtype": "picklist", "StartDateTime": "datetime", "EndDateTime": "datetime"},
    "User": _PERSON
    | {"IsActive": "boolean", "ManagerId": "reference", "TimeZoneSidKey": "picklist"}
    | {"UserRoleId": "reference", "Username": "string"},
    "Group": {"Name": "string", "DeveloperName": "string", "Type": "picklist", "Email": "email"},
    "LeadHistory": {"LeadId": "reference"} | _HISTORY,
    "ContactHistory": {"ContactId": "reference"} | _HISTORY,
    "AccountHistory": {"AccountId": "reference"} | _HISTORY,
    "OpportunityFieldHistory": {"OpportunityId": "reference"} | _HISTORY,
}
# Lookups whose target does not depend on the data; Owner, Who and What are polymorphic.
_TARGETS = {
    "OwnerId": ("Group", "User"),
    "WhoId": ("Contact", "Lead"),
    "WhatId": ("Account", "Opportunity"),
    "CreatedById": ("User",),
    "ManagerId": ("User",),
    "LeadId": ("Lead",),
    "ContactId": ("Contact",),
    "AccountId": ("Account",),
    "OpportunityId": ("Opportunity",),
    "UserRoleId": ("UserRole",),
}
POLYMORPHIC = frozenset({"OwnerId", "WhoId", "WhatId"})
_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Group": "00G",
    "Lead": "00Q",
    "Task": "00T",
    "Event": "00U",
    "LeadHistory": "017",
    "ContactHistory": "017",
    "AccountHistory": "017",
    "OpportunityFieldHistory": "017",
}
# What a polymorphic lookup can read: Salesforce's ``Name`` entity, not the target's own fields.
NAME_ENTITY = "Name"
_NAME_TEXT = "Name FirstName LastName Alias Title Type Username CommunityNickname NameOrAlias Phone"
_NAME_FIELDS = dict.fromkeys(_NAME_TEXT.split(), "string")
_NAME_FIELDS |= {"Id": "id", "Email": "email", "IsActive": "boolean", "UserRoleId": "reference"}
_NAME_FIELDS |= {"ProfileId": "reference", "LastReferencedDate": "datetime"}

_SAMPLE = 1000
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")


def id15(value: str) -> str:
    """The case-sensitive 15-character form of an Id, under which the org indexes records."""
    return value[:15] if len(value) == 18 else value


@dataclass(frozen=True)
class Field:
    """One field: its describe type, what a reference points at, and its relationship name."""

    name: str
    type: str
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None
    polymorphic: bool = False


@dataclass(frozen=True)
class Child:
    """A child relationship: ``Tasks`` on Lead is Task rows whose WhoId is the Lead's Id."""

    name: str
    child_object: str
    field: str


@dataclass
class SObject:
    """One object's schema, with case-insensitive lookups as SOQL resolves names."""

    name: str
    key_prefix: str
    fields: dict[str, Field]
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): value for name, value in self.fields.items()}
        self._parents = {
            value.relationship.lower(): value
            for value in self.fields.values()
            if value.relationship
        }

    def field(self, name: str) -> Field | None:
        """A field by name, any case."""
        return self._by_lower.get(name.lower())

    def parent(self, relationship: str) -> Field | None:
        """The lookup field behind a parent relationship name (``Owner`` gives OwnerId)."""
        return self._parents.get(relationship.lower())

    def child(self, relationship: str) -> Child | None:
        """A child relationship by name, any case."""
        return self.children.get(relationship.lower())


NAME = SObject(NAME_ENTITY, "", {name: Field(name, kind) for name, kind in _NAME_FIELDS.items()})


class Schema:
    """Every object of the org by name (any case) and the object owning each key prefix."""

    def __init__(self, objects: Iterable[SObject]) -> None:
        self.objects = {sobject.name: sobject for sobject in objects}
        self._by_lower = {name.lower(): sobject for name, sobject in self.objects.items()}

    def get(self, name: str) -> SObject | None:
        """An object by name, any case."""
        return self._by_lower.get(name.lower())


def build_schema(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> Schema:
    """Infer the schema of seed data (flat records) on top of the standard baseline."""
    names = list(dict.fromkeys([*_STANDARD, *data]))
    names += [history_object(name) for name in names if name.endswith("__c")]
    owners = {
        id15(r["Id"]): n for n, rs in data.items() for r in rs if isinstance(r.get("Id"), str)
    }
    prefixes = dict(_PREFIXES)
    for name in names:
        record_ids = [r["Id"] for r in data.get(name, ()) if isinstance(r.get("Id"), str)]
        prefixes.setdefault(name, record_ids[0][:3] if record_ids else _new_prefix(prefixes))
    by_prefix = {prefix: n for n, prefix in prefixes.items() if not n.endswith("History")}

    def target_of(value: str, shaped_like_id: bool) -> str | None:
        """The object an Id value points at: the record holding it, else its key prefix."""
        return owners.get(id15(value)) or (by_prefix.get(value[:3]) if shaped_like_id else None)

    objects = []
    for name in dict.fromkeys(names):
        baseline = AUDIT | _STANDARD.get(name, {})
        if name.endswith("__History"):
            baseline = AUDIT | {"ParentId": "reference"} | _HISTORY
        seen = _profile(data.get(name, ()), target_of)
        fields = {}
        for field_name in dict.fromkeys([*baseline, *seen]):
            kinds, targets = seen.get(field_name, (set(), set()))
            kind = baseline.get(field_name) or _resolve_kind(field_name, kinds)
            fields[field_name] = _field(field_name, kind, targets)
        objects.append(SObject(name, prefixes[name], fields))
    schema = Schema(objects)
    for sobject in schema.objects.values():
        sobject.children = _children(sobject.name, schema)
    return schema


def _new_prefix(taken: Mapping[str, str]) -> str:
    """A key prefix for a custom object without records: ``a00``, ``a01``, ..."""
    used = set(taken.values())
    return next(p for p in (f"a{n:02d}" for n in range(100)) if p not in used)


def _profile(
    records: Sequence[Mapping[str, Any]], target_of: Callable[[str, bool], str | None]
) -> dict[str, tuple[set[str], set[str]]]:
    """Per field: the kinds of value seen (``"boolean"``, ``"idlike"``, ...) and Id targets.

    Every key of every record is a field, but its type is read from its first ``_SAMPLE``
    values: seed data is uniform per field, and an org of 100k leads must load in seconds.
    """
    keys: dict[str, Any] = {}
    for record in records:
        keys.update(record)
    keys.pop("attributes", None)
    pending: dict[str, list[Any]] = {key: [] for key in keys}
    samples: dict[str, list[Any]] = {}
    for record in records:
        if not pending:
            break
        for key in list(pending):
            value = record.get(key)
            if value is not None:
                pending[key].append(value)
                if len(pending[key]) >= _SAMPLE:
                    samples[key] = pending.pop(key)
    samples |= pending
    seen: dict[str, tuple[set[str], set[str]]] = {}
    for key in keys:
        kinds, targets = seen[key] = (set(), set())
        for value in samples[key]:
            kind = _kind(value)
            if kind in ("idlike", "string") and key.endswith(("Id", "__c")):
                target = target_of(value, kind == "idlike")
                if target:
                    targets.add(target)
                    kind = "idlike"
            kinds.add(kind)
    return seen


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if not isinstance(value, str):
        return "anyType"
    if _DATETIME.fullmatch(value):
        return "datetime"
    if _DATE.fullmatch(value):
        return "date"
    return "idlike" if _SALESFORCE_ID.fullmatch(value) else "string"


def _resolve_kind(name: str, kinds: set[str]) -> str:
    if kinds == {"idlike"}:
        return "reference" if name.endswith(("Id", "__c")) else "string"
    if kinds <= {"string", "idlike"}:
        return "string"
    if kinds == {"int", "double"}:
        return "double"
    return next(iter(kinds)) if len(kinds) == 1 else "anyType"


def _field(name: str, kind: str, targets: set[str]) -> Field:
    """A field; a reference points at the objects holding its values' Ids (or known targets)."""
    if kind != "reference":
        return Field(name, kind)
    reference_to = _TARGETS.get(name) or tuple(sorted(targets))
    if not reference_to:
        return Field(name, kind)
    relationship = name[:-3] + "__r" if name.endswith("__c") else name.removesuffix("Id")
    polymorphic = name in POLYMORPHIC or len(reference_to) > 1
    return Field(name, kind, reference_to, relationship, polymorphic)


def _children(name: str, schema: Schema) -> dict[str, Child]:
    """Tasks/Events (WhoId on Lead and Contact, WhatId elsewhere) and Histories."""
    children: dict[str, Child] = {}
    if name in ("Lead", "Contact"):
        link = "WhoId"
    elif name in ("Account", "Opportunity") or name.endswith("__c"):
        link = "WhatId"
    else:
        return children
    children["tasks"] = Child("Tasks", "Task", link)
    children["events"] = Child("Events", "Event", link)
    history = history_object(name)
    if history in schema.objects:
        parent_field = "ParentId" if name.endswith("__c") else f"{name}Id"
        children["histories"] = Child("Histories", history, parent_field)
    return children


# Fields Salesforce maintains itself; a REST write naming one fails.
SYSTEM_FIELDS = frozenset({"Id", "IsDeleted", "SystemModstamp"})
# Audit fields are writable on create only (as with "Set Audit Fields upon Record Creation").
AUDIT_FIELDS = frozenset({"CreatedDate", "CreatedById", "LastModifiedDate"})


def describe_object(
    sobject: SObject, records: Iterable[Mapping[str, Any]], api_version: str
) -> dict[str, Any]:
    """The REST ``sobjects/<Name>/describe`` body (the subset clients read)."""
    picklists: dict[str, dict[str, None]] = {
        name: {} for name, value in sobject.fields.items() if value.type == "picklist"
    }
    for record in records:
        for name, values in picklists.items():
            value = record.get(name)
            if isinstance(value, str):
                values.setdefault(value)
    fields = []
    for value in sobject.fields.values():
        fields.append(
            {
                "name": value.name,
                "label": _label(value.name),
                "type": value.type,
                "custom": value.name.endswith("__c"),
                "nillable": value.type not in ("id", "boolean"),
                "createable": value.name not in SYSTEM_FIELDS,
                "updateable": value.name not in SYSTEM_FIELDS | AUDIT_FIELDS,
                "filterable": True,
                "sortable": True,
                "referenceTo": list(value.reference_to),
                "relationshipName": value.relationship,
                "polymorphicForeignKey": value.polymorphic,
                "picklistValues": [
                    {"value": v, "label": v, "active": True, "defaultValue": False}
                    for v in picklists.get(value.name, {})
                ],
            }
        )
    children = [
        {
            "childSObject": child.child_object,
            "field": child.field,
            "relationshipName": child.name,
            "cascadeDelete": child.name == "Histories",
        }
        for child in sobject.children.values()
    ]
    return _summary(sobject, api_version) | {"fields": fields, "childRelationships": children}


def global_describe(schema: Schema, api_version: str) -> dict[str, Any]:
    """The REST ``sobjects`` body: every object's summary."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_summary(sobject, api_version) for sobject in schema.objects.values()],
    }


def _summary(sobject: SObject, api_version: str) -> dict[str, Any]:
    base = f"/services/data/v{api_version}/sobjects/{sobject.name}"
    history = sobject.name.endswith(("History", "__History"))
    label = _label(sobject.name)
    return {
        "name": sobject.name,
        "label": label,
        "labelPlural": label if label.endswith("s") else label + "s",
        "keyPrefix": sobject.key_prefix,
        "custom": sobject.name.endswith("__c"),
        "queryable": True,
        "retrieveable": True,
        "createable": not history,
        "updateable": not history,
        "deletable": not history,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def _label(name: str) -> str:
    """``LeadSource`` reads "Lead Source", ``OwnerId`` "Owner ID", ``Foo_Bar__c`` "Foo Bar"."""
    base = name.removesuffix("__c").removesuffix("__History").replace("_", " ")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base).split()
    if words and words[-1] == "Id":
        words[-1] = "ID"
    return " ".join(words)
