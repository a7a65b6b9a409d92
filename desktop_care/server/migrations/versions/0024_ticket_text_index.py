"""The queues' text filter through an index: ``ticket.search_text`` (the subject,
normalised), filled here for existing tickets, and a trigram index over it: an
external-content FTS5 table ``ticket_fts`` kept in step by triggers on SQLite, a
``pg_trgm`` GIN index on PostgreSQL (decision 0034). Server only: no feed triggers.

Revision ID: 0024
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (a migration must not change when the code does).
_SQLITE_TICKET_FTS = (
    "CREATE VIRTUAL TABLE ticket_fts USING fts5("
    "search_text, content='ticket', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER ticket_fts_insert AFTER INSERT ON ticket BEGIN "
    "INSERT INTO ticket_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER ticket_fts_delete AFTER DELETE ON ticket BEGIN "
    "INSERT INTO ticket_fts (ticket_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER ticket_fts_update AFTER UPDATE OF search_text ON ticket BEGIN "
    "INSERT INTO ticket_fts (ticket_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO ticket_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
)
_CHUNK = 20_000


def _normalize(text: str) -> str:
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf")
    return " ".join(stripped.casefold().split())


def _fill(connection: sa.Connection) -> None:
    tickets = sa.table("ticket", sa.column("id", sa.Integer), sa.column("subject", sa.String),
                       sa.column("search_text", sa.Text))
    rest = None
    if connection.dialect.name == "postgresql":
        # Printable ASCII needs only lower case and single spaces: one statement in the
        # database (a million single-row updates take half an hour); the rest in Python.
        connection.execute(sa.text(
            "UPDATE ticket SET search_text = btrim(regexp_replace(lower(subject), '[[:space:][:cntrl:]]+', ' ', 'g'))"
            " WHERE subject ~ '^[ -~]*$'"))
        rest = sa.text("subject !~ '^[ -~]*$'")
    after = 0  # in chunks by id: a million tickets never sit in memory at once
    while True:
        query = sa.select(tickets.c.id, tickets.c.subject).where(tickets.c.id > after)
        if rest is not None:
            query = query.where(rest)
        rows = connection.execute(query.order_by(tickets.c.id).limit(_CHUNK)).all()
        if not rows:
            return
        after = rows[-1][0]
        connection.execute(
            tickets.update().where(tickets.c.id == sa.bindparam("tid")).values(search_text=sa.bindparam("text")),
            [{"tid": ticket_id, "text": _normalize(subject)} for ticket_id, subject in rows])


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("ticket", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    if sqlite:
        _fill(op.get_bind())
        for statement in _SQLITE_TICKET_FTS:
            op.execute(statement)
        op.execute("INSERT INTO ticket_fts (ticket_fts) VALUES ('rebuild')")
    else:
        # The index before the fill: built after it, over rows the fill updated in
        # place (HOT), it would be unusable until every transaction older than this
        # one had ended (pg_index.indcheckxmin) — a long one elsewhere keeps every text
        # filter scanning. Then statistics for the planner's LIKE estimates.
        op.create_index("ix_ticket_search_text_trgm", "ticket", ["search_text"], postgresql_using="gin",
                        postgresql_ops={"search_text": "gin_trgm_ops"})
        _fill(op.get_bind())
        op.execute("ANALYZE ticket")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("ticket_fts_update", "ticket_fts_delete", "ticket_fts_insert"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE ticket_fts")
    else:
        op.drop_index("ix_ticket_search_text_trgm", table_name="ticket")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("search_text")
