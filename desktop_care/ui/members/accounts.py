"""Account actions on a member's portal users, from the member's details: Reset
password…, Invite…, Re-send invitation, Cancel invitation.

They are online-only commands (``commands/accounts.py``): each dialog asks first, then
runs the command on the server now (``Workspace.run_now``, an op: the GUI thread never
waits) and says what happened — where the e-mail went, or why the server refused.
Staff never see or choose a member's password.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import ValidationError

from ...commands import BaseCommand, CommandResult, InviteUser, PortalRole, Status
from ...schemas import MemberDetail, PortalUserOut
from ...sync.api_client import ApiError
from ..errors import describe, sentence
from ..qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ..widgets import FieldBox, grow_to_fit, named
from .editing import field_errors

#: ``run(command, on_done, on_failed)``: run the command on the server now.
Run = Callable[[BaseCommand, Callable[[CommandResult], None], Callable[[BaseException], None]], None]

ROLE_HELP = {
    PortalRole.FULL: "A Full user can do everything in the portal, including inviting further users "
                     "to this account.",
    PortalRole.STANDARD: "A Standard user can use the account in the portal but cannot invite others.",
}


class _ActionDialog(QDialog):
    """Ask, run, tell: a question with Confirm/Cancel, then the result with Close."""

    finished_action = Signal(object)

    def __init__(self, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.heading = named(QLabel(title), "dialogHeading")
        self.heading.setWordWrap(True)
        self.message = named(QLabel(), "actionMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_text = named(QLabel(), "resultText")
        self.result_text.setWordWrap(True)
        self.result_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_text.hide()
        self.error_text = named(QLabel(), "formError")
        self.error_text.setProperty("role", "fieldError")
        self.error_text.setWordWrap(True)
        self.error_text.hide()
        self.buttons = QDialogButtonBox()
        self.confirm_button = named(QPushButton("Confirm"), "confirmButton")
        self.confirm_button.setProperty("role", "primary")
        self.confirm_button.setDefault(True)
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("cancelButton")
        self.close_button = named(QPushButton("Close"), "closeButton")
        self.buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button.hide()
        self.buttons.accepted.connect(self.confirm)
        self.buttons.rejected.connect(self.reject)
        self.close_button.clicked.connect(self.accept)
        self.busy = False

    def _layout(self, *parts: QWidget) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addWidget(self.message)
        for part in parts:
            layout.addWidget(part)
        layout.addWidget(self.error_text)
        layout.addWidget(self.result_text)
        layout.addStretch()
        layout.addWidget(self.buttons)

    def _field_form(self, rows: tuple[tuple[str, str, QWidget], ...], note: QWidget) -> QWidget:
        """A form of ``(name, label, edit)`` rows, each edit with its error under it
        (``self.fields``; typing clears it), and ``note`` under the last."""
        self.fields: dict[str, FieldBox] = {}
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key, label, edit in rows:
            box = FieldBox(key, edit)
            self.fields[key] = box
            form.addRow(label, box)
            if isinstance(edit, QLineEdit):
                edit.textEdited.connect(lambda *_, b=box: b.set_error(""))
        form.addRow("", note)
        return form_widget

    def errors(self) -> dict[str, str]:
        """The field errors on show (for tests and screenshots)."""
        return {name: box.error.text() for name, box in self.fields.items() if box.error.isVisible()}

    def confirm(self) -> None:
        raise NotImplementedError

    def _running(self, text: str) -> None:
        self.busy = True
        self.error_text.hide()
        self.confirm_button.setEnabled(False)
        self.confirm_button.setText(text)

    def _done(self, text: str) -> None:
        self.busy = False
        self.result_text.setText(text)
        self.result_text.show()
        self.error_text.hide()
        for button in (self.confirm_button, self.cancel_button):
            button.hide()
        self.close_button.show()
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        grow_to_fit(self)

    def _failed(self, text: str, confirm_text: str) -> None:
        self.busy = False
        self.error_text.setText(text)
        self.error_text.show()
        self.confirm_button.setEnabled(True)
        self.confirm_button.setText(confirm_text)
        grow_to_fit(self)

    def _answer(self, result: CommandResult, done_text: str, confirm_text: str) -> None:
        if result.status is Status.APPLIED or (
            result.status is Status.DUPLICATE and result.original_status is Status.APPLIED
        ):
            self._done(done_text)
            self.finished_action.emit(result)
        else:
            self._failed(f"The server refused: {sentence(result.reason)}", confirm_text)

    def _error(self, exc: BaseException, confirm_text: str) -> None:
        self._failed(f"Nothing was done: {describe(exc).text}", confirm_text)


class _CommandFormDialog(_ActionDialog):
    """An action dialog that builds one command from its form and sends it: errors
    under the fields, from the command's own checks or from the server's 422/refusal.
    Subclasses give :meth:`make_command` (raises pydantic's ``ValidationError``) and
    :meth:`send` (off the GUI thread, answering :meth:`_refused` on failure)."""

    #: Field labels for the command's validation errors.
    labels: ClassVar[dict[str, str]] = {}
    #: Where an error on a field the form does not show goes.
    error_field: ClassVar[str] = ""
    #: Put the cursor in the first field with an error.
    focus_first_error: ClassVar[bool] = False
    #: The confirm button's words (put back after a refusal) and while sending.
    confirm_text: str = "Confirm"
    running_text: ClassVar[str] = "Sending…"

    def make_command(self) -> Any:
        raise NotImplementedError

    def send(self, command: Any) -> None:
        raise NotImplementedError

    def build_command(self) -> Any | None:
        """The command of the form, or None with its errors under the fields."""
        for box in self.fields.values():
            box.set_error("")
        self.error_text.hide()
        try:
            return self.make_command()
        except ValidationError as exc:
            fields, form = field_errors(exc, self.labels)
            self._show_field_errors(fields)
            if form:
                self._failed(" ".join(form), self.confirm_text)
            return None

    def confirm(self) -> None:
        if self.busy:
            return
        command = self.build_command()
        if command is None:
            return
        self._running(self.running_text)
        self.send(command)

    def _show_field_errors(self, fields: dict[str, str]) -> None:
        for name, text in fields.items():
            self.fields[name if name in self.fields else self.error_field].set_error(text)
        first = next(iter(fields), None)
        if self.focus_first_error and first is not None:
            self.fields[first if first in self.fields else self.error_field].edit.setFocus()
        grow_to_fit(self)

    def _refused_on_fields(self, fields: dict[str, str]) -> None:
        """The server named fields: their errors under them, the form open again."""
        self.busy = False
        self.confirm_button.setEnabled(True)
        self.confirm_button.setText(self.confirm_text)
        self._show_field_errors({name: sentence(text) for name, text in fields.items()})

    def _refused(self, exc: BaseException) -> None:
        fields = getattr(exc, "fields", None) if isinstance(exc, ApiError) else None
        if fields:
            self._refused_on_fields({name.removeprefix("command."): text for name, text in fields.items()})
            return
        self._error(exc, self.confirm_text)


class UserActionDialog(_ActionDialog):
    """Reset password / Re-send invitation / Cancel invitation for one portal user."""

    def __init__(self, title: str, question: str, command: BaseCommand, done_text: str, run: Run,
                 parent: QWidget | None = None, *, confirm_text: str = "Confirm") -> None:
        super().__init__(title, parent)
        self.setObjectName("userActionDialog")
        self.command = command
        self.done_text = done_text
        self.confirm_text = confirm_text
        self._run = run
        self.message.setText(question)
        self.confirm_button.setText(confirm_text)
        self._layout()

    def confirm(self) -> None:
        if self.busy:
            return
        self._running("Sending…")
        self._run(self.command, lambda r: self._answer(r, self.done_text, self.confirm_text),
                  lambda e: self._error(e, self.confirm_text))


class InviteDialog(_CommandFormDialog):
    """Invite a person to the member's portal account: e-mail, name, Full or Standard."""

    labels: ClassVar[dict[str, str]] = {"email": "E-mail", "display_name": "Name", "role": "Role"}
    error_field: ClassVar[str] = "email"
    focus_first_error: ClassVar[bool] = True
    confirm_text = "Send invitation"

    def __init__(self, member: MemberDetail, run: Run, parent: QWidget | None = None) -> None:
        super().__init__(f"Invite a user — {member.name} ({member.member_no})", parent)
        self.setObjectName("inviteDialog")
        self.member = member
        self._run = run
        self.heading.setText("Invite a user")
        self.message.setText(f"To the portal account of {member.name} ({member.member_no}). They get an e-mail "
                             "with a link to choose their password. The link works once, for 7 days; you can "
                             "send it again or cancel it while it is pending.")
        self.email = QLineEdit(placeholderText="name@example.org")
        self.name = QLineEdit(placeholderText="Their name as they will see it")
        self.role = QComboBox()
        for role in PortalRole:
            self.role.addItem(role.value.capitalize(), role)
        self.role.setCurrentIndex(self.role.findData(PortalRole.STANDARD))
        self.role_help = named(QLabel(), "roleHelp")
        self.role_help.setWordWrap(True)
        self.role.currentIndexChanged.connect(self._role_changed)
        form_widget = self._field_form((("email", "E-mail:", self.email), ("display_name", "Name:", self.name),
                                        ("role", "Role:", self.role)), self.role_help)
        self.confirm_button.setText("Send invitation")
        self._role_changed()
        self._layout(form_widget)

    def _role_changed(self) -> None:
        self.role_help.setText(ROLE_HELP[self.role.currentData()])

    def make_command(self) -> InviteUser:
        return InviteUser(member_id=self.member.id, email=self.email.text(), display_name=self.name.text(),
                          role=self.role.currentData())

    def send(self, command: InviteUser) -> None:
        done = f"An invitation was sent to {command.email}. It shows under Portal users as Invited until accepted."
        self._run(command, lambda r: self._invited(r, done), lambda e: self._error(e, "Send invitation"))

    def _invited(self, result: CommandResult, done: str) -> None:
        if result.status is Status.REJECTED and result.fields:
            self.busy = False
            self.confirm_button.setEnabled(True)
            self.confirm_button.setText("Send invitation")
            for name in result.fields:
                if name in self.fields:
                    self.fields[name].set_error(sentence(result.reason))
            if not set(result.fields) & set(self.fields):
                self._failed(f"The server refused: {sentence(result.reason)}", "Send invitation")
            grow_to_fit(self)
            return
        self._answer(result, done, "Send invitation")
        if self.result_text.isVisible():
            for edit in (self.email, self.name, self.role):
                edit.setEnabled(False)


def reset_question(user: PortalUserOut) -> str:
    return (f"Send {user.display_name or user.username} a link to choose a new password? It goes to "
            f"{user.email}, works once, for 1 hour, and cancels any earlier link. You will not see or set "
            f"the password.")
