"""Deterministic, realistic Salesforce orgs as snapshot dicts, for demos, benchmarks and load tests.

The hand-made demo org shows each rule state once; a benchmark needs thousands of leads whose
owners, field history and activities hang together the way a real org's do. Everything comes from
one ``random.Random(seed)`` and the ``now`` handed in (never the wall clock), so the same
arguments always give the same records and the same bytes.

Times are epoch seconds while generating (cheap to add and compare) and become Salesforce text
only when a record is written; Ids ascend with CreatedDate, as Salesforce's do.
"""

from __future__ import annotations

import gc
import json
import math
import random
import unicodedata
from bisect import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

_T = TypeVar("_T")
Org = dict[str, list[dict[str, Any]]]
Activity = tuple[str, str, str]  # object, subtype, subject
Owners = list[tuple[int, str]]  # (since, owner Id), oldest first
Change = tuple[int, str, str, str]  # (at, field, old value, new value)
Steps = tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


DEFAULT_NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # a Tuesday, 16:00 in New York: desks busy
_API = "/services/data/v60.0/sobjects"
_MIN, _HOUR, _DAY = 60, 3600, 86400
_EPOCH = date(1970, 1, 1).toordinal()
_CLOCKS = [f"T{minute // 60:02d}:{minute % 60:02d}:" for minute in range(24 * 60)]
_SECONDS = [f"{second:02d}.000+0000" for second in range(60)]
_GROWTH = math.log(3) / 60  # over the 60 days the newest day gets 3x the oldest's leads
_MASS = 1 - math.exp(-_GROWTH * 60)
_NY = "America/New_York"
_ZONES = (_NY, "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London")
_FIRST = _words("Ada Alan Ben Chen Elena Fatima Grace Hiro Ines José Liam Maya Noah Priya Zoë")
_LAST = _words("Adams Baker Diaz Evans García Ito Johnson Lee Müller Nguyen O'Brien Patel Smith Xu")
_ORGS = _words("Acme Globex Initech Umbrella Stark Wayne Hooli Vandelay Wonka Cyberdyne Soylent")
_KINDS = _words("Analytics Logistics Health Robotics Foods Energy Media Bank Labs Systems")
_SOURCES = ("Web", "Webinar", "Partner", "Trade Show", "Content Download", "Referral")
_SOURCE_CUM = (30, 45, 55, 65, 90, 100)
_RATINGS = ("Hot", "Warm", "Cold", None)
# Where each lead is headed, and how often; ``now`` cuts young leads short, so the final mix is
# younger: about a quarter end as MQLs, a tenth converted.
_PATHS = {
    "": 10,
    "MQL": 20,
    "MQL>Working": 9,
    "Working": 3,  # outbound: worked without ever being an MQL
    "MQL>Working>Nurturing": 9,
    "Nurturing": 7,
    "MQL>Working>Unqualified": 6,
    "Unqualified": 4,
    "MQL>Working>Closed - Not Converted": 15,
    "MQL>Working>Qualified": 14,
}
_STEPS: list[Steps] = [tuple(path.split(">")) if path else () for path in _PATHS]
_STEP_CUM = tuple(accumulate(_PATHS.values()))
_ENDS = ("Nurturing", "Unqualified", "Closed - Not Converted", "Qualified")
_FIRST_TOUCHES = (("Task", "Call", "Call: intro"), ("Task", "Email", "Email: intro"))
_FOLLOW_UPS = (
    ("Task", "Call", "Call: follow-up"),
    ("Task", "Email", "Email: follow-up"),
    ("Task", "Task", "Task: research account"),
    ("Event", "Event", "Discovery meeting"),
    ("Event", "Event", "Demo"),
)
_LIST_EMAILS = (("Task", "ListEmail", "Newsletter"), ("Task", "ListEmail", "Webinar invite"))
_DELAYS = ((2 * _MIN, 55 * _MIN), (_HOUR, 8 * _HOUR), (_DAY, 5 * _DAY))  # a rep's first reaction
_PREFIXES = {"Task": "00T", "Event": "00U"}
_TASK_TYPES = {"Call": "Call", "Email": "Email", "ListEmail": "Email", "Task": "Other"}


