"""A member's points ledger and history over HTTP (SQLite and PostgreSQL), and the
audit log refusing UPDATE and DELETE in the database itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from desktop_care.commands import AdjustPoints, BlockForPayment, UpdateContact
from desktop_care.models import PointsType, UserRole, add_points, record
from tests.support.servers import LiveServer

from .conftest import Staff, make_member, make_portal_user, unique
from .test_sync_commands import fresh, push, results, signed_in


def get(server: LiveServer, auth: dict[str, str], path: str, **params: Any) -> requests.Response:
    return requests.get(f"{server.api}{path}", params=params, headers=auth, timeout=10)


def every_page(server: LiveServer, auth: dict[str, str], path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = get(server, auth, path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_points_ledger_newest_first_with_who_paged(server: LiveServer, make_staff: Any, db: Session) -> None:
    staff: Staff = make_staff()
    auth = signed_in(server, staff)
    member = make_member(db, "Ledger", unique("Reader"))
    old = dt.datetime(2024, 1, 5, 12, 0, tzinfo=dt.UTC)
    for day in range(5):  # imported history: no staff member, older than the adjustments
        add_points(db, member, 100 + day, PointsType.BASE, f"import {day}", at=old + dt.timedelta(days=day))
    db.commit()
    for delta in (25, -10):
        command = AdjustPoints(member_id=member.id, delta=delta, points_type=PointsType.GOODWILL, reason=f"gesture {delta}")
        assert results(push(server, auth, command))[0]["status"] == "applied"

    first = get(server, auth, f"/members/{member.id}/points", limit=3).json()
    assert first["total"] == 7 and len(first["items"]) == 3 and first["next_cursor"]
    top = first["items"][0]
    assert (top["delta"], top["points_type"], top["reason"], top["actor_name"]) == (-10, "goodwill", "gesture -10",
                                                                                    "Test Staff")
    items = every_page(server, auth, f"/members/{member.id}/points", limit=3)
    assert [i["delta"] for i in items] == [-10, 25, 104, 103, 102, 101, 100]
    assert {i["actor_name"] for i in items[2:]} == {"System"}

    empty = make_member(db, "No", unique("Points"))
    assert get(server, auth, f"/members/{empty.id}/points").json() == {"items": [], "total": 0, "next_cursor": None}


def test_history_names_the_real_staff_member_the_workstation_and_the_change(
    server: LiveServer, make_staff: Any, db: Session
) -> None:
    ann: Staff = make_staff(UserRole.SOCIETY_STAFF)
    bob: Staff = make_staff(UserRole.SOCIETY_ADMIN)
    member = make_member(db, "Hist", unique("Ory"), email="before@example.org")
    edit = UpdateContact(member_id=member.id, base_version=member.version, origin="ws-ann", email="after@example.org")
    assert results(push(server, signed_in(server, ann), edit))[0]["status"] == "applied"
    block = BlockForPayment(member_id=member.id, base_version=fresh(db, member).version, origin="ws-bob",
                            blocked=True, reason="renewal unpaid")
    assert results(push(server, signed_in(server, bob), block))[0]["status"] == "applied"
    portal = make_portal_user(db, member)
    record(db, actor_user_id=None, actor_name="mailer", action="mail.queued", entity_type="member",
           entity_id=member.id, details={"template": "renewal_reminder", "to": "after@example.org"})
    record(db, actor_user_id=bob.id, actor_name=bob.username, action="user.reset_password", entity_type="user",
           entity_id=portal.id, details={"username": portal.username})
    other = make_member(db, "Some", unique("One"))
    record(db, actor_user_id=bob.id, actor_name=bob.username, action="member.update_contact", entity_type="member",
           entity_id=other.id, details={})
    db.commit()

    auth = signed_in(server, ann)
    page = get(server, auth, f"/members/{member.id}/history").json()
    assert page["total"] == 4 and page["next_cursor"] is None
    actions = [e["action"] for e in page["items"]]
    assert actions == ["user.reset_password", "mail.queued", "member.block_for_payment", "member.update_contact"]
    contact = page["items"][3]
    assert (contact["actor_name"], contact["actor_username"], contact["origin"]) == ("Test Staff", ann.username, "ws-ann")
    assert contact["client_address"] == "127.0.0.1"
    assert contact["details"]["before"] == {"email": "before@example.org"}
    assert contact["details"]["after"] == {"email": "after@example.org"}
    assert page["items"][1]["details"] == {"template": "renewal_reminder", "to": "after@example.org"}

    only_mail = get(server, auth, f"/members/{member.id}/history", action="mail.").json()
    assert [e["action"] for e in only_mail["items"]] == ["mail.queued"] and only_mail["total"] == 1
    two = get(server, auth, f"/members/{member.id}/history",
              action=["member.update_contact", "member.block_for_payment"]).json()
    assert two["total"] == 2
    assert [e["action"] for e in get(server, auth, f"/members/{member.id}/history", q="RENEWAL UNPAID").json()["items"]] == [
        "member.block_for_payment"]
    assert get(server, auth, f"/members/{member.id}/history", q=bob.username).json()["total"] == 2
    assert get(server, auth, f"/members/{member.id}/history", q="100%_").json()["total"] == 0

    paged = every_page(server, auth, f"/members/{member.id}/history", limit=1)
    assert [e["action"] for e in paged] == actions


@pytest.mark.parametrize("path", ["points", "history"])
def test_activity_needs_staff_a_member_and_a_real_cursor(
    server: LiveServer, make_staff: Any, db: Session, path: str
) -> None:
    member = make_member(db, "Gate", unique("Keeper"))
    assert get(server, {}, f"/members/{member.id}/{path}").status_code == 401
    assert get(server, {"Authorization": "Bearer not-a-token"}, f"/members/{member.id}/{path}").status_code == 401
    for role in (UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN):
        assert get(server, signed_in(server, make_staff(role)), f"/members/{member.id}/{path}").status_code == 200
    auth = signed_in(server, make_staff())
    missing = get(server, auth, f"/members/987654321/{path}")
    assert missing.status_code == 404 and missing.json()["detail"] == "no member with id 987654321"
    bad = get(server, auth, f"/members/{member.id}/{path}", cursor="nonsense")
    assert bad.status_code == 422 and bad.json()["fields"] == {"cursor": "is not a cursor from a previous page"}
    too_big = get(server, auth, f"/members/{member.id}/{path}", limit=1000)
    assert too_big.status_code == 422 and "limit" in too_big.json()["fields"]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET actor_name = 'someone else' WHERE id = :id",
    "DELETE FROM audit_event WHERE id = :id",
])
def test_the_database_itself_refuses_to_change_the_audit_log(server: LiveServer, db: Session, statement: str) -> None:
    event = record(db, actor_user_id=None, actor_name="registrar", action="member.update_contact",
                   entity_type="member", entity_id=1, details={"after": {"email": "x@example.org"}})
    db.commit()
    with server.engine().connect() as connection:
        with pytest.raises(DatabaseError, match="audit_event is append-only"):
            connection.execute(text(statement), {"id": event.id})
        connection.rollback()
        assert connection.execute(text("SELECT actor_name FROM audit_event WHERE id = :id"),
                                  {"id": event.id}).scalar_one() == "registrar"
    if server.backend == "postgres":
        with server.engine().connect() as connection:
            with pytest.raises(DatabaseError, match="audit_event is append-only"):
                connection.execute(text("TRUNCATE audit_event CASCADE"))
            connection.rollback()
