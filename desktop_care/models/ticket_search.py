"""The ticket queues' query: a view (all, mine, unassigned, overdue), a queue, open or
done tickets, a text filter, a sort, one keyset page at a time.

Pages are keyset pages on (sort column, id): the opaque cursor holds the sort, the
last row's sort value and id, so a ticket changed while someone reads never shows
twice on the pages already read. Totals are counted up to :data:`TOTAL_CAP`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Select, Text, and_, column, func, or_, select, table
from sqlalchemy.orm import Session, load_only, selectinload

from .base import utcnow
from .member import Member
from .search import (
    MIN_TRIGRAM,
    InvalidCursor,
    MemberSearch,
    SortColumn,
    cursor_moment,
    decode_sorted_cursor,
    encode_sorted_cursor,
    normalize,
)
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


class TicketSort(SortColumn):
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
    def column(self) -> Any:
        return {
            "due": Ticket.next_due_at, "priority": Ticket.priority_rank, "created": Ticket.created_at,
            "updated": Ticket.updated_at, "id": Ticket.id,
        }[self.column_name]


class MemberRef(NamedTuple):
    """What a queue row shows of the ticket's member (the columns, not the member)."""

    id: int
    member_no: str
    first_name: str
    last_name: str

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


#: What a queue row reads of a ticket (the page's tickets are loaded with these only).
ROW_COLUMNS = (Ticket.id, Ticket.uid, Ticket.member_id, Ticket.subject, Ticket.queue, Ticket.priority,
               Ticket.priority_rank, Ticket.state, Ticket.is_open, Ticket.assignee_id, Ticket.created_at,
               Ticket.updated_at, Ticket.next_due_at, Ticket.first_responded_at)


@dataclass(frozen=True)
class TicketPage:
    #: Each ticket with only :data:`ROW_COLUMNS` loaded (others raise), and its member.
    rows: list[tuple[Ticket, MemberRef]]
    total: int
    total_exact: bool
    next_cursor: str | None


_BAD = "is not a cursor from a previous page"  # (of this sort)


def encode_cursor(sort: TicketSort, ticket: Ticket) -> str:
    return encode_sorted_cursor(sort.value, getattr(ticket, sort.column.key), ticket.id)


def decode_cursor(cursor: str, sort: TicketSort) -> tuple[Any, int]:
    value, row_id = decode_sorted_cursor(cursor, sort.value, _BAD)
    if sort.column.key in ("id", "priority_rank"):
        if type(value) is not int:
            raise InvalidCursor(_BAD)
        return value, row_id
    return cursor_moment(value, _BAD), row_id


#: A word's matches are fetched through the indexes up to this many; with no more, the
#: page is cut from those tickets; with more (every word common), the queue's own index
#: is walked in its order and each row tested, which finds a page within a few rows.
CANDIDATE_CAP = 5_000

