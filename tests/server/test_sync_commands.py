"""``POST /sync/commands`` over HTTP against the real server (SQLite and PostgreSQL):
each command once, field-level conflicts, rejections, audit with the real actor."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop_care.commands import AdjustPoints, Command, SetEmailPreference, UpdateContact
from desktop_care.models import AuditEvent, Member, MemberStatus, PointsEntry, PointsType, add_points
from desktop_care.models.sync import ProcessedCommand
from tests.support.servers import LiveServer

from .conftest import Staff, login, make_member, unique


def push(server: LiveServer, auth: dict[str, str], *commands: Command | dict[str, Any]) -> requests.Response:
    body = {"commands": [c if isinstance(c, dict) else c.payload() for c in commands]}
    return requests.post(f"{server.api}/sync/commands", json=body, headers=auth, timeout=30)


def results(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def fresh(db: Session, member: Member) -> Member:
    db.expire_all()
    found = db.get(Member, member.id)
    assert found is not None
    return found


def points(member: Member, delta: int, reason: str = "goodwill gesture") -> AdjustPoints:
    return AdjustPoints(member_id=member.id, delta=delta, points_type=PointsType.GOODWILL, reason=reason)


def member_with_points(db: Session, balance: int, **fields: Any) -> Member:
    member = make_member(db, "Sync", unique("Member"), postcodes=["SY1 1NC"], **fields)
    if balance:
        add_points(db, member, balance, PointsType.BASE, "opening balance")
        db.commit()
    return member


def signed_in(server: LiveServer, staff: Staff) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(server, staff.username, staff.password).json()['access_token']}"}


def test_a_batch_replayed_several_times_has_one_effect(
    server: LiveServer, db: Session, make_staff: Callable[..., Staff]
) -> None:
    pusher = make_staff()
    auth = signed_in(server, pusher)
    member = member_with_points(db, 100, email="sync@example.org")
    batch: list[Command] = [
        points(member, 50),
        points(member, -30, "wrong booking"),
        points(member, -500, "too much"),  # rejected: the balance would go negative
        SetEmailPreference(member_id=member.id, base_version=member.version, email_opt_in=True),
        UpdateContact(member_id=member.id, base_version=member.version, phone="+44 20 7946 0000"),
    ]
    first = results(push(server, auth, *batch))
    assert [r["status"] for r in first] == ["applied", "applied", "rejected", "applied", "applied"]
    assert [r["op_id"] for r in first] == [str(c.op_id) for c in batch]

    # The workstation did not hear the answer: it sends the batch again, and again, and
    # once more in pieces, from another signed-in staff member's session.
    other = make_staff()
    other_auth = signed_in(server, other)
    for replay in (batch, batch, batch[3:] + batch[:3]):
        again = results(push(server, other_auth, *replay))
        assert {r["status"] for r in again} == {"duplicate"}
        by_op = {r["op_id"]: r for r in again}
        for original in first:
            replayed = by_op[original["op_id"]]
            assert replayed["original_status"] == original["status"]
            assert replayed["member_version"] == original["member_version"]
            assert replayed["reason"] == original["reason"]

    now = fresh(db, member)
    acknowledged = sum(
        c.delta for c, r in zip(batch, first, strict=True) if isinstance(c, AdjustPoints) and r["status"] == "applied"
    )
    assert now.points_balance == 100 + acknowledged == 120
    assert (now.email_opt_in, now.phone) == (True, "+442079460000")
    entries = db.scalar(select(func.count()).select_from(PointsEntry).where(PointsEntry.member_id == member.id))
    assert entries == 3  # the opening balance and the two applied adjustments, once each

    # Every applied command is audited once, with the staff member who pushed it first.
    audits = db.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "member", AuditEvent.entity_id == str(member.id))
        .order_by(AuditEvent.id)
    ).all()
    applied = [c for c, r in zip(batch, first, strict=True) if r["status"] == "applied"]
    assert [(a.action, a.details["op_id"]) for a in audits] == [(c.action, str(c.op_id)) for c in applied]
    assert {(a.actor_user_id, a.actor_name, a.client_address) for a in audits} == {
        (pusher.id, pusher.username, "127.0.0.1")
    }


def test_same_op_id_with_another_payload_refuses_the_whole_batch(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    member = member_with_points(db, 100)
    first = points(member, 10)
    assert results(push(server, auth, first))[0]["status"] == "applied"

    innocent = points(member, 7)
    reused = first.model_copy(update={"delta": 99})
    response = push(server, auth, innocent, reused)
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"commands.1.op_id": f"{first.op_id} was already used for a different change"}

    # Within one batch too.
    twin = innocent.model_copy(update={"reason": "another reason"})
    response = push(server, auth, innocent, twin)
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["commands.1.op_id"]

    assert fresh(db, member).points_balance == 110
    assert db.get(ProcessedCommand, str(innocent.op_id)) is None


def test_malformed_commands_are_refused_naming_the_field(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    member = member_with_points(db, 100)
    good = points(member, 10).payload()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**good, "op_id": str(uuid.uuid4()), "delta": 0}, "commands.1.delta", "must not be zero"),
        ({**good, "op_id": str(uuid.uuid4()), "reason": " x "}, "commands.1.reason", "at least 3 characters"),
        ({**good, "kind": "delete_member"}, "commands.1.kind", "unknown kind 'delete_member'"),
        ({"member_id": member.id}, "commands.1.kind", "is required"),
        ({"kind": "update_contact", "member_id": member.id, "base_version": 1, "email": "not@"},
         "commands.1.email", "is not a valid e-mail address"),
        ({"kind": "update_contact", "member_id": member.id, "email": "a@example.org"},
         "commands.1.base_version", "is required"),
        ({"kind": "update_contact", "member_id": member.id, "base_version": 1, "first_name": "  "},
         "commands.1.first_name", "may not be blank"),
        ({"kind": "update_contact", "member_id": member.id, "base_version": 1}, "commands.1", "nothing to change"),
    ]
    for bad, field, message in cases:
        response = push(server, auth, {**good, "op_id": str(uuid.uuid4())}, bad)
        assert response.status_code == 422, (bad, response.text)
        fields = response.json()["fields"]
        assert field in fields, (bad, fields)
        assert message in fields[field], (bad, fields)
        assert response.json()["detail"].startswith(f"{field}: ")

    empty = requests.post(f"{server.api}/sync/commands", json={"commands": []}, headers=auth, timeout=10)
    assert empty.status_code == 422
    assert empty.json()["fields"] == {"commands": "must hold at least one command"}
    assert fresh(db, member).points_balance == 100  # the good first command of each batch never ran


def test_stale_edits_of_different_fields_both_apply_and_the_same_field_conflicts(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    member = member_with_points(db, 0, email="before@example.org", phone="01234 567890")
    base = member.version
    phone_a = UpdateContact(member_id=member.id, base_version=base, origin="ws-a", phone="+44 20 7946 0111")
    email_b = UpdateContact(member_id=member.id, base_version=base, origin="ws-b", email="after@example.org")
    phone_b = UpdateContact(member_id=member.id, base_version=base, origin="ws-b", phone="+44 20 7946 0222")
    out = results(push(server, auth, phone_a, email_b, phone_b))
    assert [r["status"] for r in out] == ["applied", "applied", "conflict"]
    conflict = out[2]
    assert conflict["server_values"] == {"phone": "+442079460111"}
    assert conflict["member_version"] == out[1]["member_version"] == base + 2
    assert "phone" in conflict["reason"]

    detail = requests.get(f"{server.api}/members/{member.id}", headers=auth, timeout=10).json()
    assert (detail["phone"], detail["email"], detail["version"]) == ("+442079460111", "after@example.org", base + 2)

    # Based on the newest version, the same change applies (what "keep mine" sends).
    retry = phone_b.model_copy(update={"op_id": uuid.uuid4(), "base_version": base + 2})
    assert results(push(server, auth, retry))[0]["status"] == "applied"
    assert fresh(db, member).phone == "+442079460222"


def test_a_workstations_own_queued_edits_of_one_field_never_conflict(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    member = member_with_points(db, 0, email="own@example.org")
    base = member.version
    queued = [
        UpdateContact(member_id=member.id, base_version=base, origin="ws-own", phone="+44 20 7946 0333"),
        SetEmailPreference(member_id=member.id, base_version=base, origin="ws-own", email_opt_in=True),
        UpdateContact(member_id=member.id, base_version=base, origin="ws-own", phone="+44 20 7946 0444"),
        SetEmailPreference(member_id=member.id, base_version=base, origin="ws-own", email_opt_in=False),
    ]
    assert [r["status"] for r in results(push(server, auth, *queued))] == ["applied"] * 4
    now = fresh(db, member)
    assert (now.phone, now.email_opt_in, now.version) == ("+442079460444", False, base + 4)
    assert now.field_versions["phone"] == [base + 3, "ws-own"]


def test_business_rules_reject_with_a_reason(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    inactive = member_with_points(db, 50, status=MemberStatus.INACTIVE)
    poor = member_with_points(db, 20)
    no_email = member_with_points(db, 0)
    out = results(push(
        server, auth,
        points(inactive, 10),
        points(poor, -21),
        AdjustPoints(member_id=987_654_321, delta=5, points_type=PointsType.BONUS, reason="nobody"),
        SetEmailPreference(member_id=no_email.id, base_version=no_email.version, email_opt_in=True),
        points(poor, -20),
    ))
    assert [r["status"] for r in out] == ["rejected", "rejected", "rejected", "rejected", "applied"]
    assert out[0]["reason"] == f"member {inactive.member_no} is inactive (un-enrolled): no points can be added"
    assert out[1]["reason"] == "the balance is 20 points: removing 21 would make it negative"
    assert out[1]["fields"] == {"delta": "more than the balance"}
    assert out[2]["reason"] == "no member with id 987654321"
    assert out[3]["fields"] == {"email_opt_in": "no e-mail address"}
    assert (fresh(db, inactive).points_balance, fresh(db, poor).points_balance) == (50, 0)


def test_signing_in_is_required(server: LiveServer, db: Session) -> None:
    member = member_with_points(db, 0)
    response = push(server, {}, points(member, 5))
    assert response.status_code == 401
    assert requests.get(f"{server.api}/sync/changes", timeout=10).status_code == 401


def test_concurrent_pushes_all_apply_once(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    """Workstations pushing at the same moment: no "database is locked", no lost update;
    the same batch from two threads at once still applies once."""
    member = member_with_points(db, 0)
    nobody = AdjustPoints(member_id=987_654_320, delta=1, points_type=PointsType.BONUS, reason="no row to lock")
    shared = [points(member, 1000, "shared batch")]
    batches: list[list[AdjustPoints]] = [
        [nobody] + [points(member, 1, f"thread {t} item {i}") for i in range(8)] + shared for t in range(6)
    ]
    answers: list[requests.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(len(batches), timeout=30)

    def run(batch: list[AdjustPoints]) -> None:
        start.wait()
        response = push(server, auth, *batch)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == len(batches)
    statuses = [(r["status"], r["original_status"]) for response in answers for r in results(response)]
    assert statuses.count(("applied", None)) == 6 * 8 + 1
    assert statuses.count(("rejected", None)) == 1
    assert statuses.count(("duplicate", "applied")) == statuses.count(("duplicate", "rejected")) == 5
    assert fresh(db, member).points_balance == 6 * 8 + 1000


def test_removing_the_email_address_also_opts_out_of_email(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    member = member_with_points(db, 0, email="opted.in@example.org", email_opt_in=True)
    clear = UpdateContact(member_id=member.id, base_version=member.version, email="")
    categories = {"email_newsletters", "email_offers", "email_event_reminders"}
    assert clear.changed_fields() == {"email", *categories}
    assert clear.preview({"email": "opted.in@example.org", "email_opt_in": True})["email_opt_in"] is False
    assert [r["status"] for r in results(push(server, auth, clear))] == ["applied"]
    after = fresh(db, member)
    assert (after.email, after.email_opt_in) == ("", False)
    audit = db.scalars(select(AuditEvent).where(AuditEvent.details["op_id"].as_string() == str(clear.op_id))).one()
    assert audit.details["after"] == {"email": "", **{name: False for name in categories}}


def test_email_categories_conflict_field_by_field(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    """Two workstations offline: one opts out of offers, the other in to event
    reminders — both apply. A second change of offers from an older base conflicts."""
    member = member_with_points(db, 0, email="cats@example.org", email_opt_in=True)
    base = member.version
    out = results(push(
        server, auth,
        SetEmailPreference(member_id=member.id, base_version=base, origin="ws-a", offers=False),
        SetEmailPreference(member_id=member.id, base_version=base, origin="ws-b", event_reminders=False),
        SetEmailPreference(member_id=member.id, base_version=base, origin="ws-b", offers=True),
    ))
    assert [r["status"] for r in out] == ["applied", "applied", "conflict"]
    assert out[2]["server_values"] == {"email_offers": False}
    now = fresh(db, member)
    assert (now.email_newsletters, now.email_offers, now.email_event_reminders) == (True, False, False)
    detail = requests.get(f"{server.api}/members/{member.id}", headers=auth, timeout=10).json()
    assert (detail["email_newsletters"], detail["email_offers"], detail["email_opt_in"]) == (True, False, True)


def test_a_failing_command_in_the_middle_of_a_full_batch_blocks_none_of_the_rest(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    """A batch of 200 with one command the rules refuse (number 100 would make the balance
    negative): that one is rejected, the 199 others apply once each; resent, all 200 are
    duplicates with their first outcome, and the balance moves once."""
    member = member_with_points(db, 10)
    batch: list[Command] = [points(member, 1) for _ in range(200)]
    batch[100] = points(member, -100_000, "too many")
    first = results(push(server, auth, *batch))
    assert [r["status"] for r in first] == ["applied"] * 100 + ["rejected"] + ["applied"] * 99
    assert "negative" in first[100]["reason"]
    again = results(push(server, auth, *batch))
    assert [(r["status"], r["original_status"]) for r in again] == [("duplicate", r["status"]) for r in first]
    assert fresh(db, member).points_balance == 10 + 199
    stored = db.scalar(select(func.count()).select_from(ProcessedCommand)
                       .where(ProcessedCommand.op_id.in_([str(c.op_id) for c in batch])))
    assert stored == 200
