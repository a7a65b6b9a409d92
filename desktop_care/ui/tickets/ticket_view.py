"""One ticket: its header (member, queue, due time), who it is assigned to, its state
and priority (each changed at once on the server), its thread — replies to the member
and internal notes, visibly distinct — and a box for each: **Send reply** (needs the
server: it e-mails the member) and **Add note** (queued when offline, like other
changes). **Merge…** links this ticket with another of the member's (the survivor's
thread shows both, each entry marked with the ticket it was written on) and **Undo
merge** puts both back. Everything is read and written off the GUI thread (ops).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ...commands import (
    AddNote,
    Assign,
    BaseCommand,
    ChangeTicketState,
    CommandResult,
    MergeTicket,
    Reply,
    SetPriority,
    Status,
    UndoTicketMerge,
)
from ...models.tickets import EntryKind, TicketPriority, format_time_left
from ...schemas import TicketDetail, TicketEntryOut, UserPage
from .. import format as fmt
from ..errors import describe
from ..ops import Op
from ..qt import (
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ..tabs import Unsaved
from ..widgets import StatePanel, named
from .merge_dialog import MergeTicketDialog
from .table_model import PRIORITY_LABELS, STATE_LABELS

if TYPE_CHECKING:
    from ..workspace import Workspace

#: Styles of the two kinds of entries: a note is never mistaken for a reply.
#: (Text colours are set too, so the cards read the same in the light and the dark theme.)
NOTE_STYLE = ("QFrame#noteEntry { background: #fff6d6; border: 1px solid #e0c45c; border-radius: 4px; }"
              " QFrame#noteEntry QLabel { color: #3b3000; background: transparent; border: none; }")
REPLY_STYLE = ("QFrame#replyEntry { background: #eef4fb; border: 1px solid #9db8d9; border-radius: 4px; }"
               " QFrame#replyEntry QLabel { color: #102a43; background: transparent; border: none; }")
MESSAGE_STYLE = ("QFrame#messageEntry { background: #f1f5ee; border: 1px solid #a9c19a; border-radius: 4px; }"
                 " QFrame#messageEntry QLabel { color: #1e3319; background: transparent; border: none; }")
MERGE_STYLE = ("QFrame#mergeBanner { background: #f3eefb; border: 1px solid #b7a3dc; border-radius: 4px; }"
               " QFrame#mergeBanner QLabel { color: #2e1a52; background: transparent; border: none; }")
_ENTRY_LOOK = {EntryKind.NOTE: ("noteEntry", NOTE_STYLE), EntryKind.REPLY: ("replyEntry", REPLY_STYLE),
               EntryKind.MESSAGE: ("messageEntry", MESSAGE_STYLE)}
STAFF_ROLES = ("society_admin", "society_staff")


def entry_heading(entry: TicketEntryOut, shown_on: int | None = None) -> str:
    """The entry's heading; on ticket ``shown_on``, an entry written on another ticket
    (merged into it) starts with that ticket's number."""
    when = fmt.when(entry.created_at)
    origin = f"From #{entry.ticket_id} · " if shown_on is not None and entry.ticket_id != shown_on else ""
    return origin + _kind_heading(entry, when)


def _kind_heading(entry: TicketEntryOut, when: str) -> str:
    if entry.kind == EntryKind.NOTE:
        return f"Internal note · {entry.author_name} · {when} · not sent to the member"
    if entry.kind == EntryKind.MESSAGE:
        return f"From the member (portal) · {entry.author_name} · {when}"
    delivery = {"sent": "e-mailed", "queued": "waiting to be e-mailed", "sending": "being e-mailed",
                "failed": "e-mail failed"}.get(entry.mail_state.value if entry.mail_state else "", "no e-mail")
    return f"Reply to the member · {entry.author_name} · {when} · {delivery}"


class EntryFrame(QFrame):
    def __init__(self, entry: TicketEntryOut, parent: QWidget | None = None, shown_on: int | None = None) -> None:
        super().__init__(parent)
        name, style = _ENTRY_LOOK[entry.kind]
        self.setObjectName(name)
        self.setStyleSheet(style)
        heading = named(QLabel(entry_heading(entry, shown_on)), "entryHeading")
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        body = named(QLabel(entry.body), "entryBody")
        body.setWordWrap(True)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        body.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(heading)
        layout.addWidget(body)


