"""Support tickets: ``GET /tickets`` (the queues), ``GET /tickets/{ticket_id}`` (one
ticket with its thread) and ``GET /members/{member_id}/tickets``. Changes are commands
(``POST /commands``, or queued through ``POST /sync/commands``): see
:mod:`desktop_care.commands.tickets`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands.tickets import QueueName
from desktop_care.models import MailMessage, Member, User, utcnow
from desktop_care.models.base import MAX_ID
from desktop_care.models.search import InvalidCursor
from desktop_care.models.ticket_search import (
    MAX_LIMIT,
    MemberRef,
    StateGroup,
    TicketSort,
    TicketView,
    load_ticket,
    merged_into,
    search_tickets,
    thread,
)
from desktop_care.models.tickets import Ticket
from desktop_care.schemas import ErrorDetail, TicketDetail, TicketEntryOut, TicketPage, TicketSummary

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, InvalidInput, NotFound
from .members import MAX_QUERY_LENGTH, PageSize

router = APIRouter(tags=["tickets"], responses=ERROR_RESPONSES)

TicketId = Annotated[int, Path(ge=1, le=MAX_ID, description="The ticket's number")]
_Limit = Annotated[PageSize, Query(description="Page size", json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})]
_Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")]
_Sort = Annotated[TicketSort, Query(description="Column to sort by; a leading `-` sorts descending")]
_States = Annotated[StateGroup, Query(description="`open`: new, open or pending; `done`: resolved, closed or merged")]
_Text = Annotated[str, Query(max_length=MAX_QUERY_LENGTH,
                             description="Words in the subject or the member's name; a ticket number or member ID")]


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {user_id: name or username for user_id, name, username in
            session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(sorted(ids))))}


def _summary_fields(ticket: Ticket, member: Member | MemberRef, names: dict[int, str], now: dt.datetime) -> dict[str, Any]:
    left = ticket.due_left(now)
    return {
        "id": ticket.id, "uid": ticket.uid, "member_id": member.id, "member_no": member.member_no,
        "member_name": member.display_name, "subject": ticket.subject, "queue": ticket.queue,
        "priority": ticket.priority, "state": ticket.state, "assignee_id": ticket.assignee_id,
        "assignee_name": names.get(ticket.assignee_id) if ticket.assignee_id is not None else None,
        "created_at": ticket.created_at, "updated_at": ticket.updated_at, "next_due_at": ticket.next_due_at,
        "due_kind": "resolution" if ticket.first_responded_at else "first response",
        "minutes_left": int(left.total_seconds() // 60) if left is not None else None,
        "overdue": ticket.state.is_open and ticket.next_due_at < now,
    }


def _page(session: Session, **search: Any) -> TicketPage:
    now = utcnow()
    try:
        page = search_tickets(session, now=now, **search)
    except InvalidCursor as exc:
        raise InvalidInput("cursor", str(exc)) from None
    names = _names(session, {t.assignee_id for t, _ in page.rows if t.assignee_id is not None})
    return TicketPage(
        items=[TicketSummary(**_summary_fields(t, m, names, now)) for t, m in page.rows],
        total=page.total, total_exact=page.total_exact, next_cursor=page.next_cursor,
    )


@router.get("/tickets", operation_id="listTickets", response_model=TicketPage)
def list_tickets(
    session: SessionDep,
    staff: CurrentStaff,
    view: Annotated[TicketView, Query(description="`mine`: assigned to you; `overdue`: open and past due")] = (
        TicketView.ALL),
    queue: Annotated[QueueName | None, Query(description="Only this queue")] = None,
    states: _States = StateGroup.OPEN,
    q: _Text = "",
    sort: _Sort = TicketSort.DUE,
    limit: _Limit = 50,
    cursor: _Cursor = None,
) -> TicketPage:
    """A ticket queue, one page at a time: soonest due first by default."""
    return _page(session, q=q, view=view, staff_id=staff.id, queue=queue, states=states, sort=sort,
                 limit=limit, cursor=cursor)


@router.get("/members/{member_id}/tickets", operation_id="getMemberTickets", response_model=TicketPage,
            responses={404: {"model": ErrorDetail, "description": "No such member"}})
def member_tickets(
    member_id: MemberId,
    session: SessionDep,
    staff: CurrentStaff,
    states: Annotated[StateGroup, Query(description="`open`, `done` or `all` (default) tickets")] = StateGroup.ALL,
    sort: Annotated[TicketSort, Query(description="Column to sort by; a leading `-` sorts descending")] = (
        TicketSort.CREATED_DESC),
    limit: _Limit = 50,
    cursor: _Cursor = None,
) -> TicketPage:
    """The member's tickets, newest first by default."""
    if session.get(Member, member_id) is None:
        raise NotFound(f"no member with id {member_id}")
    return _page(session, member_id=member_id, states=states, sort=sort, limit=limit, cursor=cursor)


@router.get("/tickets/{ticket_id}", operation_id="getTicket", response_model=TicketDetail,
            responses={404: {"model": ErrorDetail, "description": "No such ticket"}})
def ticket_detail(ticket_id: TicketId, session: SessionDep, staff: CurrentStaff) -> TicketDetail:
    """One ticket with its thread, oldest first: replies (e-mailed to the member, with
    their delivery state), the member's messages and internal notes, with those of the
    tickets merged into it (each entry says which ticket it was written on)."""
    ticket = load_ticket(session, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket #{ticket_id}")
    member = session.get(Member, ticket.member_id)
    assert member is not None
    now = utcnow()
    names = _names(session, {ticket.assignee_id} if ticket.assignee_id is not None else set())
    entries = thread(session, ticket)
    mail_ids = [e.mail_id for e in entries if e.mail_id is not None]
    states = dict(session.execute(select(MailMessage.id, MailMessage.state).where(MailMessage.id.in_(mail_ids)))
                  .all()) if mail_ids else {}
    return TicketDetail(
        **_summary_fields(ticket, member, names, now),
        created_by=ticket.created_by,
        first_response_due_at=ticket.first_response_due_at,
        resolution_due_at=ticket.resolution_due_at,
        first_responded_at=ticket.first_responded_at,
        resolved_at=ticket.resolved_at,
        merged_into_id=ticket.merged_into_id,
        merged_ids=merged_into(session, ticket.id),
        entries=[TicketEntryOut(id=e.id, kind=e.kind, body=e.body, author_name=e.author_name, created_at=e.created_at,
                                mail_state=states.get(e.mail_id) if e.mail_id is not None else None,
                                ticket_id=e.ticket_id)
                 for e in entries],
    )
