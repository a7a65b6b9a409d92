"""Mail outbox, one-time links, portal sessions, e-mail preferences by category.

``member.email_opt_in`` becomes three choices (newsletters, offers, event reminders);
a member who was opted in is opted in to all three
(docs/decisions/0007-mail-and-portal.md).

Revision ID: 0005
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CATEGORIES = ("email_newsletters", "email_offers", "email_event_reminders")


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        for column in _CATEGORIES:
            batch.add_column(sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE member SET email_newsletters = email_opt_in, email_offers = email_opt_in, "
        "email_event_reminders = email_opt_in"
    )
    with op.batch_alter_table("member") as batch:
        batch.drop_column("email_opt_in")
        for column in _CATEGORIES:
            batch.alter_column(column, server_default=None)

    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(120), nullable=False),
        sa.Column("template", sa.String(60), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("to_name", sa.String(200), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("secret_keys", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_mail_message_member_id_member")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_mail_message_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_message_message_id")),
    )
    op.create_index("ix_mail_message_due", "mail_message", ["state", "next_attempt_at"])
    op.create_index("ix_mail_message_member", "mail_message", ["member_id", "id"])

    op.create_table(
        "user_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_user_token_user_id_app_user"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_user_token_member_id_member")),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["app_user.id"],
                                name=op.f("fk_user_token_created_by_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_token_token_hash")),
    )
    op.create_index("ix_user_token_user", "user_token", ["user_id", "purpose"])
    op.create_index("ix_user_token_member", "user_token", ["member_id", "purpose", "created_at"])

    op.create_table(
        "portal_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_portal_session_user_id_app_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_session_token_hash")),
    )
    op.create_index(op.f("ix_portal_session_user_id"), "portal_session", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_session_user_id"), table_name="portal_session")
    op.drop_table("portal_session")
    op.drop_index("ix_user_token_member", table_name="user_token")
    op.drop_index("ix_user_token_user", table_name="user_token")
    op.drop_table("user_token")
    op.drop_index("ix_mail_message_member", table_name="mail_message")
    op.drop_index("ix_mail_message_due", table_name="mail_message")
    op.drop_table("mail_message")
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("email_opt_in", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE member SET email_opt_in = (email_newsletters OR email_offers OR email_event_reminders)"
    )
    with op.batch_alter_table("member") as batch:
        batch.alter_column("email_opt_in", server_default=None)
        for column in _CATEGORIES:
            batch.drop_column(column)
