"""Support tickets and their threads of replies and internal notes (``ticket``,
``ticket_entry``). Server only: not replicated, so no feed triggers.

Revision ID: 0015
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(40), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("priority", _enum("ticketpriority", "low", "normal", "high", "urgent"), nullable=False),
        sa.Column("state", _enum("ticketstate", "new", "open", "pending", "resolved", "closed"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_ticket_member_id_member")),
        sa.ForeignKeyConstraint(["assignee_id"], ["app_user.id"], name=op.f("fk_ticket_assignee_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("uid", name=op.f("uq_ticket_uid")),
    )
    op.create_index("ix_ticket_member", "ticket", ["member_id", "id"])
    op.create_index("ix_ticket_queue_due", "ticket", ["queue", "next_due_at", "id"])
    op.create_index("ix_ticket_assignee_due", "ticket", ["assignee_id", "next_due_at", "id"])
    op.create_index("ix_ticket_state_due", "ticket", ["state", "next_due_at", "id"])
    op.create_table(
        "ticket_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("entrykind", "reply", "note"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=True),
        sa.Column("op_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_entry_ticket_id_ticket"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_user_id"], ["app_user.id"],
                                name=op.f("fk_ticket_entry_author_user_id_app_user")),
        sa.ForeignKeyConstraint(["mail_id"], ["mail_message.id"], name=op.f("fk_ticket_entry_mail_id_mail_message")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_entry")),
    )
    op.create_index(op.f("ix_ticket_entry_ticket_id"), "ticket_entry", ["ticket_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_entry_ticket_id"), table_name="ticket_entry")
    op.drop_table("ticket_entry")
    for name in ("ix_ticket_state_due", "ix_ticket_assignee_due", "ix_ticket_queue_due", "ix_ticket_member"):
        op.drop_index(name, table_name="ticket")
    op.drop_table("ticket")
