"""The Tickets page (Customer Care → Tickets, Ctrl+3): the support desk's queues.

A queue selector (My tickets, Unassigned, All open, Overdue, one per queue, Resolved and
closed), a text filter (subject, member name, ticket number or member ID; debounced,
sent off the GUI thread), and a lazily paged table sorted by clicking the #, Priority,
Due or Updated header. Enter or a double-click opens the ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...models.tickets import QUEUES
from ..qt import (
    QComboBox,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QModelIndex,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from ..widgets import SearchPage, make_results_table, named, page_title, size_columns
from .table_model import COLUMNS, TicketQuery, TicketTableModel

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .ticket_view import TicketDetailsView

DEBOUNCE_MS = 250
PLACEHOLDER = "Subject, member name, ticket number or member ID"

#: The queue selector: label → (view, queue, states).
QUEUE_CHOICES: tuple[tuple[str, tuple[str, str | None, str]], ...] = (
    ("My tickets", ("mine", None, "open")),
    ("Unassigned", ("unassigned", None, "open")),
    ("All open tickets", ("all", None, "open")),
    ("Overdue", ("overdue", None, "open")),
    *((f"Queue: {queue.capitalize()}", ("all", queue, "open")) for queue in QUEUES),
    ("Resolved and closed", ("all", None, "done")),
)
_COLUMN_SAMPLES = {"#": "100000", "Member": "Firstname Lastname (1000000)", "Queue": "Membership",
                   "Priority": "Urgent", "State": "Resolved", "Assignee": "Firstname Lastname",
                   "Due": "12 h 45 min overdue", "Updated": "30 Sep 2025, 23:59"}


class TicketsTable(QTableView):
    """A ticket table sorted by its sortable headers (the server sorts)."""

    def __init__(self, model: TicketTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ticketsTable")
        self.setModel(model)
        make_results_table(self)
        size_columns(self, [column.title for column in COLUMNS], _COLUMN_SAMPLES, stretch="Subject",
                     default_sample="M" * 12, padding=28)


class TicketsView(SearchPage):
    """The Tickets page."""

    model: TicketTableModel
    table: TicketsTable

    def __init__(self, workspace: Workspace, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.setObjectName("ticketsView")
        self.workspace = workspace
        #: Opens a ticket in a tab of the main window (set by the window hosting this).
        self.open_ticket_in: Callable[[int], TicketDetailsView] | None = None
        model = TicketTableModel(workspace.client, self)

        title = page_title("Tickets")
        self.queue_box = named(QComboBox(), "queueSelector")
        for text, values in QUEUE_CHOICES:
            self.queue_box.addItem(text, values)
        self.queue_box.setAccessibleName("Queue")
        self.setup_search(model, TicketsTable(model, self), box_name="ticketSearchBox", placeholder=PLACEHOLDER,
                          accessible_name="Filter tickets", summary_name="ticketsSummary", debounce_ms=debounce_ms)
        hint = named(QLabel("Due times count business hours: Monday to Friday, 09:00–17:00 UK time."),
                     "ticketsHint")
        hint.setEnabled(False)

        # Priority and Updated read best highest/newest first.
        self.setup_sorting([column.sort for column in COLUMNS], initial="due",
                           descending_first=("priority", "updated"))

        filters = QHBoxLayout()
        filters.addWidget(self.queue_box, 1)
        filters.addWidget(self.search_box, 3)
        filters.addWidget(self.summary, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 6)
        layout.addWidget(title)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addWidget(hint)

        self.queue_box.currentIndexChanged.connect(self.search_now)
        self.table.activated.connect(self._open)
        self._update()

    # ----------------------------------------------------------------- actions

    def current_query(self) -> TicketQuery:
        view, queue, states = self.queue_box.currentData()
        return TicketQuery(view=view, queue=queue, states=states, text=self.search_box.text().strip(),
                           sort=self.sort or "due")

    def search_now(self) -> None:
        self._debounce.stop()
        self.model.load(self.current_query())

    def choose_queue(self, label: str) -> None:
        self.queue_box.setCurrentIndex(self.queue_box.findText(label))

    def open_ticket(self, ticket_id: int) -> TicketDetailsView:
        """The ticket in a tab of the main window (``open_ticket_in``), or a window of its own."""
        from .ticket_view import open_ticket_view

        return open_ticket_view(self.workspace, ticket_id, self.open_ticket_in, self._ticket_changed)

    def _ticket_changed(self, _ticket_id: int) -> None:
        self.model.reload()

    # ----------------------------------------------------------------- internals

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.currentIndex().isValid():
            self._open(self.table.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_ticket(self.model.ticket(index.row()).id)

    def _update(self) -> None:
        self.show_filtered("ticket", "The tickets could not be listed",
                           ("No tickets match", "Check the spelling, or clear the filter."),
                           (f"No tickets in “{self.queue_box.currentText()}”", "Choose another queue above."))
