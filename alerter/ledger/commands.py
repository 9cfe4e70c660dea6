"""``alerter db``, ``alerter silence`` and ``alerter history``: the ledger from the command line.

Every command reaches the ledger at ``ALERTER_STATE_URL`` (migrating it first, so a fresh
SQLite file just works); an unreachable database is a configuration error: one line, exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from rich.console import Console
from rich.table import Table

from alerter.arguments import moment
from alerter.durations import parse_duration
from alerter.errors import UsageError
from alerter.ledger.engine import LedgerUnavailable
from alerter.ledger.history import HistoryRow
from alerter.ledger.migrate import current_revision
from alerter.ledger.silences import SilenceEntry
from alerter.ledger.store import Ledger
from alerter.settings import Settings

OK = 0


def register(commands: Any) -> None:
    """Add the ledger's commands to the CLI's subcommands (``argparse`` subparsers)."""
    db = commands.add_parser("db", help="the ledger database")
    db_actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = db_actions.add_parser("upgrade", help="create or migrate the ledger's tables")
    upgrade.set_defaults(handler=_upgrade)

    silence = commands.add_parser("silence", help="hold notifications for a while")
    actions = silence.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="hold a rule's, record's or owner's notifications")
    add.add_argument("--rule", help="a rule id")
    add.add_argument("--record", help="a Salesforce record Id")
    add.add_argument("--owner", help="an owner's User Id")
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", type=_duration, help="how long: 2h, 1d, 90m")
    until.add_argument("--until", type=moment, help="until this ISO time (with a zone)")
    add.add_argument("--reason", required=True, help="why (shown in history and lists)")
    add.add_argument("--by", help="who set it (default: your login name)")
    add.set_defaults(handler=_silence_add)

    listing = actions.add_parser("list", help="silences not yet ended")
    listing.add_argument("--all", action="store_true", help="include ended and removed ones")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_silence_list)

    remove = actions.add_parser("remove", help="end a silence now")
    remove.add_argument("id", type=int, help="the silence's id (from `silence list`)")
    remove.set_defaults(handler=_silence_remove)

    history = commands.add_parser("history", help="every notification about a record")
    history.add_argument("--record", required=True, help="a Salesforce record Id")
    history.add_argument("--rule", help="only under this rule")
    history.add_argument("--format", choices=("table", "json"), default="table")
    history.set_defaults(handler=_history)


def _duration(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if duration.business or duration.amount <= timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive wall-clock time: 2h, 1d")
    return duration.amount


def _open(settings: Settings) -> Ledger:
    try:
        return Ledger.connect(settings.state_url, outbox=settings.outbox)
    except LedgerUnavailable as exc:
        raise UsageError(str(exc)) from None


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    ledger = _open(settings)
    try:
        print(f"ledger at {ledger.url}: schema at revision {current_revision(ledger.engine)}")
    finally:
        ledger.close()
    return OK


def _silence_add(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    ends_at = args.until if args.until is not None else now + args.duration
    if ends_at <= now:
        raise UsageError(f"--until {args.until.isoformat()} is already past")
    ledger = _open(settings)
    try:
        entry = ledger.add_silence(
            rule_id=args.rule,
            record_id=args.record,
            owner_id=args.owner,
            ends_at=ends_at,
            reason=args.reason,
            created_by=args.by or _login(),
            now=now,
        )
    finally:
        ledger.close()
    print(f"silence {entry.silence.id} holds {_scope(entry)} until {_when(ends_at)}")
    return OK


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container with an unnamed uid)
        return "unknown"


def _silence_list(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    ledger = _open(settings)
    try:
        entries = ledger.silences(now, include_ended=args.all)
    finally:
        ledger.close()
    if args.format == "json":
        print(json.dumps([_silence_json(entry, now) for entry in entries], indent=2))
        return OK
    table = Table(title=f"Silences at {_when(now)}", expand=False)
    for column in ("Id", "Holds", "From", "Until", "Reason", "By", "State"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        s = entry.silence
        state = (
            "removed"
            if entry.removed_at
            else "ended"
            if s.ends_at <= now
            else "active"
            if s.starts_at <= now
            else "pending"
        )
        table.add_row(
            str(s.id),
            _scope(entry),
            _when(s.starts_at),
            _when(s.ends_at),
            s.reason,
            s.created_by,
            state,
        )
    _console().print(table if entries else "no silences")
    return OK


def _silence_remove(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    ledger = _open(settings)
    try:
        entry = ledger.remove_silence(args.id, now)
    finally:
        ledger.close()
    print(f"silence {entry.silence.id} ({_scope(entry)}) ended at {_when(entry.silence.ends_at)}")
    return OK


def _history(args: argparse.Namespace, settings: Settings) -> int:
    ledger = _open(settings)
    try:
        rows = ledger.history(record_id=args.record, rule_id=args.rule)
    finally:
        ledger.close()
    if args.format == "json":
        print(json.dumps([_plain(dataclasses.asdict(row)) for row in rows], indent=2))
        return OK
    if not rows:
        print(f"no notifications about {args.record}")
        return OK
    table = Table(title=f"Notifications about {rows[0].name} ({args.record})", expand=False)
    for column in ("Id", "Decided", "Rule", "Kind", "To", "Status", "Sent / next try", "Why"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*_history_cells(row))
    _console().print(table)
    return OK


def _history_cells(row: HistoryRow) -> list[str]:
    kind = f"{row.kind} (tier {row.tier})" if row.tier else row.kind
    if row.sequence:
        kind += f" #{row.sequence}"
    to = f"{row.recipient} via {row.channel}"
    if row.targets:
        to += f"\n→ {', '.join(row.targets)}"
    status = row.status.value
    if row.attempts > 1 or row.last_error:
        status += f" ({row.attempts} tries)"
    if row.summary_id is not None:
        status += f"\nin summary {row.summary_id}"
    when = _when(row.sent_at) if row.sent_at else ""
    if not when and row.next_attempt_at:
        when = f"next {_when(row.next_attempt_at)}"
    elif not when and row.not_before > row.decided_at:
        when = f"held until {_when(row.not_before)}"
    why = row.reason
    if row.last_error:
        why += f"\nerror: {row.last_error}" + (f" [{row.error_code}]" if row.error_code else "")
    if row.close_reason:
        why += f"\nclosed: {row.close_reason}"
    return [str(row.id), _when(row.decided_at), row.rule_id, kind, to, status, when, why]


def _scope(entry: SilenceEntry) -> str:
    s = entry.silence
    parts = [
        f"{name} {value}"
        for name, value in (("rule", s.rule_id), ("record", s.record_id), ("owner", s.owner_id))
        if value is not None
    ]
    return ", ".join(parts)


def _silence_json(entry: SilenceEntry, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = _plain(dataclasses.asdict(entry.silence))
    data["created_at"] = _plain(entry.created_at)
    data["removed_at"] = _plain(entry.removed_at)
    data["active"] = entry.silence.starts_at <= now < entry.silence.ends_at
    return data


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 UTC, enums as their values."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _console() -> Console:
    # Piped output has no terminal width; keep rows on one line rather than wrap at 80.
    return Console(width=None if sys.stdout.isatty() else 200)
