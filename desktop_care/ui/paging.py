"""A table model that loads keyset pages lazily, off the GUI thread.

The model asks for one page at a time (:meth:`PagedTableModel.fetch_page`, run by an
:class:`~desktop_care.ui.ops.Op`). Views call :meth:`canFetchMore`/:meth:`fetchMore` as
the person scrolls towards the end; at most one page is in flight, and a new request
makes answers to the old one stale (:class:`~desktop_care.ui.ops.Generation`), so they
are dropped when they arrive. While a new request loads, the previous rows stay on
screen, so typing does not flicker. Subclasses say how to fetch and show a row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from . import format as fmt
from .ops import Generation, Op
from .qt import ModelIndex, QAbstractTableModel, QModelIndex, QObject, Qt, Signal


class Page(Protocol):
    """What a keyset page says (``MemberPage``, ``UserPage``)."""

    @property
    def items(self) -> list[Any]: ...
    @property
    def total(self) -> int: ...
    @property
    def total_exact(self) -> bool: ...
    @property
    def next_cursor(self) -> str | None: ...


class PagedTableModel(QAbstractTableModel):
    """Rows for the current request (a query, a filter…), loaded page by page, shown
    in :attr:`columns` (each has a ``title``, the header's text)."""

    #: The table's columns, in order (subclasses set it).
    columns: ClassVar[Sequence[Any]] = ()

    #: Loading started or finished, a page arrived, or a request failed.
    state_changed = Signal()

    def __init__(self, parent: QObject | None = None, page_size: int = 50) -> None:
        super().__init__(parent)
        self._page_size = page_size
        self._rows: list[Any] = []
        self._shown: Any = None
        self._requested: Any = None
        self._cursor: str | None = None
        self._total = 0
        self._total_exact = True
        self._searching = False
        self._fetching = False
        self._error: BaseException | None = None
        self._generation = Generation()

    def fetch_page(self, request: Any, cursor: str | None, limit: int) -> Page:
        """Worker thread: one page of ``request`` after ``cursor``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state

    @property
    def searching(self) -> bool:
        """A new request's first page is on its way."""
        return self._searching

    @property
    def loading(self) -> bool:
        return self._searching or self._fetching

    @property
    def shown(self) -> Any:
        """The request whose rows are shown (None before the first answer)."""
        return self._shown

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

    def row(self, row: int) -> Any:
        return self._rows[row]

    # ------------------------------------------------------------------ requests

    def load(self, request: Any) -> None:
        """Show the rows of ``request`` (rows of an older one stay until then)."""
        self._generation.next()
        self._requested = request
        self._searching, self._fetching, self._error = True, False, None
        self.state_changed.emit()
        self._request(request, None, lambda page: self._first_page(request, page))

    def reload(self) -> None:
        """Load the last request again from its first page."""
        if self._requested is not None:
            self.load(self._requested)

    def retry(self) -> None:
        """After a failure: load the next page again, or run the failed request again."""
        if self._requested is None:
            return
        self._error = None
        if self._shown == self._requested and self._cursor is not None:
            self.fetchMore()
        else:
            self.load(self._requested)

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._cursor is not None and not self.loading and self._error is None

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        self.state_changed.emit()
        self._request(self._shown, self._cursor, self._next_page)

    def _request(self, request: Any, cursor: str | None, on_page: Callable[[Page], None]) -> None:
        """Ask for one page off the GUI thread; a newer request makes the answer stale."""
        token = self._generation.current
        limit = self._page_size
        (
            Op(self, lambda: self.fetch_page(request, cursor, limit))
            .success(self._generation.guard(token, on_page))
            .failure(self._generation.guard(token, self._failed))
            .run()
        )

    def _first_page(self, request: Any, page: Page) -> None:
        self.beginResetModel()
        self._rows = list(page.items)
        self._shown = request
        self._cursor = page.next_cursor
        self._total, self._total_exact = page.total, page.total_exact
        self._searching = False
        self.endResetModel()
        self.state_changed.emit()

    def _next_page(self, page: Page) -> None:
        self._fetching = False
        if page.items:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.items) - 1)
            self._rows.extend(page.items)
            self.endInsertRows()
        self._cursor = page.next_cursor
        self._total, self._total_exact = page.total, page.total_exact
        self.state_changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self._searching = self._fetching = False
        self._error = exc
        self.state_changed.emit()

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return self.header_data(self.columns[section], role)

    def header_data(self, column: Any, role: int) -> Any:
        """A column header's value for ``role`` other than its text (None: none); a
        column with a ``sort`` says it sorts."""
        if role == Qt.ItemDataRole.ToolTipRole and getattr(column, "sort", None):
            return "Click to sort"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


def showing(model: PagedTableModel, rows_word: str, refine: str) -> str:
    """The line above a paged table: how many rows are shown, of how many."""
    rows = model.rowCount()
    if not model.total_exact:
        return f"showing {rows:,} of more than {model.total:,} — {refine}"
    if model.has_more or rows < model.total:
        return f"showing {rows:,} of {model.total:,} — {refine}"
    return fmt.plural(rows, rows_word)
