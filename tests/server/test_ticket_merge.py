"""Merging two tickets as a reversible link, over HTTP against the real server
(SQLite and PostgreSQL): the survivor's thread shows both threads (each entry with
the ticket it was written on), undo restores both exactly, every refusal says why —
and an internal note never reaches the member, through the portal or the reply
e-mail, after a merge, an undo, or merge-undo-merge (the FreeScout bug)."""

from __future__ import annotations

import uuid
from typing import Any

import requests
from sqlalchemy.orm import Session

from desktop_care.commands import AddNote, ChangeTicketState, MergeTicket, Reply, UndoTicketMerge
from desktop_care.models import Member
from tests.server.conftest import PASSWORD, make_member, make_portal_user, settled_mail, staff_headers, unique
from tests.server.test_api_tickets import applied, get, open_ticket, run
from tests.support.portal import Browser
from tests.support.servers import LiveServer
from tests.support.smtp import SmtpSink

#: What "exactly as before" compares (``minutes_left`` moves with the clock).
KEPT = ("state", "subject", "queue", "priority", "assignee_id", "updated_at", "next_due_at", "resolved_at",
        "merged_into_id", "merged_ids", "entries")


def kept(ticket: dict[str, Any]) -> dict[str, Any]:
    return {key: ticket[key] for key in KEPT}


def reason(server: LiveServer, headers: dict[str, str], command: Any) -> tuple[str, str]:
    body = run(server, headers, command).json()
    return body["status"], body["reason"]


def _two_tickets(server: LiveServer, headers: dict[str, str], member: Member) -> tuple[dict[str, Any], dict[str, Any]]:
    first = open_ticket(server, headers, member, subject="Card not arrived", note="Note on the first")
    second = open_ticket(server, headers, member, subject="Where is my card?", note="Note on the second")
    return first, second


