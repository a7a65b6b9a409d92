"""``GET /users``: the Society Users page's list, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import requests
from sqlalchemy.orm import Session

from desktop_care.models import MAX_FAILED_LOGINS, User, UserCredential, UserRole, UserState
from desktop_care.schemas import UserPage
from desktop_care.server.security import hash_password
from tests.support.servers import LiveServer

from .conftest import PASSWORD, Staff, login, make_member, unique


def _user(db: Session, word: str, role: UserRole, state: UserState = UserState.ACTIVE, **fields: object) -> User:
    user = User(username=unique(f"{word}."), role=role, state=state, **fields)
    db.add(user)
    db.flush()
    db.add(UserCredential(user_id=user.id, password_hash=hash_password(PASSWORD)))
    db.commit()
    return user


def _list(server: LiveServer, auth: dict[str, str], **params: object) -> UserPage:
    response = requests.get(f"{server.api}/users", params=params, headers=auth, timeout=10)
    assert response.status_code == 200, response.text
    return UserPage.model_validate(response.json())


def test_every_kind_of_user_is_listed_and_found_by_any_of_its_names(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    tag = unique("tag")
    member = make_member(db, "Zélie", "Quarrington")
    portal = _user(db, "portal", UserRole.FULL, member_id=member.id, display_name=f"Zélie {tag}",
                   email=f"zelie.{tag}@example.org")
    other = _user(db, "nonmember", UserRole.NON_MEMBER, display_name=f"Saved Searches {tag}")
    staff = _user(db, "staff", UserRole.SOCIETY_STAFF, display_name=f"Agent {tag}")

    page = _list(server, auth, q=tag)
    assert [item.id for item in page.items] == [portal.id, other.id, staff.id]
    assert (page.total, page.total_exact, page.next_cursor) == (3, True, None)
    first = page.items[0]
    assert (first.member_no, first.role, first.state, first.email) == (
        member.member_no, UserRole.FULL, UserState.ACTIVE, f"zelie.{tag}@example.org")

    # By username, by name without accents, by e-mail, by member ID, by two words.
    assert [i.id for i in _list(server, auth, q=portal.username.upper()).items] == [portal.id]
    assert [i.id for i in _list(server, auth, q=f"zelie {tag}").items] == [portal.id]
    assert [i.id for i in _list(server, auth, q=f"zelie.{tag}@").items] == [portal.id]
    assert [i.id for i in _list(server, auth, q=member.member_no).items] == [portal.id]
    assert _list(server, auth, q=f"{tag} nothing-like-this").items == []


def test_filters_by_role_and_state_and_pages_by_keyset(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    tag = unique("page")
    made = [_user(db, "p", UserRole.STANDARD, display_name=f"Page {tag} {i}") for i in range(5)]
    disabled = _user(db, "d", UserRole.STANDARD, UserState.DISABLED, display_name=f"Page {tag} disabled")
    admin = _user(db, "a", UserRole.SOCIETY_ADMIN, display_name=f"Page {tag} admin")

    ids: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"q": tag, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = _list(server, auth, **params)
        assert page.total == 7 and page.total_exact
        ids += [i.id for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert ids == [u.id for u in (*made, disabled, admin)]

    assert [i.id for i in _list(server, auth, q=tag, state="disabled").items] == [disabled.id]
    assert [i.id for i in _list(server, auth, q=tag, role=["society_admin", "society_staff"]).items] == [admin.id]
    both = _list(server, auth, q=tag, state=["disabled", "active"], role="standard")
    assert [i.id for i in both.items] == [u.id for u in (*made, disabled)]


def test_a_throttled_account_shows_as_locked_until_when(
    server: LiveServer, make_staff: Callable[..., Staff], auth: dict[str, str]
) -> None:
    staff = make_staff()
    for _ in range(MAX_FAILED_LOGINS):
        login(server, staff.username, "wrong")
    before = dt.datetime.now(dt.UTC)
    (item,) = _list(server, auth, q=staff.username).items
    assert item.failed_sign_ins == MAX_FAILED_LOGINS
    assert item.locked_until is not None and before < item.locked_until <= before + dt.timedelta(seconds=3)
    locked = _list(server, auth, q=staff.username, state="locked")
    assert [i.id for i in locked.items] == [staff.id]
    assert _list(server, auth, q=staff.username, state="active").items[0].id == staff.id


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"role": "boss"}, "role.0", "must be one of"),
        ({"state": "sleeping"}, "state.0", "must be one of"),
        ({"cursor": "nonsense"}, "cursor", "is not a cursor from a previous page"),
        ({"limit": 0}, "limit", "must be a whole number between 1 and 200"),
        ({"q": "x" * 201}, "q", "must be at most 200 characters"),
    ],
)
def test_bad_parameters_name_the_field(
    server: LiveServer, auth: dict[str, str], params: dict[str, object], field: str, message: str
) -> None:
    response = requests.get(f"{server.api}/users", params=params, headers=auth, timeout=10)
    assert response.status_code == 422
    assert response.json()["fields"][field].startswith(message)


def test_only_signed_in_staff_may_list_users(server: LiveServer, db: Session) -> None:
    assert requests.get(f"{server.api}/users", timeout=10).status_code == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    assert requests.get(f"{server.api}/users", headers=bogus, timeout=10).status_code == 401
    # A member's portal user cannot get a staff token at all.
    member = make_member(db, "Portal", "Only")
    portal = _user(db, "portal", UserRole.FULL, member_id=member.id)
    refused = login(server, portal.username, PASSWORD)
    assert (refused.status_code, refused.json()["detail"]) == (403, "not a staff account")


@pytest.mark.parametrize("role", [UserRole.SOCIETY_ADMIN, UserRole.SOCIETY_STAFF])
def test_both_staff_tiers_may_read_every_endpoint(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session, role: UserRole
) -> None:
    staff = make_staff(role)
    token = login(server, staff.username, staff.password).json()["access_token"]
    member = make_member(db, "Readable", unique("Member"))
    for path in ("/auth/me", "/members?q=readable", f"/members/{member.id}", "/sync/changes?after=0&limit=1",
                 "/users?q=readable"):
        signed_in = requests.get(f"{server.api}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert signed_in.status_code == 200, (path, signed_in.text)
        anonymous = requests.get(f"{server.api}{path}", timeout=10)
        assert anonymous.status_code == 401, path
