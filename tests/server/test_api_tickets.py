"""Tickets over HTTP against the real server (SQLite and PostgreSQL): every command
through ``POST /commands`` (who may, bad input, business rules, the audit on the
member's History), the queues of ``GET /tickets`` and the thread of
``GET /tickets/{id}``; and a reply as a real SMTP server receives it, never carrying
an internal note."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    AddNote,
    Assign,
    BaseCommand,
    ChangeTicketState,
    OpenTicket,
    Reply,
    SetPriority,
)
from desktop_care.models import MailMessage, Member, Ticket, TicketPriority, UserRole
from desktop_care.models.ticket_search import TicketSort, search_tickets
from tests.server.conftest import make_member, make_portal_user, settled_mail, staff_headers, unique
from tests.support.servers import LiveServer
from tests.support.smtp import SmtpSink


def run(server: LiveServer, headers: dict[str, str], command: BaseCommand | dict[str, Any]) -> requests.Response:
    body = command.payload() if isinstance(command, BaseCommand) else command
    return requests.post(f"{server.api}/commands", json={"command": body}, headers=headers, timeout=30)


def applied(server: LiveServer, headers: dict[str, str], command: BaseCommand) -> dict[str, Any]:
    answer = run(server, headers, command)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "applied", answer.json()
    return dict(answer.json())


def get(server: LiveServer, headers: dict[str, str], path: str, **params: Any) -> requests.Response:
    return requests.get(f"{server.api}{path}", headers=headers, params=params, timeout=15)


def me(server: LiveServer, headers: dict[str, str]) -> int:
    return int(get(server, headers, "/auth/me").json()["id"])


def open_ticket(server: LiveServer, headers: dict[str, str], member: Member, **fields: Any) -> dict[str, Any]:
    """A ticket opened for ``member``, as ``GET /tickets/{id}`` shows it."""
    command = OpenTicket(member_id=member.id, subject=fields.pop("subject", unique("Subject ")), **fields)
    applied(server, headers, command)
    page = get(server, headers, f"/members/{member.id}/tickets").json()
    (row,) = [item for item in page["items"] if item["uid"] == str(command.op_id)]
    return dict(get(server, headers, f"/tickets/{row['id']}").json())


def test_open_note_assign_priority_and_state_show_in_the_ticket_and_the_members_history(
    server: LiveServer, db: Session
) -> None:
    headers = staff_headers(server, db)
    member = make_member(db, "Petra", "Quill", email=f"{unique('pq')}@example.org")
    ticket = open_ticket(server, headers, member, subject="  Card   declined at renewal ", queue="billing",
                         priority="high", note="Called at 10:00; card ends 4242.")
    assert (ticket["subject"], ticket["queue"], ticket["priority"], ticket["state"]) == (
        "Card declined at renewal", "billing", "high", "new")
    assert (ticket["member_no"], ticket["member_name"], ticket["assignee_id"]) == (member.member_no, "Petra Quill", None)
    assert ticket["due_kind"] == "first response" and ticket["minutes_left"] is not None
    assert [(e["kind"], e["body"]) for e in ticket["entries"]] == [("note", "Called at 10:00; card ends 4242.")]
    uid = uuid.UUID(ticket["uid"])

    applied(server, headers, AddNote(member_id=member.id, ticket=uid, body="Asked finance.\n\n"))
    applied(server, headers, Assign(member_id=member.id, ticket=uid, assignee_id=me(server, headers)))
    applied(server, headers, SetPriority(member_id=member.id, ticket=uid, priority=TicketPriority.URGENT))
    applied(server, headers, ChangeTicketState(member_id=member.id, ticket=uid, state="pending"))

    now = get(server, headers, f"/tickets/{ticket['id']}").json()
    assert (now["priority"], now["state"], now["assignee_name"]) == ("urgent", "pending", "Test Staff")
    assert now["first_response_due_at"] < ticket["first_response_due_at"]  # urgent: sooner
    assert [e["body"] for e in now["entries"]] == ["Called at 10:00; card ends 4242.", "Asked finance."]

    history = get(server, headers, f"/members/{member.id}/history", action="ticket.").json()
    assert [e["action"] for e in history["items"]] == [
        "ticket.state", "ticket.priority", "ticket.assign", "ticket.note", "ticket.open"]
    assert all(e["details"]["ticket_id"] == ticket["id"] for e in history["items"])
    username = get(server, headers, "/auth/me").json()["username"]
    assert {e["actor_username"] for e in history["items"]} == {username}  # the real actor
    assert "Asked finance" not in str(history["items"])  # the note's text stays in the ticket


def test_rules_reject_with_a_reason(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    member = make_member(db, "Rufus", "Rule")
    other = make_member(db, "Olga", "Other")
    uid = uuid.UUID(open_ticket(server, headers, member)["uid"])

    def reason(command: BaseCommand) -> tuple[str, str]:
        body = run(server, headers, command).json()
        return body["status"], body["reason"]

    assert reason(AddNote(member_id=other.id, ticket=uid, body="x")) == (
        "rejected", f"member {other.member_no} has no ticket {uid}")
    assert reason(ChangeTicketState(member_id=member.id, ticket=uid, state="closed"))[0] == "applied"
    assert reason(ChangeTicketState(member_id=member.id, ticket=uid, state="resolved"))[1].endswith(
        "a closed ticket can only be reopened")
    assert reason(Reply(member_id=member.id, ticket=uid, body="Hello"))[1].endswith("is closed: reopen it to reply")
    assert reason(ChangeTicketState(member_id=member.id, ticket=uid, state="open"))[0] == "applied"
    assert reason(Reply(member_id=member.id, ticket=uid, body="Hello")) == (
        "rejected", f"member {member.member_no} has no e-mail address to reply to")
    assert reason(SetPriority(member_id=member.id, ticket=uid, priority=TicketPriority.NORMAL))[1].endswith(
        "is already normal priority")
    assert reason(Assign(member_id=member.id, ticket=uid, assignee_id=None)) == (
        "rejected", "the ticket is already unassigned")
    portal_member = make_member(db, "Not", "Staff")
    portal = make_portal_user(db, portal_member)
    assert reason(Assign(member_id=member.id, ticket=uid, assignee_id=portal.id)) == (
        "rejected", f"user {portal.id} is not an active staff member")


@pytest.mark.parametrize("body, field", [
    ({"kind": "open_ticket", "subject": "   "}, "command.subject"),
    ({"kind": "open_ticket", "subject": "x" * 201}, "command.subject"),
    ({"kind": "open_ticket", "subject": "Hi", "queue": "sales"}, "command.queue"),
    ({"kind": "open_ticket", "subject": "Hi", "priority": "critical"}, "command.priority"),
    ({"kind": "add_ticket_note", "body": " \n "}, "command.body"),
    ({"kind": "add_ticket_note", "body": "Hi", "ticket": "not-a-uuid"}, "command.ticket"),
    ({"kind": "change_ticket_state", "state": "new"}, "command.state"),
    ({"kind": "assign_ticket", "assignee_id": 0}, "command.assignee_id"),
    ({"kind": "set_ticket_priority", "priority": 3}, "command.priority"),
])
def test_bad_input_is_422_naming_the_field(server: LiveServer, db: Session, body: dict[str, Any], field: str) -> None:
    headers = staff_headers(server, db)
    member = make_member(db, "Bad", "Input")
    payload = {"member_id": member.id, "ticket": str(uuid.uuid4()), **body}
    if body["kind"] == "open_ticket":
        payload.pop("ticket")
    answer = run(server, headers, payload)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["fields"], answer.json()
    assert db.scalar(select(Ticket).where(Ticket.member_id == member.id)) is None


@pytest.mark.parametrize("role", [UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN])
def test_each_staff_tier_works_tickets_and_nobody_else(server: LiveServer, db: Session, role: UserRole) -> None:
    headers = staff_headers(server, db, role)
    member = make_member(db, "Tier", role.value)
    ticket = open_ticket(server, headers, member)
    assert ticket["created_by"].startswith("staff.")
    command = AddNote(member_id=member.id, ticket=uuid.UUID(ticket["uid"]), body="note")
    assert run(server, {}, command).status_code == 401
    assert get(server, {}, "/tickets").status_code == 401
    assert get(server, {}, f"/tickets/{ticket['id']}").status_code == 401


NAMES = ("alpha", "bravo", "charlie")  # no hexadecimal digits: never in a unique() name


def test_queues_mine_unassigned_per_queue_overdue_text_sort_and_pages(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    me_id = me(server, headers)
    word = unique("Zebra")
    member = make_member(db, "Quentin", word)
    uids = []
    for index, (queue, priority) in enumerate([("portal", "low"), ("portal", "urgent"), ("billing", "normal")]):
        ticket = open_ticket(server, headers, member, subject=f"Portal trouble {NAMES[index]}", queue=queue,
                             priority=priority)
        uids.append(uuid.UUID(ticket["uid"]))
    applied(server, headers, Assign(member_id=member.id, ticket=uids[0], assignee_id=me_id))
    # One ticket is past its due time (as if opened long ago).
    overdue = db.scalar(select(Ticket).where(Ticket.uid == str(uids[2])))
    assert overdue is not None
    overdue.next_due_at = overdue.next_due_at.replace(year=2020)
    db.commit()

    def subjects(**params: Any) -> list[str]:
        answer = get(server, headers, "/tickets", **{"q": word, **params})
        assert answer.status_code == 200, answer.text
        return [item["subject"] for item in answer.json()["items"]]

    assert subjects(view="mine") == ["Portal trouble alpha"]
    assert subjects(view="unassigned", sort="-priority") == ["Portal trouble bravo", "Portal trouble charlie"]
    assert subjects(queue="portal", sort="priority") == ["Portal trouble alpha", "Portal trouble bravo"]
    assert subjects(view="overdue") == ["Portal trouble charlie"]
    assert get(server, headers, "/tickets", q=word, view="overdue").json()["items"][0]["overdue"] is True
    assert subjects(sort="-created") == ["Portal trouble charlie", "Portal trouble bravo", "Portal trouble alpha"]
    assert subjects(states="done") == []
    assert subjects(q=f"{word} trouble bravo") == ["Portal trouble bravo"]

    first = get(server, headers, "/tickets", q=word, sort="id", limit=2).json()
    assert (len(first["items"]), first["total"]) == (2, 3)
    rest = get(server, headers, "/tickets", q=word, sort="id", limit=2, cursor=first["next_cursor"]).json()
    assert [i["subject"] for i in first["items"] + rest["items"]] == [f"Portal trouble {n}" for n in NAMES]
    assert rest["next_cursor"] is None
    wrong_sort = get(server, headers, "/tickets", q=word, sort="due", cursor=first["next_cursor"])
    assert wrong_sort.status_code == 422 and "cursor" in wrong_sort.json()["fields"]


def test_text_filter_finds_subject_words_names_and_numbers_through_its_index(server: LiveServer, db: Session) -> None:
    """Substrings of the subject or the member's name (accents and case do not matter;
    ``%`` and ``_`` are plain characters), a member ID, a ticket number; nothing for no
    match. The page cut from the word's few matches and the walk of the queue's index
    (every word common) give the same answer."""
    headers = staff_headers(server, db)
    tag = unique("t")
    member = make_member(db, "Zoë", f"Gonçalves{tag}")
    other = make_member(db, "Ivo", f"Other{tag}")
    ids = {}
    for key, owner, subject in [
        ("accented", member, f"Rückerstattung verlangt {tag}"), ("percent", member, f"Discount 100% {tag}"),
        ("hundred", member, f"Discount 1000 {tag}"), ("underscore", other, f"Code a_b wrong {tag}"),
        ("axb", other, f"Code axb wrong {tag}"),
    ]:
        ids[key] = open_ticket(server, headers, owner, subject=subject)["id"]

    def found(q: str) -> set[str]:
        answer = get(server, headers, "/tickets", q=q, sort="id")
        assert answer.status_code == 200, answer.text
        keys = {key for key, number in ids.items() if number in {item["id"] for item in answer.json()["items"]}}
        assert answer.json()["total"] == len(answer.json()["items"]) == len(keys), q  # nobody else's tickets
        walked = search_tickets(db, q, sort=TicketSort.ID, candidate_cap=0)
        assert {t.id for t, _ in walked.rows} == {ids[k] for k in keys}, q
        return keys

    mine = {"accented", "percent", "hundred"}
    assert found(f"RUCKERSTATTUNG {tag}") == found(f"rückerstattung {tag.upper()}") == {"accented"}
    assert found(f"goncalves{tag}") == found(f"ZOE çalves{tag}") == found(f"zoë lves{tag}") == mine
    assert found(f"zo\x00goncalves{tag}") == mine  # a control character separates words (no 500 on PostgreSQL)
    assert found(f"100% {tag}") == {"percent"}
    assert found(f"discount 100 {tag}") == {"percent", "hundred"}
    assert found(f"a_b {tag}") == {"underscore"}
    assert found(f"wrong {tag}") == {"underscore", "axb"}
    assert found(f"{member.member_no} {tag}") == mine
    assert found(f"#{ids['axb']} {tag}") == {"axb"}
    assert "axb" in found(f"{ids['axb']} {tag}")  # (its digits may also be in the tag)
    assert found(f"zzqxj{tag}") == found(f"a%b {tag}") == found(f"a__b {tag}") == set()
    # The member's name is read from the member search, which follows a rename.
    member.last_name = f"Pereira{tag}"
    db.commit()
    assert found(f"pereira{tag}") == mine and found(f"goncalves{tag}") == set()


@pytest.mark.parametrize("params, field", [
    ({"view": "everything"}, "view"),
    ({"queue": "sales"}, "queue"),
    ({"sort": "name"}, "sort"),
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"cursor": "garbage"}, "cursor"),
    ({"states": "closed"}, "states"),
])
def test_bad_queue_parameters_are_422(server: LiveServer, db: Session, params: dict[str, Any], field: str) -> None:
    answer = get(server, staff_headers(server, db), "/tickets", **params)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["fields"]


def test_unknown_ticket_and_member_are_404(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    assert get(server, headers, "/tickets/2147483647").status_code == 404
    assert get(server, headers, "/members/2147483647/tickets").status_code == 404
    assert get(server, headers, "/tickets/2147483648").status_code == 422


def test_a_reply_is_mailed_and_a_note_never_is(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink) -> None:
    headers = staff_headers(mail_server, mail_db)
    address = f"{unique('reply')}@example.org"
    member = make_member(mail_db, "Imogen", "Reed", email=address)
    secret = unique("INTERNAL-ONLY-")
    ticket = open_ticket(mail_server, headers, member, subject="Where is my card?", note=f"First note {secret}")
    uid = uuid.UUID(ticket["uid"])
    applied(mail_server, headers, AddNote(member_id=member.id, ticket=uid, body=f"Second note {secret}"))
    applied(mail_server, headers, Reply(member_id=member.id, ticket=uid,
                                        body="Your card was posted today.\n\nIt should arrive by Friday."))

    mail = smtp.to(address, "Where is my card?")
    assert mail.subject == f"Re: Where is my card? [ticket #{ticket['id']}]"
    assert "Hello Imogen Reed" in mail.text and "Your card was posted today." in mail.text
    assert "It should arrive by Friday." in mail.html
    sent = settled_mail(mail_db, member_id=member.id)
    assert sent.template == "ticket_reply"
    # No message to anyone ever carried a note's text.
    assert not [m for m in smtp.messages if secret in m.message.as_string()]
    queued = mail_db.scalars(select(MailMessage).where(MailMessage.member_id == member.id)).all()
    assert len(queued) == 1 and secret not in str(queued[0].context)

    now = get(mail_server, headers, f"/tickets/{ticket['id']}").json()
    assert (now["state"], now["due_kind"]) == ("open", "resolution")
    assert now["first_responded_at"] is not None
    assert [(e["kind"], e["mail_state"]) for e in now["entries"]] == [("note", None), ("note", None), ("reply", "sent")]
