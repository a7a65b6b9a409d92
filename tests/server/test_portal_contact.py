"""Contact us in the member portal, over HTTP as a browser sends it (real server,
SQLite and PostgreSQL): opening a ticket, the conversation with staff replies and
never a note, the member's reply reopening a pending or resolved ticket, every
refusal (someone else's ticket, an empty message, a bad CSRF token, a closed
ticket), and staff acting on behalf audited with the session."""

from __future__ import annotations

import uuid

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import AddNote, ChangeTicketState, ContactUs, Reply
from desktop_care.models import AuditEvent, Member, Ticket, TicketEntry, User
from tests.server.conftest import PASSWORD, make_member, make_portal_user, staff_headers, unique
from tests.server.test_api_tickets import applied, get, run
from tests.server.test_on_behalf import Console
from tests.support.portal import Browser, Page
from tests.support.servers import LiveServer


def _signed_in(server: LiveServer, db: Session, first: str = "Cora") -> tuple[Member, User, Browser]:
    member = make_member(db, first, "Contact", email=f"{unique('cc')}@example.org")
    user = make_portal_user(db, member, email=member.email, display_name=f"{first} Contact")
    browser = Browser(server.url)
    assert browser.sign_in(user.username, PASSWORD).title == "My account"
    return member, user, browser


def _write(browser: Browser, **fields: str) -> Page:
    browser.get("/portal/contact")
    return browser.submit("/portal/contact", **{"topic": "billing", "subject": "Charged twice",
                                                "message": "I was charged twice for my renewal.", **fields})


def _ticket(db: Session, member: Member) -> Ticket:
    db.expire_all()
    ticket = db.scalar(select(Ticket).where(Ticket.member_id == member.id).order_by(Ticket.id.desc()).limit(1))
    assert ticket is not None
    return ticket


def test_a_member_opens_a_ticket_and_talks_with_staff_who_never_show_notes(server: LiveServer, db: Session) -> None:
    member, user, browser = _signed_in(server, db)
    assert 'href="/portal/contact"' in browser.get("/portal/account").text
    sent = _write(browser, subject="  Charged   twice ")
    ticket = _ticket(db, member)
    assert sent.url.endswith(f"/portal/contact/{ticket.id}") and sent.flash.startswith("Thank you")
    assert (ticket.subject, ticket.queue, ticket.state.value, ticket.created_by) == (
        "Charged twice", "billing", "new", user.username)
    assert "I was charged twice for my renewal." in sent.text

    headers = staff_headers(server, db)
    detail = get(server, headers, f"/tickets/{ticket.id}").json()
    assert [(e["kind"], e["body"], e["author_name"]) for e in detail["entries"]] == [
        ("message", "I was charged twice for my renewal.", user.username)]
    opened, = db.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(member.id),
                                                  AuditEvent.action == "ticket.contact_us"))
    assert (opened.actor_user_id, opened.impersonation_id) == (user.id, None)
    assert "charged twice for my" not in str(opened.details)

    secret = unique("STAFF-ONLY-")
    uid = uuid.UUID(ticket.uid)
    applied(server, headers, AddNote(member_id=member.id, ticket=uid, body=f"Refund approved {secret}"))
    applied(server, headers, Reply(member_id=member.id, ticket=uid, body="We refunded the second charge."))
    applied(server, headers, ChangeTicketState(member_id=member.id, ticket=uid, state="pending"))
    thread = browser.get(f"/portal/contact/{ticket.id}")
    assert "We refunded the second charge." in thread.text and "Waiting for your answer" in thread.text
    assert secret not in thread.text and secret not in browser.get("/portal/contact").text

    # The member's reply reopens a ticket waiting for them, and a resolved one.
    replied = browser.submit(f"/portal/contact/{ticket.id}", message="Thank you, it arrived.")
    assert replied.url.endswith(f"/portal/contact/{ticket.id}") and "Thank you, it arrived." in replied.text
    assert _ticket(db, member).state.value == "open"
    applied(server, headers, ChangeTicketState(member_id=member.id, ticket=uid, state="resolved"))
    browser.get(f"/portal/contact/{ticket.id}")
    browser.submit(f"/portal/contact/{ticket.id}", message="One more question.")
    reopened = _ticket(db, member)
    assert (reopened.state.value, reopened.resolved_at) == ("open", None)

    # A closed ticket takes no more messages: the page says so, a post is refused.
    applied(server, headers, ChangeTicketState(member_id=member.id, ticket=uid, state="closed"))
    closed = browser.get(f"/portal/contact/{ticket.id}")
    assert 'id="closed-notice"' in closed.text and 'id="reply-form"' not in closed.text
    refused = browser.submit(f"/portal/contact/{ticket.id}", message="Hello?")
    assert refused.status == 409 and refused.form_error.startswith("This conversation is closed.")


