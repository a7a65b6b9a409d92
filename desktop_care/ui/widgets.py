"""Small widgets and helpers shared by several views."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

from . import message
from .errors import Action, describe
from .paging import PagedTableModel, showing
from .qt import (
    QAbstractItemView,
    QFontMetrics,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    Qt,
    QTableView,
    QTimer,
    QVBoxLayout,
    QWidget,
)

W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str) -> W:
    """``widget`` with its object name set (for the style sheet and for tests)."""
    widget.setObjectName(name)
    return widget


def page_title(text: str) -> QLabel:
    """A page's heading (Society Users, Tickets): bold, a little larger than the text."""
    title = named(QLabel(text), "pageTitle")
    font = title.font()
    font.setPointSizeF(font.pointSizeF() * 1.3)
    font.setBold(True)
    title.setFont(font)
    return title


def make_read_only_table(table: QTableView) -> None:
    """Rows selected whole, nothing editable, no grid or row numbers."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setShowGrid(False)
    table.verticalHeader().hide()
    table.horizontalHeader().setHighlightSections(False)
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


def make_results_table(table: QTableView) -> None:
    """A read-only table of one-row results (members, users): one row selected at a
    time, long text elided, smooth scrolling, rows a little taller than the text."""
    make_read_only_table(table)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 12)


class StatePanel(QWidget):
    """What shows instead of content: loading, nothing found, or a failure with
    "Try again"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statePanel")
        self.title = named(QLabel(), "stateTitle")
        self.body = named(QLabel(), "stateBody")
        for label in (self.title, self.body):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        self.retry_button = named(QPushButton("Try again"), "retryButton")
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.retry_button)
        row.addStretch()
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        layout.addSpacing(8)
        layout.addLayout(row)
        layout.addStretch(3)

    def show_state(self, title: str, body: str = "", *, retry: bool = False) -> None:
        self.title.setText(title)
        self.body.setText(body)
        self.body.setVisible(bool(body))
        self.retry_button.setVisible(retry)


