"""Merge… in the ticket view: pick the other ticket by its number, see what it is, say
which one stays, and merge (online: ``merge_ticket``). The server's refusals (itself,
a merged or closed ticket, another member's) show under the number."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ...commands import CommandResult, MergeTicket, Status
from ...schemas import TicketDetail
from ...sync.api_client import NotFound
from .. import format as fmt
from ..errors import describe
from ..ops import Generation, Op
from ..qt import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ..widgets import FieldBox, named
from .table_model import STATE_LABELS

#: Load a ticket by number (off the GUI thread).
Fetch = Callable[[int], TicketDetail]
#: Run the merge: (command, on_done, on_failed).
Send = Callable[[MergeTicket, Callable[[CommandResult], None], Callable[[BaseException], None]], None]


class MergeTicketDialog(QDialog):
    """Merge ``ticket`` with another ticket of the same member."""

    #: The merge applied (the surviving ticket's number).
    merged = Signal(int)
    #: A look-up or the merge finished (for tests).
    settled = Signal()

    def __init__(self, ticket: TicketDetail, fetch: Fetch, send: Send, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mergeTicketDialog")
        self.setWindowTitle(f"Merge ticket #{ticket.id}")
        self.ticket = ticket
        self.other: TicketDetail | None = None
        self._fetch, self._send = fetch, send
        self._generation = Generation()

        intro = QLabel(f"Merge #{ticket.id} “{ticket.subject}” with another ticket of {ticket.member_name}. "
                       "The merged ticket’s thread then shows in the other one, each entry marked with the "
                       "ticket it was written on. Undo merge puts both back as they were.")
        intro.setWordWrap(True)
        edit = QLineEdit(placeholderText="The other ticket's number, e.g. 1042")
        edit.setAccessibleName("Other ticket number")
        edit.setMaxLength(11)
        self.number = FieldBox("otherTicket", edit)
        self.find_button = named(QPushButton("Find"), "findTicketButton")
        self.found = named(QLabel(), "otherTicketSummary")
        self.found.setWordWrap(True)
        self.into_other = named(QRadioButton(), "mergeIntoOther")
        self.into_this = named(QRadioButton(), "mergeIntoThis")
        self.into_other.setChecked(True)
        for button in (self.into_other, self.into_this):
            button.setEnabled(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.merge_button = named(self.buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole),
                                  "mergeButton")
        self.merge_button.setEnabled(False)
        self.buttons.rejected.connect(self.reject)
        self.merge_button.clicked.connect(self.merge)
        self.find_button.clicked.connect(self.look_up)
        edit.textEdited.connect(lambda _text: self._forget())
        edit.returnPressed.connect(self.look_up)

        row = QHBoxLayout()
        row.addWidget(self.number, 1)
        row.addWidget(self.find_button, 0, Qt.AlignmentFlag.AlignTop)
        form = QFormLayout()
        form.addRow("Other ticket #", row)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.found)
        layout.addWidget(self.into_other)
        layout.addWidget(self.into_this)
        layout.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())

    def choose(self, number: int) -> None:
        """Type ``number`` and find it (what a person does)."""
        self.number.edit.setText(str(number))
        self.look_up()

    def look_up(self) -> None:
        text = self.number.edit.text().strip().lstrip("#")
        number = int(text) if text.isdigit() and len(text) <= 10 else 0
        if not 0 < number <= 2_147_483_647:
            self.number.set_error("Type the number of the other ticket.")
            return
        if number == self.ticket.id:
            self.number.set_error("This is the ticket you are merging: type the other one’s number.")
            return
        self.number.set_error("")
        self.found.setText("Looking…")
        token = self._generation.next()
        fetch = self._fetch
        Op(self, lambda: fetch(number)).success(self._generation.guard(token, self._found)) \
            .failure(self._generation.guard(token, self._not_found)).run()

    def _forget(self) -> None:
        self.other = None
        self.found.setText("")
        self.merge_button.setEnabled(False)
        for button in (self.into_other, self.into_this):
            button.setEnabled(False)
            button.setText("")

    def _found(self, other: TicketDetail) -> None:
        if other.member_id != self.ticket.member_id:
            self._forget()
            self.number.set_error(f"#{other.id} is {other.member_name}’s ticket: only tickets of the same member "
                                  "can be merged (merge the members first if they are one person).")
        elif other.merged_into_id is not None:
            self._forget()
            self.number.set_error(f"#{other.id} is already merged into #{other.merged_into_id}.")
        else:
            self.other = other
            self.found.setText(f"#{other.id} “{other.subject}” · {STATE_LABELS[other.state.value]} · "
                               f"{fmt.plural(len(other.entries), 'entry', 'entries')} · "
                               f"last change {fmt.when(other.updated_at)}")
            self.into_other.setText(f"Merge this ticket (#{self.ticket.id}) into #{other.id}; #{other.id} stays")
            self.into_this.setText(f"Merge #{other.id} into this ticket; #{self.ticket.id} stays")
            for button in (self.into_other, self.into_this):
                button.setEnabled(True)
            self.merge_button.setEnabled(True)
        self.settled.emit()

    def _not_found(self, exc: BaseException) -> None:
        self._forget()
        self.number.set_error("There is no ticket with this number." if isinstance(exc, NotFound)
                              else describe(exc).text)
        self.settled.emit()

    def merge(self) -> None:
        other = self.other
        if other is None:
            self.look_up()
            return
        source, target = (self.ticket, other) if self.into_other.isChecked() else (other, self.ticket)
        command = MergeTicket(member_id=self.ticket.member_id, ticket=uuid.UUID(source.uid), into=uuid.UUID(target.uid))
        self.merge_button.setEnabled(False)

        def done(result: CommandResult) -> None:
            if result.status in (Status.APPLIED, Status.DUPLICATE):
                self.merged.emit(target.id)
                self.accept()
            else:
                self.number.set_error(f"Not merged: {result.reason}.")
                self.merge_button.setEnabled(True)
            self.settled.emit()

        def failed(exc: BaseException) -> None:
            self.number.set_error(f"Not merged: {describe(exc).text}")
            self.merge_button.setEnabled(True)
            self.settled.emit()

        self._send(command, done, failed)
