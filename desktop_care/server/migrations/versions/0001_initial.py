"""Initial schema: members, addresses, users, credentials, tokens, ledgers, audit, search.

The member search index is database specific: on SQLite an external-content FTS5
table ``member_fts`` (trigram tokenizer) over ``member_search.text``, kept in step by
triggers; on PostgreSQL the ``pg_trgm`` extension and a GIN index. The prefix keys get
``text_pattern_ops`` B-trees on PostgreSQL so ``LIKE 'ab%'`` uses them in any collation.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


_SQLITE_SEARCH_INDEX = [
    """
    CREATE VIRTUAL TABLE member_fts USING fts5(
        text, content='member_search', content_rowid='member_id', tokenize='trigram'
    )
    """,
    """
    CREATE TRIGGER member_search_fts_insert AFTER INSERT ON member_search BEGIN
        INSERT INTO member_fts (rowid, text) VALUES (new.member_id, new.text);
    END
    """,
    """
    CREATE TRIGGER member_search_fts_delete AFTER DELETE ON member_search BEGIN
        INSERT INTO member_fts (member_fts, rowid, text) VALUES ('delete', old.member_id, old.text);
    END
    """,
    """
    CREATE TRIGGER member_search_fts_update AFTER UPDATE ON member_search BEGIN
        INSERT INTO member_fts (member_fts, rowid, text) VALUES ('delete', old.member_id, old.text);
        INSERT INTO member_fts (rowid, text) VALUES (new.member_id, new.text);
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "member",
        _id(),
        sa.Column("member_no", sa.String(20), nullable=False),
        sa.Column("logon_id", sa.String(120), nullable=False),
        sa.Column("title", sa.String(20), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("email_opt_in", sa.Boolean(), nullable=False),
        sa.Column("status", _enum("memberstatus", "enrolled", "active", "inactive", "merged"), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("blocked_for_balance", sa.Boolean(), nullable=False),
        sa.Column("points_balance", sa.Integer(), nullable=False),
        sa.Column("account_balance_cents", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("pending_cents", sa.Integer(), nullable=False),
        _timestamp("last_login_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["merged_into_id"], ["member.id"], name=op.f("fk_member_merged_into_id_member")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member")),
        sa.UniqueConstraint("logon_id", name=op.f("uq_member_logon_id")),
        sa.UniqueConstraint("member_no", name=op.f("uq_member_member_no")),
    )
    op.create_table(
        "address",
        _id(),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("addresskind", "home", "postal", "billing"), nullable=False),
        sa.Column("line1", sa.String(200), nullable=False),
        sa.Column("line2", sa.String(200), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("postcode", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_address_member_id_member"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address")),
    )
    op.create_index(op.f("ix_address_member_id"), "address", ["member_id"])
    op.create_table(
        "app_user",
        _id(),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column(
            "role",
            _enum("userrole", "full", "standard", "non_member", "society_admin", "society_staff"),
            nullable=False,
        ),
        sa.Column("state", _enum("userstate", "invited", "active", "locked", "disabled", "revoked"), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _timestamp("last_login_at", nullable=True),
        _timestamp("created_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_app_user_member_id_member")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_index(op.f("ix_app_user_member_id"), "app_user", ["member_id"])
    op.create_table(
        "user_credential",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _timestamp("changed_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_credential_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_credential")),
    )
    op.create_table(
        "staff_token",
        _id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_staff_token_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_token_token_hash")),
    )
    op.create_index(op.f("ix_staff_token_user_id"), "staff_token", ["user_id"])
    op.create_table(
        "points_entry",
        _id(),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column(
            "points_type",
            _enum("pointstype", "base", "bonus", "promotional", "goodwill", "correction", "redemption"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["app_user.id"], name=op.f("fk_points_entry_actor_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_points_entry_member_id_member")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_entry")),
    )
    op.create_index(op.f("ix_points_entry_member_id"), "points_entry", ["member_id"])
    op.create_table(
        "account_txn",
        _id(),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("status", _enum("txnstatus", "settled", "pending"), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_account_txn_member_id_member")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_txn")),
    )
    op.create_index(op.f("ix_account_txn_member_id"), "account_txn", ["member_id"])
    op.create_table(
        "audit_event",
        _id(),
        _timestamp("at"),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("entity_type", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(40), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("impersonation_id", sa.String(64), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["actor_user_id"], ["app_user.id"], name=op.f("fk_audit_event_actor_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"])
    op.create_index(op.f("ix_audit_event_entity_id"), "audit_event", ["entity_id"])

    op.create_table(
        "member_search",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("member_no", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_key", sa.String(100), nullable=False),
        sa.Column("last_key", sa.String(100), nullable=False),
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_member_search_member_id_member"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_search")),
    )
    for key in ("member_no", "first_key", "last_key", "email_key"):
        op.create_index(f"ix_member_search_{key}", "member_search", [key], postgresql_ops={key: "text_pattern_ops"})
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_member_search_text_trgm",
            "member_search",
            ["text"],
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
        )
    else:
        for statement in _SQLITE_SEARCH_INDEX:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE member_fts")
    for name in (
        "member_search",
        "audit_event",
        "account_txn",
        "points_entry",
        "staff_token",
        "user_credential",
        "app_user",
        "address",
        "member",
    ):
        op.drop_table(name)
