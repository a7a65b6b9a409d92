"""Invite staff (Society Users page, Society Admin only): a person gets an e-mail with a
single-use link to choose their password, as Society Staff or Society Admin. Online
only (``POST /staff/invitations``); the button's tooltip says why when it is not
available (``Workspace.refusal(InviteStaff)``: the role, or offline)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ...commands.accounts import InviteStaff
from ...models import UserRole
from ...schemas import AccountActionOut
from ..members.accounts import _CommandFormDialog
from ..qt import QComboBox, QLabel, QLineEdit, QWidget
from ..widgets import named
from .actions import _ROLE_DETAIL

#: ``send(command, done, failed)``: send the invitation off the GUI thread.
SendInvitation = Callable[[InviteStaff, Callable[[AccountActionOut], None], Callable[[BaseException], None]], None]

_CONFIRM = "Send invitation"


class InviteStaffDialog(_CommandFormDialog):
    """E-mail, name and tier of the person to invite as staff."""

    labels: ClassVar[dict[str, str]] = {"email": "E-mail", "display_name": "Name", "role": "Role"}
    error_field: ClassVar[str] = "email"
    focus_first_error: ClassVar[bool] = True
    confirm_text = _CONFIRM

    def __init__(self, send: SendInvitation, parent: QWidget | None = None) -> None:
        super().__init__("Invite staff", parent)
        self.setObjectName("inviteStaffDialog")
        self._send = send
        self.message.setText("They get an e-mail with a link to choose their password and sign in to this "
                             "console. The link works once, for 7 days.")
        self.email = QLineEdit(placeholderText="name@example.org")
        self.name = QLineEdit(placeholderText="Their name as colleagues will see it")
        self.role = QComboBox()
        for role in (UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN):
            self.role.addItem(role.label, role)
        self.role_help = named(QLabel(), "roleHelp")
        self.role_help.setWordWrap(True)
        self.role.currentIndexChanged.connect(self._role_changed)
        form_widget = self._field_form((("email", "E-mail *:", self.email), ("display_name", "Name *:", self.name),
                                        ("role", "Role:", self.role)), self.role_help)
        self.confirm_button.setText(_CONFIRM)
        self._role_changed()
        self._layout(form_widget)

    def _role_changed(self) -> None:
        self.role_help.setText(_ROLE_DETAIL[self.role.currentData()])

    def make_command(self) -> InviteStaff:
        return InviteStaff(email=self.email.text(), display_name=self.name.text(), role=self.role.currentData())

    def send(self, command: InviteStaff) -> None:
        self._send(command, self._sent, self._refused)

    def _sent(self, answer: AccountActionOut) -> None:
        self._done(f"{answer.message} They show on this page as Invited until they accept.")
        self.finished_action.emit(answer)
        for edit in (self.email, self.name, self.role):
            edit.setEnabled(False)
