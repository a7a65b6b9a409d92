"""A member's timeline: ``GET /members/{member_id}/timeline``.

One stream of everything that happened to a member, newest first: the audited actions
on the account (and on its portal users) and the rows of the ledgers that own a thing —
the money ledger, ticket threads, course registrations and the herd book's animal
events. Mail and act-on-behalf sessions come from the audit event that began them,
with the outbox row (subject, delivery) and the session row (how it ended) joined in.

The sources are merged in SQL: one ``UNION ALL`` of narrow branches (source, id, time,
kind), each already cut to the page by the keyset and ordered by its own index, then
sorted by ``(at, source, id)`` descending. Only the page's rows are then loaded to say
what they are. An action that is both audited and a ledger row shows once, as the
ledger row (:data:`LEDGER_OWNED`): see docs/decisions/0029-member-timeline.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, Select, String, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from desktop_care.commands.registry import kinds as command_kinds
from desktop_care.models import (
    AccountTransaction,
    Animal,
    AnimalEvent,
    AuditEvent,
    MailMessage,
    OnBehalfSession,
    Order,
    Ticket,
    TicketEntry,
    User,
)
from desktop_care.models.courses import Course, CourseSession, Registration
from desktop_care.schemas import TimelineEntry, TimelineKind, TimelinePage

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, InvalidInput
from .member_activity import _NOT_FOUND, Limit, _member

router = APIRouter(prefix="/members", tags=["members"], responses=ERROR_RESPONSES)

_BAD_CURSOR = "is not a cursor from a previous page of this timeline"

#: The branches of the union (the ``source`` of each entry, in key and cursor).
AUDIT, TXN, TICKET_ENTRY, REGISTRATION, ANIMAL_EVENT = (
    "audit", "account_txn", "ticket_entry", "registration", "animal_event")
SOURCES = (AUDIT, TXN, TICKET_ENTRY, REGISTRATION, ANIMAL_EVENT)

#: Audited actions whose whole effect is one ledger row: the row is the entry (it has
#: the amount, the body, the animal, the new registration, and its own actor), the
#: audit event is left out so nothing shows twice. ``on_behalf.end`` is shown in the
#: entry of the session's start.
LEDGER_OWNED: tuple[str, ...] = (
    "payment.recorded", "payment.credit_note", "order.payment_recorded",
    "ticket.note", "ticket.reply", "ticket.member_message", "ticket.contact_us",
    "course.transfer_registration", "course.accept_offer",
    "animal.registered", "animal.corrected", "animal.transfer_offered", "animal.transfer_answered",
    "animal.transfer_cancelled",
    "on_behalf.end",
)

#: Names of audited actions that are not commands (commands name themselves: ``label``).
_LABELS = {
    "mail.queued": "E-mail", "on_behalf.start": "Acted on behalf", "on_behalf.refused": "Refused while acting on behalf",
    "portal.password_changed": "Password changed in the portal",
    "portal.password_change_failed": "Wrong current password in the portal",
    "portal.password_reset": "Password reset in the portal", "portal.invitation_accepted": "Invitation accepted",
    "portal.login": "Signed in to the portal", "portal.login_failed": "Failed portal sign-in",
    "portal.logout": "Signed out of the portal", "ticket.open": "Ticket opened",
    "ticket.assign": "Ticket assigned", "ticket.state": "Ticket state changed", "ticket.priority": "Ticket priority changed",
    "ticket.merge": "Tickets merged", "ticket.unmerge": "Ticket merge undone",
}
_ON_BEHALF_ENDS = {
    "sign_in_as_yourself": "Sign in as yourself", "sign_out": "Sign out", "view_closed": "the window was closed",
    "staff_signed_out": "the staff member signed out", "time_limit": "the 30-minute limit",
}
_ENTRY_WORDS = {"reply": "Reply sent", "note": "Internal note", "message": "Message from the member"}
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def _audit_kind(action: Any) -> ColumnElement[str]:
    """The chip an audited action belongs to, in SQL."""
    return case(
        (action == "member.change_status", TimelineKind.STATUS.value),
        (action.in_(("member.merge", "member.undo_merge")), TimelineKind.MERGE.value),
        (action.startswith("mail."), TimelineKind.MAIL.value),
        (action.startswith("ticket."), TimelineKind.TICKETS.value),
        (or_(action.startswith("payment."), action.startswith("order.")), TimelineKind.MONEY.value),
        (or_(action.startswith("course."), action.startswith("elearning.")), TimelineKind.COURSES.value),
        (action.startswith("animal."), TimelineKind.ANIMALS.value),
        (action.startswith("on_behalf."), TimelineKind.ON_BEHALF.value),
        else_=TimelineKind.ACCOUNT.value,
    )


# ----------------------------------------------------------------------------- cursor

def _encode(at: dt.datetime, source: str, row_id: int) -> str:
    raw = json.dumps([at.astimezone(dt.UTC).isoformat(), source, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(cursor: str) -> tuple[dt.datetime, str, int]:
    try:
        at, source, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = dt.datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInput("cursor", _BAD_CURSOR) from exc
    if type(row_id) is not int or not 0 <= row_id < 2**31 or source not in SOURCES or moment.tzinfo is None:
        raise InvalidInput("cursor", _BAD_CURSOR)
    return moment, source, row_id


def _before(at_col: Any, id_col: Any, source: str, after: tuple[dt.datetime, str, int] | None) -> list[Any]:
    """The keyset condition ``(at, source, id) < cursor`` of one branch, whose source
    is a constant (so it stays a range on the branch's own index)."""
    if after is None:
        return []
    at, cursor_source, row_id = after
    if source < cursor_source:
        return [at_col <= at]
    if source > cursor_source:
        return [at_col < at]
    return [or_(at_col < at, and_(at_col == at, id_col < row_id))]


# ----------------------------------------------------------------------------- branches

def _audit_where(session: Session, member_id: int) -> ColumnElement[bool]:
    """Audit events about the member (its own, and its portal users'), less those a
    ledger row shows."""
    user_ids = [str(i) for i in session.scalars(select(User.id).where(User.member_id == member_id))]
    about: ColumnElement[bool] = and_(AuditEvent.entity_type == "member", AuditEvent.entity_id == str(member_id))
    if user_ids:
        about = or_(about, and_(AuditEvent.entity_type == "user", AuditEvent.entity_id.in_(user_ids)))
    return and_(about, AuditEvent.action.not_in(LEDGER_OWNED))


def _branches(session: Session, member_id: int) -> list[tuple[str, Any, Any, Any, list[Any]]]:
    """(source, id column, time column, kind expression, where) of every branch."""
    registrations = or_(Registration.registrant_member_id == member_id, Registration.contact_member_id == member_id)
    tickets = TicketEntry.ticket_id.in_(select(Ticket.id).where(Ticket.member_id == member_id).scalar_subquery())
    return [
        (AUDIT, AuditEvent.id, AuditEvent.at, _audit_kind(AuditEvent.action), [_audit_where(session, member_id)]),
        (TXN, AccountTransaction.id, AccountTransaction.created_at, literal(TimelineKind.MONEY.value, String),
         [AccountTransaction.member_id == member_id]),
        (TICKET_ENTRY, TicketEntry.id, TicketEntry.created_at, literal(TimelineKind.TICKETS.value, String), [tickets]),
        (REGISTRATION, Registration.id, Registration.registered_at, literal(TimelineKind.COURSES.value, String),
         [registrations]),
        (ANIMAL_EVENT, AnimalEvent.id, AnimalEvent.at, literal(TimelineKind.ANIMALS.value, String),
         [AnimalEvent.member_id == member_id]),
    ]


def _page_query(session: Session, member_id: int, wanted: set[str], after: tuple[dt.datetime, str, int] | None,
                limit: int) -> Select[Any] | None:
    parts = []
    for source, id_col, at_col, kind, where in _branches(session, member_id):
        if source != AUDIT and kind.value not in wanted:
            continue
        conditions = [*where, *_before(at_col, id_col, source, after)]
        if source == AUDIT and wanted != {k.value for k in TimelineKind}:
            conditions.append(kind.in_(sorted(wanted)))
        branch = (select(literal(source, String).label("source"), id_col.label("id"), at_col.label("at"),
                         kind.label("kind"))
                  .where(*conditions).order_by(at_col.desc(), id_col.desc()).limit(limit + 1).subquery())
        parts.append(select(branch.c.source, branch.c.id, branch.c.at, branch.c.kind))
    if not parts:
        return None
    merged = union_all(*parts).subquery()
    return (select(merged.c.source, merged.c.id, merged.c.kind)
            .order_by(merged.c.at.desc(), merged.c.source.desc(), merged.c.id.desc()).limit(limit + 1))


def _counts(session: Session, member_id: int) -> dict[TimelineKind, int]:
    counts = dict.fromkeys(TimelineKind, 0)
    for _source, id_col, _at, kind, where in _branches(session, member_id):
        for value, n in session.execute(select(kind, func.count(id_col)).where(*where).group_by(kind)).all():
            counts[TimelineKind(value)] += n
    return counts


# ----------------------------------------------------------------------------- the entries

def _money(cents: int, currency: str) -> str:
    return f"{'-' if cents < 0 else ''}{_SYMBOLS.get(currency, currency + ' ')}{abs(cents) / 100:,.2f}"


def _names(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return {uid: name or username for uid, name, username in
            session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))}


