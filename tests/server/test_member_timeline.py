"""A member's timeline over HTTP (SQLite and PostgreSQL): the audit and the ledgers in
one stream, newest first, paged by a keyset cursor without gaps or repeats, filtered by
kind, each action once."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import AddNote, OpenTicket, UpdateContact
from desktop_care.commands.payments import RecordManualPayment
from desktop_care.models import (
    Animal,
    AnimalEvent,
    Breed,
    EmailCategory,
    EntryKind,
    EventKind,
    MailState,
    Sex,
    Ticket,
    TicketEntry,
    TicketPriority,
    TxnKind,
    TxnStatus,
    UserRole,
    post_transaction,
    queue_mail,
    record,
)
from desktop_care.models.animals import format_reg_no
from desktop_care.models.courses import Course, CourseSession, Registration
from tests.support.servers import LiveServer

from .conftest import Staff, make_member, make_portal_user, unique
from .test_member_activity import get
from .test_sync_commands import fresh, push, results, signed_in

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def pages(server: LiveServer, auth: dict[str, str], member_id: int, cursor: str | None = None,
          **params: Any) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    while True:
        response = get(server, auth, f"/members/{member_id}/timeline", **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        out.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def a_member_with_one_of_everything(db: Session, staff: Staff) -> Any:
    """A member with one row in every source, at known, interleaved times (two of them
    at the very same moment, to exercise the tie-break)."""
    member = make_member(db, "Time", unique("Line"), email="tl@example.org")
    user = make_portal_user(db, member)
    record(db, actor_user_id=staff.id, actor_name=staff.username, action="member.update_contact",
           entity_type="member", entity_id=member.id, details={"before": {"phone": ""}, "after": {"phone": "+44"}})
    post_transaction(db, member, 4000, "Renewal 2025", TxnStatus.SETTLED, at=at(10), kind=TxnKind.CHARGE)
    ticket = Ticket(uid=str(uuid.uuid4()), member_id=member.id, subject="Card lost", created_at=at(20), updated_at=at(20))
    ticket.set_priority(TicketPriority.NORMAL)
    db.add(ticket)
    db.flush()
    db.add(TicketEntry(ticket_id=ticket.id, kind=EntryKind.MESSAGE, body="My card is lost", created_at=at(20),
                       author_name=user.username))
    course = Course(code=unique("C")[:20], title="Hoof care", price_cents=2500)
    db.add(course)
    db.flush()
    session_ = CourseSession(course_id=course.id, starts_at=at(60 * 24 * 30), ends_at=at(60 * 24 * 30 + 120),
                             venue="Village hall", capacity=10)
    db.add(session_)
    db.flush()
    db.add(Registration(session_id=session_.id, registrant_member_id=member.id, contact_member_id=member.id,
                        price_cents=2500, registered_at=at(30)))
    breed = db.scalar(select(Breed).where(Breed.code == "TML"))
    if breed is None:
        breed = Breed(code="TML", name="Timeline test", sire_min_months=12, dam_min_months=18)
        db.add(breed)
        db.flush()
    seq = int(uuid.uuid4().int % 90000) + 1
    animal = Animal(reg_no=format_reg_no("TML", 2025, seq), breed_id=breed.id, reg_year=2025, reg_seq=seq,
                    name="Bramble", sex=Sex.FEMALE, born=dt.date(2024, 3, 1), owner_member_id=member.id,
                    registered_at=at(40))
    db.add(animal)
    db.flush()
    db.add(AnimalEvent(animal_id=animal.id, member_id=member.id, kind=EventKind.REGISTERED, at=at(40),
                       actor_user_id=staff.id, actor_name=staff.username))
    mail = queue_mail(db, template="password_changed", category=EmailCategory.SERVICE, to_address="tl@example.org",
                      member=member, context={"name": "Time", "username": user.username},
                      actor_user_id=staff.id, actor_name=staff.username)
    assert mail is not None
    # As the sender leaves it once delivered (before it could claim it: one transaction).
    mail.state, mail.subject, mail.sent_at = MailState.SENT, "Your password was changed", at(50)
    db.commit()
    return member, ticket, animal


def test_the_timeline_merges_every_source_newest_first_and_pages_without_gaps_or_repeats(
    server: LiveServer, make_staff: Any, db: Session
) -> None:
    staff: Staff = make_staff()
    auth = signed_in(server, staff)
    member, ticket, animal = a_member_with_one_of_everything(db, staff)
    # The audit's rows carry the time of recording (now); the ledgers' rows the times set
    # above (2025), so the newest are the two audited ones, then the ledgers by time.
    first = get(server, auth, f"/members/{member.id}/timeline").json()
    kinds = [(e["kind"], e["action"]) for e in first["items"]]
    assert kinds == [("mail", "mail.queued"), ("account", "member.update_contact"),
                     ("animals", "animal.registered"), ("courses", "course.registered"),
                     ("tickets", "ticket.message"), ("money", "txn.charge")]
    assert first["next_cursor"] is None
    assert first["counts"] == {"account": 1, "status": 0, "merge": 0, "mail": 1, "tickets": 1, "money": 1,
                               "courses": 1, "animals": 1, "on_behalf": 0}
    mail, contact, born, registered, message, charge = first["items"]
    # The outbox row joined in: its subject (rendered when sent) and its delivery.
    assert mail["summary"] == "E-mail “Your password was changed” to tl@example.org — sent"
    assert mail["actor_name"] == "Test Staff"
    assert contact["actor_name"] == "Test Staff" and contact["summary"] == "Edit contact details"
    assert contact["details"]["after"] == {"phone": "+44"}
    assert born["summary"] == f"Registered: Bramble ({animal.reg_no})" and born["actor_name"] == "Test Staff"
    assert registered["summary"].startswith("Registered for Hoof care on ")
    assert (message["summary"], message["ticket_id"]) == (f"Message from the member on #{ticket.id} “Card lost”", ticket.id)
    assert message["detail"] == "My card is lost"
    assert charge["summary"] == "Charge £40.00: Renewal 2025" and charge["actor_name"] == "System"

    # One entry a page: the same stream, nothing twice, nothing skipped; and at a tie
    # of time (the ticket and its message at the same moment) the order is still total.
    one_by_one = [page for page in pages(server, auth, member.id, limit=1)]
    assert all(len(page) == 1 for page in one_by_one)
    assert [p[0]["key"] for p in one_by_one] == [e["key"] for e in first["items"]]
    assert len({p[0]["key"] for p in one_by_one}) == len(one_by_one)

    # A row added at the top while someone reads page 2 neither repeats nor pushes one off.
    top = get(server, auth, f"/members/{member.id}/timeline", limit=2).json()
    post_transaction(db, fresh(db, member), -1000, "Part payment", TxnStatus.PENDING, kind=TxnKind.PAYMENT)
    db.commit()
    rest = [e for page in pages(server, auth, member.id, limit=2, cursor=top["next_cursor"]) for e in page]
    assert [e["key"] for e in top["items"] + rest] == [e["key"] for e in first["items"]]


def test_kind_filters_pick_their_sources_and_an_action_in_a_ledger_shows_once(
    server: LiveServer, make_staff: Any, db: Session
) -> None:
    staff: Staff = make_staff()
    auth = signed_in(server, staff)
    member, _ticket, _animal = a_member_with_one_of_everything(db, staff)
    opened = OpenTicket(member_id=member.id, subject="Renewal query", note="Asked about the renewal price")
    assert results(push(server, auth, opened))[0]["status"] == "applied"
    note = AddNote(member_id=member.id, ticket=opened.op_id, body="Called back, left a message")
    assert results(push(server, auth, note))[0]["status"] == "applied"
    paid = requests.post(f"{server.api}/commands", headers=auth, timeout=10, json={"command": RecordManualPayment(
        member_id=member.id, amount_cents=1500, method="cheque", reference="CHQ 000123").model_dump(mode="json")})
    assert paid.status_code == 200 and paid.json()["status"] == "applied", paid.text

    tickets = get(server, auth, f"/members/{member.id}/timeline", kind="tickets").json()["items"]
    assert [e["action"] for e in tickets] == ["ticket.note", "ticket.open", "ticket.note", "ticket.message"]
    assert tickets[0]["detail"] == "Called back, left a message" and tickets[0]["actor_name"] == "Test Staff"
    assert tickets[1]["summary"].startswith("Ticket opened: #") and tickets[1]["summary"].endswith("“Renewal query”")
    money = get(server, auth, f"/members/{member.id}/timeline", kind="money").json()
    # The cheque is one entry, the ledger's, with the staff member who recorded it.
    assert [(e["action"], e["actor_name"]) for e in money["items"]] == [("txn.payment", "Test Staff"),
                                                                         ("txn.charge", "System")]
    assert money["items"][0]["summary"] == "Payment £15.00: " + money["items"][0]["summary"].split(": ", 1)[1]
    assert "By Cheque (CHQ 000123)" in money["items"][0]["detail"]
    assert money["counts"]["money"] == 2 and money["counts"]["tickets"] == 4  # counts ignore the filter
    two = get(server, auth, f"/members/{member.id}/timeline", kind=["mail", "animals"]).json()["items"]
    assert [e["kind"] for e in two] == ["mail", "animals"]
    everything = [e for page in pages(server, auth, member.id, limit=3) for e in page]
    assert len(everything) == 1 + 1 + 2 + 1 + 1 + 4  # mail, contact, money ×2, animal, course, tickets ×4
    assert sum(e["action"] == "payment.recorded" for e in everything) == 0


def test_on_behalf_work_names_the_staff_member_and_says_so(server: LiveServer, make_staff: Any, db: Session) -> None:
    staff: Staff = make_staff()
    auth = signed_in(server, staff)
    member = make_member(db, "Behalf", unique("Of"))
    record(db, actor_user_id=staff.id, actor_name=staff.username, action="member.update_contact",
           entity_type="member", entity_id=member.id, impersonation_id="s-1", details={})
    db.commit()
    [entry] = get(server, auth, f"/members/{member.id}/timeline").json()["items"]
    assert (entry["actor_name"], entry["impersonation_id"], entry["kind"]) == ("Test Staff", "s-1", "account")
    edit = UpdateContact(member_id=member.id, base_version=fresh(db, member).version, email="new@example.org")
    assert results(push(server, auth, edit))[0]["status"] == "applied"
    assert get(server, auth, f"/members/{member.id}/timeline", kind="on_behalf").json()["items"] == []


def test_the_timeline_needs_staff_a_known_member_and_a_real_cursor(
    server: LiveServer, make_staff: Any, db: Session
) -> None:
    member = make_member(db, "Gate", unique("Keeper"))
    path = f"/members/{member.id}/timeline"
    assert get(server, {}, path).status_code == 401
    assert get(server, {"Authorization": "Bearer not-a-token"}, path).status_code == 401
    admin = signed_in(server, make_staff(UserRole.SOCIETY_ADMIN))
    assert get(server, admin, path).status_code == 200
    auth = signed_in(server, make_staff(UserRole.SOCIETY_STAFF))
    assert get(server, auth, path).json() == {"items": [], "next_cursor": None, "counts": {
        k: 0 for k in ("account", "status", "merge", "mail", "tickets", "money", "courses", "animals", "on_behalf")}}
    missing = get(server, auth, "/members/999999999/timeline")
    assert missing.status_code == 404 and "999999999" in missing.json()["detail"]
    bad = get(server, auth, path, cursor="not-a-cursor")
    assert bad.status_code == 422 and "cursor" in bad.json()["fields"]
    assert get(server, auth, path, kind="nonsense").status_code == 422
    huge = base64.urlsafe_b64encode(json.dumps(["2025-01-01T00:00:00+00:00", "audit", 10**30]).encode()).decode()
    assert get(server, auth, path, cursor=huge).status_code == 422  # a forged id: refused, not a 500
