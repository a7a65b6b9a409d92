"""``GET /sync/changes`` over HTTP against the real server (SQLite and PostgreSQL):
every member once, in sequence order, paged; an edit moves a member to the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import UpdateContact
from desktop_care.models import Address, Member, MemberStatus
from desktop_care.models.sync import SyncChange, backfill_feed
from desktop_care.schemas import FeedChange, FeedPage
from tests.support.servers import LiveServer

from .conftest import unique
from .test_sync_commands import push, results


@pytest.fixture
def feed_db(server: LiveServer) -> Iterator[Session]:
    """A plain session on the server's database: its triggers record what it writes."""
    factory = sessionmaker(server.engine(), expire_on_commit=False)
    with factory() as session:
        yield session


def pull(server: LiveServer, auth: dict[str, str], **params: Any) -> requests.Response:
    return requests.get(f"{server.api}/sync/changes", params=params, headers=auth, timeout=30)


def page(server: LiveServer, auth: dict[str, str], after: int, limit: int = 1000) -> FeedPage:
    response = pull(server, auth, after=after, limit=limit)
    assert response.status_code == 200, response.text
    return FeedPage.model_validate(response.json())


def pull_all(
    server: LiveServer, auth: dict[str, str], after: int = 0, limit: int = 1000
) -> tuple[list[FeedChange], int]:
    """Every change after ``after``, page by page; and the final cursor."""
    changes: list[FeedChange] = []
    while True:
        current = page(server, auth, after, limit)
        changes += current.changes
        assert current.cursor == (current.changes[-1].seq if current.changes else after)
        after = current.cursor
        if not current.has_more:
            return changes, after


def add_members(session: Session, count: int) -> list[Member]:
    surname = unique("Feed")
    members = [
        Member(member_no=unique("7")[:10], logon_id=unique("feed."), first_name=f"F{i}", last_name=surname,
               addresses=[Address(line1=f"{i} Feed Street", postcode="FE1 1ED")])
        for i in range(count)
    ]
    session.add_all(members)
    session.commit()
    return members


def test_a_pull_from_zero_brings_every_member_once_in_order(
    server: LiveServer, auth: dict[str, str], feed_db: Session
) -> None:
    made = add_members(feed_db, 7)
    backfill_feed(feed_db)  # members other tests made without the feed hook
    feed_db.commit()

    changes, cursor = pull_all(server, auth, limit=3)
    seqs = [c.seq for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    ids = [c.id for c in changes if c.entity == "member" and not c.deleted]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(feed_db.scalars(select(Member.id)))
    assert cursor == seqs[-1] == feed_db.scalar(select(func.max(SyncChange.seq)))

    by_id = {c.id: c for c in changes}
    first = by_id[made[0].id]
    assert first.deleted is False and first.member is not None
    assert (first.member.member_no, first.member.first_name, first.member.version) == (
        made[0].member_no, "F0", made[0].version)
    assert [(a.line1, a.postcode) for a in first.member.addresses] == [("0 Feed Street", "FE1 1ED")]
    # Made in one transaction: consecutive numbers, in the order of their keys.
    assert [by_id[m.id].seq for m in made] == list(range(by_id[made[0].id].seq, by_id[made[0].id].seq + 7))


def test_paging_and_cursor_semantics(server: LiveServer, auth: dict[str, str], feed_db: Session) -> None:
    _, start = pull_all(server, auth)
    made = add_members(feed_db, 5)

    first = page(server, auth, start, limit=2)
    assert ([c.id for c in first.changes], first.has_more) == ([made[0].id, made[1].id], True)
    second = page(server, auth, first.cursor, limit=2)
    assert ([c.id for c in second.changes], second.has_more) == ([made[2].id, made[3].id], True)
    third = page(server, auth, second.cursor, limit=2)
    assert ([c.id for c in third.changes], third.has_more) == ([made[4].id], False)

    # At the end: nothing, and the cursor stays where it was asked.
    end = page(server, auth, third.cursor, limit=2)
    assert (end.changes, end.cursor, end.has_more) == ([], third.cursor, False)
    # Asking again from an older cursor repeats the same changes (pulls are idempotent).
    assert page(server, auth, first.cursor, limit=2) == second


def test_an_edit_moves_the_member_to_the_end(server: LiveServer, auth: dict[str, str], feed_db: Session) -> None:
    made = add_members(feed_db, 3)
    _, cursor = pull_all(server, auth)

    edit = UpdateContact(member_id=made[0].id, base_version=made[0].version, email="moved@example.org")
    assert results(push(server, auth, edit))[0]["status"] == "applied"
    address = made[1].addresses[0]
    address.postcode = "MV2 2ED"  # an address is part of its member's record
    feed_db.commit()

    since, new_cursor = pull_all(server, auth, after=cursor)
    assert [c.id for c in since] == [made[0].id, made[1].id]
    assert since[0].member is not None and since[0].member.email == "moved@example.org"
    assert since[0].member.version == made[0].version + 1
    assert since[1].member is not None and since[1].member.addresses[0].postcode == "MV2 2ED"
    assert new_cursor == since[-1].seq > cursor

    everything, _ = pull_all(server, auth)
    ids = [c.id for c in everything]
    assert ids[-2:] == [made[0].id, made[1].id]
    assert ids.count(made[0].id) == 1


def test_merged_members_come_as_upserts(server: LiveServer, auth: dict[str, str], feed_db: Session) -> None:
    survivor, merged = add_members(feed_db, 2)
    _, cursor = pull_all(server, auth)
    merged.status, merged.merged_into_id = MemberStatus.MERGED, survivor.id
    feed_db.commit()
    since, _ = pull_all(server, auth, after=cursor)
    assert [(c.id, c.deleted) for c in since] == [(merged.id, False)]
    assert since[0].member is not None
    assert (since[0].member.status, since[0].member.merged_into_id) == (MemberStatus.MERGED, survivor.id)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"after": -1}, "after", "must be at least 0"),
        ({"limit": 0}, "limit", "must be at least 1"),
        ({"limit": 5001}, "limit", "must be at most 5000"),
        ({"after": "x"}, "after", "must be a whole number"),
    ],
)
def test_bad_feed_parameters_are_named(
    server: LiveServer, auth: dict[str, str], params: dict[str, Any], field: str, message: str
) -> None:
    response = pull(server, auth, **params)
    assert response.status_code == 422
    assert response.json()["fields"] == {field: message}
