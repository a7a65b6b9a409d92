"""A workstation pulling the compact feed (what the Syncer does) against the real server
(SQLite and PostgreSQL): it stores exactly what the object feed would have stored, a
member changed during a first sync ends up current, and a page it cannot store is
refused whole."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from desktop_care.models import Address, AddressKind, Member, MemberStatus
from desktop_care.models.sync import backfill_feed
from desktop_care.sync import LocalStore
from desktop_care.sync.page_rows import FeedFormatError, stored_time
from tests.sync.workstations import members_on_server, workstation
from tests.ui.arrange import signed_in_client, unique

_TABLES = ("member", "address", "member_search")


def _replica(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in _TABLES}


def _pull_objects(store: LocalStore, server) -> None:
    client = signed_in_client(server)
    after = 0
    while True:
        page = client.changes(after, 7)
        store.apply_feed(page)
        after = page.cursor
        if not page.has_more:
            return


def test_the_compact_feed_stores_what_the_object_feed_stores(server, tmp_path) -> None:
    last = unique("Compact")
    ids = members_on_server(server, last, 12, last_login_at=dt.datetime(2026, 11, 30, 8, 15, 0, 120, tzinfo=dt.UTC))
    with Session(server.engine()) as session:
        for n, member_id in enumerate(ids[:4]):
            session.add_all([Address(member_id=member_id, kind=kind, line1=f"{n} Compact Row", postcode=f"CP{n} 1AA")
                             for kind in (AddressKind.HOME, AddressKind.BILLING)])
        session.commit()
    compact = workstation(server, tmp_path / "compact.sqlite3", page_size=5)
    assert compact.sync(), compact.syncer.last_error
    objects = LocalStore(tmp_path / "objects.sqlite3")
    _pull_objects(objects, server)
    compact.close()
    objects.close()

    assert _replica(tmp_path / "compact.sqlite3") == _replica(tmp_path / "objects.sqlite3")
    reopened = LocalStore(tmp_path / "compact.sqlite3")
    found = reopened.search(last).items
    assert len(found) == 12  # the search index was built from the server's rows
    assert [m.id for m in reopened.search("CP2 1AA").items] == [ids[2]]
    assert len(_replica(tmp_path / "compact.sqlite3")["address"]) >= 8
    assert found[0].last_login_at == dt.datetime(2026, 11, 30, 8, 15, 0, 120, tzinfo=dt.UTC)
    reopened.close()


def test_a_member_changed_during_a_first_sync_ends_up_current(server, tmp_path) -> None:
    ids = members_on_server(server, unique("During"), 6)
    ws = workstation(server, tmp_path / "ws.sqlite3", page_size=3)
    first = ws.client.compact_changes(0, 3)
    ws.store.apply_feed(first)  # one page in; the first sync goes on below
    with Session(server.engine()) as session:
        for member_id in ids:
            member = session.get(Member, member_id)
            assert member is not None
            member.first_name = "Changed"
        session.commit()
    assert ws.sync(), ws.syncer.last_error
    assert {ws.store.member_detail(member_id).first_name for member_id in ids} == {"Changed"}  # type: ignore[union-attr]
    assert [m.id for m in ws.store.search("Changed").items if m.id in ids] == ids
    ws.close()


def test_a_member_merged_in_sql_is_not_found_after_a_first_sync(server, tmp_path) -> None:
    """A merge written in SQL (past the ORM that keeps the server's search rows) leaves
    the merged member's search row behind; the compact feed must not bring it."""
    last = unique("MergedSql")
    survivor, merged = members_on_server(server, last, 2)
    with Session(server.engine()) as session:
        session.execute(update(Member).where(Member.id == merged)
                        .values(status=MemberStatus.MERGED, merged_into_id=survivor))
        backfill_feed(session)
        session.commit()
    ws = workstation(server, tmp_path / "ws.sqlite3")
    assert ws.sync(), ws.syncer.last_error
    assert [m.id for m in ws.store.search(last).items] == [survivor]
    assert ws.store.member_detail(merged).status is MemberStatus.MERGED  # type: ignore[union-attr]
    ws.close()


def test_a_page_with_columns_not_known_here_is_refused_whole(server, tmp_path) -> None:
    members_on_server(server, unique("Refused"), 2)
    ws = workstation(server, tmp_path / "ws.sqlite3")
    page = ws.client.compact_changes(0, 5000)
    odd = page.model_copy(update={"member_columns": [*page.member_columns[:-1], "shoe_size"]})
    with pytest.raises(FeedFormatError, match="shoe_size"):
        ws.store.apply_feed(odd)
    assert ws.store.cursor() == 0
    assert _replica(tmp_path / "ws.sqlite3")["member"] == []
    ws.close()


@pytest.mark.parametrize(
    ("wire", "stored"),
    [
        ("2026-12-03T08:00:00.000001Z", "2026-12-03 08:00:00.000001"),
        ("2026-12-03T09:00:00+01:00", "2026-12-03 08:00:00.000000"),  # another zone, another form: parsed
    ],
)
def test_times_are_stored_as_utc_text(wire: str, stored: str) -> None:
    assert stored_time(wire) == stored


def test_a_time_without_its_zone_is_refused() -> None:
    with pytest.raises(FeedFormatError, match="without its zone"):
        stored_time("2026-12-03T08:00:00")