#: SQLite's trigram index over ``ticket.search_text`` (external content, rowid = id;
#: migration 0024 creates it and its triggers).
_tfts = table("ticket_fts", column("rowid", Integer), column("ticket_fts", Text))
_mfts = table("member_fts", column("rowid", Integer), column("member_fts", Text))
_ms = MemberSearch.__table__.c
#: What separates words: white space and control characters (as ``search.normalize``).
_SEPARATORS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
#: Sorts after every real character: the upper bound of a prefix range.
_PREFIX_END = "\U0010ffff"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phrase(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Word:
    """One word of the text filter: it matches a ticket whose subject contains it, whose
    member's name contains it (a short word: starts the first or last name), whose
    member ID it is, or whose number it is ("#1042" or "1042")."""

    raw: str
    token: str
    sqlite: bool

    @property
    def indexed(self) -> bool:
        """Long enough for the trigram indexes."""
        return len(self.token) >= MIN_TRIGRAM

    @property
    def number(self) -> int | None:
        digits = self.raw.lstrip("#")
        return int(digits) if digits.isdigit() and len(digits) <= 9 else None

    def _contains(self, haystack: Any) -> ColumnElement[bool]:
        return (func.instr if self.sqlite else func.strpos)(haystack, self.token) > 0

    def subject_ids(self) -> Select[Any]:
        """Tickets whose subject contains the word, through the trigram index."""
        if self.sqlite:
            return select(_tfts.c.rowid).where(_tfts.c.ticket_fts.op("MATCH")(_phrase(self.token)))
        return select(Ticket.id).where(Ticket.search_text.like(f"%{_escape_like(self.token)}%", escape="\\"))

    def member_ids(self) -> Select[Any]:
        """Members whose name contains the word (a short one: a name starts with it),
        through the member search's indexes (decision 0002)."""
        name = _ms.first_key + " " + _ms.last_key
        if not self.indexed:
            keys = (_ms.first_key, _ms.last_key)
            if self.sqlite:  # a range: SQLite's LIKE does not use the B-tree
                return select(_ms.member_id).where(or_(*(and_(k >= self.token, k < self.token + _PREFIX_END)
                                                         for k in keys)))
            return select(_ms.member_id).where(or_(*(k.like(_escape_like(self.token) + "%", escape="\\")
                                                     for k in keys)))
        if self.sqlite:
            return (select(_mfts.c.rowid).join(MemberSearch, _ms.member_id == _mfts.c.rowid)
                    .where(_mfts.c.member_fts.op("MATCH")(_phrase(self.token)), self._contains(name)))
        return select(_ms.member_id).where(_ms.text.like(f"%{_escape_like(self.token)}%", escape="\\"),
                                           self._contains(name))

    def condition(self) -> ColumnElement[bool]:
        """The word's test on a ticket row (the member's sets are read once)."""
        options: list[ColumnElement[bool]] = [
            self._contains(Ticket.search_text),
            Ticket.member_id.in_(self.member_ids()),
            Ticket.member_id.in_(select(Member.id).where(Member.member_no == self.raw)),
        ]
        if self.number is not None:
            options.append(Ticket.id == self.number)
        return or_(*options)

    def candidates(self, session: Session, cap: int) -> set[int] | None:
        """Every ticket the word matches, found through indexes; None when there are
        more than ``cap`` (or the word is too short for the subject's index)."""
        if not self.indexed:
            return None
        found: set[int] = set(session.scalars(self.subject_ids().limit(cap + 1)))
        if len(found) > cap:
            return None
        members = list(session.scalars(self.member_ids().limit(cap + 1)))
        if len(members) > cap:
            return None
        members += session.scalars(select(Member.id).where(Member.member_no == self.raw))
        if members:
            found.update(session.scalars(select(Ticket.id).where(Ticket.member_id.in_(members)).limit(cap + 1)))
        if self.number is not None:
            found.add(self.number)
        return found if len(found) <= cap else None


def _text_filter(session: Session, text: str, cap: int) -> tuple[list[ColumnElement[bool]], list[int] | None]:
    """Every word must match (see :class:`_Word`): the conditions to test rows with,
    and the tickets of the word with the fewest matches, found through the trigram and
    member indexes (None when every word is common: the queue's own index is then
    walked in order and each row tested)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    raws = [raw for raw in _SEPARATORS.split(text) if raw]  # no control characters (PostgreSQL refuses NUL)
    words = [_Word(raw, normalize(raw), sqlite) for raw in dict.fromkeys(raws) if normalize(raw)]
    driver: tuple[_Word, set[int]] | None = None
    for word in words:
        found = word.candidates(session, cap)
        if found is not None and (driver is None or len(found) < len(driver[1])):
            driver = (word, found)
    if driver is None:
        return [word.condition() for word in words], None
    return [word.condition() for word in words if word is not driver[0]], sorted(driver[1])


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
    candidate_cap: int = CANDIDATE_CAP,
) -> TicketPage:
    """One page of tickets (raises :class:`InvalidCursor` for a cursor no page of this
    sort gave). ``candidate_cap``: see :data:`CANDIDATE_CAP` (0 walks the queue's index
    for every text filter: the same answer, found the other way)."""
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
    after = decode_cursor(cursor, sort) if cursor else None
    text = " ".join(q.split())
    candidates: list[int] | None = None
    if text:
        text_where, candidates = _text_filter(session, text, candidate_cap)
        where += text_where
    if candidates is not None:
        page_ids, has_more, total, exact = _cut(session, candidates, where, sort, limit, after)
    else:
        page_ids, has_more, total, exact = _walk(session, where, sort, limit, after)
    # The member is never joined (the planner walks a queue index in its sort order, or
    # reads the text filter's few tickets); the page's tickets and members are read by id.
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(page_ids)).options(
        load_only(*ROW_COLUMNS, raiseload=True)))} if page_ids else {}
    found = [tickets[i] for i in page_ids]
    members = {row[0]: MemberRef(*row) for row in session.execute(
        select(Member.id, Member.member_no, Member.first_name, Member.last_name).where(
            Member.id.in_(sorted({t.member_id for t in found}))))} if found else {}
    rows = [(ticket, members[ticket.member_id]) for ticket in found]
    return TicketPage(rows=rows, total=total, total_exact=exact,
                      next_cursor=encode_cursor(sort, found[-1]) if has_more else None)


def _walk(session: Session, where: list[ColumnElement[bool]], sort: TicketSort, limit: int,
          after: tuple[Any, int] | None) -> tuple[list[int], bool, int, bool]:
    """A page off the queue's index in its order (each row tested against ``where``)."""
    column = sort.column
    order = (column.desc(), Ticket.id.desc()) if sort.descending else (column.asc(), Ticket.id.asc())
    base = select(Ticket.id).where(*where)
    paged = base
    if after is not None:
        value, row_id = after
        if sort.descending:
            paged = base.where(or_(column < value, and_(column == value, Ticket.id < row_id)))
        else:
            paged = base.where(or_(column > value, and_(column == value, Ticket.id > row_id)))
    found = list(session.scalars(paged.order_by(*order).limit(limit + 1)))
    has_more = len(found) > limit
    if not has_more and after is None:
        return found, False, len(found), True
    capped = base.limit(TOTAL_CAP + 1).subquery()
    counted = session.scalar(select(func.count()).select_from(capped)) or 0
    return found[:limit], has_more, min(counted, TOTAL_CAP), counted <= TOTAL_CAP


def _cut(session: Session, candidates: list[int], where: list[ColumnElement[bool]], sort: TicketSort, limit: int,
         after: tuple[Any, int] | None) -> tuple[list[int], bool, int, bool]:
    """A page cut from the text filter's few tickets: every match's sort key is read
    in one query (its rows by primary key), sorted, counted and paged here."""
    keyed = [(value, row_id) for value, row_id in session.execute(
        select(sort.column, Ticket.id).where(Ticket.id.in_(candidates), *where))]
    keys = sorted(keyed, reverse=sort.descending)
    if after is not None:
        keys = [k for k in keys if (k < after if sort.descending else k > after)]
    page = [row_id for _value, row_id in keys[:limit + 1]]
    return page[:limit], len(page) > limit, min(len(keyed), TOTAL_CAP), len(keyed) <= TOTAL_CAP


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
