"""The member search: a search box over a lazily paged table of results.

Typing restarts a short single-shot timer; when it fires, the query goes to the server
off the GUI thread (:class:`MemberTableModel`). Enter searches at once, Down moves to
the results, and Enter or a double-click on a row opens that member. A click on a
column header sorts the results by it on the server (again: the other way round); the
sort stays while the query is refined and more rows load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import schemas
from ..paging import showing
from ..qt import (
    QEvent,
    QFont,
    QFontMetrics,
    QHBoxLayout,
    QKeyEvent,
    QModelIndex,
    QObject,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ..widgets import SearchPage, make_results_table, size_columns
from .table_model import COLUMNS, DESCENDING_FIRST, MEMBER_ID_ROLE, MemberTableModel

if TYPE_CHECKING:
    from ..workspace import MemberSource

DEBOUNCE_MS = 250
PLACEHOLDER = "Member ID, name, email, phone or postcode"

#: Widest text each fixed-width column is sized for (the Name column is resizable
#: and Email takes the remaining room).
_COLUMN_SAMPLES = {
    "Member ID": "10000000",
    "Status": "Un-enrolled",
    "Points": "1,000,000",
    "Balance": "-£10,000.00",
    "Pending": "99 (£10,000.00)",
    "Last login": "30 Sep 2025, 23:59",
    "Sync": "⟳ 99",
}


def results_summary(model: MemberTableModel) -> str:
    """The line above the results: how many are shown, of how many."""
    if model.searching:
        return "Searching…"
    if model.error is not None or (model.rowCount() == 0 and not model.has_more):
        return ""
    return showing(model, "member", "refine your search")


class MemberTable(QTableView):
    """The results table; Enter or a double-click asks to open the current member."""

    open_requested = Signal(int)

    def __init__(self, model: MemberTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memberTable")
        self.setModel(model)
        make_results_table(self)
        self._size_columns()
        self.doubleClicked.connect(self._open)

    def _size_columns(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        title_metrics = QFontMetrics(bold)  # headers are bold (style.qss)
        size_columns(self, [column.title for column in COLUMNS], _COLUMN_SAMPLES, stretch="Email",
                     default_sample="M" * 18, padding=32, title_metrics=title_metrics)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._size_columns()  # a new text size (File → Settings): columns fit it again

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._open(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    def _open(self, index: QModelIndex) -> None:
        member_id = index.siblingAtColumn(0).data(MEMBER_ID_ROLE)
        if member_id is not None:
            self.open_requested.emit(int(member_id))


class SearchView(SearchPage):
    """Search box, results summary, and the results (or a state panel)."""

    #: The person asked to open a member (by its id).
    member_opened = Signal(int)
    #: A search's results (or its empty state) are on screen.
    results_shown = Signal()

    model: MemberTableModel
    table: MemberTable

    def __init__(self, client: MemberSource, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.setObjectName("searchView")
        model = MemberTableModel(client, self)
        self.setup_search(model, MemberTable(model, self), box_name="searchBox", placeholder=PLACEHOLDER,
                          accessible_name="Find member", summary_name="resultsSummary", debounce_ms=debounce_ms)

        top = QHBoxLayout()
        top.addWidget(self.search_box, 3)
        top.addWidget(self.summary, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 6)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)

        self.setup_sorting([column.sort for column in COLUMNS], descending_first=DESCENDING_FIRST)
        self.search_box.installEventFilter(self)
        self.table.open_requested.connect(self.member_opened)
        self._update()

    # ----------------------------------------------------------------- actions

    def search_now(self) -> None:
        """Search for what is in the box now (without waiting for the debounce)."""
        self._debounce.stop()
        self.model.search(self.search_box.text().strip(), self.sort)

    def set_query(self, text: str) -> None:
        """Put ``text`` in the search box and search for it at once."""
        self.search_box.setText(text)
        self.search_now()

    def current_member(self) -> schemas.MemberSummary | None:
        index = self.table.currentIndex()
        return self.model.summary(index.row()) if index.isValid() else None

    # ----------------------------------------------------------------- internals

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Down in the search box moves to the first result."""
        if (
            watched is self.search_box
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Down
            and self.model.rowCount() > 0
        ):
            self.table.setFocus(Qt.FocusReason.TabFocusReason)
            if not self.table.currentIndex().isValid():
                self.table.selectRow(0)
            return True
        return super().eventFilter(watched, event)

    def _update(self) -> None:
        model = self.model
        self.summary.setText(results_summary(model))
        if model.searching:
            return  # keep showing the previous results (or state) until the new ones arrive
        query = model.query
        self.show_outcome("The search did not work", None if query is None else (
            f"No members match “{query}”" if query else "There are no members yet",
            "Check the spelling, or search by member ID, email, phone or postcode." if query else "",
        ))
        if model.query is not None and not model.loading:
            self.results_shown.emit()