@functools.cache
def _command_labels() -> dict[str, str]:
    return {cls.action: cls.label for cls in command_kinds().values()}


def _label(action: str) -> str:
    known = _LABELS.get(action) or _command_labels().get(action)
    if known:
        return known
    words = action.split(".", 1)[-1].replace("_", " ")
    return words[:1].upper() + words[1:]


def _detail_lines(details: dict[str, Any]) -> list[str]:
    before, after = details.get("before"), details.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        return [f"{key.replace('_', ' ').capitalize()}: {before.get(key)!s} → {after.get(key)!s}"
                for key in sorted(set(before) | set(after))]
    return [f"{key.replace('_', ' ').capitalize()}: {value}" for key, value in details.items()
            if key not in ("op_id", "member_no", "message_id", "mail_id") and not isinstance(value, dict | list)]


def _audit_entries(session: Session, ids: Sequence[int]) -> dict[int, TimelineEntry]:
    events = session.scalars(select(AuditEvent).where(AuditEvent.id.in_(ids))).all()
    names = _names(session, (e.actor_user_id for e in events))
    mail_ids = [int(e.details["mail_id"]) for e in events
                if e.action == "mail.queued" and isinstance((e.details or {}).get("mail_id"), int)]
    mails = {m.id: m for m in session.scalars(select(MailMessage).where(MailMessage.id.in_(mail_ids)))} \
        if mail_ids else {}
    session_ids = [e.impersonation_id for e in events if e.action == "on_behalf.start" and e.impersonation_id]
    sessions = {s.id: s for s in session.scalars(select(OnBehalfSession).where(OnBehalfSession.id.in_(session_ids)))} \
        if session_ids else {}
    out: dict[int, TimelineEntry] = {}
    for event in events:
        details = event.details or {}
        summary, lines = _label(event.action), _detail_lines(details)
        ticket_id = details.get("ticket_id") if isinstance(details.get("ticket_id"), int) else None
        if event.action == "mail.queued":
            mail = mails.get(details.get("mail_id"))  # type: ignore[arg-type]
            subject = (mail.subject if mail is not None else "") or str(details.get("template", "")).replace("_", " ")
            state = mail.state.value if mail is not None else "queued"
            summary = f"E-mail “{subject}” to {details.get('to', '')} — {state}"
            lines = [f"Template: {details.get('template', '')}", f"To: {details.get('to', '')}", f"Delivery: {state}"]
            if mail is not None and mail.last_error:
                lines.append(f"Last error: {mail.last_error}")
        elif event.action == "on_behalf.start":
            row = sessions.get(event.impersonation_id or "")
            reason = row.reason if row is not None else str(details.get("reason", ""))
            summary = f"Acted on behalf: {reason}"
            lines = [f"Reason: {reason}"]
            if row is not None and row.ended_at is not None:
                why = _ON_BEHALF_ENDS.get(row.end_reason, row.end_reason.replace("_", " "))
                lines.append(f"Ended {row.ended_at.isoformat(timespec='minutes')} by {why}")
            elif row is not None:
                lines.append("Not ended yet" if row.live() else "Never opened, or timed out")
        elif ticket_id is not None:
            summary = f"{summary}: #{ticket_id} “{details.get('subject', '')}”" if details.get("subject") \
                else f"{summary}: #{ticket_id}"
        out[event.id] = TimelineEntry(
            key=f"{AUDIT}:{event.id}", kind=TimelineKind.ACCOUNT, at=event.at, action=event.action,
            actor_name=names.get(event.actor_user_id or 0) or event.actor_name, actor_username=event.actor_name,
            impersonation_id=event.impersonation_id, origin=event.origin, client_address=event.client_address,
            summary=summary, detail="\n".join(lines), details=details, ticket_id=ticket_id)
    return out


