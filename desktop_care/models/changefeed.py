"""The change feed is filled by the database: triggers, not a hook of ours.

Migration 0007 puts triggers on every replicated table (``member``, ``address``): each
INSERT, UPDATE or DELETE moves the member's ``sync_change`` row to a new sequence
number, whoever writes — the server, a script, a migration, a bulk UPDATE in SQL.
Nothing in our code has to remember to record a change, so nothing can forget to.

- SQLite: ``AFTER`` row triggers number the change at once. SQLite runs one writer at
  a time (its write lock is held to the end of the transaction), so numbers become
  visible in their order.
- PostgreSQL: a ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger runs at COMMIT. It
  locks the counter row (held until the commit ends) and takes its number from the
  ``sync_seq`` sequence. Taking the lock at commit, not at the first write, keeps the
  serialised part of concurrent writers as short as before (the commit tail); a
  transaction that wants its numbers earlier can ``SET CONSTRAINTS ALL IMMEDIATE``.
  ``TRUNCATE`` of a replicated table is refused (row triggers would not see it).

What still bypasses capture, by design and documented: PostgreSQL's
``session_replication_role = replica`` (superuser only) and the bulk load below, which
turns capture off only inside its own transaction and backfills before it commits.

**Migrations beware:** on SQLite, ``batch_alter_table`` on ``member`` or ``address``
recreates the table and drops its triggers; such a migration must create them again
(``tests/sync/test_feed_capture.py`` fails if capture is lost at the head).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

#: Tables whose writes are changes of a replicated member.
CAPTURED_TABLES = ("member", "address")


@contextmanager
def capture_suspended(connection: Connection) -> Iterator[None]:
    """Inside one transaction: turn the capture triggers off, and on again on the way
    out. For bulk loads that then call :func:`~.sync.backfill_feed` before committing.

    No other transaction ever runs without capture: PostgreSQL's ``ALTER TABLE ...
    DISABLE TRIGGER`` locks the tables (ACCESS EXCLUSIVE) until this transaction ends,
    and SQLite's DDL happens under the write lock this transaction holds; both are
    transactional, so a failure restores the triggers with everything else.
    """
    if not connection.in_transaction():
        raise RuntimeError("suspend capture only inside a transaction")
    if connection.dialect.name == "postgresql":
        for table in CAPTURED_TABLES:
            connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER sync_capture")
        yield
        for table in CAPTURED_TABLES:
            connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER sync_capture")
        return
    placeholders = ", ".join(f"'{t}'" for t in CAPTURED_TABLES)
    triggers = connection.execute(text(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'sync_capture_%' "
        f"AND tbl_name IN ({placeholders}) ORDER BY name"
    )).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    for _, sql in triggers:
        connection.exec_driver_sql(sql)


__all__ = ["CAPTURED_TABLES", "capture_suspended"]
