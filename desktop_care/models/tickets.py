"""Support tickets: a member's question or problem, worked by staff in queues.

A ticket belongs to one member, has a subject, a queue, an optional assignee (a staff
user), a priority and a state, and a thread of entries: **replies** (e-mailed to the
member through the mail outbox) and **internal notes** (staff only: never sent, never
shown to the member).

Each ticket is named by ``uid``, the op id of the ``OpenTicket`` command that created
it: a workstation that opens a ticket offline knows its name at once, and queues notes
on it before the server has seen it (docs/decisions/0018-tickets.md). ``id`` is the
short number people quote ("#1042").

Due times (first response, resolution) are counted in business hours of
:data:`CALENDAR` from the ticket's creation, per priority (:data:`TARGETS`);
:func:`business_due` and :func:`time_left` are pure functions of their arguments.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .base import Base, UTCDateTime, utcnow
from .choices import EntryKind, TicketPriority, TicketState
from .merge import member_reference
from .search import normalize


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


#: The only kinds of entry the member ever sees (the portal reads these and nothing
#: else: a note can never reach the member, whatever a merge or an undo did).
MEMBER_VISIBLE: frozenset[EntryKind] = frozenset({EntryKind.REPLY, EntryKind.MESSAGE})


#: The queues a ticket can be in (a ticket is always in exactly one).
QUEUES: tuple[str, ...] = ("general", "membership", "billing", "portal")

MAX_SUBJECT = 200
MAX_BODY = 10_000


# ---------------------------------------------------------------------- business hours


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours: ``start``..``end`` (local hours) on ``workdays`` (Monday = 0) in
    ``zone``. No public holidays yet."""

    zone: str = "Europe/London"
    start: int = 9
    end: int = 17
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def _windows(self, moment: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working window of ``moment``'s local day (empty on a day off), in UTC."""
        window = self._day(moment.astimezone(self.tz).date())[0]
        return [window] if window is not None else []

    def _next_day(self, moment: dt.datetime) -> dt.datetime:
        """Local midnight after ``moment``, in UTC."""
        return self._day(moment.astimezone(self.tz).date())[1]

    def _day(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime] | None, dt.datetime]:
        """``day``'s working window (None on a day off) and the local midnight after it,
        in UTC: worked out once per calendar and day (a queue page counts "time left"
        for 50 tickets over the same few weeks)."""
        return _calendar_day(self, day)


@functools.lru_cache(maxsize=8192)
def _calendar_day(calendar: BusinessCalendar, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime] | None,
                                                                     dt.datetime]:
    tz = calendar.tz
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).astimezone(dt.UTC)
    if day.weekday() not in calendar.workdays:
        return None, midnight
    opens = dt.datetime.combine(day, dt.time(calendar.start), tz).astimezone(dt.UTC)
    closes = dt.datetime.combine(day, dt.time(calendar.end), tz).astimezone(dt.UTC)
    return (opens, closes), midnight


#: The calendar every due time is counted in: Monday to Friday, 09:00-17:00 UK time.
CALENDAR = BusinessCalendar()


@dataclass(frozen=True)
class Targets:
    first_response: dt.timedelta
    resolution: dt.timedelta


#: Business time to the first reply and to resolution, per priority.
TARGETS: dict[TicketPriority, Targets] = {
    TicketPriority.URGENT: Targets(dt.timedelta(hours=1), dt.timedelta(hours=4)),
    TicketPriority.HIGH: Targets(dt.timedelta(hours=4), dt.timedelta(hours=16)),
    TicketPriority.NORMAL: Targets(dt.timedelta(hours=8), dt.timedelta(hours=40)),
    TicketPriority.LOW: Targets(dt.timedelta(hours=16), dt.timedelta(hours=80)),
}


def business_due(start: dt.datetime, amount: dt.timedelta, calendar: BusinessCalendar = CALENDAR) -> dt.datetime:
    """The moment ``amount`` of business time after ``start`` (aware; UTC result)."""
    if start.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    if calendar.start >= calendar.end or not calendar.workdays:
        raise ValueError("a calendar needs working hours")
    moment, left = start.astimezone(dt.UTC), amount
    while True:
        for opens, closes in calendar._windows(moment):
            begin = max(moment, opens)
            if begin < closes:
                if begin + left <= closes:
                    return begin + left
                left -= closes - begin
        moment = calendar._next_day(moment)


