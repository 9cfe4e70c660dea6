"""The alert ledger: what was decided, sent, failed and silenced, and the outbox to send from.

schema.py     the tables (SQLAlchemy models) and the UTC datetime type
migrations/   Alembic scripts, run from code by migrate.py (no alembic.ini)
engine.py     SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL engines, transactions
codec.py      notifications, evaluations and addresses as JSON
recording.py  a Decision written in one idempotent transaction
outbox.py     claim, mark sent or failed, back-off, crash recovery
silences.py   silences; history.py: what happened to a record's notifications
store.py      the Ledger that puts them together; commands.py: the CLI
"""

from alerter.ledger.engine import LedgerUnavailable, masked
from alerter.ledger.history import HistoryRow
from alerter.ledger.outbox import OutboxItem
from alerter.ledger.silences import SilenceEntry, UnknownSilence
from alerter.ledger.store import Ledger

__all__ = [
    "HistoryRow",
    "Ledger",
    "LedgerUnavailable",
    "OutboxItem",
    "SilenceEntry",
    "UnknownSilence",
    "masked",
]
