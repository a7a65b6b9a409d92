"""The Points tab of a member's details (the points ledger, newest first, a page at a
time: "Show more"), and the paged table every activity tab is built on, read from the
server (an op; they need the server, and say so when it cannot be reached). The
History tab became the Timeline (``timeline.py``: the audit and the ledgers in one
stream).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ...schemas import PointsEntryOut, PointsPage
from .. import format as fmt
from ..errors import describe
from ..ops import Generation, Op
from ..qt import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ..widgets import StatePanel, make_read_only_table, named

#: Rows per page.
PAGE = 50
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class ActivitySource(Protocol):
    """Where the tabs read from (a workspace, or a bare ApiClient)."""

    def member_points(self, member_id: int, limit: int = 50, cursor: str | None = None) -> PointsPage: ...



class _PagedTab(QWidget):
    """A table that fills a page at a time, with a loading / empty / error state."""

    headers: tuple[str, ...] = ()
    numeric: frozenset[int] = frozenset()
    empty_title = ""
    empty_body = ""
    #: A page arrived or failed (a view waiting to select a row it needs).
    page_done = Signal()

    def __init__(self, source: ActivitySource, member_id: int, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.source = source
        self.member_id = member_id
        self.loaded = False
        self.loading = False
        self._cursor: str | None = None
        self._generation = Generation()

        self.table = named(QTableWidget(0, len(self.headers)), f"{name}Table")
        self.table.setHorizontalHeaderLabels(list(self.headers))
        make_read_only_table(self.table)
        # The last column (reason, what changed) wraps; rows grow to show it.
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        for column in self.numeric:
            item = self.table.horizontalHeaderItem(column)
            if item is not None:
                item.setTextAlignment(_RIGHT)
        self.state = StatePanel(self)
        self.state.retry_button.clicked.connect(self.reload)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.state)
        self.stack.addWidget(self.table)
        self.count_label = named(QLabel(), f"{name}Count")
        self.count_label.setProperty("role", "muted")
        self.more_button = named(QPushButton("Show more"), f"{name}More")
        self.more_button.clicked.connect(self.load_more)
        self.more_button.hide()
        self.footer = QHBoxLayout()
        self.footer.addWidget(self.count_label)
        self.footer.addStretch()
        self.footer.addWidget(self.more_button)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(8, 8, 8, 8)

    def _finish_layout(self, *top: QWidget | QHBoxLayout) -> None:
        for part in top:
            if isinstance(part, QHBoxLayout):
                self.layout_.addLayout(part)
            else:
                self.layout_.addWidget(part)
        self.layout_.addWidget(self.stack, 1)
        self.layout_.addLayout(self.footer)

    # ----------------------------------------------------------------- loading

    def ensure_loaded(self) -> None:
        """Load the first page the first time the tab is shown."""
        if not self.loaded and not self.loading:
            self.reload()

    def reload(self) -> None:
        self.table.setRowCount(0)
        self._cursor = None
        self.more_button.hide()
        self.count_label.clear()
        if self.member_id < 0:  # registered on this computer, not on the server yet
            self.loaded = True
            self.state.show_state("This member is not on the server yet.",
                                  "Their points and history show once this computer has synced.")
            self.stack.setCurrentIndex(0)
            return
        self.state.show_state("Loading…")
        self.stack.setCurrentIndex(0)
        self._fetch(first=True)

    def load_more(self) -> None:
        if self._cursor is not None and not self.loading:
            self.more_button.setEnabled(False)
            self._fetch(first=False)

    def _fetch(self, *, first: bool) -> None:
        self.loading = True
        token = self._generation.next()
        fetch = self.fetch_page(self._cursor)
        Op(self, fetch).success(self._generation.guard(token, lambda page: self._arrived(page, first))) \
            .failure(self._generation.guard(token, self._failed)).run()

    def fetch_page(self, cursor: str | None) -> Callable[[], Any]:
        raise NotImplementedError

    def _arrived(self, page: Any, first: bool) -> None:
        self.loading = False
        self.loaded = True
        self.more_button.setEnabled(True)
        self._cursor = page.next_cursor
        if first and not page.items:
            self.state.show_state(*self.empty_state())
            self.stack.setCurrentIndex(0)
            self.count_label.clear()
            self.more_button.hide()
            self.page_done.emit()
            return
        for item in page.items:
            self._append(self.row(item), self.tooltip(item))
        self.stack.setCurrentIndex(1)
        self.table.resizeRowsToContents()
        self.count_label.setText(self.show_count(page))
        self.more_button.setVisible(page.next_cursor is not None)
        self.page_done.emit()

    def show_count(self, page: Any) -> str:
        """The footer's count once a page arrived."""
        shown = self.table.rowCount()
        total = fmt.plural(page.total, self.noun, self.nouns)
        return total if shown >= page.total else f"Showing {shown:,} of {total}"

    def _failed(self, exc: BaseException) -> None:
        self.loading = False
        self.more_button.setEnabled(True)
        problem = describe(exc)
        if self.table.rowCount():
            self.count_label.setText(f"More could not be loaded: {problem.text}")
        else:
            self.state.show_state(self.failed_title, problem.text, retry=True)
            self.stack.setCurrentIndex(0)
        self.page_done.emit()

    def _append(self, cells: list[str], tooltip: str) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c in self.numeric:
                item.setTextAlignment(_RIGHT)
            if tooltip:
                item.setToolTip(tooltip)
            self.table.setItem(r, c, item)

    noun = "entry"
    nouns = "entries"
    failed_title = "This could not be loaded."

    def empty_state(self) -> tuple[str, str]:
        return self.empty_title, self.empty_body

    def row(self, item: Any) -> list[str]:
        raise NotImplementedError

    def tooltip(self, item: Any) -> str:
        return ""

    def cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def rows(self) -> list[list[str]]:
        """What the table shows (for tests and screenshots)."""
        return [[self.cell(r, c) for c in range(self.table.columnCount())] for r in range(self.table.rowCount())]


class PointsTab(_PagedTab):
    """The points ledger: when, who, type, amount, reason."""

    headers = ("When", "Who", "Type", "Amount", "Reason")
    numeric = frozenset({3})
    noun = "ledger entry"
    nouns = "ledger entries"
    failed_title = "The points ledger could not be loaded."
    empty_title = "No points yet."
    empty_body = "Points the member earns, and adjustments staff make, are listed here."

    def __init__(self, source: ActivitySource, member_id: int, parent: QWidget | None = None) -> None:
        super().__init__(source, member_id, "pointsTab", parent)
        self._finish_layout()

    def fetch_page(self, cursor: str | None) -> Callable[[], PointsPage]:
        source, member_id = self.source, self.member_id
        return lambda: source.member_points(member_id, limit=PAGE, cursor=cursor)

    def row(self, item: PointsEntryOut) -> list[str]:
        return [fmt.when(item.at), item.actor_name, item.points_type.value.capitalize(), f"{item.delta:+,}",
                item.reason]