def generate_org(leads: int, *, seed: int = 1, now: datetime = DEFAULT_NOW) -> Org:
    """An org of ``leads`` leads with reps, managers, queues, history and activities to ``now``."""
    if leads < 0:
        raise ValueError("leads must be zero or more")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    collecting = gc.isenabled()
    gc.disable()  # the org holds no cycles: collections would only rescan it, a quarter of the run
    try:
        return _Builder(random.Random(seed), now).build(leads)
    finally:
        if collecting:
            gc.enable()


def write_org(path: Path, leads: int, *, seed: int = 1, now: datetime = DEFAULT_NOW) -> None:
    """Write ``generate_org`` as compact UTF-8 JSON, equal to ``json.dumps(org, separators=...)``.

    Records are encoded a thousand at a time with the C encoder: ``json.dump`` would fall back to
    the pure-Python one (several times slower), and one ``dumps`` would hold the whole file.
    """
    org = generate_org(leads, seed=seed, now=now)
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with path.open("w", encoding="utf-8") as out:
        out.write("{")
        for index, (name, records) in enumerate(org.items()):
            out.write(("," if index else "") + encode(name) + ":[")
            for start in range(0, len(records), 1000):  # half-megabyte strings, few calls
                out.write(("," if start else "") + encode(records[start : start + 1000])[1:-1])
            out.write("]")
        out.write("}")


