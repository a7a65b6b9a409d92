"""Registering a member ("Add a customer") over HTTP against the real server, and the
likely-duplicates check that comes before it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import AddMember, AdjustPoints
from desktop_care.models import AuditEvent, Member, MemberStatus, PointsType
from tests.support.servers import LiveServer

from .conftest import Staff, login, make_member, unique


def _auth(server: LiveServer, staff: Staff) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(server, staff.username, staff.password).json()['access_token']}"}


def _new(last: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "add_member", "op_id": str(uuid.uuid4()), "member_id": -1, "first_name": "Ada", "last_name": last,
        "email": f"{last.lower()}@example.org", "phone": "01573 224111",
        "home_address": {"line1": "1 Kelso Road", "city": "Kelso", "postcode": "td5 7ab", "country": "gb"},
    }
    body.update(fields)
    return body


def _run(server: LiveServer, auth: dict[str, str], command: dict[str, Any]) -> requests.Response:
    return requests.post(f"{server.api}/commands", json={"command": command}, headers=auth, timeout=30)


def test_a_member_is_registered_once_with_a_number_and_audited(
    server: LiveServer, db: Session, make_staff: Callable[..., Staff]
) -> None:
    staff = make_staff()
    auth = _auth(server, staff)
    last = unique("Newmember")
    command = _new(last)

    first = _run(server, auth, command)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "applied" and body["member_id"] > 0
    assert body["member_no"] == str(1_000_000 + body["member_id"])
    # Sent again (a retry after a lost answer): the same member, nothing created twice.
    again = requests.post(f"{server.api}/sync/commands", json={"commands": [command]}, headers=auth, timeout=30)
    assert again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["results"][0]["member_id"] == body["member_id"]

    db.expire_all()
    members = db.scalars(select(Member).where(Member.last_name == last)).all()
    assert len(members) == 1
    member = members[0]
    assert (member.phone, member.email) == ("+441573224111", f"{last.lower()}@example.org")
    assert member.addresses[0].postcode == "TD5 7AB" and member.addresses[0].country == "GB"
    assert member.logon_id == f"a{last.lower()}{member.member_no}"
    audit = db.scalars(select(AuditEvent).where(AuditEvent.details["op_id"].as_string() == command["op_id"])).one()
    assert (audit.action, audit.entity_id, audit.actor_user_id, audit.actor_name) == (
        "member.add", str(member.id), staff.id, staff.username)
    # Found by search at once, and changes to it apply as to any member.
    found = requests.get(f"{server.api}/members", params={"q": last}, headers=auth, timeout=30).json()
    assert [item["id"] for item in found["items"]] == [member.id]
    points = AdjustPoints(member_id=member.id, delta=50, points_type=PointsType.BONUS, reason="welcome")
    assert _run(server, auth, points.payload()).json()["status"] == "applied"


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"first_name": "  "}, "command.first_name", "blank"),
    ({"last_name": ""}, "command.last_name", "must not be empty"),
    ({"email": "not an address"}, "command.email", "not a valid e-mail"),
    ({"phone": "12"}, "command.phone", "phone number"),
    ({"home_address": {"line1": "1 Road", "city": "Kelso", "postcode": "XYZ", "country": "GB"}},
     "command.home_address.postcode", "UK postcode"),
    ({"home_address": {"line1": "", "city": "Kelso", "country": "GB"}}, "command.home_address.line1", "must not be empty"),
    ({"home_address": {"line1": "1 Road", "city": "Kelso", "country": "ZZ"}}, "command.home_address.country",
     "country code"),
    ({"member_id": 5}, "command.member_id", "must be at most -1"),
    ({"logon_id": "mine"}, "command.logon_id", "never be changed"),
])
def test_each_bad_input_is_refused_naming_its_field(
    server: LiveServer, db: Session, auth: dict[str, str], change: dict[str, Any], field: str, words: str
) -> None:
    last = unique("Refused")
    command = _new(last, **change)
    response = _run(server, auth, command)
    assert response.status_code == 422, response.text
    fields = response.json()["fields"]
    assert field in fields and words in fields[field], fields
    db.expire_all()
    assert db.scalars(select(Member).where(Member.last_name == last)).all() == []


def test_a_change_naming_a_provisional_member_is_refused_and_not_stored(
    server: LiveServer, auth: dict[str, str]
) -> None:
    points = AdjustPoints(member_id=-3, delta=5, points_type=PointsType.BONUS, reason="too early")
    pushed = requests.post(f"{server.api}/sync/commands", json={"commands": [points.payload()]}, headers=auth,
                           timeout=30)
    assert pushed.status_code == 422
    assert "provisional" in pushed.json()["fields"]["commands.0.member_id"]
    assert _run(server, auth, points.payload()).status_code == 422
    # Nothing was stored under the op_id: the same op can still go with the real id.
    member = AddMember.model_validate(_new(unique("Later")))
    created = _run(server, auth, member.payload()).json()
    real = points.model_copy(update={"member_id": created["member_id"]})
    assert _run(server, auth, real.payload()).json()["status"] == "applied"


def test_likely_duplicates_by_email_or_by_name_and_postcode(
    server: LiveServer, db: Session, auth: dict[str, str]
) -> None:
    last = unique("Twin")
    by_email = make_member(db, "Someone", unique("Else"), ["EH1 1AA"], email=f"{last.lower()}@Example.org")
    by_name = make_member(db, "Zoë", last, ["td5 7ab"])
    make_member(db, "Zoë", last, ["EH1 1AA"])  # same name, another postcode: not listed
    merged = make_member(db, "Zoë", last, ["TD5 7AB"])
    merged.status = MemberStatus.MERGED  # a merged member is never offered
    db.commit()

    def check(**body: str) -> list[tuple[int, list[str]]]:
        response = requests.post(f"{server.api}/members/likely-duplicates", json=body, headers=auth, timeout=30)
        assert response.status_code == 200, response.text
        return [(item["member"]["id"], item["reasons"]) for item in response.json()["items"]]

    assert check(email=f"{last}@EXAMPLE.org", first_name="zoe", last_name=last.upper(), postcode="TD57AB") == [
        (by_email.id, ["same_email"]), (by_name.id, ["same_name_and_postcode"])]
    assert check(email="", first_name="Zoe", last_name=last, postcode="") == []
    assert check(email="nobody@example.org") == []
    refused = requests.post(f"{server.api}/members/likely-duplicates", json={"email": 5, "shoe": 1}, headers=auth,
                            timeout=30)
    assert refused.status_code == 422
    assert requests.post(f"{server.api}/members/likely-duplicates", json={}, timeout=30).status_code == 401
