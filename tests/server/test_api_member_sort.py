"""The member search sorted by a column over HTTP, paged by keyset (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import requests
from sqlalchemy.orm import Session

from desktop_care.models import Member, MemberStatus
from desktop_care.schemas import MemberPage, MemberSummary
from tests.support.servers import LiveServer

from .conftest import make_member, unique


def search(server: LiveServer, auth: dict[str, str], **params: object) -> requests.Response:
    return requests.get(f"{server.api}/members", params=params, headers=auth, timeout=10)


def every_page(server: LiveServer, auth: dict[str, str], **params: object) -> list[MemberSummary]:
    """Every row of a search, page after page by the cursors."""
    response = search(server, auth, **params)
    assert response.status_code == 200, response.text
    page = MemberPage.model_validate(response.json())
    rows = list(page.items)
    while page.next_cursor:
        response = search(server, auth, **params, cursor=page.next_cursor)
        assert response.status_code == 200, response.text
        page = MemberPage.model_validate(response.json())
        rows += page.items
    return rows


def _members(db: Session, surname: str) -> list[Member]:
    """Seven members of one surname: balances with ties, two who never signed in."""
    when = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    specs = [  # first name, balance (pence), points, last login (days after `when`)
        ("Beth", 500, 10, 3), ("álvaro", 2500, 10, None), ("Carl", 500, 40, 1), ("dora", -300, 0, 2),
        ("Ezra", 2500, 5, None), ("Fay", 0, 90, 3), ("Gus", 500, 20, 0),
    ]
    return [make_member(db, first, surname, account_balance_cents=cents, points_balance=points,
                        last_login_at=when + dt.timedelta(days=days) if days is not None else None)
            for first, cents, points, days in specs]


def test_sorted_by_balance_both_ways_ties_by_member_across_pages(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    surname = unique("Sortbal")
    made = _members(db, surname)
    ids = [m.id for m in made]
    by_balance = sorted(made, key=lambda m: (m.account_balance_cents, m.id))

    up = every_page(server, auth, q=surname, sort="balance", limit=2)
    assert [r.id for r in up] == [m.id for m in by_balance]
    down = every_page(server, auth, q=surname, sort="-balance", limit=3)
    # Highest first; members of the same balance by member, highest member first too.
    assert [r.id for r in down] == [m.id for m in reversed(by_balance)]
    assert [r.account_balance_cents for r in down][:2] == [2500, 2500]
    first = MemberPage.model_validate(search(server, auth, q=surname, sort="-balance", limit=3).json())
    assert (first.total, first.total_exact, len(first.items)) == (7, True, 3)
    assert set(ids) == {r.id for r in up}


def test_sorted_by_name_ignores_case_and_accents_and_never_signed_in_comes_last(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    surname = unique("Sortname")
    made = {m.first_name: m for m in _members(db, surname)}
    names = [r.name.split()[0] for r in every_page(server, auth, q=surname, sort="name", limit=2)]
    assert names == ["álvaro", "Beth", "Carl", "dora", "Ezra", "Fay", "Gus"]
    assert [r.name.split()[0] for r in every_page(server, auth, q=surname, sort="-name", limit=4)] == names[::-1]

    # Fay and Beth signed in at the same moment: the later member first when descending.
    recent = [r.name.split()[0] for r in every_page(server, auth, q=surname, sort="-last_login", limit=2)]
    assert recent == ["Fay", "Beth", "dora", "Carl", "Gus", "Ezra", "álvaro"]
    oldest = [r.name.split()[0] for r in every_page(server, auth, q=surname, sort="last_login", limit=3)]
    assert oldest == ["Gus", "Carl", "dora", "Beth", "Fay", "álvaro", "Ezra"]
    assert made["Ezra"].last_login_at is None


def test_sorted_without_a_query_walks_every_member(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    top = make_member(db, "Rich", unique("Sorttop"), account_balance_cents=2_000_000_000)
    merged = make_member(db, "Gone", unique("Sortgone"), account_balance_cents=2_000_000_001)
    merged.status = MemberStatus.MERGED
    db.commit()
    response = search(server, auth, sort="-balance", limit=5)
    assert response.status_code == 200, response.text
    page = MemberPage.model_validate(response.json())
    assert page.items[0].id == top.id  # a merged member is never listed
    balances = [r.account_balance_cents for r in page.items]
    assert balances == sorted(balances, reverse=True)
    assert page.next_cursor is not None and page.total_exact
    second = MemberPage.model_validate(search(server, auth, sort="-balance", limit=5, cursor=page.next_cursor).json())
    assert second.items[0].account_balance_cents <= balances[-1]
    assert not {r.id for r in second.items} & {r.id for r in page.items}


def test_a_bad_sort_or_a_cursor_of_another_sort_is_refused_plainly(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    surname = unique("Sortbad")
    _members(db, surname)
    bad = search(server, auth, q=surname, sort="shoe_size")
    assert bad.status_code == 422, bad.text
    message = bad.json()["fields"]["sort"]
    assert message.startswith("must be one of") and "'-balance'" in message and "'last_login'" in message
    cursor = MemberPage.model_validate(search(server, auth, q=surname, sort="points", limit=2).json()).next_cursor
    other = search(server, auth, q=surname, sort="-points", limit=2, cursor=cursor)
    assert other.status_code == 422
    assert "cursor" in other.json()["fields"], other.json()
    unsorted = MemberPage.model_validate(search(server, auth, q=surname, limit=2).json()).next_cursor
    assert search(server, auth, q=surname, sort="points", cursor=unsorted).status_code == 422