def test_every_refusal(server: LiveServer, db: Session) -> None:
    member, _, browser = _signed_in(server, db)
    other, _, other_browser = _signed_in(server, db, "Otto")
    _write(other_browser)
    theirs = _ticket(db, other)

    for page in (browser.get(f"/portal/contact/{theirs.id}"),
                 browser.submit(f"/portal/contact/{theirs.id}", message="Let me in"),
                 browser.get("/portal/contact/2147483648")):
        assert page.status == 404 and page.title == "No such conversation"
    assert len(theirs.entries) == 1 and "Let me in" not in str(
        db.scalars(select(TicketEntry.body).where(TicketEntry.ticket_id == theirs.id)).all())

    empty = _write(browser, message=" \n ", subject="", topic="")
    assert empty.status == 400
    assert set(empty.errors) == {"topic", "subject", "message"}, empty.errors
    assert empty.errors["topic"] == "Choose what your message is about."
    assert db.scalar(select(Ticket).where(Ticket.member_id == member.id)) is None

    browser.get("/portal/contact")
    forged = browser.submit("/portal/contact", csrf_token="forged", topic="general", subject="Hi", message="Hello")
    assert forged.status == 400 and forged.form_error == "This form has expired. Please try again."
    assert db.scalar(select(Ticket).where(Ticket.member_id == member.id)) is None

    _write(browser)
    mine = _ticket(db, member)
    browser.get(f"/portal/contact/{mine.id}")
    blank = browser.submit(f"/portal/contact/{mine.id}", message="   ")
    assert blank.status == 400 and blank.errors == {"message": "Must not be empty."}
    browser.get(f"/portal/contact/{mine.id}")
    forged_reply = browser.submit(f"/portal/contact/{mine.id}", csrf_token="forged", message="Hello")
    assert forged_reply.status == 400 and forged_reply.form_error == "This form has expired. Please try again."
    assert len(_ticket(db, member).entries) == 1

    # Staff in the console do not write as the member: they reply or note instead.
    command = ContactUs(member_id=member.id, subject="As the member", body="Hello")
    answer = run(server, staff_headers(server, db), command).json()
    assert (answer["status"], answer["reason"]) == (
        "rejected", "only the member, or staff acting on their behalf in the portal, writes as the member")
    # Signed out: to the sign-in page.
    assert requests.get(f"{server.url}/portal/contact", timeout=10).url.endswith("/portal/sign-in")


def test_staff_acting_on_behalf_contact_us_audited_with_the_session(server: LiveServer, db: Session) -> None:
    member = make_member(db, "Bea", "Half", email=f"{unique('bh')}@example.org")
    make_portal_user(db, member, email=member.email)
    console = Console(server, db)
    view, _page, session_id = console.open(member.id)
    sent = _write(view, topic="membership", subject="Change of name", message="She married in June.")
    ticket = _ticket(db, member)
    assert sent.url.endswith(f"/portal/contact/{ticket.id}") and ticket.queue == "membership"
    opened, = db.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(member.id),
                                                  AuditEvent.action == "ticket.contact_us"))
    assert (opened.actor_user_id, opened.impersonation_id) == (console.user.id, session_id)
    view.submit(f"/portal/contact/{ticket.id}", message="Certificate posted.")
    wrote, = db.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(member.id),
                                                 AuditEvent.action == "ticket.member_message"))
    assert (wrote.actor_user_id, wrote.impersonation_id) == (console.user.id, session_id)
