"""The ticket queues' query: a view (all, mine, unassigned, overdue), a queue, open or
done tickets, a text filter, a sort, one keyset page at a time.

Pages are keyset pages on (sort column, id): the opaque cursor holds the sort, the
last row's sort value and id, so a ticket changed while someone reads never shows
twice on the pages already read. Totals are counted up to :data:`TOTAL_CAP`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from .base import utcnow
from .member import Member
from .search import InvalidCursor
from .tickets import MEMBER_VISIBLE, Ticket, TicketEntry

TOTAL_CAP = 1_000
MAX_LIMIT = 200


class TicketView(enum.StrEnum):
    ALL = "all"
    #: Assigned to the person asking.
    MINE = "mine"
    UNASSIGNED = "unassigned"
    #: Open, and past the due time that matters now.
    OVERDUE = "overdue"


class StateGroup(enum.StrEnum):
    #: New, open or pending.
    OPEN = "open"
    #: Resolved, closed or merged.
    DONE = "done"
    ALL = "all"


class TicketSort(enum.StrEnum):
    """A column, ascending; ``-`` first for descending (``-priority``: urgent first)."""

    DUE = "due"
    DUE_DESC = "-due"
    PRIORITY = "priority"
    PRIORITY_DESC = "-priority"
    CREATED = "created"
    CREATED_DESC = "-created"
    UPDATED = "updated"
    UPDATED_DESC = "-updated"
    ID = "id"
    ID_DESC = "-id"

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")

    @property
    def column(self) -> Any:
        return {
            "due": Ticket.next_due_at, "priority": Ticket.priority_rank, "created": Ticket.created_at,
            "updated": Ticket.updated_at, "id": Ticket.id,
        }[self.value.lstrip("-")]


@dataclass(frozen=True)
class TicketPage:
    rows: list[tuple[Ticket, Member]]
    total: int
    total_exact: bool
    next_cursor: str | None


_BAD = "is not a cursor from a previous page"  # (of this sort)


def _value_out(value: Any) -> Any:
    return value.astimezone(dt.UTC).isoformat() if isinstance(value, dt.datetime) else value


def encode_cursor(sort: TicketSort, ticket: Ticket) -> str:
    value = getattr(ticket, sort.column.key)
    raw = json.dumps([sort.value, _value_out(value), ticket.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, sort: TicketSort) -> tuple[Any, int]:
    try:
        name, value, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor(_BAD) from exc
    if name != sort.value or type(row_id) is not int:
        raise InvalidCursor(_BAD)
    if sort.column.key in ("id", "priority_rank"):
        if type(value) is not int:
            raise InvalidCursor(_BAD)
        return value, row_id
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidCursor(_BAD)
    return moment, row_id


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_condition(text: str) -> ColumnElement[bool]:
    """Every word in the subject or the member's name, or a ticket number / member ID."""
    words = text.split()
    conditions: list[ColumnElement[bool]] = []
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        options: list[ColumnElement[bool]] = [
            Ticket.subject.ilike(pattern, escape="\\"),
            Member.first_name.ilike(pattern, escape="\\"),
            Member.last_name.ilike(pattern, escape="\\"),
            Member.member_no == word,
        ]
        digits = word.lstrip("#")
        if digits.isdigit() and len(digits) <= 9:
            options.append(Ticket.id == int(digits))
        conditions.append(or_(*options))
    return and_(*conditions)


def search_tickets(
    session: Session,
    q: str = "",
    *,
    view: TicketView = TicketView.ALL,
    staff_id: int | None = None,
    queue: str | None = None,
    states: StateGroup = StateGroup.OPEN,
    member_id: int | None = None,
    sort: TicketSort = TicketSort.DUE,
    limit: int = 50,
    cursor: str | None = None,
    now: dt.datetime | None = None,
) -> TicketPage:
    """One page of tickets (raises :class:`InvalidCursor` for a cursor no page of this
    sort gave)."""
    now = now or utcnow()
    where: list[ColumnElement[bool]] = []
    if view == TicketView.MINE:
        where.append(Ticket.assignee_id == staff_id)
    elif view == TicketView.UNASSIGNED:
        where.append(Ticket.assignee_id.is_(None))
    elif view == TicketView.OVERDUE:
        where.append(Ticket.next_due_at < now)
        states = StateGroup.OPEN
    if states == StateGroup.OPEN:
        where.append(Ticket.is_open.is_(True))
    elif states == StateGroup.DONE:
        where.append(Ticket.is_open.is_(False))
    if queue:
        where.append(Ticket.queue == queue)
    if member_id is not None:
        where.append(Ticket.member_id == member_id)
    text = " ".join(q.split())
    if text:
        where.append(_text_condition(text))
    # Without text the member is not joined (the planner then walks a queue index in
    # its sort order); the page's members are read by id afterwards.
    base = select(Ticket).where(*where)
    if text:
        base = base.join(Member, Member.id == Ticket.member_id)

    column = sort.column
    order = (column.desc(), Ticket.id.desc()) if sort.descending else (column.asc(), Ticket.id.asc())
    paged = base
    if cursor:
        value, row_id = decode_cursor(cursor, sort)
        if sort.descending:
            paged = base.where(or_(column < value, and_(column == value, Ticket.id < row_id)))
        else:
            paged = base.where(or_(column > value, and_(column == value, Ticket.id > row_id)))
    found = list(session.scalars(paged.order_by(*order).limit(limit + 1)))
    has_more = len(found) > limit
    found = found[:limit]
    members = {m.id: m for m in session.scalars(select(Member).where(
        Member.id.in_(sorted({t.member_id for t in found}))))} if found else {}
    rows = [(ticket, members[ticket.member_id]) for ticket in found]
    if not has_more and not cursor:
        total, exact = len(rows), True
    else:
        capped = base.with_only_columns(Ticket.id).limit(TOTAL_CAP + 1).subquery()
        counted = session.scalar(select(func.count()).select_from(capped)) or 0
        total, exact = min(counted, TOTAL_CAP), counted <= TOTAL_CAP
    return TicketPage(rows=rows, total=total, total_exact=exact,
                      next_cursor=encode_cursor(sort, rows[-1][0]) if has_more else None)


def load_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id, options=[selectinload(Ticket.entries)])


def merged_into(session: Session, ticket_id: int) -> list[int]:
    """The tickets merged into ticket ``ticket_id`` now, lowest number first."""
    return list(session.scalars(select(Ticket.id).where(Ticket.merged_into_id == ticket_id).order_by(Ticket.id)))


def thread(session: Session, ticket: Ticket) -> list[TicketEntry]:
    """The ticket's whole thread, oldest first: its own entries and those of the
    tickets merged into it (each entry's ``ticket_id`` says where it was written).
    Staff only: it holds internal notes."""
    ids = [ticket.id, *merged_into(session, ticket.id)]
    return list(session.scalars(select(TicketEntry).where(TicketEntry.ticket_id.in_(ids))
                                .order_by(TicketEntry.created_at, TicketEntry.id)))


def member_thread(session: Session, ticket: Ticket) -> list[TicketEntry]:
    """What the member may see of :func:`thread`: replies and their own messages,
    selected by kind in the query itself, so no internal note is ever read for them
    (the portal reads this and nothing else)."""
    ids = [ticket.id, *merged_into(session, ticket.id)]
    return list(session.scalars(select(TicketEntry).where(TicketEntry.ticket_id.in_(ids),
                                                          TicketEntry.kind.in_(sorted(MEMBER_VISIBLE)))
                                .order_by(TicketEntry.created_at, TicketEntry.id)))
