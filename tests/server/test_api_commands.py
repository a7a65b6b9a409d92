"""``POST /commands`` over HTTP against the real server: one command run at once,
the same ``execute`` (once per op_id, audited with the token's user) as a sync push."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import AdjustPoints
from desktop_care.models import AuditEvent, Member, PointsType
from tests.support.servers import LiveServer

from .conftest import Staff, login, make_member, unique


def run(server: LiveServer, auth: dict[str, str], body: object) -> requests.Response:
    return requests.post(f"{server.api}/commands", json=body, headers=auth, timeout=30)


def test_a_command_runs_at_once_once_and_names_the_signed_in_staff(
    server: LiveServer, db: Session, make_staff: Callable[..., Staff]
) -> None:
    staff = make_staff()
    auth = {"Authorization": f"Bearer {login(server, staff.username, staff.password).json()['access_token']}"}
    member = make_member(db, "Instant", unique("Command"))
    command = AdjustPoints(member_id=member.id, delta=40, points_type=PointsType.GOODWILL, reason="phone call")

    first = run(server, auth, {"command": command.payload()})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "applied"
    again = run(server, auth, {"command": command.payload()})
    assert again.json()["status"] == "duplicate" and again.json()["original_status"] == "applied"

    db.expire_all()
    found = db.get(Member, member.id)
    assert found is not None and found.points_balance == 40
    audit = db.scalars(select(AuditEvent).where(AuditEvent.details["op_id"].as_string() == str(command.op_id))).one()
    assert (audit.actor_user_id, audit.actor_name) == (staff.id, staff.username)


def test_a_rule_broken_is_answered_with_the_reason(server: LiveServer, db: Session, auth: dict[str, str]) -> None:
    member = make_member(db, "Short", unique("Balance"))
    command = AdjustPoints(member_id=member.id, delta=-5, points_type=PointsType.CORRECTION, reason="typo")
    body = run(server, auth, {"command": command.payload()}).json()
    assert body["status"] == "rejected"
    assert "would make it negative" in body["reason"] and body["fields"] == {"delta": "more than the balance"}


def test_bad_input_names_the_field(server: LiveServer, db: Session, auth: dict[str, str]) -> None:
    member = make_member(db, "Bad", unique("Input"))
    unknown = run(server, auth, {"command": {"kind": "delete_everything", "member_id": member.id}})
    assert unknown.status_code == 422
    assert "command" in unknown.json()["detail"] and "delete_everything" in unknown.json()["detail"]

    command = AdjustPoints(member_id=member.id, delta=1, points_type=PointsType.BONUS, reason="first use")
    assert run(server, auth, {"command": command.payload()}).json()["status"] == "applied"
    reused = run(server, auth, {"command": {**command.payload(), "delta": 999}})
    assert reused.status_code == 422
    assert reused.json()["fields"] == {"command.op_id": f"op_id {command.op_id} was already used for a different change"}


def test_no_token_no_command(server: LiveServer, db: Session) -> None:
    member = make_member(db, "No", unique("Token"))
    command = AdjustPoints(member_id=member.id, delta=1, points_type=PointsType.BONUS, reason="anonymous")
    response = run(server, {}, {"command": command.payload()})
    assert response.status_code == 401
    response = run(server, {"Authorization": f"Bearer {uuid.uuid4().hex}"}, {"command": command.payload()})
    assert response.status_code == 401
