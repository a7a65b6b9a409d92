"""A workstation whose server's database was reset or replaced pulls everything again
instead of trusting a cursor the new feed never reached, or has passed with another
epoch (its queued work stays)."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_care.commands import AdjustPoints
from desktop_care.models import PointsType
from tests.support.servers import start_server
from tests.sync.workstations import members_on_server, workstation
from tests.ui.arrange import unique


def synced_with_another_database(databases, tmp_path, members: int) -> tuple[Path, str, int, str | None]:
    """A workstation store that pulled ``members`` members from a server that is gone
    now: its path, the members' last name, its cursor and the old feed's epoch."""
    store_path = tmp_path / "ws.sqlite3"
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = start_server(databases.create("sqlite"), tmp_path / "old")
    try:
        gone = unique("Gone")
        members_on_server(old, gone, members)
        ws = workstation(old, store_path)
        assert ws.sync()
        assert ws.store.search(gone).total == members
        old_cursor, old_epoch = ws.store.cursor(), ws.store.epoch()
        ws.close()
    finally:
        old.stop()
    return store_path, gone, old_cursor, old_epoch


@pytest.mark.expect_log("desktop_care.sync.syncer", r"before our cursor \d+: pulling everything again")
def test_a_cursor_beyond_the_servers_feed_pulls_the_directory_again(databases, tmp_path):
    store_path, gone, old_cursor, _ = synced_with_another_database(databases, tmp_path, 30)

    new = start_server(databases.create("sqlite"), tmp_path / "new")
    try:
        fresh = unique("Fresh")
        new_ids = members_on_server(new, fresh, 2)
        ws = workstation(new, store_path)  # the same local store, now facing the new database
        assert ws.store.cursor() == old_cursor > ws.client.changes(0, 1).latest
        ws.store.enqueue(AdjustPoints(member_id=new_ids[0], delta=5, points_type=PointsType.GOODWILL,
                                      reason="kept across the reset", origin=ws.store.workstation_id), ws.author)
        assert ws.sync()
        assert ws.store.search(gone).total == 0, "members of the old database are gone"
        assert [m.id for m in ws.store.search(fresh).items] == new_ids
        assert ws.store.cursor() == ws.client.changes(0, 1).latest
        assert ws.store.pending_count() == 0  # the queued change went to the new server
        assert ws.store.member_detail(new_ids[0]).points_balance == 5
        ws.close()
    finally:
        new.stop()


@pytest.mark.expect_log("desktop_care.sync.syncer", r"our directory came from .*: pulling everything again")
def test_a_restored_database_ahead_of_the_cursor_is_detected_by_its_epoch(databases, tmp_path):
    """The server now runs on another database (a restored backup) whose feed has moved
    past this workstation's cursor: the epoch differs, so the workstation pulls the
    directory again, and its queued work goes to the new server."""
    store_path, gone, old_cursor, old_epoch = synced_with_another_database(databases, tmp_path, 3)
    assert old_epoch
    new = start_server(databases.create("sqlite"), tmp_path / "new")
    try:
        fresh = unique("After")
        new_ids = members_on_server(new, fresh, old_cursor + 5)  # its feed is ahead of our cursor
        ws = workstation(new, store_path)
        first = ws.client.changes(0, 1)
        assert first.latest is not None and first.latest > old_cursor and first.epoch != old_epoch
        ws.store.enqueue(AdjustPoints(member_id=new_ids[0], delta=7, points_type=PointsType.GOODWILL,
                                      reason="kept across the restore"), ws.author)
        assert ws.sync()
        assert ws.store.search(gone).total == 0, "members of the other database are gone"
        assert ws.store.search(fresh).total == len(new_ids), "every member of the new database, not only those past the cursor"
        assert ws.store.pending_count() == 0
        detail = ws.store.member_detail(new_ids[0])
        assert detail is not None and detail.points_balance == 7
        ws.close()
    finally:
        new.stop()


def test_a_long_pull_reports_how_much_it_has_received(server, tmp_path):
    """A first sync of several pages says how far it got, page by page, up to the end."""
    members_on_server(server, unique("Paged"), 25)
    ws = workstation(server, tmp_path / "ws.sqlite3", page_size=10)
    try:
        assert ws.sync()
        shares = [s.received for s in ws.events.statuses() if s.received is not None]
        entries, after, more = 0, 0, True
        while more:  # the whole feed, however long the shared server's has grown
            page = ws.client.changes(after, 5000)
            entries, after, more = entries + len(page.changes), page.cursor, page.has_more
        pages = -(-entries // 10)
        assert len(shares) == pages - 1  # one after every page but the last
        assert shares == sorted(shares) and 0 < shares[0] < shares[-1] <= 1.0
        assert ws.events.statuses()[-1].received is None and not ws.events.statuses()[-1].syncing
    finally:
        ws.close()
