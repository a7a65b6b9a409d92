"""Transactions for writes and consistent reads, and running one command in its own
committed transaction: the one write path of every router (``POST /sync/commands``,
``POST /commands``, and later the portal's pages)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import Actor, BaseCommand, CommandResult, execute
from desktop_care.commands.runner import Batch

#: A pushed batch (at most ``MAX_BATCH``, 200, commands) commits at the latest once it
#: has run this long, and goes on in a new transaction: its members' locks (and on
#: SQLite the database's write lock) are never held much longer than this plus one
#: command, whatever the machine's load (docs/decisions/0039).
BATCH_SECONDS = 0.5

#: Fault injection for the crash tests, as the workstation's ``DESKTOP_CARE_CRASH_AT``:
#: ``push.mid_batch`` makes the server process die half-way through a pushed batch's
#: transaction, before it commits.
CRASH_ENV = "DESKTOP_CARE_SERVER_CRASH_AT"
CRASH_EXIT_CODE = 87


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



def run_batch(sessions: sessionmaker[Session], commands: Sequence[BaseCommand], actor: Actor,
              digests: Sequence[str], results: list[CommandResult]) -> None:
    """Run a pushed batch in order, appending each command's result to ``results``:
    in one write transaction (or one every ``BATCH_SECONDS``), each command in a
    savepoint of its own (:class:`~desktop_care.commands.runner.Batch`).

    A command that raises (a reused op_id, a bug, a lost database connection) is rolled
    back alone; what ran before it is committed and the exception propagates, so
    ``len(results)`` is its index (a direct command that fails after it started writing
    rolls back its whole transaction instead: ``results`` then ends where that
    transaction began, and a resend runs those commands again). A process that dies mid-transaction commits nothing
    of it: a resend runs those commands as if for the first time."""
    crash_at = os.environ.get(CRASH_ENV)
    while len(results) < len(commands):
        start = len(results)
        failure: Exception | None = None
        with transaction(sessions, write=True) as session:
            batch = Batch(session, actor, commands[start:], digests[start:])
            deadline = time.monotonic() + BATCH_SECONDS
            for command in commands[start:]:
                try:
                    results.append(batch.run(command))
                except Exception as exc:  # noqa: BLE001 (re-raised once the commands before it are committed)
                    failure = exc
                    break
                if crash_at == "push.mid_batch" and len(results) - start == (len(commands) - start + 1) // 2:
                    os._exit(CRASH_EXIT_CODE)
                if time.monotonic() > deadline:
                    break
            if failure is not None and batch.broken:
                del results[start:]
                raise failure  # a direct command failed part-way: this transaction rolls back whole
            batch.flush()
        if failure is not None:
            raise failure
