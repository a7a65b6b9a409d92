"""Transactions for writes and consistent reads, and running one command in its own
committed transaction: the one write path of every router (``POST /sync/commands``,
``POST /commands``, and later the portal's pages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import Actor, BaseCommand, CommandResult, execute


@contextmanager
def transaction(sessions: sessionmaker[Session], *, write: bool) -> Iterator[Session]:
    """A session in a transaction that sees one consistent state of the database.

    SQLite: ``BEGIN IMMEDIATE`` for writers, so a command takes the write lock before
    it reads anything (waiting up to the busy timeout behind another writer instead of
    failing with "database is locked" when it tries to upgrade a stale read), and
    ``BEGIN`` for readers, so a whole feed page comes from one snapshot. PostgreSQL:
    REPEATABLE READ for readers; writers lock the member row (``execute``).
    """
    with sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        elif not write:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def run_command(sessions: sessionmaker[Session], command: BaseCommand, actor: Actor) -> CommandResult:
    """``execute`` in a write transaction of its own, committed; raises NotPermitted
    and OpIdReused as ``execute`` does."""
    for attempt in range(2):
        try:
            with transaction(sessions, write=True) as session:
                return execute(session, command, actor)
        except IntegrityError:
            # Another request ran the same op_id at the same moment (an unknown member:
            # no row to lock); the retry finds its stored result: a duplicate.
            if attempt:
                raise
    raise AssertionError("unreachable")

