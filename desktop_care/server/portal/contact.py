"""Contact us: the member's support tickets in the portal.

``/contact`` lists the member's tickets and has the form to write to us (a topic, which
is the ticket's queue, a subject and the message); ``/contact/{id}`` shows one
conversation and takes the member's reply. Both write through ``execute``
(``ContactUs``, ``MemberMessage``), audited with the real actor: the member's user,
or the staff member acting on their behalf with the session (decision 0017).

The member sees only what :func:`~desktop_care.models.ticket_search.member_thread`
selects — replies and their own messages. Internal notes are never read for a portal
page, whatever merges or undos happened (docs/decisions/0024-ticket-merge-and-contact-us.md).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import ContactUs, MemberMessage, Status
from desktop_care.models import EntryKind, Ticket, TicketState
from desktop_care.models.base import MAX_ID
from desktop_care.models.ticket_search import member_thread
from desktop_care.models.tickets import MAX_BODY, MAX_SUBJECT, QUEUES

from ..deps import ClientAddress, SessionDep, Sessions
from ..errors import plain_message
from ..transactions import run_command
from .auth import EXPIRED_FORM
from .web import CurrentPortalUser, SignedIn, csrf_ok, page, redirect, renew_csrf

router = APIRouter()
FormText = Annotated[str, Form()]

#: What the member chooses from ("What is it about?"): each topic is a queue.
TOPICS: dict[str, str] = {
    "membership": "My membership",
    "billing": "Payments, orders and invoices",
    "portal": "Signing in or using this website",
    "general": "Something else",
}
assert set(TOPICS) == set(QUEUES)

#: A ticket's state in the member's words.
STATE_WORDS: dict[TicketState, str] = {
    TicketState.NEW: "Received",
    TicketState.OPEN: "In progress",
    TicketState.PENDING: "Waiting for your answer",
    TicketState.RESOLVED: "Resolved",
    TicketState.CLOSED: "Closed",
    TicketState.MERGED: "Merged",
}

_FIELD_OF = {"subject": "subject", "body": "message", "queue": "topic"}


def _errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = _FIELD_OF.get(str(error["loc"][0]) if error.get("loc") else "", "message")
        message = plain_message(error).removeprefix("value error, ")
        fields.setdefault(name, message[:1].upper() + message[1:].rstrip(".") + ".")
    return fields


def _my_tickets(session: Session, current: SignedIn) -> list[Ticket]:
    """The member's conversations, latest first (a merged ticket lives on in its
    survivor)."""
    return list(session.scalars(select(Ticket).where(Ticket.member_id == current.member.id,
                                                     Ticket.state != TicketState.MERGED)
                                .order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(200)))


def _contact_page(request: Request, session: Session, current: SignedIn, status: int = 200,
                  **values: Any) -> Response:
    values.setdefault("form", {"topic": "", "subject": "", "message": ""})
    return page(request, "contact.html", status, title="Contact us", user=current.user, member=current.member,
                tickets=_my_tickets(session, current), topics=TOPICS, states=STATE_WORDS,
                max_subject=MAX_SUBJECT, max_body=MAX_BODY, active="contact", **values)


def _not_yours(request: Request, current: SignedIn) -> Response:
    return page(request, "refused.html", 404, title="No such conversation",
                message="There is no such conversation among yours. It may belong to another account.",
                back="/contact", user=current.user, active="contact")


CLOSED = "This conversation is closed. To ask something else, write to us again from Contact us."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:].rstrip(".") + "."


@router.get("/contact")
def contact_page(request: Request, session: SessionDep, current: CurrentPortalUser) -> Response:
    return _contact_page(request, session, current)


@router.post("/contact")
def contact_us(
    request: Request, session: SessionDep, sessions: Sessions, client: ClientAddress, current: CurrentPortalUser,
    topic: FormText = "", subject: FormText = "", message: FormText = "", csrf_token: FormText = "",
) -> Response:
    form = {"topic": topic, "subject": subject, "message": message}
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _contact_page(request, session, current, 400, form=form, form_error=EXPIRED_FORM)
    errors: dict[str, str] = {}
    if topic not in TOPICS:
        errors["topic"] = "Choose what your message is about."
    try:
        command = ContactUs.model_validate({"member_id": current.member.id, "subject": subject,
                                            "queue": topic if topic in TOPICS else "general", "body": message})
    except ValidationError as exc:
        errors = {**_errors(exc), **errors}
    if errors:
        return _contact_page(request, session, current, 400, form=form, errors=errors,
                             form_error="Please correct the fields marked below.")
    session.rollback()  # end this request's read: the command runs in its own write transaction
    result = run_command(sessions, command, current.actor(client))
    if result.status not in (Status.APPLIED, Status.DUPLICATE):
        return _contact_page(request, session, current, 400, form=form, form_error=_sentence(result.reason))
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.uid == str(command.op_id)))
    return redirect(request, f"/contact/{ticket_id}", flash="message_sent")


def _visible(session: Session, current: SignedIn, ticket_id: int) -> Ticket | None:
    if not 1 <= ticket_id <= MAX_ID:
        return None
    ticket = session.get(Ticket, ticket_id)
    return ticket if ticket is not None and ticket.member_id == current.member.id else None


def _thread_page(request: Request, session: Session, current: SignedIn, ticket: Ticket, status: int = 200,
                 **values: Any) -> Response:
    values.setdefault("form", {"message": ""})
    return page(request, "contact_thread.html", status, title=f"{ticket.subject}", user=current.user,
                member=current.member, ticket=ticket, entries=member_thread(session, ticket), states=STATE_WORDS,
                topics=TOPICS, reply_kind=EntryKind.REPLY, max_body=MAX_BODY, active="contact", **values)


@router.get("/contact/{ticket_id}")
def conversation(request: Request, session: SessionDep, current: CurrentPortalUser, ticket_id: int) -> Response:
    ticket = _visible(session, current, ticket_id)
    if ticket is None:
        return _not_yours(request, current)
    if ticket.state == TicketState.MERGED and ticket.merged_into_id is not None:
        return redirect(request, f"/contact/{ticket.merged_into_id}")  # it goes on there
    return _thread_page(request, session, current, ticket)


@router.post("/contact/{ticket_id}")
def write_on(
    request: Request, session: SessionDep, sessions: Sessions, client: ClientAddress, current: CurrentPortalUser,
    ticket_id: int, message: FormText = "", csrf_token: FormText = "",
) -> Response:
    ticket = _visible(session, current, ticket_id)
    if ticket is None:
        return _not_yours(request, current)
    if ticket.state == TicketState.MERGED and ticket.merged_into_id is not None:
        survivor = session.get(Ticket, ticket.merged_into_id)
        assert survivor is not None
        ticket = survivor
    form = {"message": message}
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _thread_page(request, session, current, ticket, 400, form=form, form_error=EXPIRED_FORM)
    if ticket.state == TicketState.CLOSED:
        return _thread_page(request, session, current, ticket, 409, form=form, form_error=CLOSED)
    try:
        command = MemberMessage(member_id=current.member.id, ticket=uuid.UUID(ticket.uid), body=message)
    except ValidationError as exc:
        return _thread_page(request, session, current, ticket, 400, form=form, errors=_errors(exc),
                            form_error="Please write your message first.")
    target_id = ticket.id
    session.rollback()
    result = run_command(sessions, command, current.actor(client))
    if result.status not in (Status.APPLIED, Status.DUPLICATE):
        fresh = session.get(Ticket, target_id)
        assert fresh is not None
        return _thread_page(request, session, current, fresh, 409, form=form, form_error=_sentence(result.reason))
    return redirect(request, f"/contact/{target_id}", flash="message_added")
