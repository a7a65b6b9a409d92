"""The change feed is filled by the database itself, has an epoch, and 64-bit numbers.

Triggers on ``member`` and ``address`` move the member's ``sync_change`` row to a new
sequence number on every INSERT, UPDATE and DELETE, whoever writes (the server, a
script, a migration, a bulk UPDATE in SQL). See docs/decisions/0009-feed-and-author-integrity.md.

- SQLite: ``AFTER`` row triggers number the change at once from the counter row
  (SQLite runs one writer at a time, so numbers become visible in order).
- PostgreSQL: a ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger runs at COMMIT,
  locks the counter row (held until the commit ends, as the ORM hook did) and takes
  the number from the ``sync_seq`` sequence (bigint), so a bulk UPDATE does not stack
  a million versions of the counter row. TRUNCATE of a replicated table is refused.
- ``sync_counter.epoch``: a random id made here, once per database, returned on every
  feed page; ``sync_change.seq`` and ``sync_counter.value`` become 64-bit.

Revision ID: 0007
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# --------------------------------------------------------------------------- SQLite

_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"


def _sqlite_record(member_id: str, deleted: str, condition: str = "1") -> str:
    """Two trigger statements: take the next number, move the member's feed row to it."""
    return (
        f"UPDATE sync_counter SET value = value + 1 WHERE id = 1 AND ({condition});\n"
        f"  INSERT INTO sync_change (entity, entity_id, seq, deleted, at)\n"
        f"  SELECT 'member', {member_id}, (SELECT value FROM sync_counter WHERE id = 1), {deleted}, {_SQLITE_NOW}\n"
        f"  WHERE ({condition})\n"
        f"  ON CONFLICT (entity, entity_id) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, at = excluded.at;"
    )


def _gone(member_id: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM member WHERE id = {member_id})"


SQLITE_TRIGGERS = {
    "sync_capture_member_insert": f"AFTER INSERT ON member BEGIN\n  {_sqlite_record('NEW.id', '0')}\nEND",
    "sync_capture_member_update": f"AFTER UPDATE ON member BEGIN\n  {_sqlite_record('NEW.id', '0')}\nEND",
    "sync_capture_member_delete": f"AFTER DELETE ON member BEGIN\n  {_sqlite_record('OLD.id', '1')}\nEND",
    "sync_capture_address_insert": (
        f"AFTER INSERT ON address BEGIN\n  {_sqlite_record('NEW.member_id', _gone('NEW.member_id'))}\nEND"
    ),
    "sync_capture_address_update": (
        f"AFTER UPDATE ON address BEGIN\n  {_sqlite_record('NEW.member_id', _gone('NEW.member_id'))}\n"
        f"  {_sqlite_record('OLD.member_id', _gone('OLD.member_id'), 'OLD.member_id <> NEW.member_id')}\nEND"
    ),
    "sync_capture_address_delete": (
        f"AFTER DELETE ON address BEGIN\n  {_sqlite_record('OLD.member_id', _gone('OLD.member_id'))}\nEND"
    ),
}

# ----------------------------------------------------------------------- PostgreSQL

PG_FUNCTION = """
CREATE FUNCTION sync_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    changed bigint;
BEGIN
    IF TG_TABLE_NAME = 'member' THEN
        ids := CASE WHEN TG_OP = 'DELETE' THEN ARRAY[OLD.id] ELSE ARRAY[NEW.id] END;
    ELSIF TG_OP = 'INSERT' THEN
        ids := ARRAY[NEW.member_id];
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY[OLD.member_id];
    ELSIF OLD.member_id IS DISTINCT FROM NEW.member_id THEN
        ids := ARRAY[NEW.member_id, OLD.member_id];
    ELSE
        ids := ARRAY[NEW.member_id];
    END IF;
    -- Deferred to COMMIT: the counter row lock is held from here to the end of the
    -- commit, so transactions become visible in the order of their numbers.
    PERFORM 1 FROM sync_counter WHERE id = 1 FOR UPDATE;
    FOREACH changed IN ARRAY ids LOOP
        INSERT INTO sync_change (entity, entity_id, seq, deleted, at)
        VALUES ('member', changed, nextval('sync_seq'),
                NOT EXISTS (SELECT 1 FROM member WHERE id = changed), now())
        ON CONFLICT (entity, entity_id)
        DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, at = EXCLUDED.at;
    END LOOP;
    RETURN NULL;
END
$$
"""

PG_REFUSE_TRUNCATE = """
CREATE FUNCTION sync_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE % would bypass the change feed: DELETE the rows instead', TG_TABLE_NAME;
END
$$
"""

CAPTURED_TABLES = ("member", "address")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("sync_counter") as batch:
        batch.alter_column("value", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
        batch.add_column(sa.Column("epoch", sa.String(36), nullable=True))
    op.execute(sa.text("UPDATE sync_counter SET epoch = :epoch").bindparams(epoch=str(uuid.uuid4())))
    with op.batch_alter_table("sync_counter") as batch:
        batch.alter_column("epoch", existing_type=sa.String(36), nullable=False)
    with op.batch_alter_table("sync_change") as batch:
        batch.alter_column("seq", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
    if dialect == "postgresql":
        op.execute("CREATE SEQUENCE sync_seq AS bigint MINVALUE 1")
        op.execute("SELECT setval('sync_seq', GREATEST(value, 1), value > 0) FROM sync_counter WHERE id = 1")
        op.execute(PG_FUNCTION)
        op.execute(PG_REFUSE_TRUNCATE)
        for table in CAPTURED_TABLES:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER sync_capture AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sync_capture()"
            )
            op.execute(
                f"CREATE TRIGGER sync_refuse_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION sync_refuse_truncate()"
            )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in CAPTURED_TABLES:
            op.execute(f"DROP TRIGGER sync_capture ON {table}")
            op.execute(f"DROP TRIGGER sync_refuse_truncate ON {table}")
        op.execute("DROP FUNCTION sync_capture()")
        op.execute("DROP FUNCTION sync_refuse_truncate()")
        op.execute("UPDATE sync_counter SET value = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync_seq)")
        op.execute("DROP SEQUENCE sync_seq")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("sync_change") as batch:
        batch.alter_column("seq", type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
    with op.batch_alter_table("sync_counter") as batch:
        batch.drop_column("epoch")
        batch.alter_column("value", type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
