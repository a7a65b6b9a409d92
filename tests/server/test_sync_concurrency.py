"""No change is ever skipped by a pull, with two real concurrent transactions
(PostgreSQL and SQLite): a writer that takes its sequence number later cannot commit
before one that took an earlier number, so a reader never sees N+1 before N.

Numbers are taken by the database's capture triggers: on SQLite at the write, on
PostgreSQL at COMMIT (a deferred constraint trigger); the first writer here asks for
its number before committing with ``SET CONSTRAINTS ALL IMMEDIATE``, then stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import Actor, UpdateContact, execute
from desktop_care.models import Member
from desktop_care.server.db import make_engine
from tests.support.servers import LiveServer

from .test_sync_feed import add_members, feed_db, page, pull_all  # noqa: F401  (feed_db: fixture)

DEADLINE = 20.0
ACTOR = Actor(user_id=None, username="concurrency-test")


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition until it holds, failing after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def engines(server: LiveServer) -> Iterator[tuple[Engine, Engine]]:
    """Two engines of their own: two connections, two real transactions."""
    pair = (make_engine(server.database_url), make_engine(server.database_url))
    yield pair
    for engine in pair:
        engine.dispose()


class Writer(threading.Thread):
    """Runs one command in its own transaction on its own engine, as the server does."""

    def __init__(self, engine: Engine, command: UpdateContact) -> None:
        super().__init__(daemon=True)
        self.factory = sessionmaker(engine, expire_on_commit=False)
        self.command = command
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.status: str | None = None

    def run(self) -> None:
        try:
            with self.factory() as session:
                self.status = execute(session, self.command, ACTOR).status.value
                session.commit()
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            self.error = exc
        finally:
            self.done.set()


def edit(member: Member, phone: str) -> UpdateContact:
    return UpdateContact(member_id=member.id, base_version=member.version, phone=phone)


def test_a_later_writer_waits_for_the_earlier_number_and_readers_skip_nothing(
    server: LiveServer, auth: dict[str, str], feed_db: Session, engines: tuple[Engine, Engine]
) -> None:
    a, b = add_members(feed_db, 2)
    _, cursor = pull_all(server, auth)

    # T1 changes A and takes its sequence number, then stops just before COMMIT.
    first = Writer(engines[0], edit(a, "+44 20 7946 0001"))
    numbered, release = threading.Event(), threading.Event()
    taken: dict[str, Any] = {}

    def hold_commit(session: Session) -> None:  # runs just before COMMIT
        session.flush()
        if server.backend == "postgres":
            session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the deferred capture runs now
        taken["seq"] = session.execute(
            text("SELECT seq FROM sync_change WHERE entity = 'member' AND entity_id = :id"), {"id": a.id}
        ).scalar_one()
        numbered.set()
        if not release.wait(DEADLINE):
            raise TimeoutError("the test never released the first writer")

    event.listen(first.factory, "before_commit", hold_commit)

    # T2 changes B; it is noticed as soon as it starts writing.
    second = Writer(engines[1], edit(b, "+44 20 7946 0002"))
    second_writes = threading.Event()

    @event.listens_for(engines[1], "before_cursor_execute")
    def _writing(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            second_writes.set()

    try:
        first.start()
        assert numbered.wait(DEADLINE), first.error
        second.start()
        if server.backend == "postgres":
            # B's row is free, so T2 gets as far as its COMMIT, where the capture trigger
            # waits for the counter row T1 holds.
            wait_for(lambda: second.done.is_set() or waiting_on_counter(server) > 0, "T2 to wait on the counter")
        else:
            wait_for(lambda: second.done.is_set() or second_writes.is_set(), "T2 to start writing")
        assert not second.done.is_set(), f"T2 committed before T1, which holds an earlier number ({second.error})"

        # A reader meanwhile sees neither change: not B before A.
        during = page(server, auth, cursor)
        assert [c.id for c in during.changes] == []
        assert during.cursor == cursor
    finally:
        release.set()
    first.join(DEADLINE)
    second.join(DEADLINE)
    assert (first.error, second.error) == (None, None)
    assert (first.status, second.status) == ("applied", "applied")

    after, _ = pull_all(server, auth, after=cursor)
    assert [(c.id, c.seq) for c in after] == [(a.id, taken["seq"]), (b.id, taken["seq"] + 1)]
    assert [c.member.phone for c in after if c.member] == ["+442079460001", "+442079460002"]


def waiting_on_counter(server: LiveServer) -> int:
    with server.engine().connect() as connection:
        return int(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND state = 'active' AND query ILIKE 'COMMIT%'"
        )).scalar_one())