class TicketDetailsView(QWidget):
    """Loads ticket ``ticket_id`` and works it; ``ticket`` is set once it is loaded. A
    page for a tab of the main window (a window of its own when shown without a parent)."""

    #: The ticket changed (its id): lists showing it reload.
    changed = Signal(int)
    #: A load or a change finished (for tests and for people waiting on the view).
    settled = Signal()
    #: The tab's title or tooltip changed.
    tab_changed = Signal()

    def __init__(self, workspace: Workspace, ticket_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ticketDialog")
        self.setWindowTitle(f"Ticket #{ticket_id}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(820, 720)
        self.workspace = workspace
        self.ticket_id = ticket_id
        self.ticket: TicketDetail | None = None
        self.busy = False
        self._staff: list[tuple[int, str]] = []

        self.status_page = StatePanel(self)
        self.status_page.retry_button.clicked.connect(self.load)
        self.title = named(QLabel(), "ticketTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.facts = named(QLabel(), "ticketFacts")
        self.facts.setWordWrap(True)
        self.due = named(QLabel(), "ticketDue")

        self.assignee_box = named(QComboBox(), "assigneeBox")
        self.state_box = named(QComboBox(), "stateBox")
        for value, label in STATE_LABELS.items():
            self.state_box.addItem(label, value)
        self.priority_box = named(QComboBox(), "priorityBox")
        for priority, label in PRIORITY_LABELS.items():
            self.priority_box.addItem(label, priority.value)
        controls = QGridLayout()
        for column, (text, box) in enumerate((("Assigned to", self.assignee_box), ("State", self.state_box),
                                              ("Priority", self.priority_box))):
            caption = QLabel(text)
            caption.setBuddy(box)
            controls.addWidget(caption, 0, column)
            controls.addWidget(box, 1, column)
        self.merge_button = named(QPushButton("Merge…"), "mergeTicketButton")
        self.merge_button.setToolTip("Merge this ticket with another ticket of the same member")
        self.merge_button.clicked.connect(self.open_merge)
        controls.addWidget(self.merge_button, 1, 3)
        self.merge_dialog: MergeTicketDialog | None = None

        self.merge_banner = named(QFrame(), "mergeBanner")
        self.merge_banner.setStyleSheet(MERGE_STYLE)
        self.merge_text = named(QLabel(), "mergeText")
        self.merge_text.setWordWrap(True)
        self.undo_merge_button = named(QPushButton("Undo merge"), "undoMergeButton")
        self.undo_merge_button.clicked.connect(self.undo_merge)
        banner = QHBoxLayout(self.merge_banner)
        banner.setContentsMargins(10, 6, 10, 6)
        banner.addWidget(self.merge_text, 1)
        banner.addWidget(self.undo_merge_button)
        self.merge_banner.hide()
        self.assignee_box.activated.connect(lambda _i: self._assign())
        self.state_box.activated.connect(lambda _i: self._change_state())
        self.priority_box.activated.connect(lambda _i: self._set_priority())

        self.thread_box = named(QWidget(), "ticketThread")
        self.thread_layout = QVBoxLayout(self.thread_box)
        self.thread_layout.setContentsMargins(0, 0, 0, 0)
        scroll = named(QScrollArea(), "threadScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.thread_box)
        self.thread_scroll = scroll

        self.reply_edit = named(QPlainTextEdit(), "replyEdit")
        self.reply_edit.setPlaceholderText("Write to the member; it is e-mailed to them.")
        self.reply_button = named(QPushButton("Send reply"), "sendReplyButton")
        self.note_edit = named(QPlainTextEdit(), "noteEdit")
        self.note_edit.setPlaceholderText("For staff only: never sent or shown to the member.")
        self.note_button = named(QPushButton("Add note"), "addNoteButton")
        self.reply_button.clicked.connect(self._reply)
        self.note_button.clicked.connect(self._note)
        boxes = QHBoxLayout()
        for title, edit, button in (("Reply to the member", self.reply_edit, self.reply_button),
                                    ("Internal note", self.note_edit, self.note_button)):
            group = QGroupBox(title)
            inner = QVBoxLayout(group)
            edit.setFixedHeight(90)
            inner.addWidget(edit)
            row = QHBoxLayout()
            row.addStretch()
            row.addWidget(button)
            inner.addLayout(row)
            boxes.addWidget(group)
        self.feedback = named(QLabel(), "ticketFeedback")
        self.feedback.setWordWrap(True)

        loaded = QWidget()
        loaded_layout = QVBoxLayout(loaded)
        loaded_layout.setContentsMargins(0, 0, 0, 0)
        loaded_layout.addWidget(self.title)
        loaded_layout.addWidget(self.facts)
        loaded_layout.addWidget(self.due)
        loaded_layout.addLayout(controls)
        loaded_layout.addWidget(self.merge_banner)
        loaded_layout.addWidget(scroll, 1)
        loaded_layout.addWidget(self.feedback)
        loaded_layout.addLayout(boxes)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.status_page)
        self.stack.addWidget(loaded)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        workspace.status_changed.connect(self._status_changed)  # a method: it ends with the dialog
        self.load()
        self._load_staff()

    # ----------------------------------------------------------------- loading

    def load(self) -> None:
        if self.ticket is None:
            self.status_page.show_state("Loading ticket…")
            self.stack.setCurrentWidget(self.status_page)
        client, ticket_id = self.workspace.client, self.ticket_id
        Op(self, lambda: client.ticket(ticket_id)).success(self._loaded).failure(self._load_failed).run()

    def _load_staff(self) -> None:
        client = self.workspace.client

        def fetch() -> UserPage:
            return client.list_users(roles=STAFF_ROLES, states=("active",), limit=200)

        Op(self, fetch).success(self._got_staff).failure(lambda _exc: None).run()

    def _got_staff(self, page: UserPage) -> None:
        self._staff = [(user.id, user.display_name or user.username) for user in page.items]
        if self.ticket is not None:
            self._fill_assignees(self.ticket)

    def _loaded(self, ticket: TicketDetail) -> None:
        self.ticket = ticket
        self.setWindowTitle(f"Ticket #{ticket.id}: {ticket.subject}")
        self.title.setText(f"#{ticket.id} · {ticket.subject}")
        self.facts.setText(f"{ticket.member_name} ({ticket.member_no}) · queue {ticket.queue.capitalize()} · "
                           f"opened {fmt.when(ticket.created_at)} by {ticket.created_by}")
        self.due.setText(self._due_text(ticket))
        self.due.setProperty("overdue", ticket.overdue)
        self.due.setStyleSheet("color: #a23b16; font-weight: bold;" if ticket.overdue else "")
        self._fill_assignees(ticket)
        self._select(self.state_box, ticket.state.value)
        self._select(self.priority_box, ticket.priority.value)
        while self.thread_layout.count():
            item = self.thread_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for entry in ticket.entries:
            self.thread_layout.addWidget(EntryFrame(entry, self.thread_box, ticket.id if ticket.merged_ids else None))
        self._show_merge(ticket)
        if not ticket.entries:
            self.thread_layout.addWidget(named(QLabel("Nothing written on this ticket yet."), "emptyNote"))
        self.thread_layout.addStretch()
        self.stack.setCurrentIndex(1)
        self._enable()
        self.tab_changed.emit()
        self.settled.emit()

    @property
    def tab_title(self) -> str:
        ticket = self.ticket
        if ticket is None:
            return f"Ticket #{self.ticket_id}…"
        subject = ticket.subject if len(ticket.subject) <= 28 else ticket.subject[:27].rstrip() + "…"
        return f"#{ticket.id} {subject}"

    @property
    def tab_tooltip(self) -> str:
        ticket = self.ticket
        if ticket is None:
            return "Loading the ticket…"
        return (f"Ticket #{ticket.id}: {ticket.subject}\n{ticket.member_name} ({ticket.member_no})\n"
                f"{STATE_LABELS.get(ticket.state.value, ticket.state.value)} · "
                f"{PRIORITY_LABELS.get(ticket.priority, ticket.priority.value)} priority · queue "
                f"{ticket.queue.capitalize()}")

    def unsaved_edits(self) -> list[Unsaved]:
        """A reply or a note typed and not sent (closing the tab asks first)."""
        out: list[Unsaved] = []
        if self.reply_edit.toPlainText().strip():
            out.append(Unsaved("A reply to the member, typed and not sent"))
        if self.note_edit.toPlainText().strip():
            out.append(Unsaved("An internal note, typed and not added"))
        return out

    def _show_merge(self, ticket: TicketDetail) -> None:
        if ticket.merged_into_id is not None:
            self.merge_text.setText(f"Merged into #{ticket.merged_into_id}: its thread shows this ticket’s entries "
                                    f"too. Work on #{ticket.merged_into_id}, or undo the merge.")
        elif ticket.merged_ids:
            numbers = ", ".join(f"#{number}" for number in ticket.merged_ids)
            self.merge_text.setText(f"{numbers} {'is' if len(ticket.merged_ids) == 1 else 'are'} merged into this "
                                    "ticket: the thread shows their entries too, marked “From #…”. To undo, "
                                    "open that ticket and choose Undo merge.")
        self.merge_banner.setVisible(ticket.merged_into_id is not None or bool(ticket.merged_ids))
        self.undo_merge_button.setVisible(ticket.merged_into_id is not None)

    def _load_failed(self, exc: BaseException) -> None:
        problem = describe(exc)
        if self.ticket is None:
            self.status_page.show_state("The ticket could not be loaded", problem.text, retry=True)
        else:
            self.feedback.setText(f"Could not refresh the ticket: {problem.text}")
        self.settled.emit()

    @staticmethod
    def _due_text(ticket: TicketDetail) -> str:
        if ticket.minutes_left is None:
            return f"{STATE_LABELS[ticket.state.value]} {fmt.when(ticket.resolved_at)}" if ticket.resolved_at else ""
        left = format_time_left(dt.timedelta(minutes=ticket.minutes_left))
        return f"{ticket.due_kind.capitalize()} due {fmt.when(ticket.next_due_at)} — {left} (business hours)"

    def _fill_assignees(self, ticket: TicketDetail) -> None:
        box = self.assignee_box
        box.clear()
        box.addItem("Unassigned", None)
        me = self.workspace.session.staff
        people = dict(self._staff)
        people.setdefault(me.id, me.display_name or me.username)
        if ticket.assignee_id is not None:
            people.setdefault(ticket.assignee_id, ticket.assignee_name or f"user {ticket.assignee_id}")
        box.addItem(f"Me ({people.pop(me.id)})", me.id)
        for user_id, name in sorted(people.items(), key=lambda item: item[1].lower()):
            box.addItem(name, user_id)
        self._select(box, ticket.assignee_id)

    @staticmethod
    def _select(box: QComboBox, value: object) -> None:
        index = box.findData(value)
        box.setCurrentIndex(max(index, 0))

    # ----------------------------------------------------------------- changes

    def _status_changed(self, _status: object) -> None:
        self._enable()

    def _enable(self) -> None:
        loaded = self.ticket is not None and not self.busy
        into = self.ticket.merged_into_id if self.ticket is not None else None
        for widget, kind in ((self.reply_button, Reply), (self.note_button, AddNote),
                             (self.assignee_box, Assign), (self.state_box, ChangeTicketState),
                             (self.priority_box, SetPriority), (self.merge_button, MergeTicket),
                             (self.undo_merge_button, UndoTicketMerge)):
            reason = self.workspace.refusal(kind)
            if reason is None and into is not None and not getattr(kind, "on_merged", False):
                reason = f"This ticket is merged into #{into}: work on #{into}, or undo the merge"
            widget.setEnabled(loaded and reason is None)
            widget.setToolTip(reason or "")
        self.reply_edit.setEnabled(self.reply_button.isEnabled() or self.busy)

    def _run(self, command: BaseCommand, done_text: str, clear: QPlainTextEdit | None = None) -> None:
        self.busy = True
        self.feedback.setText("Working…")
        self._enable()

        def done(result: CommandResult) -> None:
            self.busy = False
            if result.status in (Status.APPLIED, Status.DUPLICATE):
                self.feedback.setText(done_text)
                if clear is not None:
                    clear.clear()
                self.changed.emit(self.ticket_id)
                self.load()
            else:
                self.feedback.setText(f"Not done: {result.reason}")
                self._enable()
                if self.ticket is not None:
                    self._loaded(self.ticket)  # the boxes show the ticket as it is

        def failed(exc: BaseException) -> None:
            self.busy = False
            self.feedback.setText(f"Not done: {describe(exc).text}")
            self._enable()
            self.settled.emit()

        self.workspace.run_now(command, parent=self, on_done=done, on_failed=failed)

    def _build(self, kind: type[BaseCommand], **fields: object) -> BaseCommand | None:
        assert self.ticket is not None
        try:
            return kind.model_validate({"member_id": self.ticket.member_id, "ticket": self.ticket.uid, **fields})
        except ValidationError as exc:
            self.feedback.setText(f"Not done: {exc.errors()[0]['msg']}")
            return None

    def _reply(self) -> None:
        text = self.reply_edit.toPlainText()
        if not text.strip():
            self.feedback.setText("Write the reply first.")
            return
        command = self._build(Reply, body=text)
        if command is not None:
            self._run(command, "Reply sent: it is on its way to the member.", self.reply_edit)

    def _note(self) -> None:
        text = self.note_edit.toPlainText()
        if not text.strip():
            self.feedback.setText("Write the note first.")
            return
        command = self._build(AddNote, body=text)
        if command is None:
            return
        if self.workspace.online:
            self._run(command, "Note added.", self.note_edit)
            return
        assert isinstance(command, AddNote)

        def queued() -> None:
            self.note_edit.clear()
            self.feedback.setText("Note saved on this computer: it is added to the ticket when the server answers.")
            self.settled.emit()

        self.workspace.submit(command, parent=self, on_done=queued,
                              on_failed=lambda exc: self.feedback.setText(f"Not saved: {describe(exc).text}"))

    def _assign(self) -> None:
        if self.ticket is not None and self.assignee_box.currentData() != self.ticket.assignee_id:
            command = self._build(Assign, assignee_id=self.assignee_box.currentData())
            if command is not None:
                self._run(command, f"Assigned to {self.assignee_box.currentText()}.")

    def _change_state(self) -> None:
        if self.ticket is not None and self.state_box.currentData() == "merged":
            self.feedback.setText("Not done: use Merge… to merge this ticket into another.")
            self._select(self.state_box, self.ticket.state.value)
            return
        if self.ticket is not None and self.state_box.currentData() == "new":
            self.feedback.setText("Not done: a ticket is new only until someone works on it.")
            self._select(self.state_box, self.ticket.state.value)
            return
        if self.ticket is not None and self.state_box.currentData() != self.ticket.state.value:
            command = self._build(ChangeTicketState, state=self.state_box.currentData())
            if command is not None:
                self._run(command, f"The ticket is {self.state_box.currentText().lower()} now.")

    def open_merge(self) -> MergeTicketDialog | None:
        """Merge…: pick the other ticket by number; the merge runs on the server."""
        if self.ticket is None or self.workspace.refusal(MergeTicket) is not None:
            return None
        client = self.workspace.client

        def send(command: MergeTicket, done: Callable[[CommandResult], None],
                 failed: Callable[[BaseException], None]) -> None:
            self.workspace.run_now(command, parent=dialog, on_done=done, on_failed=failed)

        dialog = MergeTicketDialog(self.ticket, client.ticket, send, self)
        dialog.setModal(True)
        dialog.merged.connect(self._merged)
        self.merge_dialog = dialog
        dialog.show()
        return dialog

    def _merged(self, survivor: int) -> None:
        self.feedback.setText(f"Merged: #{survivor} holds both threads now. Undo merge puts them back.")
        self.changed.emit(self.ticket_id)
        self.load()

    def undo_merge(self) -> None:
        if self.ticket is None or self.ticket.merged_into_id is None:
            return
        command = UndoTicketMerge(member_id=self.ticket.member_id, ticket=uuid.UUID(self.ticket.uid))
        self._run(command, "Merge undone: both tickets are as they were.")

    def _set_priority(self) -> None:
        if self.ticket is not None and self.priority_box.currentData() != self.ticket.priority.value:
            command = self._build(SetPriority, priority=TicketPriority(self.priority_box.currentData()))
            if command is not None:
                self._run(command, f"Priority {self.priority_box.currentText().lower()}; the due times follow.")


def open_ticket_view(workspace: Workspace, ticket_id: int, opener: Callable[[int], TicketDetailsView] | None,
                     on_change: Callable[[int], None]) -> TicketDetailsView:
    """The ticket in a tab of the main window (``opener``, the window's ``open_ticket``),
    or a window of its own; ``on_change`` (a method, so the connection ends with its
    object) hears of changes made there, once however often the ticket is opened."""
    if opener is not None:
        view = opener(ticket_id)
    else:
        view = TicketDetailsView(workspace, ticket_id)
        view.show()
    view.changed.connect(on_change, Qt.ConnectionType.UniqueConnection)
    return view


#: Its name when it was a window of its own (kept so code written against it still reads).
TicketDialog = TicketDetailsView
