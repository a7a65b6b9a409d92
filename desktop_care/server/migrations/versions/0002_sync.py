"""Offline sync: the change feed, processed commands, per-field versions.

Every existing member gets a feed row, so a workstation's first pull (from 0) brings
the whole directory.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("field_versions", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "sync_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_counter")),
    )
    op.create_table(
        "sync_change",
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entity", "entity_id", name=op.f("pk_sync_change")),
        sa.UniqueConstraint("seq", name=op.f("uq_sync_change_seq")),
    )
    op.create_table(
        "processed_command",
        sa.Column("op_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("op_id", name=op.f("pk_processed_command")),
    )
    op.create_index(op.f("ix_processed_command_member_id"), "processed_command", ["member_id"])
    op.execute(
        "INSERT INTO sync_change (entity, entity_id, seq, deleted, at) "
        "SELECT 'member', id, ROW_NUMBER() OVER (ORDER BY id), FALSE, CURRENT_TIMESTAMP FROM member"
    )
    op.execute("INSERT INTO sync_counter (id, value) SELECT 1, COUNT(*) FROM sync_change")


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_command_member_id"), table_name="processed_command")
    op.drop_table("processed_command")
    op.drop_table("sync_change")
    op.drop_table("sync_counter")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("field_versions")