def _ascii(text: str) -> str:
    """Letters and digits for an email address: ``Zoë`` -> ``zoe``, ``O'Brien`` -> ``obrien``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c == ".")


def _owner_at(owners: Owners, at: int) -> str:
    """Who owned the lead at ``at``: the latest owner since then (the first one before)."""
    owner = owners[0][1]
    for since, who in owners:
        if since <= at:
            owner = who
    return owner


class _Builder:
    """Builds one org; holds the generator's state (and its caches) only while ``build`` runs."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng, self.now = rng, math.floor(now.timestamp())
        self.org: Org = {k: [] for k in ("User", "Group", "Lead", "Task", "Event", "LeadHistory")}
        self.reps: list[str] = []
        self.active: list[str] = []
        self.queues: list[str] = []
        self.zone_of: dict[str, str] = {}
        self.left_at: dict[str, int] = {}  # reps who left the company, still owning leads
        self.emails: set[str] = set()
        self.history: list[tuple[int, str, str, str, str]] = []
        self.activities: list[tuple[int, str, str, Activity, int]] = []
        self.slugs = {word: _ascii(word) for word in (*_FIRST, *_LAST, *_ORGS, *_KINDS)}
        self.zones = {name: ZoneInfo(name) for name in _ZONES}
        self.offsets: dict[tuple[str, int], int] = {}
        self.days: dict[int, str] = {}

    def build(self, leads: int) -> Org:
        """People and queues first (leads need owners), then leads oldest first, then the rows."""
        self._people(max(3, round(leads / 40)))
        for name in ("Inbound Queue", "Partner Queue", "Events Queue")[: 2 + (leads >= 1000)]:
            queue = {"Name": name, "DeveloperName": name.replace(" ", "_"), "Type": "Queue"}
            self.queues.append(self._record("Group", "00G", len(self.queues) + 1, queue))
        # The live edge: demo requests over the last 90 minutes, MQLs at once and straight to a
        # rep, so that a preview at ``now`` shows MQLs not yet due, in warning and just breached
        # even in a small org.
        edge = min(30, leads // 5)
        starts = [(self._created(), False) for _ in range(leads - edge)]
        ago = [_MIN + (j * 90 + self._between(0, 90)) * _MIN // edge for j in range(edge)]
        starts += [(self.now - seconds, True) for seconds in ago]
        for number, (created, fresh) in enumerate(sorted(starts), 1):
            self._lead(number, created, fresh)
        text = self.text
        for number, (at, lead, field, old, new) in enumerate(sorted(self.history), 1):
            row = {"LeadId": lead, "Field": field, "OldValue": old, "NewValue": new}
            self._record("LeadHistory", "017", number, {**row, "CreatedDate": text(at)})
        for at, lead, owner, (kind, subtype, subject), begin in sorted(self.activities):
            fields: dict[str, Any] = {"WhoId": lead, "WhatId": None, "OwnerId": owner}
            fields.update(Subject=subject, CreatedDate=text(at))
            if kind == "Task":
                fields.update(TaskSubtype=subtype, Type=_TASK_TYPES[subtype], Status="Completed")
                fields.update(Priority="Normal", ActivityDate=fields["CreatedDate"][:10])
            else:  # a meeting is logged after it ends
                start, end = text(begin), text(begin + 30 * _MIN)
                fields.update(EventSubtype=subtype, Type="Meeting", StartDateTime=start)
                fields.update(EndDateTime=end, DurationInMinutes=30, ActivityDate=start[:10])
            self._record(kind, _PREFIXES[kind], len(self.org[kind]) + 1, fields)
        return self.org

    def _record(self, kind: str, prefix: str, number: int, fields: dict[str, Any]) -> str:
        record_id = f"{prefix}{number:012d}"
        attributes = {"type": kind, "url": f"{_API}/{kind}/{record_id}"}
        self.org[kind].append({"attributes": attributes, "Id": record_id, **fields})
        return record_id

    def text(self, at: int) -> str:
        """Salesforce's datetime text, from a cache of days and prebuilt times of day."""
        day, sec = divmod(at, _DAY)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = self.days[day] = date.fromordinal(_EPOCH + day).isoformat()
        return prefix + _CLOCKS[sec // _MIN] + _SECONDS[sec % _MIN]

    def _offset(self, zone: str, at: int) -> int:
        """UTC offset in seconds, cached per hour: these zones change offset on the hour."""
        key = (zone, at // _HOUR)
        found = self.offsets.get(key)
        if found is None:
            delta = datetime.fromtimestamp(key[1] * _HOUR, self.zones[zone]).utcoffset()
            found = self.offsets[key] = int(delta.total_seconds()) if delta else 0
        return found

    def _office(self, zone: str, at: int, spread: int) -> int:
        """``at`` if it falls in 08:00-18:00 Monday-Friday in ``zone``, else a moment up to
        ``spread`` after the next opening."""
        day, sec = divmod(at + self._offset(zone, at), _DAY)
        if (day + 3) % 7 < 5 and 8 * _HOUR <= sec < 18 * _HOUR:  # 1970-01-01 was a Thursday
            return at
        day += sec >= 8 * _HOUR
        while (day + 3) % 7 >= 5:
            day += 1
        wall = day * _DAY + 8 * _HOUR
        return wall - self._offset(zone, wall - self._offset(zone, wall)) + self._between(0, spread)

    # Picks read ``rng.random()`` directly: ``choice`` and ``randrange`` cost several times more.
    def _pick(self, items: Sequence[_T]) -> _T:
        return items[int(self.rng.random() * len(items))]

    def _between(self, low: int, high: int) -> int:
        """A whole number in ``[low, high)``."""
        return low + int(self.rng.random() * (high - low))

    def _weighted(self, items: Sequence[_T], cumulative: Sequence[int]) -> _T:
        return items[bisect(cumulative, self.rng.random() * cumulative[-1])]

    def _people(self, reps: int) -> None:
        """VPs over managers over teams of about six reps; a team mostly shares a time zone."""
        rng, teams = self.rng, math.ceil(reps / 6)
        vps = [self._user("VP Sales", None, _NY, True) for _ in range(1 + (teams > 3))]
        managers = []
        for team in range(teams):
            zone = self._weighted(_ZONES, (35, 60, 70, 90, 100))
            managers.append((self._user("Sales Manager", vps[team % len(vps)], zone, True), zone))
        gone = set(rng.sample(range(reps), reps // 12))
        for index in range(reps):
            manager, zone = managers[index % teams]
            zone = self._pick(_ZONES) if rng.random() < 0.2 else zone
            rep = self._user("Sales Development Rep", manager, zone, index not in gone)
            self.reps.append(rep)
            if index in gone:
                self.left_at[rep] = self.now - self._between(7 * _DAY, 45 * _DAY)
            else:
                self.active.append(rep)

    def _user(self, title: str, manager: str | None, zone: str, active: bool) -> str:
        first, last = self._pick(_FIRST), self._pick(_LAST)
        email, base, suffix = "", f"{self.slugs[first]}.{self.slugs[last]}", 1
        while not email or email in self.emails:  # two Maya Lees: maya.lee, maya.lee2
            email, suffix = f"{base}{suffix if suffix > 1 else ''}@example.com", suffix + 1
        self.emails.add(email)
        fields: dict[str, Any] = {"Name": f"{first} {last}", "FirstName": first, "LastName": last}
        fields.update(Email=email, Title=title, IsActive=active, TimeZoneSidKey=zone)
        fields.update(ManagerId=manager, UserRoleId=None)
        user_id = self._record("User", "005", len(self.org["User"]) + 1, fields)
        self.zone_of[user_id] = zone
        return user_id

    def _created(self) -> int:
        """When a lead arrived: denser lately; sign-ups mostly in American office hours."""
        while True:
            at = self.now - int(-math.log(1 - self.rng.random() * _MASS) / _GROWTH * _DAY)
            if self.rng.random() < 0.75:
                at = self._office(self._pick(_ZONES[:4]), at, 10 * _HOUR)
            if at <= self.now - _MIN:
                return at

    def _rep(self, at: int) -> str:
        """A rep for a lead arriving at ``at``; nobody assigns new leads to someone who left."""
        rep = self._pick(self.reps)
        return self._pick(self.active) if self.left_at.get(rep, at + 1) <= at else rep

    def _gone(self, owners: Owners, at: int) -> bool:
        """Whether the owner at ``at`` has left: their leads stop moving then."""
        return self.left_at.get(_owner_at(owners, at), at + 1) <= at

    def _work(self, owners: Owners, at: int) -> int:
        """Reps mostly work in their office hours, off-hours work waits for the next morning;
        some do answer in the evening or at the weekend."""
        if self.rng.random() < 0.12:
            return at
        return self._office(self.zone_of.get(_owner_at(owners, at), _NY), at, 90 * _MIN)

    def _response(self, owners: Owners, at: int) -> int:
        """A rep's first reaction to a lead: minutes for the keen, hours or days for the rest."""
        low, high = self._weighted(_DELAYS, (35, 70, 100))
        return self._work(owners, at + self._between(low, high))

    def _assign(self, created: int, fresh: bool, history: list[Change]) -> tuple[Owners, int]:
        """Who owns the lead when, and when a rep first became responsible for it."""
        rng, now = self.rng, self.now
        rep, start = self._rep(created), created
        owners: Owners = [(created, rep)]
        if not fresh and rng.random() < 0.12:  # routed to a queue; a rep picks it up later
            queue = self._pick(self.queues)
            start = self._work([(created, queue)], created + self._between(5 * _MIN, 4 * _HOUR))
            rep, owners = self._rep(start), [(created, queue)]
            if start <= now:
                owners.append((start, rep))
                history.append((start, "Owner", queue, rep))
        left = self.left_at.get(rep)
        moved = left + self._between(_DAY, 10 * _DAY) if left and rng.random() < 0.5 else None
        if moved is None and start < now and rng.random() < 0.05:
            moved = self._between(start, now + 1)  # a territory change
        if moved is not None and start < moved <= now:
            new = self._pick(self.active)
            owners.append((moved, new))
            history.append((moved, "Owner", rep, new))
        return owners, start

    def _progress(
        self, path: Steps, created: int, start: int, owners: Owners, fresh: bool
    ) -> tuple[list[Change], int | None, int | None]:
        """The status changes made by ``now``, and when the lead became an MQL and was touched."""
        changes: list[Change] = []
        rng, status, at = self.rng, "Open", created
        mql = first = None
        for step in path:
            if step == "MQL":  # a demo request scores as an MQL at once, a download later
                instant = fresh or rng.random() < 0.4
                at += self._between(0, 180) if instant else int(rng.expovariate(1 / (2 * _DAY)))
            elif step == "Working":  # the rep's first touch is when they mark it Working
                at = self._response(owners, max(at, start))
            else:
                at = self._work(owners, max(at, start) + int(rng.expovariate(1 / (7 * _DAY))))
            if at > self.now or (step != "MQL" and self._gone(owners, at)):
                break
            changes.append((at, "Status", status, step))
            status, mql = step, at if step == "MQL" else mql
            first = at if step == "Working" else first
        if path == ("MQL",) and changes and rng.random() < 0.8:  # touched, left as an MQL
            first = self._response(owners, max(at, start))
        return changes, mql, first

    def _touches(
        self, path: Steps, status: str, final: int, start: int, first: int | None, owners: Owners
    ) -> list[tuple[int, Activity]]:
        """Calls, emails and meetings a rep would log, and marketing's mass emails."""
        rng, touches = self.rng, []
        if first is not None:
            touches.append((first, self._pick(_FIRST_TOUCHES)))
            end = final if status in _ENDS else self.now
            worked = "Working" in path  # worked leads get a cadence, MQLs a chaser or two
            for _ in range(self._pick((1, 2, 3, 4, 6, 8, 10) if worked else (0, 1, 2))):
                first = self._work(owners, first + _HOUR + int(rng.expovariate(1 / (3 * _DAY))))
                if first > end:
                    break  # the cadence stalls: some leads go quiet for weeks
                touches.append((first, self._pick(_FOLLOW_UPS)))
        elif status != "MQL" and rng.random() < 0.6:
            touches.append((self._response(owners, start), self._pick(_FIRST_TOUCHES)))
        if rng.random() < (0.85 if status == "Nurturing" else 0.5):
            sent = final if status == "Nurturing" else start
            for _ in range(6):
                sent += _DAY + int(rng.expovariate(1 / (10 * _DAY)))
                touches.append((sent, self._pick(_LIST_EMAILS)))
        return touches

    def _lead(self, number: int, created: int, fresh: bool) -> None:
        """One lead's life up to now: owners, status path, touches; then its record."""
        rng, text, lead_id = self.rng, self.text, f"00Q{number:012d}"
        history: list[Change] = []
        owners, start = self._assign(created, fresh, history)
        path = ("MQL",) if fresh else self._weighted(_STEPS, _STEP_CUM)
        changes, mql, first = self._progress(path, created, start, owners, fresh)
        final, _, _, status = changes[-1] if changes else (created, "", "", "Open")
        history += changes
        holder = owners[-1][1]
        if status in ("Open", "MQL") and holder[:3] == "005" and not fresh and rng.random() < 0.1:
            parked = self._between(max(final, owners[-1][0]), self.now + 1)  # back to a queue
            owners.append((parked, queue := self._pick(self.queues)))
            history.append((parked, "Owner", holder, queue))
        latest, touched = 0, created  # the latest ActivityDate's moment, the latest touch
        for at, activity in self._touches(path, status, final, start, first, owners):
            owner = _owner_at(owners, at)
            if at > self.now or owner[:3] != "005" or self.left_at.get(owner, at + 1) <= at:
                continue  # not happened yet, a queue does not call, or the rep has left
            begin = at  # a meeting is logged after it ends
            if activity[0] == "Event":
                begin = max(created, at - self._between(35, 240) * _MIN)
            self.activities.append((at, lead_id, owner, activity, begin))
            latest, touched = max(latest, begin), max(touched, at)
        self.history += [(at, lead_id, field, old, new) for at, field, old, new in history]
        first_name, last_name = self._pick(_FIRST), self._pick(_LAST)
        org, kind = self._pick(_ORGS), self._pick(_KINDS)
        slugs, modified = self.slugs, max([created] + [change[0] for change in history])
        fields: dict[str, Any] = {"FirstName": first_name, "LastName": last_name}
        fields.update(Name=f"{first_name} {last_name}", Company=f"{org} {kind}")
        domain = f"{slugs[org]}{slugs[kind]}.example"
        fields["Email"] = f"{slugs[first_name]}.{slugs[last_name]}@{domain}"
        fields["LeadSource"] = self._weighted(_SOURCES, _SOURCE_CUM)
        hot = (30, 70, 85, 100) if mql else (5, 25, 65, 100)  # MQLs run hotter
        fields.update(Status=status, Rating=self._weighted(_RATINGS, hot), OwnerId=owners[-1][1])
        fields.update(IsConverted=status == "Qualified", IsDeleted=False)
        fields["ConvertedDate"] = text(final)[:10] if status == "Qualified" else None
        fields.update(CreatedDate=text(created), LastModifiedDate=text(modified))
        fields["SystemModstamp"] = text(max(modified, touched))
        fields["MQL_Date__c"] = text(mql) if mql is not None else None
        fields["LastActivityDate"] = text(latest)[:10] if latest else None
        self._record("Lead", "00Q", number, fields)
