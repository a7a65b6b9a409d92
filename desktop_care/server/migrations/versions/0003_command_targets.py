"""Commands may target a user as well as a member: processed_command names its target.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_processed_command_member_id"), table_name="processed_command")
    with op.batch_alter_table("processed_command") as batch:
        batch.alter_column("member_id", new_column_name="entity_id", existing_type=sa.Integer(), existing_nullable=False)
        batch.add_column(sa.Column("entity", sa.String(20), nullable=False, server_default="member"))
    op.create_index(op.f("ix_processed_command_entity_id"), "processed_command", ["entity_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_command_entity_id"), table_name="processed_command")
    op.execute("DELETE FROM processed_command WHERE entity <> 'member'")
    with op.batch_alter_table("processed_command") as batch:
        batch.drop_column("entity")
        batch.alter_column("entity_id", new_column_name="member_id", existing_type=sa.Integer(), existing_nullable=False)
    op.create_index(op.f("ix_processed_command_member_id"), "processed_command", ["member_id"])
