"""``GET /sync/changes/compact`` over HTTP against the real server (SQLite and
PostgreSQL): the same changes as ``GET /sync/changes``, as arrays, with the server's
search rows; paged by the same cursor; bad parameters named."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import Member, MemberSearch, MemberStatus
from desktop_care.models.sync import backfill_feed
from desktop_care.schemas import CompactFeedPage
from tests.support.servers import LiveServer

from .test_sync_feed import add_members, feed_db, pull_all  # noqa: F401  (feed_db is a fixture)


def compact(server: LiveServer, auth: dict[str, str], **params: Any) -> requests.Response:
    return requests.get(f"{server.api}/sync/changes/compact", params=params, headers=auth, timeout=30)


def compact_all(server: LiveServer, auth: dict[str, str], after: int = 0, limit: int = 5000) -> list[CompactFeedPage]:
    pages = []
    while True:
        response = compact(server, auth, after=after, limit=limit)
        assert response.status_code == 200, response.text
        page = CompactFeedPage.model_validate(response.json())
        pages.append(page)
        after = page.cursor
        if not page.has_more:
            return pages


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def test_compact_pages_carry_what_the_object_feed_carries(
    server: LiveServer, auth: dict[str, str], feed_db: Session
) -> None:
    survivor, merged, plain = add_members(feed_db, 3)
    merged.status, merged.merged_into_id = MemberStatus.MERGED, survivor.id
    plain.last_login_at = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)  # whole seconds: microseconds still written
    feed_db.commit()
    backfill_feed(feed_db)
    feed_db.commit()
    objects, cursor = pull_all(server, auth, limit=1000)
    pages = compact_all(server, auth, limit=1000)

    assert pages[-1].cursor == cursor
    assert sum(p.size for p in pages) == len(objects)
    width = len(pages[0].member_columns)
    rows = {row[0]: row for p in pages for row in p.members}
    addresses: dict[int, list[dict[str, Any]]] = {}
    for p in pages:
        for address in p.addresses:
            values = dict(zip(p.address_columns, address, strict=True))
            addresses.setdefault(values.pop("member_id"), []).append(values)
    assert [row[0] for p in pages for row in p.members] == [c.id for c in objects if not c.deleted]

    for change in objects:
        assert change.member is not None
        record = change.member.model_dump(mode="json", exclude={"addresses", "email_opt_in"})
        got = dict(zip(pages[0].member_columns, rows[change.id][:width], strict=True))
        for name in ("blocked_at", "last_login_at", "created_at", "updated_at"):
            assert _time(got.pop(name)) == _time(record.pop(name)), name
        assert got == record
        assert addresses.get(change.id, []) == [a.model_dump(mode="json") for a in change.member.addresses]

    # The server's search rows, less any a merged member left behind (one merged in SQL by
    # another test of the same server): a merged member is never found.
    search = {row.member_id: row for row in feed_db.scalars(
        select(MemberSearch).join(Member, Member.id == MemberSearch.member_id)
        .where(Member.status != MemberStatus.MERGED))}
    for member_id, row in rows.items():
        got_search = dict(zip(pages[0].search_columns, row[width:], strict=True))
        if member_id in search:
            assert got_search == {name: getattr(search[member_id], name) for name in got_search}
        else:
            assert set(got_search.values()) == {None}
    assert set(rows[merged.id][width:]) == {None}  # a merged member is not found, here as on the server
    assert rows[plain.id][pages[0].member_columns.index("last_login_at")] == "2026-12-01T09:30:00.000000Z"


def test_a_deleted_member_is_a_tombstone(server: LiveServer, auth: dict[str, str], feed_db: Session) -> None:
    (gone,) = add_members(feed_db, 1)
    cursor = compact_all(server, auth)[-1].cursor
    feed_db.delete(feed_db.get(Member, gone.id))
    feed_db.commit()
    (page,) = compact_all(server, auth, after=cursor)
    assert (page.deleted, page.members, page.size) == ([gone.id], [], 1)


def test_paging_follows_the_feed_cursor(server: LiveServer, auth: dict[str, str], feed_db: Session) -> None:
    start = compact_all(server, auth)[-1].cursor
    made = add_members(feed_db, 5)
    pages = compact_all(server, auth, after=start, limit=2)
    assert [[row[0] for row in p.members] for p in pages] == [[m.id for m in made[:2]], [m.id for m in made[2:4]],
                                                               [made[4].id]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [len(p.addresses) for p in pages] == [2, 2, 1]  # each page carries its own members' addresses only
    end = CompactFeedPage.model_validate(compact(server, auth, after=pages[-1].cursor).json())
    assert (end.members, end.size, end.cursor, end.has_more) == ([], 0, pages[-1].cursor, False)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"after": -1}, "after", "must be at least 0"),
        ({"limit": 0}, "limit", "must be at least 1"),
        ({"limit": 10001}, "limit", "must be at most 10000"),
        ({"after": "x"}, "after", "must be a whole number"),
    ],
)
def test_bad_compact_parameters_are_named(
    server: LiveServer, auth: dict[str, str], params: dict[str, Any], field: str, message: str
) -> None:
    response = compact(server, auth, **params)
    assert response.status_code == 422
    assert response.json()["fields"] == {field: message}


def test_the_compact_feed_needs_a_signed_in_staff_member(server: LiveServer) -> None:
    assert requests.get(f"{server.api}/sync/changes/compact", timeout=10).status_code == 401
