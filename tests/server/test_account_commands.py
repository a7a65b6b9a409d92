"""Account work over HTTP against the real server (SQLite and PostgreSQL): Edit info with
postal and billing addresses, phones stored in E.164, the logon ID refused; Block for
payment; each audited with the real actor and the workstation it came from."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import BlockForPayment, UpdateContact
from desktop_care.models import AuditEvent, Member, User, UserRole
from desktop_care.models.access import PortalAccess, portal_access
from tests.support.servers import LiveServer

from .conftest import Staff, make_member, make_portal_user, unique
from .test_sync_commands import fresh, push, results, signed_in

HOME = {"line1": "12 Heather Row", "city": "Kelso", "region": "Scottish Borders", "postcode": "td5 7ab", "country": "GB"}
POSTAL = {"line1": "PO Box 41", "city": "Kelso", "postcode": "TD57AB"}
BILLING = {"line1": "3 Rue de la Paix", "city": "Paris", "postcode": "75002", "country": "fr"}


def audit_of(db: Session, command_op_id: uuid.UUID) -> AuditEvent:
    db.expire_all()
    return db.scalars(select(AuditEvent).where(AuditEvent.details["op_id"].as_string() == str(command_op_id))).one()


def test_edit_info_writes_every_address_kind_and_stores_the_phone_in_e164(
    server: LiveServer, make_staff: Any, db: Session
) -> None:
    staff: Staff = make_staff()
    member = make_member(db, "Edith", unique("Ashdown"), postcodes=["TD5 7AB"], phone="01573 224111")
    edit = UpdateContact(member_id=member.id, base_version=member.version, origin="ws-kelso",
                         first_name="Edie", phone="01573 224 999", home_address=HOME,
                         postal_address=POSTAL, billing_address=BILLING)
    [result] = results(push(server, signed_in(server, staff), edit))
    assert result["status"] == "applied", result
    now = fresh(db, member)
    assert (now.first_name, now.phone) == ("Edie", "+441573224999")
    addresses = {a.kind.value: (a.line1, a.postcode, a.country) for a in now.addresses}
    assert addresses == {"home": ("12 Heather Row", "TD5 7AB", "GB"), "postal": ("PO Box 41", "TD5 7AB", "GB"),
                         "billing": ("3 Rue de la Paix", "75002", "FR")}

    audit = audit_of(db, edit.op_id)
    assert (audit.actor_user_id, audit.actor_name, audit.origin) == (staff.id, staff.username, "ws-kelso")
    assert audit.details["before"]["phone"] == "01573 224111"
    assert audit.details["after"]["phone"] == "+441573224999"
    assert audit.details["before"]["address.postal"] is None
    assert audit.details["after"]["address.billing"]["city"] == "Paris"

    # Searching finds the member by the national form and by E.164.
    auth = signed_in(server, staff)
    for q in ("01573 224999", "+441573224999"):
        found = requests.get(f"{server.api}/members", params={"q": q}, headers=auth, timeout=10).json()
        assert [item["id"] for item in found["items"]] == [member.id], q

    # Removing the billing address; a later edit of the postal address alone.
    drop = UpdateContact(member_id=member.id, base_version=now.version, remove_addresses=["billing"])
    assert results(push(server, auth, drop))[0]["status"] == "applied"
    assert sorted(a.kind.value for a in fresh(db, member).addresses) == ["home", "postal"]
    # ... and the member is no longer found by the postcode of the address removed.
    for q, found_ids in (("75002", []), ("TD5 7AB", [member.id])):
        found = requests.get(f"{server.api}/members", params={"q": q}, headers=auth, timeout=10).json()
        assert [item["id"] for item in found["items"] if item["id"] == member.id] == found_ids, q


def test_stale_edits_conflict_per_address_kind(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    member = make_member(db, "Per", unique("Kind"), postcodes=["TD5 7AB"])
    base = member.version
    postal_a = UpdateContact(member_id=member.id, base_version=base, origin="ws-a", postal_address=POSTAL)
    billing_b = UpdateContact(member_id=member.id, base_version=base, origin="ws-b", billing_address=BILLING)
    postal_b = UpdateContact(member_id=member.id, base_version=base, origin="ws-b",
                             postal_address={**POSTAL, "line1": "PO Box 99"})
    home_b = UpdateContact(member_id=member.id, base_version=base, origin="ws-b", home_address=HOME)
    out = results(push(server, auth, postal_a, billing_b, postal_b, home_b))
    assert [r["status"] for r in out] == ["applied", "applied", "conflict", "applied"]
    assert out[2]["reason"] == "changed by someone else since: address.postal"
    assert out[2]["server_values"]["address.postal"]["line1"] == "PO Box 41"


def test_the_logon_id_can_never_be_changed(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    member = make_member(db, "Fixed", unique("Logon"))
    sneaky = {**UpdateContact(member_id=member.id, base_version=member.version, first_name="Else").payload(),
              "logon_id": "someone.else"}
    response = push(server, auth, sneaky)
    assert response.status_code == 422
    assert response.json()["fields"] == {"commands.0.logon_id": "the logon ID can never be changed"}
    assert fresh(db, member).logon_id == member.logon_id and fresh(db, member).first_name == "Fixed"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"phone": "01632 960000"}, "phone", "is not a valid phone number in GB"),
        ({"phone": "ring me"}, "phone", "is not a phone number"),
        ({"home_address": {**HOME, "postcode": "KELSO"}}, "home_address.postcode", "is not a UK postcode"),
        ({"billing_address": {**BILLING, "country": "ZZ"}}, "billing_address.country", "two-letter country code"),
        ({"postal_address": {"line1": "1 Road", "city": ""}}, "postal_address.city", "must not be empty"),
        ({"last_name": " "}, "last_name", "may not be blank"),
    ],
)
def test_bad_contact_details_are_refused_naming_the_field(
    server: LiveServer, auth: dict[str, str], db: Session, change: dict[str, Any], field: str, words: str
) -> None:
    member = make_member(db, "Bad", unique("Input"))
    body = {"kind": "update_contact", "member_id": member.id, "base_version": member.version, **change}
    response = push(server, auth, body)
    assert response.status_code == 422, response.text
    fields = response.json()["fields"]
    assert words in fields[f"commands.0.{field}"], fields


def test_block_for_payment_keeps_who_when_and_why_and_can_be_lifted(
    server: LiveServer, make_staff: Any, db: Session
) -> None:
    staff: Staff = make_staff(UserRole.SOCIETY_STAFF)
    auth = signed_in(server, staff)
    member = make_member(db, "Owing", unique("Money"))
    user = make_portal_user(db, member)
    block = BlockForPayment(member_id=member.id, base_version=member.version, blocked=True,
                            reason="  Membership 2026 unpaid ", origin="ws-desk-3")
    assert results(push(server, auth, block))[0]["status"] == "applied"
    now = fresh(db, member)
    assert (now.blocked_for_balance, now.blocked_reason, now.blocked_by) == (True, "Membership 2026 unpaid", "Test Staff")
    assert now.blocked_at is not None
    assert portal_access(db.get(User, user.id), now) is PortalAccess.RENEW_AND_PAY  # can sign in, to pay

    detail = requests.get(f"{server.api}/members/{member.id}", headers=auth, timeout=10).json()
    assert (detail["blocked_for_balance"], detail["blocked_reason"], detail["blocked_by"]) == (
        True, "Membership 2026 unpaid", "Test Staff")
    found = requests.get(f"{server.api}/members", params={"q": now.last_name}, headers=auth, timeout=10).json()
    assert [i["blocked_for_balance"] for i in found["items"]] == [True]

    again = block.model_copy(update={"op_id": uuid.uuid4(), "base_version": now.version})
    refused = results(push(server, auth, again))[0]
    assert refused["status"] == "rejected" and "already blocked for payment" in refused["reason"]

    lift = BlockForPayment(member_id=member.id, base_version=now.version, blocked=False, reason="paid by phone")
    assert results(push(server, auth, lift))[0]["status"] == "applied"
    after = fresh(db, member)
    assert (after.blocked_for_balance, after.blocked_reason, after.blocked_by, after.blocked_at) == (False, "", "", None)
    audit = audit_of(db, lift.op_id)
    assert audit.action == "member.block_for_payment" and audit.actor_user_id == staff.id
    assert audit.details["before"] == {"blocked": True, "reason": "Membership 2026 unpaid"}
    assert audit.details["unblock_reason"] == "paid by phone"

    twice = lift.model_copy(update={"op_id": uuid.uuid4(), "base_version": after.version})
    assert results(push(server, auth, twice))[0]["reason"] == f"member {member.member_no} is not blocked for payment"


def test_blocking_needs_a_reason_and_works_for_admins_too(
    server: LiveServer, make_staff: Any, db: Session
) -> None:
    member = make_member(db, "No", unique("Reason"))
    admin = signed_in(server, make_staff(UserRole.SOCIETY_ADMIN))
    body = {"kind": "block_for_payment", "member_id": member.id, "base_version": member.version, "blocked": True}
    response = push(server, admin, body)
    assert response.status_code == 422
    assert "must say why" in response.json()["fields"]["commands.0.reason"]
    assert push(server, {}, {**body, "reason": "unpaid"}).status_code == 401
    assert results(push(server, admin, {**body, "reason": "unpaid"}))[0]["status"] == "applied"
    assert fresh(db, member).blocked_for_balance is True


def test_revoked_users_get_no_portal_while_blocked_members_get_the_pay_page(db: Session) -> None:
    from desktop_care.models import UserState

    member = Member(member_no="1", logon_id="x", first_name="A", last_name="B", blocked_for_balance=True)
    assert portal_access(User(username="u", role=UserRole.FULL, state=UserState.ACTIVE), member) is (
        PortalAccess.RENEW_AND_PAY)
    assert portal_access(User(username="u", role=UserRole.FULL, state=UserState.REVOKED), member) is PortalAccess.NONE
    member.blocked_for_balance = False
    assert portal_access(User(username="u", role=UserRole.FULL, state=UserState.ACTIVE), member) is PortalAccess.FULL


@pytest.mark.parametrize("role", [UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN])
def test_account_commands_run_now_for_both_staff_roles_and_refuse_the_logon_id(
    server: LiveServer, make_staff: Any, db: Session, role: UserRole
) -> None:
    auth = signed_in(server, make_staff(role))
    member = make_member(db, "Run", unique("Now"))
    url = f"{server.api}/commands"
    block = BlockForPayment(member_id=member.id, base_version=member.version, blocked=True, reason="unpaid")
    answer = requests.post(url, json={"command": block.payload()}, headers=auth, timeout=30)
    assert answer.status_code == 200 and answer.json()["status"] == "applied", answer.text
    edit = {**UpdateContact(member_id=member.id, base_version=answer.json()["member_version"],
                            phone="+33 1 42 68 53 00").payload()}
    assert requests.post(url, json={"command": edit}, headers=auth, timeout=30).json()["status"] == "applied"
    assert fresh(db, member).phone == "+33142685300"
    sneaky = {**edit, "op_id": str(uuid.uuid4()), "logon_id": "taken.over"}
    refused = requests.post(url, json={"command": sneaky}, headers=auth, timeout=30)
    assert refused.status_code == 422
    assert refused.json()["fields"] == {"command.logon_id": "the logon ID can never be changed"}
    portal = make_portal_user(db, member)
    portal_login = requests.post(f"{server.api}/auth/login",
                                 json={"username": portal.username, "password": "correct horse battery"}, timeout=10)
    assert portal_login.status_code == 403  # a member's account gets no staff token to send commands with
    assert requests.post(url, json={"command": edit}, timeout=30).status_code == 401
