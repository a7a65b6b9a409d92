"""Ticket merge as a reversible link: ``ticket.merged_into_id`` and the history of
merges (``ticket_merge``) that undo restores from; ``ticket.is_open`` and the queue
indexes that lead with it (bench/tickets.py). Server only: no feed triggers.

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = ("new", "open", "pending", "resolved", "closed", "merged")
#: The queue indexes: (name, columns).
_QUEUE_INDEXES = (
    ("ix_ticket_open_due", ["is_open", "next_due_at", "id"]),
    ("ix_ticket_open_queue_due", ["is_open", "queue", "next_due_at", "id"]),
    ("ix_ticket_open_assignee_due", ["is_open", "assignee_id", "next_due_at", "id"]),
    ("ix_ticket_open_priority", ["is_open", "priority_rank", "id"]),
    ("ix_ticket_open_updated", ["is_open", "updated_at", "id"]),
    ("ix_ticket_open_created", ["is_open", "created_at", "id"]),
    ("ix_ticket_open_id", ["is_open", "id"]),
)


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("is_open", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.create_foreign_key(op.f("fk_ticket_merged_into_id_ticket"), "ticket", ["merged_into_id"], ["id"])
        batch.create_index(op.f("ix_ticket_merged_into_id"), ["merged_into_id"])
    op.execute(sa.text("UPDATE ticket SET is_open = (state IN ('new', 'open', 'pending'))"))
    with op.batch_alter_table("ticket") as batch:
        batch.alter_column("is_open", server_default=None)
    for name, columns in _QUEUE_INDEXES:
        op.create_index(name, "ticket", columns)
    op.create_table(
        "ticket_merge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(120), nullable=False),
        sa.Column("op_id", sa.String(36), nullable=False),
        sa.Column("source_state", sa.Enum(*_STATES, name="ticketstate", native_enum=False, length=20),
                  nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["ticket.id"], name=op.f("fk_ticket_merge_source_id_ticket"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["ticket.id"], name=op.f("fk_ticket_merge_target_id_ticket"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_merge")),
    )
    op.create_index(op.f("ix_ticket_merge_source_id"), "ticket_merge", ["source_id"])
    op.create_index(op.f("ix_ticket_merge_target_id"), "ticket_merge", ["target_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_merge_target_id"), table_name="ticket_merge")
    op.drop_index(op.f("ix_ticket_merge_source_id"), table_name="ticket_merge")
    op.drop_table("ticket_merge")
    for name, _columns in _QUEUE_INDEXES:
        op.drop_index(name, table_name="ticket")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("is_open")
        batch.drop_index(op.f("ix_ticket_merged_into_id"))
        batch.drop_constraint(op.f("fk_ticket_merged_into_id_ticket"), type_="foreignkey")
        batch.drop_column("merged_into_id")
