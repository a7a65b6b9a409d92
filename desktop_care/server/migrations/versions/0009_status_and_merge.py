"""Status machine and merges: a deactivated member remembers the status Reactivate
restores (``member.status_before_hold``; the status column gains the value
``deactivated``, no DDL: it is a VARCHAR), and each merge is recorded with the
snapshot its undo restores (``member_merge``).

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = sa.Enum("enrolled", "active", "inactive", "deactivated", "merged", name="memberstatus",
                  native_enum=False, length=20)


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("status_before_hold", _STATUS, nullable=True))
    op.create_table(
        "member_merge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("merged_version", sa.Integer(), nullable=False),
        sa.Column("survivor_version", sa.Integer(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(120), nullable=True),
        sa.ForeignKeyConstraint(["merged_id"], ["member.id"], name=op.f("fk_member_merge_merged_id_member")),
        sa.ForeignKeyConstraint(["survivor_id"], ["member.id"], name=op.f("fk_member_merge_survivor_id_member")),
        sa.ForeignKeyConstraint(["actor_user_id"], ["app_user.id"],
                                name=op.f("fk_member_merge_actor_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_merge")),
    )
    op.create_index(op.f("ix_member_merge_merged_id"), "member_merge", ["merged_id"])
    op.create_index(op.f("ix_member_merge_survivor_id"), "member_merge", ["survivor_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_member_merge_survivor_id"), table_name="member_merge")
    op.drop_index(op.f("ix_member_merge_merged_id"), table_name="member_merge")
    op.drop_table("member_merge")
    op.execute("UPDATE member SET status = 'inactive' WHERE status = 'deactivated'")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("status_before_hold")