def business_between(start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar = CALENDAR) -> dt.timedelta:
    """Business time from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    if end < start:
        return -business_between(end, start, calendar)
    total, moment = dt.timedelta(0), start.astimezone(dt.UTC)
    # Whole weeks at once (a week from any moment, wall clock to wall clock, holds
    # every workday's window once): long-overdue tickets cost no more than new ones.
    weeks = (end - moment).days // 7 - 1
    if weeks > 0:
        local = moment.astimezone(calendar.tz).replace(tzinfo=None)
        moment = (local + dt.timedelta(weeks=weeks)).replace(tzinfo=calendar.tz).astimezone(dt.UTC)
        total += weeks * len(calendar.workdays) * dt.timedelta(hours=calendar.end - calendar.start)
    day = moment.astimezone(calendar.tz).date()
    while moment < end:
        window, midnight = calendar._day(day)
        if window is not None:
            begin, finish = max(moment, window[0]), min(end, window[1])
            if begin < finish:
                total += finish - begin
        moment, day = midnight, day + dt.timedelta(days=1)
    return total


def time_left(due: dt.datetime, now: dt.datetime, calendar: BusinessCalendar = CALENDAR) -> dt.timedelta:
    """Business time left until ``due`` at ``now``: negative once it has passed (by how
    much business time it is overdue)."""
    return business_between(now, due, calendar)


def format_time_left(left: dt.timedelta) -> str:
    """"2 h 15 min left", "45 min overdue" (business time, for people)."""
    minutes = int(abs(left).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    amount = f"{hours} h {rest} min" if hours else f"{rest} min"
    if hours and not rest:
        amount = f"{hours} h"
    return f"{amount} overdue" if left < dt.timedelta(0) else f"{amount} left"


# ---------------------------------------------------------------------- tables


class Ticket(Base):
    """Server only: one ticket (workstations read tickets over the API)."""

    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The op id of the OpenTicket that created it (commands name tickets by it).
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT))
    queue: Mapped[str] = mapped_column(String(40), default="general")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    priority: Mapped[TicketPriority] = mapped_column(_enum(TicketPriority), default=TicketPriority.NORMAL)
    state: Mapped[TicketState] = mapped_column(_enum(TicketState), default=TicketState.NEW)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    first_response_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    first_responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: The due time that matters now: the first response's until there is one, then
    #: the resolution's (what "overdue" and the Due column use).
    next_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: 0 (low) .. 3 (urgent), kept with ``priority`` for sorting.
    priority_rank: Mapped[int] = mapped_column(Integer, default=1)
    #: While merged: the ticket whose thread shows this one's (state ``merged``).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None, index=True)
    #: ``state`` is new, open or pending (kept with it): every queue index starts with
    #: it, so a queue of open tickets is one index range in its sort order.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The subject normalised like every search (``search.normalize``: accents removed,
    #: case folded), kept with ``subject``: what the queues' text filter looks up in a
    #: trigram index (``ticket_fts`` on SQLite, ``pg_trgm`` GIN on PostgreSQL).
    #: Bulk loads that bypass the ORM fill it with ``normalize(subject)``.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    entries: Mapped[list[TicketEntry]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketEntry.id"
    )

    __table_args__ = (
        Index("ix_ticket_member", "member_id", "id"),
        Index("ix_ticket_queue_due", "queue", "next_due_at", "id"),
        Index("ix_ticket_assignee_due", "assignee_id", "next_due_at", "id"),
        Index("ix_ticket_state_due", "state", "next_due_at", "id"),
        # The queues: open (or done) tickets in each sort order, per queue and per assignee.
        Index("ix_ticket_open_due", "is_open", "next_due_at", "id"),
        Index("ix_ticket_open_queue_due", "is_open", "queue", "next_due_at", "id"),
        Index("ix_ticket_open_assignee_due", "is_open", "assignee_id", "next_due_at", "id"),
        Index("ix_ticket_open_priority", "is_open", "priority_rank", "id"),
        Index("ix_ticket_open_updated", "is_open", "updated_at", "id"),
        Index("ix_ticket_open_created", "is_open", "created_at", "id"),
        Index("ix_ticket_open_id", "is_open", "id"),
        Index("ix_ticket_search_text_trgm", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    @validates("state")
    def _state(self, _key: str, state: TicketState) -> TicketState:
        self.is_open = TicketState(state).is_open
        return state

    @validates("subject")
    def _subject(self, _key: str, subject: str) -> str:
        self.search_text = normalize(subject)
        return subject

    def set_priority(self, priority: TicketPriority) -> None:
        """The priority and the due times it gives, counted from the ticket's creation."""
        self.priority, self.priority_rank = priority, priority.rank
        targets = TARGETS[priority]
        self.first_response_due_at = business_due(self.created_at, targets.first_response)
        self.resolution_due_at = business_due(self.created_at, targets.resolution)
        self.refresh_due()

    def refresh_due(self) -> None:
        self.next_due_at = self.resolution_due_at if self.first_responded_at else self.first_response_due_at

    def due_left(self, now: dt.datetime) -> dt.timedelta | None:
        """Business time left until ``next_due_at``; None once resolved or closed."""
        if not self.state.is_open:
            return None
        return time_left(self.next_due_at, now)


class TicketEntry(Base):
    """One entry of a ticket's thread: a reply to the member or an internal note."""

    __tablename__ = "ticket_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind))
    body: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    author_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: For a reply: the e-mail queued for it.
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mail_message.id"), default=None)
    #: The op id of the command that wrote it.
    op_id: Mapped[str] = mapped_column(String(36), default="")

    ticket: Mapped[Ticket] = relationship(back_populates="entries")


class TicketMerge(Base):
    """One merge of ``source`` into ``target``, with what the source was before, so
    that the undo restores it exactly; ``undone_at`` once undone. A ticket can be
    merged, unmerged and merged again: each time is a row."""

    __tablename__ = "ticket_merge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    merged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    merged_by: Mapped[str] = mapped_column(String(120), default="")
    op_id: Mapped[str] = mapped_column(String(36), default="")
    source_state: Mapped[TicketState] = mapped_column(_enum(TicketState))
    source_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    target_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    undone_by: Mapped[str] = mapped_column(String(120), default="")


member_reference("ticket", "member_id", "support tickets")
