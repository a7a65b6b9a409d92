"""The member search results as a lazily paged table model.

The model asks the server for one page (``limit`` rows) at a time, off the GUI thread.
Views call :meth:`canFetchMore`/:meth:`fetchMore` as the person scrolls towards the end;
at most one page is in flight, and a new query makes results of the old one stale
(:class:`~desktop_care.ui.ops.Generation`), so they are dropped when they arrive.
While a new query loads, the previous rows stay on screen, so typing does not flicker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...models.member import MemberStatus
from ...schemas import MemberPage, MemberSummary
from .. import format as fmt
from ..ops import Generation, Op
from ..qt import ModelIndex, QAbstractTableModel, QColor, QModelIndex, QObject, Qt, Signal

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


def _contact_tooltip(m: MemberSummary) -> str:
    return "\n".join(line for line in (m.name, m.email, fmt.display_phone(m.phone), m.postcode) if line)


def _status(m: MemberSummary) -> str:
    status = fmt.member_status(m.status)
    return f"{status} · Blocked for payment" if m.blocked_for_balance else status


COLUMNS: tuple[Column, ...] = (
    Column("Member ID", lambda m: m.member_no),
    Column("Name", lambda m: m.name, tooltip=_contact_tooltip),
    Column("Email", lambda m: m.email, tooltip=_contact_tooltip),
    Column("Status", _status, tooltip=lambda m: "Blocked for payment: the member can sign in to the portal only "
                                                "to renew and pay" if m.blocked_for_balance else ""),
    Column("Points", lambda m: fmt.count(m.points_balance), numeric=True),
    Column("Balance", lambda m: fmt.money(m.account_balance_cents), numeric=True),
    Column("Pending", lambda m: fmt.pending(m.pending_count, m.pending_cents), numeric=True,
           tooltip=lambda m: f"{fmt.plural(m.pending_count, 'pending transaction')}"
                             f" worth {fmt.money(m.pending_cents)}"),
    Column("Last login", lambda m: fmt.when(m.last_login_at)),
    Column("Sync", lambda m: f"⟳ {m.pending_changes}" if m.pending_changes else "",
           tooltip=lambda m: f"{fmt.plural(m.pending_changes, 'change')} waiting to sync"
                             if m.pending_changes else "Nothing waiting to sync"),
)

MEMBER_ID_ROLE = Qt.ItemDataRole.UserRole


class MemberTableModel(QAbstractTableModel):
    """Rows of :class:`MemberSummary` for the current query, loaded page by page."""

    #: Loading started or finished, a page arrived, or a request failed.
    state_changed = Signal()

    def __init__(self, client: MemberSource, parent: QObject | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self._client = client
        self._page_size = page_size
        self._rows: list[MemberSummary] = []
        self._query: str | None = None
        self._requested: str | None = None
        self._cursor: str | None = None
        self._total = 0
        self._total_exact = True
        self._searching = False
        self._fetching = False
        self._error: BaseException | None = None
        self._generation = Generation()

    # ------------------------------------------------------------------ state

    @property
    def query(self) -> str | None:
        """The query of the rows shown (None before the first search)."""
        return self._query

    @property
    def searching(self) -> bool:
        """A new query's first page is on its way."""
        return self._searching

    @property
    def loading(self) -> bool:
        return self._searching or self._fetching

    @property
    def error(self) -> BaseException | None:
        """Why the last request failed (cleared by the next one)."""
        return self._error

    @property
    def total(self) -> int:
        return self._total

    @property
    def total_exact(self) -> bool:
        return self._total_exact

    @property
    def has_more(self) -> bool:
        return self._cursor is not None

    def summary(self, row: int) -> MemberSummary:
        return self._rows[row]

    # ------------------------------------------------------------------ requests

    def search(self, query: str) -> None:
        """Show the members matching ``query`` (rows of an older query stay until then)."""
        self._generation.next()
        self._requested = query
        self._searching, self._fetching, self._error = True, False, None
        self.state_changed.emit()
        self._request(query, None, lambda page: self._first_page(query, page))

    def retry(self) -> None:
        """After a failure: load the next page again, or run the failed search again."""
        if self._requested is None:
            return
        self._error = None
        if self._query == self._requested and self._cursor is not None:
            self.fetchMore()
        else:
            self.search(self._requested)

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        return (
            not parent.isValid()
            and self._cursor is not None
            and not self.loading
            and self._error is None
        )

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        self.state_changed.emit()
        self._request(self._query or "", self._cursor, self._next_page)

    def _request(self, query: str, cursor: str | None, on_page: Callable[[MemberPage], None]) -> None:
        """Ask for one page off the GUI thread; a newer search makes the answer stale."""
        token = self._generation.current
        client, limit = self._client, self._page_size
        (
            Op(self, lambda: client.search_members(query, limit=limit, cursor=cursor))
            .success(self._generation.guard(token, on_page))
            .failure(self._generation.guard(token, self._failed))
            .run()
        )

    def _first_page(self, query: str, page: MemberPage) -> None:
        self.beginResetModel()
        self._rows = list(page.items)
        self._query = query
        self._cursor = page.next_cursor
        self._total, self._total_exact = page.total, page.total_exact
        self._searching = False
        self.endResetModel()
        self.state_changed.emit()

    def _next_page(self, page: MemberPage) -> None:
        self._fetching = False
        if page.items:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.items) - 1)
            self._rows.extend(page.items)
            self.endInsertRows()
        self._cursor = page.next_cursor
        self._total, self._total_exact = page.total, page.total_exact
        self.state_changed.emit()

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

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

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

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
