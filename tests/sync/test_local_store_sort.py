"""The workstation's replica sorts its search as the server does, with the same cursors."""

from __future__ import annotations

import sqlite3
import warnings

from sqlalchemy import text

from desktop_care.models import MemberSort
from desktop_care.models.search_sort import SORT_INDEXES
from desktop_care.sync.local_store import LocalStore
from tests.support.servers import LiveServer
from tests.sync.workstations import members_on_server, workstation
from tests.ui.arrange import unique


def _every_page(search, **params) -> list[int]:  # type: ignore[no-untyped-def]
    page = search(**params)
    ids = [m.id for m in page.items]
    while page.next_cursor:
        page = search(**params, cursor=page.next_cursor)
        ids += [m.id for m in page.items]
    return ids


def test_the_replica_sorts_like_the_server_and_reads_its_cursors(server: LiveServer, tmp_path) -> None:
    last = unique("Replsort")
    ids = members_on_server(server, last, 6)
    with server.engine().begin() as connection:  # points with a tie, written by SQL: the feed brings them
        for member_id, points in zip(ids, (30, 10, 30, 0, 50, 10), strict=True):
            connection.execute(text("UPDATE member SET points_balance = :p, version = version + 1 WHERE id = :id"),
                               {"p": points, "id": member_id})
    ws = workstation(server, tmp_path / "ws.sqlite3")
    try:
        assert ws.sync()
        expected = [ids[4], ids[2], ids[0], ids[5], ids[1], ids[3]]  # most points first, ties by member down
        for sort in (MemberSort.POINTS_DESC, MemberSort.POINTS):
            want = expected if sort.descending else expected[::-1]
            assert _every_page(ws.store.search, q=last, limit=2, sort=sort) == want
            assert _every_page(ws.client.search_members, q=last, limit=4, sort=sort) == want
        # Scrolling that began online goes on offline from the same cursor.
        online = ws.client.search_members(last, limit=3, sort=MemberSort.POINTS_DESC)
        rest = ws.store.search(last, limit=3, cursor=online.next_cursor, sort=MemberSort.POINTS_DESC)
        assert [m.id for m in [*online.items, *rest.items]] == expected
    finally:
        ws.close()


#: The search's indexes of migration 0027 (decision 0038).
NEW_SEARCH_INDEXES = ("ix_member_search_first_last", "ix_member_search_email_domain")


def test_a_replica_made_before_sorting_gains_the_sort_indexes_without_a_new_pull(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    LocalStore(path).close()
    with sqlite3.connect(path) as old:
        for name in (*(index.name for index in SORT_INDEXES), *NEW_SEARCH_INDEXES):
            old.execute(f"DROP INDEX {name}")
        old.execute("UPDATE sync_state SET value = '42' WHERE key = 'cursor'")  # as after a pull
    store = LocalStore(path)
    store.close()
    with sqlite3.connect(path) as reopened:
        names = {row[0] for row in reopened.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {index.name for index in SORT_INDEXES} | set(NEW_SEARCH_INDEXES) <= names
        plan = " ".join(str(r) for r in reopened.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM member ORDER BY account_balance_cents DESC, id DESC LIMIT 51"))
        assert "ix_member_sort_balance" in plan and "TEMP B-TREE" not in plan
        # The directory is kept: a new pull would have started from 0.
        assert reopened.execute("SELECT value FROM sync_state WHERE key = 'cursor'").fetchone() == ("42",)


def test_reopening_a_replica_checks_its_indexes_without_a_warning(tmp_path) -> None:
    """Each start opens the replica; the check for the sort indexes used to reflect the
    tables, and SQLAlchemy warned of the expression index it cannot reflect."""
    path = tmp_path / "ws.sqlite3"
    LocalStore(path).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LocalStore(path).close()
