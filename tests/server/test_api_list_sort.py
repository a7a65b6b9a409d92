"""The Society Users list and the Fraud stop blocks sorted by a column over HTTP, paged by
keyset across page boundaries (SQLite and PostgreSQL), and the 422s of a bad sort or a
cursor of another sort."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from sqlalchemy.orm import Session

from desktop_care.models import BlockKind, BlockReason, FraudBlock, User, UserRole, UserState
from desktop_care.schemas import FraudBlockPage, UserPage
from tests.support.servers import LiveServer

from .conftest import unique

WHEN = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _get(server: LiveServer, auth: dict[str, str], path: str, **params: Any) -> requests.Response:
    return requests.get(f"{server.api}{path}", params=params, headers=auth, timeout=10)


def _every_page(server: LiveServer, auth: dict[str, str], path: str, page_type: Any, **params: Any) -> list[Any]:
    """Every row, page after page by the cursors (each page no larger than asked)."""
    rows: list[Any] = []
    cursor = None
    while True:
        response = _get(server, auth, path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = page_type.model_validate(response.json())
        assert len(page.items) <= params["limit"]
        rows += page.items
        cursor = page.next_cursor
        if cursor is None:
            return rows


def _users(db: Session, tag: str) -> dict[str, User]:
    """Five users of one tag: names of mixed case, two who never signed in."""
    specs = [  # name, role, last sign-in (days after WHEN)
        ("carol", UserRole.SOCIETY_STAFF, 2), ("Alice", UserRole.FULL, None), ("bob", UserRole.NON_MEMBER, 2),
        ("Dave", UserRole.SOCIETY_ADMIN, 0), ("erin", UserRole.STANDARD, None),
    ]
    made = {}
    for name, role, days in specs:
        user = User(username=f"{tag}.{name.lower()}", display_name=f"{name} {tag}", email=f"{name}.{tag}@example.org",
                    role=role, state=UserState.ACTIVE,
                    last_login_at=WHEN + dt.timedelta(days=days) if days is not None else None)
        db.add(user)
        db.flush()
        made[name.lower()] = user
    db.commit()
    return made


def test_users_sorted_by_each_column_both_ways_across_pages(server: LiveServer, auth: dict[str, str],
                                                            db: Session) -> None:
    tag = unique("usort")
    made = _users(db, tag)

    def names(sort: str, limit: int = 2, **more: Any) -> list[str]:
        rows = _every_page(server, auth, "/users", UserPage, q=tag, sort=sort, limit=limit, **more)
        return [row.display_name.split()[0].lower() for row in rows]

    # Case does not matter: "Alice" before "bob" before "carol" before "Dave".
    assert names("name") == ["alice", "bob", "carol", "dave", "erin"]
    assert names("-name", limit=3) == ["erin", "dave", "carol", "bob", "alice"]
    assert names("email") == names("username") == ["alice", "bob", "carol", "dave", "erin"]
    # Latest sign-in first; bob and carol at the same moment: the later user first;
    # never signed in comes last both ways.
    assert names("-last_login") == ["bob", "carol", "dave", "erin", "alice"]
    assert names("last_login") == ["dave", "carol", "bob", "alice", "erin"]
    assert names("role", limit=1) == ["alice", "bob", "dave", "carol", "erin"]  # full, non_member, society_…
    # The sort holds under a role filter too, and totals count every match.
    assert names("-name", role=["society_staff", "society_admin"]) == ["dave", "carol"]
    first = UserPage.model_validate(_get(server, auth, "/users", q=tag, sort="-name", limit=2).json())
    assert (first.total, first.total_exact) == (5, True)
    assert made["alice"].last_login_at is None


def test_users_unfiltered_sorted_walk_has_every_user_once_in_order(server: LiveServer, auth: dict[str, str],
                                                                    db: Session) -> None:
    _users(db, unique("uwalk"))
    rows = _every_page(server, auth, "/users", UserPage, sort="-username", limit=200)
    keys = [row.username.lower() for row in rows]
    assert keys == sorted(keys, reverse=True)
    assert len({row.id for row in rows}) == len(rows) == db.query(User).count()


def _blocks(db: Session, tag: str) -> dict[str, FraudBlock]:
    specs = [  # who, kind, hits, expires (days after WHEN), created (days after WHEN)
        ("zoe", BlockKind.EMAIL, 3, None, 1), ("Amy", BlockKind.CARD, 0, 10, 2), ("ben", BlockKind.IP, 7, 5, 3),
        ("Cy", BlockKind.EMAIL, 3, None, 4),
    ]
    made = {}
    for who, kind, hits, expires, created in specs:
        # (The IP block expired long ago: it refuses nothing to other tests' requests.)
        value = "198.51.100.7/32" if kind is BlockKind.IP else f"{who}@{tag}.example"
        block = FraudBlock(kind=kind, value=value, match_key=f"x:{tag}:{who}",
                           reason_code=BlockReason.OTHER, note=f"sort test {tag}", created_by=f"{who} {tag}",
                           would_have_blocked=hits, created_at=WHEN + dt.timedelta(days=created),
                           expires_at=WHEN + dt.timedelta(days=expires) if expires is not None else None)
        db.add(block)
        made[who.lower()] = block
    db.commit()
    return made


def test_fraud_blocks_sorted_by_each_column_both_ways_across_pages(server: LiveServer, auth: dict[str, str],
                                                                   db: Session) -> None:
    tag = unique("bsort")
    made = _blocks(db, tag)

    def who(sort: str | None, limit: int = 2) -> list[str]:
        params: dict[str, Any] = {"q": tag, "state": "all", "limit": limit}
        if sort is not None:
            params["sort"] = sort
        return [row.created_by.split()[0].lower() for row in _every_page(server, auth, "/fraud-blocks",
                                                                         FraudBlockPage, **params)]

    assert who(None) == who("-created") == ["cy", "ben", "amy", "zoe"]  # newest first, as before
    assert who("created", limit=3) == ["zoe", "amy", "ben", "cy"]
    assert who("by") == ["amy", "ben", "cy", "zoe"]
    assert who("-by", limit=1) == ["zoe", "cy", "ben", "amy"]
    assert who("-hits") == ["ben", "cy", "zoe", "amy"]  # ties (3) by block number, highest first
    assert who("expires") == ["ben", "amy", "zoe", "cy"]  # never expires: last both ways
    assert who("-expires", limit=1) == ["amy", "ben", "cy", "zoe"]
    assert who("kind") == ["amy", "zoe", "cy", "ben"]  # card, email, ip
    assert who("id") == ["zoe", "amy", "ben", "cy"]
    page = FraudBlockPage.model_validate(
        _get(server, auth, "/fraud-blocks", q=tag, state="all", sort="-hits", limit=2).json())
    assert (page.total, [b.id for b in page.items]) == (4, [made["ben"].id, made["cy"].id])


def test_bad_sort_or_a_cursor_of_another_sort_is_a_422_under_the_field(server: LiveServer,
                                                                       auth: dict[str, str], db: Session) -> None:
    tag = unique("bad")
    _users(db, tag)
    _blocks(db, tag)
    for path, sort, other, params in (("/users", "name", "-name", {"q": tag}),
                                      ("/fraud-blocks", "by", "hits", {"q": tag, "state": "all"})):
        response = _get(server, auth, path, **params, sort="balance")
        assert response.status_code == 422
        assert "sort" in response.json()["fields"], response.json()
        cursor = _get(server, auth, path, **params, sort=sort, limit=1).json()["next_cursor"]
        assert cursor
        for wrong in ({"sort": other}, {} if path == "/users" else {"sort": "expires"}):
            response = _get(server, auth, path, **params, **wrong, limit=1, cursor=cursor)
            assert response.status_code == 422, (path, wrong)
            assert response.json()["fields"]["cursor"].startswith("is not a cursor from a previous page")
        response = _get(server, auth, path, **params, sort=sort, limit=1, cursor="not-a-cursor")
        assert response.status_code == 422
        assert "cursor" in response.json()["fields"]