def _txn_entries(session: Session, ids: Sequence[int]) -> dict[int, TimelineEntry]:
    rows = session.execute(select(AccountTransaction, Order.order_no).outerjoin(Order, Order.id == AccountTransaction.order_id)
                           .where(AccountTransaction.id.in_(ids))).all()
    usernames = {txn.recorded_by for txn, _ in rows if txn.recorded_by}
    names = {username: name or username for username, name in session.execute(
        select(User.username, User.display_name).where(User.username.in_(usernames)))} if usernames else {}
    out: dict[int, TimelineEntry] = {}
    for txn, order_no in rows:
        amount = _money(abs(txn.amount_cents), txn.currency)
        summary = f"{txn.kind.label} {amount}" + (f": {txn.description}" if txn.description else "")
        if txn.status.value != "settled":
            summary += f" ({txn.status.value})"
        lines = [f"{txn.kind.label} of {amount}, {txn.status.value}"]
        if txn.method is not None:
            lines.append(f"By {txn.method.label}" + (f" ({txn.method_reference})" if txn.method_reference else ""))
        if order_no:
            lines.append(f"Order {order_no}")
        if txn.note:
            lines.append(f"Note: {txn.note}")
        out[txn.id] = TimelineEntry(
            key=f"{TXN}:{txn.id}", kind=TimelineKind.MONEY, at=txn.created_at, action=f"txn.{txn.kind.value}",
            actor_name=names.get(txn.recorded_by, txn.recorded_by) or "System", actor_username=txn.recorded_by,
            summary=summary, detail="\n".join(lines), order_no=order_no)
    return out


