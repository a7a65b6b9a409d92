"""The sorted member search finds what the search finds, in the column's order, on
both databases, whether it sorts the matches or walks a sort index (a common term)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from desktop_care.models import MemberSort
from desktop_care.models.search import InvalidCursor, search_members

from .conftest import make_member

QUERIES = ["", "smi", "sm", "jo sm", "9000", "sm j"]


def every_page(session: Session, q: str, limit: int, **kwargs: object) -> list[int]:
    ids: list[int] = []
    cursor = None
    for _ in range(200):
        page = search_members(session, q, limit, cursor, **kwargs)  # type: ignore[arg-type]
        ids += [m.id for m in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            return ids
    raise AssertionError("paging did not end")


@pytest.fixture
def register(session: Session) -> None:
    people = [("Ann", "Smith", "ann.smith@example.org"), ("John", "Smithers", "js@example.org"),
              ("Joanna", "Small", "jo@small.net"), ("Smita", "Rao", "smita@example.org"),
              ("Olu", "Jones", ""), ("Zoë", "Ångström", "zz@example.org"), ("bob", "smith", "BOB@EXAMPLE.ORG")]
    for i, (first, last, email) in enumerate(people * 3):
        member = make_member(session, first, last, email=email, member_no=f"9000{i:02d}")
        member.points_balance = (i * 7) % 5
        member.account_balance_cents = -200 + 100 * (i % 4)
    session.flush()


@pytest.mark.usefixtures("register")
def test_every_sort_finds_what_the_search_finds_sorting_or_walking(session: Session) -> None:
    for q in QUERIES:
        found = set(every_page(session, q, 200))
        for sort in (MemberSort.NAME, MemberSort.BALANCE_DESC, MemberSort.LAST_LOGIN):
            sorted_ids = every_page(session, q, 8, sort=sort)
            assert len(sorted_ids) == len(set(sorted_ids)), (q, sort, "a row on two pages")
            assert set(sorted_ids) == found, (q, sort)
            # With a cap of 2 the common case walks the sort index, testing each row.
            assert every_page(session, q, 8, sort=sort, total_cap=2) == sorted_ids, (q, sort)


@pytest.mark.usefixtures("register")
def test_a_sorted_page_is_in_the_columns_order_ties_by_member(session: Session) -> None:
    rows = search_members(session, "example", 200, sort=MemberSort.BALANCE_DESC).rows
    keys = [(m.account_balance_cents, m.id) for m in rows]
    assert keys == sorted(keys, reverse=True)
    names = [(m.last_name, m.first_name) for m in search_members(session, "sm", 200, sort=MemberSort.NAME).rows]
    # By surname then first name, case and accents aside: "smith, bob" between the Smiths.
    assert names[:3] == [("Rao", "Smita")] * 3 and names[-1] == ("Smithers", "John")
    smiths = [n for n in names if n[0].lower() == "smith"]
    assert smiths == [("Smith", "Ann")] * 3 + [("smith", "bob")] * 3


def test_a_cursor_of_another_sort_is_refused(session: Session) -> None:
    for i in range(3):
        make_member(session, "Cur", f"Sor{i}")
    cursor = search_members(session, "cur", 1, sort=MemberSort.POINTS).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        search_members(session, "cur", 1, cursor, sort=MemberSort.NAME)
    with pytest.raises(InvalidCursor):
        search_members(session, "cur", 1, cursor)
