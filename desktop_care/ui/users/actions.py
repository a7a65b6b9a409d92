"""Actions on one user — Revoke, Disable, Enable, Unlock, a staff member's tier — for
the Society Users page and a member's portal users.

Whether an action is offered reads the commands' own declarations, as the server
does: ``required_role`` and ``staff_target_role`` (who may), ``online_only`` (not
offline) and ``unavailable`` (the user's state); a disabled action says why in its
tooltip. Each asks for confirmation in a window-modal box (never a blocking
``exec``), then runs through :meth:`Workspace.run_now` off the GUI thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...commands import CommandResult, Status
from ...commands.user import (
    AccessCommand,
    ChangeStaffRole,
    DisableUser,
    EnableUser,
    RevokeUser,
    TargetFacts,
    UnlockUser,
)
from ...models.user import UserRole, UserState
from ...schemas import PortalUserOut
from .. import format as fmt
from .. import message
from ..errors import describe, sentence
from ..qt import QAction, QHBoxLayout, QLabel, QMenu, QMessageBox, QObject, QPushButton, Qt, QWidget, Signal, Slot
from ..widgets import named

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass(frozen=True)
class Offer:
    """One action as offered for one user: its menu text, and why not (if not)."""

    key: str
    text: str
    command: AccessCommand
    refusal: str | None


_CONFIRM = {
    "revoke_user": (
        "Revoke access for {name}?",
        "{name} can no longer sign in, and every session they have open ends now. To come back they must be "
        "invited again. To make a member pay before using the portal, use Block for payment instead: a revoked "
        "member cannot even sign in to pay.",
        "Revoke access",
    ),
    "disable_user": (
        "Disable {name}'s account?",
        "{name} can no longer sign in, and every session they have open ends now. Enable the account to let "
        "them back in.",
        "Disable",
    ),
    "enable_user": (
        "Enable {name}'s account?",
        "{name} can sign in again at once; any failed sign-ins on record are forgotten.",
        "Enable",
    ),
    "unlock_user": (
        "Unlock sign-in for {name}?",
        "The failed sign-ins on record are forgotten, so {name} can try again at once.",
        "Unlock",
    ),
    "change_staff_role": (
        "Make {name} a {role}?",
        "{detail}",
        "Make {role}",
    ),
}

_ROLE_DETAIL = {
    UserRole.SOCIETY_ADMIN: "A Society Admin can also invite staff, change their role and revoke them.",
    UserRole.SOCIETY_STAFF: "A Society Staff member works on members' accounts, but cannot change staff.",
}


def facts(user: PortalUserOut, staff_id: int) -> TargetFacts:
    return TargetFacts(
        role=user.role,
        state=user.state,
        has_failures=user.failed_sign_ins > 0,
        is_self=user.id == staff_id,
        name=user.display_name or user.username,
    )


def offers(workspace: Workspace, user: PortalUserOut) -> list[Offer]:
    """The actions for ``user``, each with why it is not available (None if it is)."""
    target = facts(user, workspace.session.staff.id)
    commands: list[tuple[str, str, AccessCommand]] = [
        ("revoke", "Revoke access…", RevokeUser(user_id=user.id)),
        ("disable", "Disable account…", DisableUser(user_id=user.id)),
        ("enable", "Enable account…", EnableUser(user_id=user.id)),
        ("unlock", "Unlock sign-in…", UnlockUser(user_id=user.id)),
    ]
    if user.role.is_staff:
        other = UserRole.SOCIETY_STAFF if user.role == UserRole.SOCIETY_ADMIN else UserRole.SOCIETY_ADMIN
        commands.append(("role", f"Make {other.label}…", ChangeStaffRole(user_id=user.id, role=other)))
    return [Offer(key, text, command, refusal(workspace, command, user, target)) for key, text, command in commands]


def refusal(
    workspace: Workspace, command: AccessCommand, user: PortalUserOut, target: TargetFacts | None = None
) -> str | None:
    """Why the signed-in person cannot run ``command`` on ``user`` now (None: they can):
    the server's rules, from the command's declarations, plus being offline."""
    kind = type(command)
    reason = workspace.refusal(kind) or kind.refusal_for(workspace.session.staff.role, user.role)
    reason = reason or command.unavailable_for(target or facts(user, workspace.session.staff.id))
    return sentence(reason) if reason else None


def state_text(user: PortalUserOut, now: dt.datetime | None = None) -> str:
    """The State column: the account's state, or when sign-in is throttled, until when
    (a time of day: a throttle lasts 15 minutes at most)."""
    now = now or dt.datetime.now(dt.UTC)
    if user.locked_until is not None and user.locked_until > now:
        return f"Locked until {user.locked_until.astimezone().strftime('%H:%M:%S')}"
    return fmt.user_state(user.state)


def state_tooltip(user: PortalUserOut) -> str:
    if user.locked_until is not None:
        return (f"{fmt.plural(user.failed_sign_ins, 'failed sign-in')} in a row: sign-in is refused until "
                f"{fmt.when(user.locked_until)}, even with the right password. Unlock lets them try again now.")
    if user.failed_sign_ins:
        return f"{fmt.plural(user.failed_sign_ins, 'failed sign-in')} in a row"
    return {
        UserState.ACTIVE: "Can sign in",
        UserState.INVITED: "Invited; has not accepted the invitation yet",
        UserState.DISABLED: "Disabled by staff: cannot sign in until enabled",
        UserState.REVOKED: "Access revoked: must be invited again",
    }[user.state]


class UserActions(QObject):
    """Confirms and runs one action at a time for a view; says what happened."""

    #: A command applied (the user's id): the view reloads what it shows.
    changed = Signal(int)
    #: A command finished, whatever the outcome (for tests and busy states).
    finished = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._parent = parent
        #: The confirmation on screen, if any (tests press its buttons).
        self.confirmation: QMessageBox | None = None
        self.running = False

    def menu(self, user: PortalUserOut, parent: QWidget) -> QMenu:
        """A menu of every action for ``user``; unavailable ones disabled, with why."""
        menu = QMenu(parent)
        menu.setObjectName("userActionsMenu")
        menu.setToolTipsVisible(True)
        for offer in offers(self.workspace, user):
            action = QAction(offer.text, menu)
            action.setObjectName(f"{offer.key}Action")
            action.setEnabled(offer.refusal is None and not self.running)
            if offer.refusal:
                action.setToolTip(offer.refusal)
            action.triggered.connect(lambda _=False, o=offer, u=user: self.ask(o, u))
            menu.addAction(action)
        return menu

    def ask(self, offer: Offer, user: PortalUserOut) -> None:
        """Ask for confirmation; the command runs if the person confirms."""
        if offer.refusal is not None or self.running:
            return
        name = user.display_name or user.username
        role = getattr(offer.command, "role", None)
        title, body, button = _CONFIRM[offer.command.kind]
        values = {"name": name, "role": role.label if isinstance(role, UserRole) else "",
                  "detail": _ROLE_DETAIL.get(role, "") if isinstance(role, UserRole) else ""}
        box = QMessageBox(QMessageBox.Icon.Question, offer.command.label, title.format(**values),
                          QMessageBox.StandardButton.Cancel, self._parent)
        box.setObjectName("confirmUserAction")
        box.setInformativeText(body.format(**values))
        confirm = box.addButton(button.format(**values), QMessageBox.ButtonRole.AcceptRole)
        confirm.setObjectName("confirmButton")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered() -> None:
            self.confirmation = None
            if box.clickedButton() is confirm:
                self.run(offer.command, name)

        box.finished.connect(answered)
        self.confirmation = box
        box.open()

    def run(self, command: AccessCommand, name: str, on_done: Callable[[CommandResult], None] | None = None) -> None:
        self.running = True

        def done(result: CommandResult) -> None:
            self.running = False
            if result.status in (Status.APPLIED, Status.DUPLICATE):
                message.info(f"{command.summary()}: done for {name}.")
                self.changed.emit(command.user_id)
            else:
                message.warning(f"{command.summary()} did not happen: {sentence(result.reason)}", parent=self._parent)
            self.finished.emit(result)

        def failed(exc: BaseException) -> None:
            self.running = False
            problem = describe(exc)
            message.warning(f"{command.summary()} did not happen: {problem.text}", parent=self._parent)
            self.finished.emit(exc)

        self.workspace.run_now(command, parent=self, on_done=done, on_failed=failed)


#: The action bar's buttons: (offer key, text).
BUTTONS = (("revoke", "Revoke access…"), ("disable", "Disable…"), ("enable", "Enable…"), ("unlock", "Unlock…"),
           ("role", "Change role…"))


class UserActionBar(QWidget):
    """Buttons for the actions on one selected user, each enabled only when the
    server would accept it (the reason in its tooltip otherwise)."""

    def __init__(self, actions: UserActions, parent: QWidget | None = None, *, staff_actions: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("userActionBar")
        self.user_actions = actions
        self.user: PortalUserOut | None = None
        self.buttons: dict[str, QPushButton] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for key, text in BUTTONS:
            if key == "role" and not staff_actions:
                continue
            button = named(QPushButton(text), f"{key}Button")
            button.clicked.connect(lambda _=False, k=key: self.act(k))
            self.buttons[key] = button
            layout.addWidget(button)
        self.note = named(QLabel(), "selectionNote")
        self.note.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.note, 1)
        # Bound methods, not lambdas: Qt drops these connections when the bar goes (the
        # details dialog builds a new one each time it reloads).
        actions.finished.connect(self._refresh)
        actions.workspace.status_changed.connect(self._refresh)
        self.set_user(None)

    @Slot(object)
    def _refresh(self, _event: object = None) -> None:
        self.set_user(self.user)

    def offer(self, key: str) -> Offer | None:
        if self.user is None:
            return None
        return next((o for o in offers(self.user_actions.workspace, self.user) if o.key == key), None)

    def act(self, key: str) -> None:
        """Ask to run action ``key`` ("revoke", "disable", …) on the selected user."""
        found = self.offer(key)
        if found is not None and self.user is not None:
            self.user_actions.ask(found, self.user)

    def set_user(self, user: PortalUserOut | None) -> None:
        self.user = user
        found = {o.key: o for o in offers(self.user_actions.workspace, user)} if user is not None else {}
        for key, button in self.buttons.items():
            offer = found.get(key)
            if key == "role":
                button.setVisible(user is None or user.role.is_staff)
            button.setEnabled(offer is not None and offer.refusal is None and not self.user_actions.running)
            tip = offer.text.rstrip("…") if offer is not None and key == "role" else ""
            button.setToolTip((offer.refusal or tip) if offer is not None else "Select a user first")
        self.note.setText(f"Selected: {user.display_name or user.username}" if user is not None
                          else "Select a user to act on")
