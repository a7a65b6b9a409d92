"""Small widgets and helpers shared by several views."""

from __future__ import annotations

from typing import Any, TypeVar

from .qt import QAbstractItemView, QHBoxLayout, QLabel, QPushButton, Qt, QTableView, QVBoxLayout, QWidget

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
    height = max(widget.height(), widget.sizeHint().height())
    if height > widget.height():
        widget.resize(widget.width(), height)