def _ticket_entries(session: Session, ids: Sequence[int]) -> dict[int, TimelineEntry]:
    rows = session.execute(select(TicketEntry, Ticket.subject).join(Ticket, Ticket.id == TicketEntry.ticket_id)
                           .where(TicketEntry.id.in_(ids))).all()
    names = _names(session, (entry.author_user_id for entry, _ in rows))
    out: dict[int, TimelineEntry] = {}
    for entry, subject in rows:
        words = _ENTRY_WORDS.get(entry.kind.value, entry.kind.value.capitalize())
        body = " ".join(entry.body.split())
        out[entry.id] = TimelineEntry(
            key=f"{TICKET_ENTRY}:{entry.id}", kind=TimelineKind.TICKETS, at=entry.created_at,
            action=f"ticket.{entry.kind.value}",
            actor_name=names.get(entry.author_user_id or 0) or entry.author_name or "Member",
            actor_username=entry.author_name, summary=f"{words} on #{entry.ticket_id} “{subject}”",
            detail=body[:500] + ("…" if len(body) > 500 else ""), ticket_id=entry.ticket_id)
    return out


def _registration_entries(session: Session, ids: Sequence[int]) -> dict[int, TimelineEntry]:
    rows = session.execute(
        select(Registration, Course.title, CourseSession.starts_at, CourseSession.venue, CourseSession.online,
               Order.order_no)
        .join(CourseSession, CourseSession.id == Registration.session_id).join(Course, Course.id == CourseSession.course_id)
        .outerjoin(Order, Order.id == Registration.order_id).where(Registration.id.in_(ids))).all()
    out: dict[int, TimelineEntry] = {}
    for reg, title, starts_at, venue, online, order_no in rows:
        summary = f"Registered for {title} on {starts_at:%d %b %Y}"
        if reg.transferred_from_id is not None:
            summary = f"Moved to {title} on {starts_at:%d %b %Y}"
        if reg.state.value != "registered":
            summary += f" (now {reg.state.value})"
        lines = [f"Where: {'online' if online else venue or 'to be announced'}",
                 f"Price: {_money(reg.price_cents, 'GBP')}"]
        if order_no:
            lines.append(f"Order {order_no}")
        if reg.refund_due_cents:
            lines.append(f"Refund due: {_money(reg.refund_due_cents, 'GBP')}")
        out[reg.id] = TimelineEntry(
            key=f"{REGISTRATION}:{reg.id}", kind=TimelineKind.COURSES, at=reg.registered_at,
            action="course.registered", actor_name="System", summary=summary, detail="\n".join(lines),
            order_no=order_no)
    return out


