"""The ledger: episodes, notifications (the outbox) and silences.

Written by hand from ``alerter.ledger.schema`` (a test checks the two agree). Datetimes are
plain ``DateTime(timezone=True)`` here: the UTC conversion is the models' job, not the schema's.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("object", sa.String(length=200), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("clock_start", Moment, nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("opened_at", Moment, nullable=False),
        sa.Column("closed_at", Moment, nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_episodes"),
        sa.UniqueConstraint("rule_id", "record_id", "clock_start", name="uq_episodes_key"),
    )
    op.create_index("ix_episodes_closed_at", "episodes", ["closed_at"])
    op.create_index("ix_episodes_record_id", "episodes", ["record_id"])

    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=200), nullable=True),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("starts_at", Moment, nullable=False),
        sa.Column("ends_at", Moment, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("removed_at", Moment, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=300), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("budget_key", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", Moment, nullable=False),
        sa.Column("not_before", Moment, nullable=False),
        sa.Column("next_attempt_at", Moment, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("sent_at", Moment, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", Moment, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("summary_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name="fk_notifications_episode_id_episodes"
        ),
        sa.ForeignKeyConstraint(
            ["summary_id"], ["notifications.id"], name="fk_notifications_summary_id_notifications"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("dedup_key", name="uq_notifications_dedup_key"),
        sa.UniqueConstraint(
            "episode_id",
            "kind",
            "tier",
            "recipient",
            "channel",
            "sequence",
            name="uq_notifications_key",
        ),
    )
    op.create_index("ix_notifications_outbox", "notifications", ["status", "not_before"])
    op.create_index("ix_notifications_budget", "notifications", ["budget_key", "decided_at"])
    op.create_index("ix_notifications_episode_id", "notifications", ["episode_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("silences")
    op.drop_table("episodes")
