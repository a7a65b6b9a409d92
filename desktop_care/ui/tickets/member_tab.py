"""A member's Tickets tab (in the member's details): their tickets, newest first, and
**New ticket…**, which works offline too (the ticket is queued like any change and
reaches the server, once, when it answers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ...commands import OpenTicket
from ...models.tickets import MAX_SUBJECT, QUEUES, TicketPriority
from ...sync.syncer import SyncStatus
from ..errors import describe
from ..qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QModelIndex,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ..widgets import FieldBox, StatePanel, named
from .table_model import PRIORITY_LABELS, TicketQuery, TicketTableModel
from .ticket_view import TicketDetailsView, open_ticket_view
from .tickets_view import TicketsTable

if TYPE_CHECKING:
    from ..workspace import Workspace


class NewTicketDialog(QDialog):
    """Subject, queue, priority and what the member said (an internal note)."""

    #: The ticket was queued (the command).
    queued = Signal(object)

    def __init__(self, workspace: Workspace, member_id: int, member_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newTicketDialog")
        self.setWindowTitle(f"New ticket for {member_name}")
        self.workspace = workspace
        self.member_id = member_id
        self.subject = FieldBox("subject", QLineEdit())
        self.subject.edit.setMaxLength(MAX_SUBJECT)
        self.subject.edit.setPlaceholderText("What it is about, in a few words")
        self.subject.edit.textEdited.connect(lambda _text: self.subject.set_error(""))
        self.queue = QComboBox()
        for queue in QUEUES:
            self.queue.addItem(queue.capitalize(), queue)
        self.priority = QComboBox()
        for priority, label in PRIORITY_LABELS.items():
            self.priority.addItem(label, priority.value)
        self.priority.setCurrentIndex(self.priority.findData(TicketPriority.NORMAL.value))
        self.note = FieldBox("note", QPlainTextEdit())
        self.note.edit.setPlaceholderText("What the member said (an internal note: never sent to them)")
        self.note.edit.setFixedHeight(110)
        self.problem = named(QLabel(), "newTicketProblem")
        self.problem.setWordWrap(True)
        form = QFormLayout()
        form.addRow("&Subject", self.subject)
        form.addRow("&Queue", self.queue)
        form.addRow("&Priority", self.priority)
        form.addRow("&Note", self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = named(self.buttons.addButton("Open ticket", QDialogButtonBox.ButtonRole.AcceptRole),
                                   "openTicketButton")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())

    def submit(self) -> None:
        self.subject.set_error("")
        self.note.set_error("")
        if not self.subject.edit.text().strip():
            self.subject.set_error("Say what the ticket is about.")
            return
        try:
            command = OpenTicket(member_id=self.member_id, subject=self.subject.edit.text(),
                                 queue=self.queue.currentData(), priority=TicketPriority(self.priority.currentData()),
                                 note=self.note.edit.toPlainText())
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else ""
                box = {"subject": self.subject, "note": self.note}.get(field)
                if box is not None:
                    box.set_error(str(error["msg"]).removeprefix("Value error, "))
            return
        self.create_button.setEnabled(False)

        def done() -> None:
            self.queued.emit(command)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.create_button.setEnabled(True)
            self.problem.setText(f"The ticket was not saved: {describe(exc).text}")

        self.workspace.submit(command, parent=self, on_done=done, on_failed=failed)


class MemberTicketsTab(QWidget):
    """The member's tickets; loaded the first time the tab is shown."""

    def __init__(self, workspace: Workspace, member_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ticketsTab")
        self.workspace = workspace
        self.member_id = member_id
        self.member_name = ""
        self.loaded = False
        self.dialog: NewTicketDialog | None = None
        #: Opens a ticket in a tab of the main window (set by the window hosting this).
        self.open_ticket_in: Callable[[int], TicketDetailsView] | None = None
        self.model = TicketTableModel(workspace.client, self)
        self.table = TicketsTable(self.model, self)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        self.state = StatePanel(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.state)
        self.new_button = named(QPushButton("New ticket…"), "newTicketButton")
        self.new_button.clicked.connect(self.new_ticket)
        self.waiting = named(QLabel(), "ticketsWaiting")
        top = QHBoxLayout()
        top.addWidget(self.new_button)
        top.addWidget(self.waiting, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        self.state.retry_button.clicked.connect(self.model.retry)
        self.model.state_changed.connect(self._update)
        self.table.activated.connect(self._open)
        workspace.members_changed.connect(self._members_changed)
        # A method, not a lambda: the connection ends with the tab (a lambda would outlive it).
        workspace.status_changed.connect(self._status_changed)

    def _status_changed(self, status: SyncStatus) -> None:
        if status.pending == 0:
            self.waiting.setText("")

    def ensure_loaded(self) -> None:
        if not self.loaded:
            self.reload()

    def reload(self) -> None:
        self.loaded = True
        self.model.load(TicketQuery(member_id=self.member_id, states="all", sort="-created"))

    def new_ticket(self) -> NewTicketDialog:
        self.dialog = NewTicketDialog(self.workspace, self.member_id, self.member_name or "the member", self)
        self.dialog.queued.connect(self._queued)
        self.dialog.show()
        return self.dialog

    def open_ticket(self, ticket_id: int) -> TicketDetailsView:
        """The ticket in a tab of the main window (``open_ticket_in``), or a window of its own."""
        return open_ticket_view(self.workspace, ticket_id, self.open_ticket_in, self._ticket_changed)

    def _ticket_changed(self, _ticket_id: int) -> None:
        self.reload()

    def _queued(self, command: OpenTicket) -> None:
        if self.workspace.online:
            self.waiting.setText(f"“{command.subject}” is being sent to the server…")
        else:
            self.waiting.setText(f"“{command.subject}” is saved on this computer, waiting to sync.")

    def _members_changed(self, ids: set[int]) -> None:
        if self.member_id in ids and self.loaded:
            self.reload()

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_ticket(self.model.ticket(index.row()).id)

    def _update(self) -> None:
        model = self.model
        if model.searching:
            return
        if model.error is not None:
            self.state.show_state("The tickets could not be listed", describe(model.error).text, retry=True)
            self.stack.setCurrentWidget(self.state)
        elif model.rowCount() == 0:
            self.state.show_state("No tickets yet", "“New ticket…” opens one for this member.")
            self.stack.setCurrentWidget(self.state)
        else:
            self.stack.setCurrentWidget(self.table)
