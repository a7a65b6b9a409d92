"""The member search results as a lazily paged table model
(:class:`~desktop_care.ui.paging.PagedTableModel`: one page at a time off the GUI
thread, more as the person scrolls, stale answers dropped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...models.member import MemberStatus
from ...models.search_sort import MemberSort
from ...schemas import MemberPage, MemberSummary
from .. import format as fmt
from ..paging import PagedTableModel
from ..qt import ModelIndex, QColor, QObject, Qt

if TYPE_CHECKING:
    from ..workspace import MemberSource

PAGE_SIZE = 50

_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_DIMMED = QColor("#7a818c")


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[MemberSummary], str]
    numeric: bool = False
    tooltip: Callable[[MemberSummary], str] | None = None
    #: The ``sort`` of ``GET /members`` this column sorts by (None: not sortable).
    sort: str | None = None


def _contact_tooltip(m: MemberSummary) -> str:
    return "\n".join(line for line in (m.name, m.email, fmt.display_phone(m.phone), m.postcode) if line)


def _status(m: MemberSummary) -> str:
    status = fmt.member_status(m.status)
    return f"{status} · Blocked for payment" if m.blocked_for_balance else status


COLUMNS: tuple[Column, ...] = (
    Column("Member ID", lambda m: m.member_no, sort="member_no"),
    Column("Name", lambda m: m.name, tooltip=_contact_tooltip, sort="name"),
    Column("Email", lambda m: m.email, tooltip=_contact_tooltip, sort="email"),
    Column("Status", _status, tooltip=lambda m: "Blocked for payment: the member can sign in to the portal only "
                                                "to renew and pay" if m.blocked_for_balance else "", sort="status"),
    Column("Points", lambda m: fmt.count(m.points_balance), numeric=True, sort="points"),
    Column("Balance", lambda m: fmt.money(m.account_balance_cents), numeric=True, sort="balance"),
    Column("Pending", lambda m: fmt.pending(m.pending_count, m.pending_cents), numeric=True,
           tooltip=lambda m: f"{fmt.plural(m.pending_count, 'pending transaction')}"
                             f" worth {fmt.money(m.pending_cents)}", sort="pending"),
    Column("Last login", lambda m: fmt.when(m.last_login_at), sort="last_login"),
    Column("Sync", lambda m: f"⟳ {m.pending_changes}" if m.pending_changes else "",
           tooltip=lambda m: f"{fmt.plural(m.pending_changes, 'change')} waiting to sync"
                             if m.pending_changes else "Nothing waiting to sync"),
)

MEMBER_ID_ROLE = Qt.ItemDataRole.UserRole
#: Columns whose first click sorts highest (or latest) first.
DESCENDING_FIRST = ("points", "balance", "pending", "last_login")


@dataclass(frozen=True)
class MemberQuery:
    """What the table shows: the search box's text and the sort (None: by member)."""

    text: str
    sort: str | None = None


class MemberTableModel(PagedTableModel):
    """Rows of :class:`MemberSummary` for the current query, loaded page by page."""

    columns = COLUMNS

    def __init__(self, client: MemberSource, parent: QObject | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent, page_size)
        self._client = client

    def fetch_page(self, request: Any, cursor: str | None, limit: int) -> MemberPage:
        query: MemberQuery = request
        sort = MemberSort(query.sort) if query.sort is not None else None
        return self._client.search_members(query.text, limit=limit, cursor=cursor, sort=sort)

    @property
    def query(self) -> str | None:
        """The query of the rows shown (None before the first search)."""
        return self._shown.text if self._shown is not None else None

    @property
    def sort_shown(self) -> str | None:
        """The sort of the rows shown."""
        return self._shown.sort if self._shown is not None else None

    def summary(self, row: int) -> MemberSummary:
        return self._rows[row]  # type: ignore[no-any-return]

    def search(self, query: str, sort: str | None = None) -> None:
        """Show the members matching ``query`` in ``sort``'s order (rows of an older
        query stay until then)."""
        self.load(MemberQuery(query, sort))

    def row_ids(self) -> list[int]:
        return [row.id for row in self._rows]

    def replace_rows(self, summaries: dict[int, MemberSummary]) -> None:
        """Show these members' new values in the rows they are in (nothing else moves)."""
        for row, member in enumerate(self._rows):
            new = summaries.get(member.id)
            if new is not None and new != member:
                self._rows[row] = new
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def _failed(self, exc: BaseException) -> None:
        self._searching = self._fetching = False
        self._error = exc
        self.state_changed.emit()

    # ------------------------------------------------------------------ Qt model

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        member = self._rows[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(member)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(member)
        if role == Qt.ItemDataRole.ForegroundRole and member.status in (
            MemberStatus.INACTIVE, MemberStatus.DEACTIVATED, MemberStatus.MERGED
        ):
            return _DIMMED
        if role == MEMBER_ID_ROLE:
            return member.id
        return None

    def header_data(self, column: Any, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        if role == Qt.ItemDataRole.ToolTipRole and column.sort is not None:
            sort = self.sort_shown
            if sort is not None and sort.lstrip("-") == column.sort:
                way = "descending" if sort.startswith("-") else "ascending"
                return f"Sorted by {column.title}, {way}: click to reverse"
            return "Click to sort by this column (Ctrl+K, “sort”, from the keyboard)"
        return None