class FieldBox(QWidget):
    """An input (line edit, combo, spin box…) with its error message underneath (hidden
    while there is none)."""

    def __init__(self, name: str, edit: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = edit
        self.edit.setObjectName(f"{name}Edit")
        self.error = named(QLabel(), f"{name}Error")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(edit)
        layout.addWidget(self.error)

    def set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self.edit.setProperty("invalid", bool(text))
        self.edit.style().unpolish(self.edit)
        self.edit.style().polish(self.edit)


def grow_to_fit(widget: QWidget) -> None:
    """Grow ``widget`` to show messages that just appeared (never shrink under the person)."""
    layout = widget.layout()
    if layout is not None:
        layout.activate()
    # Wrapped text needs the height for the width it has, not for the width its size
    # hint assumed (a form's wrapped note is otherwise cut off at the bottom).
    needed = widget.heightForWidth(widget.width()) if widget.hasHeightForWidth() else -1
    height = max(widget.height(), widget.sizeHint().height(), needed)
    if height > widget.height():
        widget.resize(widget.width(), height)


class SearchPage(QWidget):
    """The skeleton of a searchable page (the member search, Society Users, Tickets): a
    search box, the results summary, the results table or a :class:`StatePanel` in a
    stack, and a debounce timer that searches a moment after the person stops typing.

    A subclass creates its model and table, calls :meth:`setup_search`, lays the parts
    out as it likes, and implements :meth:`search_now`; its ``_update`` (called when the
    model's state changes) ends with :meth:`show_outcome`.

    A page whose server sorts calls :meth:`setup_sorting` too: a click on a sortable
    header sorts by it (:attr:`sort`, the ``sort`` of the page's endpoint), a second click
    flips it, and the header shows the sort; :meth:`search_now` sends :attr:`sort` with
    the filters, so the sort stays while the person refines them and scrolls.
    """

    model: PagedTableModel
    #: The server's ``sort`` of the rows (``"-balance"``), None for the endpoint's own order.
    sort: str | None = None
    _sort_keys: Sequence[str | None] = ()
    _descending_first: Collection[str] = ()

    def setup_search(self, model: PagedTableModel, table: QTableView, *, box_name: str, placeholder: str,
                     accessible_name: str, summary_name: str, debounce_ms: int) -> None:
        self.model = model
        self.search_box = named(QLineEdit(placeholderText=placeholder), box_name)
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setAccessibleName(accessible_name)
        self.summary = named(QLabel(), summary_name)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table = table
        self.state = StatePanel(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.state)

        self._debounce = QTimer(self, singleShot=True, interval=debounce_ms)
        self._debounce.timeout.connect(self.search_now)
        self.search_box.textEdited.connect(self._debounce.start)
        self.search_box.textChanged.connect(self._cleared)
        self.search_box.returnPressed.connect(self.search_now)
        self.state.retry_button.clicked.connect(model.retry)
        model.state_changed.connect(self._update)

    def search_now(self) -> None:
        """Search for what the filters say now (without waiting for the debounce)."""
        raise NotImplementedError

    def setup_sorting(self, keys: Sequence[str | None], *, initial: str | None = None,
                      descending_first: Collection[str] = ()) -> None:
        """Sort by header clicks: ``keys`` has the ``sort`` of each column (None: it does
        not sort); a first click sorts ascending, or descending for ``descending_first``
        (amounts and dates: highest and newest first)."""
        self._sort_keys, self._descending_first, self.sort = list(keys), descending_first, initial
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self._header_clicked)
        self._show_sort()

    def sort_by(self, sort: str | None) -> None:
        """Sort the rows by ``sort`` (None: the endpoint's own order) and load them again."""
        self.sort = sort
        self._show_sort()
        self.search_now()

    def sort_for(self, section: int) -> str | None:
        """The sort a click on header ``section`` asks for (the same column again flips
        it), or None for a column that does not sort."""
        key = self._sort_keys[section] if 0 <= section < len(self._sort_keys) else None
        if key is None:
            return None
        if self.sort is not None and self.sort.lstrip("-") == key:
            return key if self.sort.startswith("-") else f"-{key}"
        return f"-{key}" if key in self._descending_first else key

    def sort_choices(self) -> list[tuple[str, str]]:
        """Every sort of the page as (label, sort), for the command palette: "Sort by
        Balance, highest first" is a keyboard's header click."""
        out: list[tuple[str, str]] = []
        for column, key in zip(self.model.columns, self._sort_keys, strict=False):
            if key is None:
                continue
            first, second = ("descending", "ascending") if key in self._descending_first else (
                "ascending", "descending")
            for way in (first, second):
                out.append((f"Sort by {column.title}, {way}", f"-{key}" if way == "descending" else key))
        return out

    def _header_clicked(self, section: int) -> None:
        wanted = self.sort_for(section)
        if wanted is None:
            self._show_sort()  # this column does not sort: keep the indicator where it was
            return
        self.sort_by(wanted)

    def _show_sort(self) -> None:
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        key = self.sort.lstrip("-") if self.sort else None
        section = list(self._sort_keys).index(key) if key is not None and key in self._sort_keys else -1
        header.setSortIndicatorShown(section >= 0)
        order = Qt.SortOrder.DescendingOrder if self.sort and self.sort.startswith("-") else Qt.SortOrder.AscendingOrder
        header.setSortIndicator(section, order)
        header.blockSignals(False)

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def _cleared(self, text: str) -> None:
        if not text:  # the clear button (or select-all + delete): show everything again
            self._debounce.start()

    def _update(self) -> None:
        raise NotImplementedError

    def show_filtered(self, rows_word: str, error_title: str, no_match: tuple[str, str],
                      empty: tuple[str, str]) -> None:
        """The usual :meth:`_update` of a page filtered by its search box: "Loading…"
        while a request runs; then the summary ("showing 50 of 1,204 — refine the
        filter") and :meth:`show_outcome`, with ``no_match`` when text was typed and
        ``empty`` when the filters alone found nothing."""
        model = self.model
        if model.searching:
            self.summary.setText("Loading…")
            return
        self.summary.setText("" if model.error is not None or model.rowCount() == 0
                             else showing(model, rows_word, "refine the filter"))
        query = model.shown
        self.show_outcome(error_title, None if query is None else no_match if getattr(query, "text", "") else empty)

    def show_outcome(self, error_title: str, empty: tuple[str, str] | None) -> None:
        """Show the table, or the failure (``error_title`` and what went wrong, with Try
        again unless only signing in again helps), or ``empty`` (title, body) when the
        request found nothing (None: no request has been answered yet)."""
        model = self.model
        if model.error is not None:
            problem = describe(model.error)
            if problem.action is Action.SIGN_IN_AGAIN:
                message.problem(model.error)
            self.state.show_state(error_title, problem.text, retry=problem.action is not Action.SIGN_IN_AGAIN)
            self.stack.setCurrentWidget(self.state)
        elif model.rowCount() == 0 and empty is not None:
            self.state.show_state(*empty)
            self.stack.setCurrentWidget(self.state)
        else:
            self.stack.setCurrentWidget(self.table)


def size_columns(table: QTableView, titles: Sequence[str], samples: Mapping[str, str], *, stretch: str,
                 default_sample: str, padding: int, title_metrics: QFontMetrics | None = None) -> None:
    """Give each column of ``table`` the width of its widest expected text (``samples``
    by title, else ``default_sample``) or of its title, whichever is wider, plus
    ``padding``; the ``stretch`` column takes the room left. The person can resize the
    others."""
    header = table.horizontalHeader()
    metrics = table.fontMetrics()
    titled = title_metrics or metrics
    for section, title in enumerate(titles):
        if title == stretch:
            header.setSectionResizeMode(section, QHeaderView.ResizeMode.Stretch)
            continue
        header.setSectionResizeMode(section, QHeaderView.ResizeMode.Interactive)
        width = metrics.horizontalAdvance(samples.get(title, default_sample))
        table.setColumnWidth(section, max(width, titled.horizontalAdvance(title)) + padding)
