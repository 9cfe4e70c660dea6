"""The ledger's tables as typed SQLAlchemy models.

Three tables: ``episodes`` (one breach story each), ``notifications`` (every decided message,
which doubles as the outbox) and ``silences``. The unique constraints are the ledger's memory
of what was already decided: recording a decision twice inserts nothing the second time.

Every datetime is timezone-aware UTC in Python on both backends. PostgreSQL stores
``timestamptz``; SQLite has no time zones, so :class:`UTCDateTime` stores naive UTC there and
puts the zone back on the way out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, whatever the backend stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"the ledger stores aware datetimes only, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Named constraints, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class EpisodeRow(Base):
    """One record under one rule from one clock start."""

    __tablename__ = "episodes"
    __table_args__ = (
        UniqueConstraint("rule_id", "record_id", "clock_start", name="uq_episodes_key"),
        Index("ix_episodes_closed_at", "closed_at"),
        Index("ix_episodes_record_id", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(200))
    object: Mapped[str] = mapped_column(String(200))
    record_id: Mapped[str] = mapped_column(String(64))
    clock_start: Mapped[datetime]
    owner_id: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    evaluation: Mapped[dict[str, Any]]


class NotificationRow(Base):
    """One decided message; the rows with status ``queued`` are the outbox.

    ``dedup_key`` is unique for every row. The composite key below already makes an episode's
    notifications unique, but a summary has no episode and NULLs never collide in a unique
    constraint (on SQLite or PostgreSQL), so summaries are kept unique by ``dedup_key`` alone.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint(
            "episode_id",
            "kind",
            "tier",
            "recipient",
            "channel",
            "sequence",
            name="uq_notifications_key",
        ),
        UniqueConstraint("dedup_key", name="uq_notifications_dedup_key"),
        Index("ix_notifications_outbox", "status", "not_before"),
        Index("ix_notifications_budget", "budget_key", "decided_at"),
        Index("ix_notifications_episode_id", "episode_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"))
    kind: Mapped[str] = mapped_column(String(20))
    tier: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    budget_key: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime]
    not_before: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]]
    addresses: Mapped[list[Any]] = mapped_column(JSON)
    summary_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))


class SilenceRow(Base):
    """A hold on notifications; removing one ends it early, nothing is deleted."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str | None] = mapped_column(String(200))
    record_id: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
