"""Tickets as a lazily paged table model (:class:`~desktop_care.ui.paging.PagedTableModel`:
one page at a time off the GUI thread, more as the person scrolls, stale answers
dropped), for a queue (``GET /tickets``) or one member's tickets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ...models.tickets import TicketPriority, format_time_left
from ...schemas import TicketPage, TicketSummary
from .. import format as fmt
from ..paging import PagedTableModel
from ..qt import ModelIndex, QColor, QObject, Qt

PAGE_SIZE = 50
TICKET_ID_ROLE = Qt.ItemDataRole.UserRole
_OVERDUE = QColor("#a23b16")
_DIMMED = QColor("#7a818c")

PRIORITY_LABELS = {TicketPriority.LOW: "Low", TicketPriority.NORMAL: "Normal", TicketPriority.HIGH: "High",
                   TicketPriority.URGENT: "Urgent"}
STATE_LABELS = {"new": "New", "open": "Open", "pending": "Pending", "resolved": "Resolved", "closed": "Closed",
                "merged": "Merged"}


class TicketSource(Protocol):
    def list_tickets(self, q: str = "", *, view: str = "all", queue: str | None = None, states: str = "open",
                     sort: str = "due", limit: int = 50, cursor: str | None = None) -> TicketPage: ...

    def member_tickets(self, member_id: int, limit: int = 50, cursor: str | None = None) -> TicketPage: ...


@dataclass(frozen=True)
class TicketQuery:
    """A queue: a view (all, mine, unassigned, overdue), a queue, a text filter, a sort;
    or, with ``member_id``, one member's tickets (newest first)."""

    view: str = "all"
    queue: str | None = None
    states: str = "open"
    text: str = ""
    sort: str = "due"
    member_id: int | None = None

    def sorted_by(self, sort: str) -> TicketQuery:
        return replace(self, sort=sort)


def due_text(ticket: TicketSummary) -> str:
    if ticket.minutes_left is None:
        return STATE_LABELS[ticket.state.value]
    return format_time_left(dt.timedelta(minutes=ticket.minutes_left))


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[TicketSummary], str]
    #: The ``sort`` of ``GET /tickets`` this column sorts by (None: not sortable).
    sort: str | None = None


COLUMNS: tuple[Column, ...] = (
    Column("#", lambda t: str(t.id), "id"),
    Column("Subject", lambda t: t.subject),
    Column("Member", lambda t: f"{t.member_name} ({t.member_no})"),
    Column("Queue", lambda t: t.queue.capitalize()),
    Column("Priority", lambda t: PRIORITY_LABELS[t.priority], "priority"),
    Column("State", lambda t: STATE_LABELS[t.state.value]),
    Column("Assignee", lambda t: t.assignee_name or "Unassigned"),
    Column("Due", due_text, "due"),
    Column("Updated", lambda t: fmt.when(t.updated_at), "updated"),
)
DUE_COLUMN = 7


class TicketTableModel(PagedTableModel):
    """Rows of :class:`TicketSummary` for the current :class:`TicketQuery`."""

    columns = COLUMNS

    def __init__(self, source: TicketSource, parent: QObject | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent, page_size)
        self._source = source

    def fetch_page(self, request: Any, cursor: str | None, limit: int) -> TicketPage:
        query: TicketQuery = request
        if query.member_id is not None:
            return self._source.member_tickets(query.member_id, limit=limit, cursor=cursor)
        return self._source.list_tickets(query.text, view=query.view, queue=query.queue, states=query.states,
                                         sort=query.sort, limit=limit, cursor=cursor)

    @property
    def query(self) -> TicketQuery | None:
        """The query of the rows shown (None before the first load)."""
        return self._shown  # type: ignore[no-any-return]

    def ticket(self, row: int) -> TicketSummary:
        return self._rows[row]  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ Qt model

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        ticket: TicketSummary = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[index.column()].text(ticket)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == DUE_COLUMN:
            return f"{ticket.due_kind.capitalize()} due {fmt.when(ticket.next_due_at)} (business hours)"
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 1:
            return ticket.subject
        if role == Qt.ItemDataRole.ForegroundRole:
            if ticket.overdue and index.column() == DUE_COLUMN:
                return _OVERDUE
            if ticket.minutes_left is None:
                return _DIMMED
        if role == TICKET_ID_ROLE:
            return ticket.id
        return None
