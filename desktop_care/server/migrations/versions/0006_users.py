"""Users: the sign-in throttle replaces the permanent lock; the Society Users page's
search text and indexes.

- ``sign_in_throttle``: failed sign-ins in a row per username, and until when further
  attempts are refused. ``app_user.failed_logins`` goes; accounts in the old
  ``locked`` state become ``active`` (their lock was the abusable permanent one).
- ``app_user.search_text``: normalised username, name, e-mail and member ID, filled
  here for existing users; a trigram index over it (FTS5 ``user_fts`` kept in step by
  triggers on SQLite, pg_trgm GIN on PostgreSQL); B-trees for the role and state
  filters with id order.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (a migration must not change when the code does).
_SQLITE_USER_FTS = (
    "CREATE VIRTUAL TABLE user_fts USING fts5("
    "search_text, content='app_user', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER app_user_fts_insert AFTER INSERT ON app_user BEGIN "
    "INSERT INTO user_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER app_user_fts_delete AFTER DELETE ON app_user BEGIN "
    "INSERT INTO user_fts (user_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER app_user_fts_update AFTER UPDATE OF search_text ON app_user BEGIN "
    "INSERT INTO user_fts (user_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO user_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
)


def _normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _fill_search_text(connection: sa.Connection) -> None:
    users = sa.table(
        "app_user",
        sa.column("id", sa.Integer),
        sa.column("username", sa.String),
        sa.column("display_name", sa.String),
        sa.column("email", sa.String),
        sa.column("member_id", sa.Integer),
        sa.column("search_text", sa.Text),
    )
    members = sa.table("member", sa.column("id", sa.Integer), sa.column("member_no", sa.String))
    rows = connection.execute(
        sa.select(users.c.id, users.c.username, users.c.display_name, users.c.email, members.c.member_no).outerjoin(
            members, members.c.id == users.c.member_id
        )
    ).all()
    values = []
    for user_id, username, display_name, email, member_no in rows:
        lines = (_normalize(username), _normalize(display_name), _normalize(email), member_no or "")
        values.append({"uid": user_id, "text": "\n".join(dict.fromkeys(line for line in lines if line))})
    if values:
        connection.execute(
            users.update().where(users.c.id == sa.bindparam("uid")).values(search_text=sa.bindparam("text")), values
        )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "sign_in_throttle",
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_sign_in_throttle")),
    )
    op.execute("UPDATE app_user SET state = 'active' WHERE state = 'locked'")
    # A plain ALTER TABLE on SQLite too: a batch copy of app_user would cascade-delete
    # the credentials and tokens that reference it.
    op.execute("ALTER TABLE app_user DROP COLUMN failed_logins")
    op.add_column("app_user", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _fill_search_text(op.get_bind())
    op.create_index("ix_app_user_role_state_id", "app_user", ["role", "state", "id"])
    op.create_index("ix_app_user_state_id", "app_user", ["state", "id"])
    if sqlite:
        for statement in _SQLITE_USER_FTS:
            op.execute(statement)
        op.execute("INSERT INTO user_fts (user_fts) VALUES ('rebuild')")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_app_user_search_text_trgm",
            "app_user",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in ("app_user_fts_insert", "app_user_fts_delete", "app_user_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS user_fts")
    else:
        op.drop_index("ix_app_user_search_text_trgm", table_name="app_user")
    op.drop_index("ix_app_user_state_id", table_name="app_user")
    op.drop_index("ix_app_user_role_state_id", table_name="app_user")
    op.execute("ALTER TABLE app_user DROP COLUMN search_text")
    op.add_column("app_user", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
    op.drop_table("sign_in_throttle")
