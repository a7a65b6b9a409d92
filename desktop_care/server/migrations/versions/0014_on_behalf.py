"""Acting on behalf of a member (one-time tokens, on-behalf portal sessions) and
server settings (docs/decisions/0017-acting-on-behalf.md).

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "on_behalf_session",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("staff_token_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("as_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exchanged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("portal_session_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(40), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["staff_user_id"], ["app_user.id"],
                                name=op.f("fk_on_behalf_session_staff_user_id_app_user")),
        sa.ForeignKeyConstraint(["staff_token_id"], ["staff_token.id"],
                                name=op.f("fk_on_behalf_session_staff_token_id_staff_token")),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_on_behalf_session_member_id_member")),
        sa.ForeignKeyConstraint(["as_user_id"], ["app_user.id"],
                                name=op.f("fk_on_behalf_session_as_user_id_app_user")),
        sa.ForeignKeyConstraint(["portal_session_id"], ["portal_session.id"],
                                name=op.f("fk_on_behalf_session_portal_session_id_portal_session"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_behalf_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_on_behalf_session_token_hash")),
        sa.UniqueConstraint("portal_session_id", name=op.f("uq_on_behalf_session_portal_session_id")),
    )
    op.create_index(op.f("ix_on_behalf_session_staff_token_id"), "on_behalf_session", ["staff_token_id"])
    op.create_index(op.f("ix_on_behalf_session_member_id"), "on_behalf_session", ["member_id"])
    op.create_index("ix_on_behalf_session_staff", "on_behalf_session", ["staff_user_id", "ended_at"])

    op.create_table(
        "server_setting",
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_server_setting")),
    )


def downgrade() -> None:
    op.drop_table("server_setting")
    op.drop_index("ix_on_behalf_session_staff", table_name="on_behalf_session")
    op.drop_index(op.f("ix_on_behalf_session_member_id"), table_name="on_behalf_session")
    op.drop_index(op.f("ix_on_behalf_session_staff_token_id"), table_name="on_behalf_session")
    op.drop_table("on_behalf_session")
