"""A workstation whose server's database was reset or replaced pulls everything again
instead of trusting a cursor the new feed never reached (its queued work stays)."""

from __future__ import annotations

import pytest

from desktop_care.commands import AdjustPoints
from desktop_care.models import PointsType
from tests.support.servers import start_server
from tests.sync.workstations import members_on_server, workstation
from tests.ui.arrange import unique


@pytest.mark.expect_log("desktop_care.sync.syncer", r"feed ends at \d+, before our cursor \d+")
def test_a_cursor_beyond_the_servers_feed_pulls_the_directory_again(databases, tmp_path):
    store_path = tmp_path / "ws.sqlite3"
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = start_server(databases.create("sqlite"), tmp_path / "old")
    try:
        gone = unique("Gone")
        members_on_server(old, gone, 30)
        ws = workstation(old, store_path)
        assert ws.sync()
        assert ws.store.search(gone).total == 30
        old_cursor = ws.store.cursor()
        ws.close()
    finally:
        old.stop()

    new = start_server(databases.create("sqlite"), tmp_path / "new")
    try:
        fresh = unique("Fresh")
        new_ids = members_on_server(new, fresh, 2)
        ws = workstation(new, store_path)  # the same local store, now facing the new database
        assert ws.store.cursor() == old_cursor > ws.client.changes(0, 1).latest
        ws.store.enqueue(AdjustPoints(member_id=new_ids[0], delta=5, points_type=PointsType.GOODWILL,
                                      reason="kept across the reset", origin=ws.store.workstation_id))
        assert ws.sync()
        assert ws.store.search(gone).total == 0, "members of the old database are gone"
        assert [m.id for m in ws.store.search(fresh).items] == new_ids
        assert ws.store.cursor() == ws.client.changes(0, 1).latest
        assert ws.store.pending_count() == 0  # the queued change went to the new server
        assert ws.store.member_detail(new_ids[0]).points_balance == 5
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