def test_merge_shows_both_threads_and_undo_restores_both_exactly(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    member = make_member(db, "Mona", "Merge", email=f"{unique('mm')}@example.org")
    first, second = _two_tickets(server, headers, member)
    applied(server, headers, Reply(member_id=member.id, ticket=uuid.UUID(first["uid"]), body="Posted on Monday."))
    applied(server, headers, ChangeTicketState(member_id=member.id, ticket=uuid.UUID(first["uid"]), state="pending"))
    settled_mail(db, member_id=member.id)  # the reply's delivery state stays put from here
    before = [kept(get(server, headers, f"/tickets/{t['id']}").json()) for t in (first, second)]

    applied(server, headers, MergeTicket(member_id=member.id, ticket=uuid.UUID(first["uid"]),
                                         into=uuid.UUID(second["uid"])))
    merged = get(server, headers, f"/tickets/{first['id']}").json()
    survivor = get(server, headers, f"/tickets/{second['id']}").json()
    assert (merged["state"], merged["merged_into_id"], merged["minutes_left"]) == ("merged", second["id"], None)
    assert survivor["merged_ids"] == [first["id"]]
    assert [(e["ticket_id"], e["kind"], e["body"]) for e in survivor["entries"]] == [
        (first["id"], "note", "Note on the first"), (second["id"], "note", "Note on the second"),
        (first["id"], "reply", "Posted on Monday.")]
    # The merged ticket leaves the open queues; "done" and the member's list keep it.
    open_ids = [t["id"] for t in get(server, headers, "/tickets", q=member.member_no).json()["items"]]
    assert open_ids == [second["id"]]
    assert [t["id"] for t in get(server, headers, "/tickets", q=member.member_no, states="done").json()["items"]] == [
        first["id"]]

    applied(server, headers, UndoTicketMerge(member_id=member.id, ticket=uuid.UUID(first["uid"])))
    after = [kept(get(server, headers, f"/tickets/{t['id']}").json()) for t in (first, second)]
    assert after == before

    history = get(server, headers, f"/members/{member.id}/history", action="ticket.").json()["items"]
    actions = [e["action"] for e in history]
    assert actions[:2] == ["ticket.unmerge", "ticket.merge"]
    assert history[1]["details"]["into_id"] == second["id"] and history[1]["details"]["ticket_id"] == first["id"]
    assert "Note on the" not in str(history)  # no note's text in the audit either


def test_refusals_say_why(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    member = make_member(db, "Rita", "Refuse", email=f"{unique('rr')}@example.org")
    other = make_member(db, "Otto", "Other")
    first, second = _two_tickets(server, headers, member)
    third = open_ticket(server, headers, member, subject="Third")
    foreign = open_ticket(server, headers, other, subject="Someone else's")
    a, b, c, f = (uuid.UUID(t["uid"]) for t in (first, second, third, foreign))

    assert reason(server, headers, MergeTicket(member_id=member.id, ticket=a, into=a)) == (
        "rejected", f"ticket #{first['id']} cannot be merged into itself")
    assert reason(server, headers, MergeTicket(member_id=member.id, ticket=a, into=f)) == (
        "rejected", f"ticket #{foreign['id']} is another member's: tickets of different members cannot be merged "
                    "(merge the members first if they are one person)")
    assert reason(server, headers, UndoTicketMerge(member_id=member.id, ticket=a)) == (
        "rejected", f"ticket #{first['id']} is not merged into another ticket")
    applied(server, headers, MergeTicket(member_id=member.id, ticket=a, into=b))
    assert reason(server, headers, MergeTicket(member_id=member.id, ticket=c, into=a)) == (
        "rejected", f"ticket #{first['id']} is itself merged into #{second['id']}: merge into #{second['id']} instead")
    assert reason(server, headers, MergeTicket(member_id=member.id, ticket=a, into=c)) == (
        "rejected", f"ticket #{first['id']} was merged into #{second['id']}: work on #{second['id']}, or undo the merge")
    assert reason(server, headers, MergeTicket(member_id=member.id, ticket=b, into=c)) == (
        "rejected", f"ticket #{second['id']} has #{first['id']} merged into it: merge #{third['id']} into "
                    f"#{second['id']} instead, or undo those merges first")
    assert reason(server, headers, Reply(member_id=member.id, ticket=a, body="Hi"))[1].startswith(
        f"ticket #{first['id']} was merged into #{second['id']}")
    # A note still lands (one queued offline is never lost) and shows in the survivor.
    applied(server, headers, AddNote(member_id=member.id, ticket=a, body="Late note"))
    assert "Late note" in [e["body"] for e in get(server, headers, f"/tickets/{second['id']}").json()["entries"]]
    applied(server, headers, ChangeTicketState(member_id=member.id, ticket=c, state="closed"))
    applied(server, headers, UndoTicketMerge(member_id=member.id, ticket=a))
    assert reason(server, headers, MergeTicket(member_id=member.id, ticket=a, into=c)) == (
        "rejected", f"ticket #{third['id']} is closed: reopen it first, or merge it into #{first['id']}")

    # Online only: a workstation cannot queue a merge or an undo.
    queued = requests.post(f"{server.api}/sync/commands", headers=headers, timeout=10, json={
        "commands": [MergeTicket(member_id=member.id, ticket=a, into=b).payload()]})
    assert queued.status_code == 422, queued.text


def _portal_thread(browser: Browser, ticket_id: int) -> str:
    page = browser.get(f"/portal/contact/{ticket_id}")
    assert page.status == 200, page.text
    return page.text


def test_a_note_never_reaches_the_member_through_merge_undo_or_a_reply(
    mail_server: LiveServer, mail_db: Session, smtp: SmtpSink
) -> None:
    headers = staff_headers(mail_server, mail_db)
    address = f"{unique('nv')}@example.org"
    member = make_member(mail_db, "Nina", "Visible", email=address)
    user = make_portal_user(mail_db, member, email=address)
    browser = Browser(mail_server.url)
    assert browser.sign_in(user.username, PASSWORD).title == "My account"
    first_secret, second_secret = unique("NOTE-FIRST-"), unique("NOTE-SECOND-")
    first = open_ticket(mail_server, headers, member, subject="Renewal", note=f"About the member: {first_secret}")
    second = open_ticket(mail_server, headers, member, subject="Renewal again")
    a, b = uuid.UUID(first["uid"]), uuid.UUID(second["uid"])
    applied(mail_server, headers, AddNote(member_id=member.id, ticket=b, body=f"Staff only {second_secret}"))
    applied(mail_server, headers, Reply(member_id=member.id, ticket=a, body="We renewed you."))

    def member_sees_no_note() -> None:
        for ticket_id in (first["id"], second["id"]):
            text = _portal_thread(browser, ticket_id)
            assert first_secret not in text and second_secret not in text
        listing = browser.get("/portal/contact").text
        assert first_secret not in listing and second_secret not in listing

    member_sees_no_note()
    applied(mail_server, headers, MergeTicket(member_id=member.id, ticket=a, into=b))
    member_sees_no_note()
    assert browser.get(f"/portal/contact/{first['id']}").url.endswith(f"/portal/contact/{second['id']}")
    assert "We renewed you." in _portal_thread(browser, second["id"])  # the replies of both, merged

    applied(mail_server, headers, UndoTicketMerge(member_id=member.id, ticket=a))
    member_sees_no_note()
    assert "We renewed you." not in _portal_thread(browser, second["id"])
    applied(mail_server, headers, MergeTicket(member_id=member.id, ticket=a, into=b))
    member_sees_no_note()

    # A reply on the survivor after the merge: its e-mail carries that reply only.
    applied(mail_server, headers, Reply(member_id=member.id, ticket=b, body="Everything is sorted."))
    mail = smtp.wait_for(lambda m: address in m.rcpt_tos and "Everything is sorted." in m.text)
    assert f"/portal/contact/{second['id']}" in mail.text  # the link to the portal thread
    assert not [m for m in smtp.messages if address in m.rcpt_tos and
                (first_secret in m.message.as_string() or second_secret in m.message.as_string())]