def _animal_entries(session: Session, ids: Sequence[int]) -> dict[int, TimelineEntry]:
    rows = session.execute(select(AnimalEvent, Animal.name, Animal.reg_no).join(Animal, Animal.id == AnimalEvent.animal_id)
                           .where(AnimalEvent.id.in_(ids))).all()
    names = _names(session, (event.actor_user_id for event, _, _ in rows))
    out: dict[int, TimelineEntry] = {}
    for event, name, reg_no in rows:
        lines = [f"{key.replace('_', ' ').capitalize()}: {value}" for key, value in (event.changes or {}).items()]
        if event.reason:
            lines.append(f"Reason: {event.reason}")
        out[event.id] = TimelineEntry(
            key=f"{ANIMAL_EVENT}:{event.id}", kind=TimelineKind.ANIMALS, at=event.at, action=f"animal.{event.kind.value}",
            actor_name=names.get(event.actor_user_id or 0) or event.actor_name or "System",
            actor_username=event.actor_name, impersonation_id=event.impersonation_id,
            summary=f"{event.kind.label}: {name} ({reg_no})", detail="\n".join(lines))
    return out


_LOADERS = {AUDIT: _audit_entries, TXN: _txn_entries, TICKET_ENTRY: _ticket_entries,
            REGISTRATION: _registration_entries, ANIMAL_EVENT: _animal_entries}


@router.get("/{member_id}/timeline", operation_id="getMemberTimeline", response_model=TimelinePage,
            responses=_NOT_FOUND)
def timeline(
    member_id: MemberId,
    session: SessionDep,
    staff: CurrentStaff,
    kind: Annotated[list[TimelineKind] | None, Query(
        max_length=len(TimelineKind), description="Only these kinds (repeat: `kind=mail&kind=tickets`)")] = None,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=300, description="`next_cursor` of the previous page")] = None,
) -> TimelinePage:
    """Everything that happened to the member, newest first: audited actions (with the
    real actor, and whether they acted on behalf), mail, tickets, money, course
    registrations and animal events, one keyset page at a time."""
    _member(session, member_id)
    after = _decode(cursor) if cursor is not None else None
    wanted = {k.value for k in (kind or TimelineKind)}
    query = _page_query(session, member_id, wanted, after, limit)
    rows = session.execute(query).all() if query is not None else []
    page = rows[:limit]
    by_source: dict[str, list[int]] = {}
    for source, row_id, _kind in page:
        by_source.setdefault(source, []).append(row_id)
    loaded = {source: _LOADERS[source](session, ids) for source, ids in by_source.items()}
    items = []
    for source, row_id, kind_value in page:
        entry = loaded[source][row_id]
        if source == AUDIT:  # its kind comes from its action, worked out in the query
            entry = entry.model_copy(update={"kind": TimelineKind(kind_value)})
        items.append(entry)
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = _encode(loaded[last[0]][last[1]].at, last[0], last[1])
    return TimelinePage(items=items, next_cursor=next_cursor, counts=_counts(session, member_id) if after is None else None)

