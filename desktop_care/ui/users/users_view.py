"""The Society Users page (Customer Care → Users): every user of the system.

A text filter (username, name, e-mail or member ID; debounced, sent off the GUI
thread), a role and a state filter, and a lazily paged table with each user's state
(and until when a throttled sign-in is locked), last sign-in and a Revoke column.
The buttons under the filters act on the selected user, as does the row's context
menu; each is enabled only when the server would accept it, with the reason in its
tooltip otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...commands.accounts import InviteStaff
from ...commands.user import RevokeUser
from ...models.user import UserRole
from ...models.user_search import StateFilter
from ...schemas import AccountActionOut, UserListItem
from ..ops import Op
from ..paging import showing
from ..qt import (
    QComboBox,
    QHBoxLayout,
    QKeyEvent,
    QModelIndex,
    QPoint,
    QPushButton,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from ..widgets import SearchPage, make_results_table, named, page_title, size_columns
from .actions import UserActionBar, UserActions, refusal
from .invite_staff import InviteStaffDialog
from .table_model import COLUMNS, REVOKE_COLUMN, UserFilter, UserTableModel

if TYPE_CHECKING:
    from ..workspace import Workspace

DEBOUNCE_MS = 250
PLACEHOLDER = "Username, name, e-mail or member ID"

ROLE_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("All roles", ()),
    ("Staff (both tiers)", (UserRole.SOCIETY_ADMIN.value, UserRole.SOCIETY_STAFF.value)),
    ("Society Admin", (UserRole.SOCIETY_ADMIN.value,)),
    ("Society Staff", (UserRole.SOCIETY_STAFF.value,)),
    ("Members' users (Full or Standard)", (UserRole.FULL.value, UserRole.STANDARD.value)),
    ("Non-member users", (UserRole.NON_MEMBER.value,)),
)
STATE_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("All states", ()),
    ("Active", (StateFilter.ACTIVE.value,)),
    ("Locked (failed sign-ins)", (StateFilter.LOCKED.value,)),
    ("Invited", (StateFilter.INVITED.value,)),
    ("Disabled", (StateFilter.DISABLED.value,)),
    ("Revoked", (StateFilter.REVOKED.value,)),
)

_COLUMN_SAMPLES = {
    "Username": "firstname.lastname.100",
    "Name": "Firstname Lastname",
    "Role": "Society Admin",
    "Member ID": "10000000",
    "State": "Locked until 23:59:59",
    "Last sign-in": "30 Sep 2025, 23:59",
    "Revoke": "Revoke",
}


def results_summary(model: UserTableModel) -> str:
    if model.searching:
        return "Loading…"
    if model.error is not None or model.rowCount() == 0:
        return ""
    return showing(model, "user", "refine the filter")


class UsersTable(QTableView):
    def __init__(self, model: UserTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("usersTable")
        self.setModel(model)
        make_results_table(self)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        size_columns(self, [column.title for column in COLUMNS], _COLUMN_SAMPLES, stretch="Email",
                     default_sample="M" * 16, padding=32)


class UsersView(SearchPage):
    """The Society Users page."""

    model: UserTableModel
    table: UsersTable

    def __init__(self, workspace: Workspace, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.setObjectName("usersView")
        self.workspace = workspace
        model = UserTableModel(workspace.client, self)
        self.user_actions = UserActions(workspace, self)
        model.revoke_refusal = self._revoke_refusal

        title = page_title("Society Users")
        self.role_filter = named(QComboBox(), "roleFilter")
        for text, values in ROLE_CHOICES:
            self.role_filter.addItem(text, values)
        self.role_filter.setAccessibleName("Role")
        self.state_filter = named(QComboBox(), "stateFilter")
        for text, values in STATE_CHOICES:
            self.state_filter.addItem(text, values)
        self.state_filter.setAccessibleName("State")

        self.action_bar = UserActionBar(self.user_actions, self)
        # Invite staff: only for whom the declaration allows (a Society Staff member
        # does not get the button); disabled offline, with the reason.
        self.invite_staff_button = named(QPushButton("Invite staff…"), "inviteStaffButton")
        self.invite_staff_button.clicked.connect(self.open_invite_staff)
        self.invite_staff_button.setVisible(InviteStaff.permits(workspace.session.staff.role))
        self.invite_staff_dialog: InviteStaffDialog | None = None
        workspace.status_changed.connect(lambda _status: self._update_invite_button())
        self._update_invite_button()

        self.setup_search(model, UsersTable(model, self), box_name="userSearchBox", placeholder=PLACEHOLDER,
                          accessible_name="Filter users", summary_name="usersSummary", debounce_ms=debounce_ms)
        # The latest sign-in first on the first click; text columns A to Z.
        self.setup_sorting([column.sort for column in COLUMNS], descending_first=("last_login",))
        filters = QHBoxLayout()
        filters.addWidget(self.search_box, 3)
        filters.addWidget(self.role_filter, 1)
        filters.addWidget(self.state_filter, 1)
        filters.addWidget(self.summary, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 6)
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch()
        heading.addWidget(self.invite_staff_button)
        layout.addLayout(heading)
        layout.addLayout(filters)
        layout.addWidget(self.action_bar)
        layout.addWidget(self.stack, 1)

        self.role_filter.currentIndexChanged.connect(self.search_now)
        self.state_filter.currentIndexChanged.connect(self.search_now)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.clicked.connect(self._clicked)
        self.user_actions.changed.connect(lambda _id: self.model.reload())
        self._update()

    # ----------------------------------------------------------------- actions

    def current_filter(self) -> UserFilter:
        return UserFilter(self.search_box.text().strip(), tuple(self.role_filter.currentData() or ()),
                          tuple(self.state_filter.currentData() or ()), self.sort)

    def search_now(self) -> None:
        self._debounce.stop()
        self.model.search(self.current_filter())

    def current_user(self) -> UserListItem | None:
        index = self.table.currentIndex()
        return self.model.user(index.row()) if index.isValid() else None

    def act(self, key: str) -> None:
        """Ask to run action ``key`` ("revoke", "disable", …) on the selected user."""
        self.action_bar.act(key)

    def open_invite_staff(self) -> InviteStaffDialog | None:
        """Invite staff… (a Society Admin, online): the invitation goes at once."""
        if self.workspace.refusal(InviteStaff) is not None:
            return None
        client = self.workspace.client

        def send(command: InviteStaff, done: Callable[[AccountActionOut], None],
                 failed: Callable[[BaseException], None]) -> None:
            Op(dialog, lambda: client.invite_staff(command.email, command.display_name, command.role.value)) \
                .success(done).failure(failed).run()

        dialog = InviteStaffDialog(send, self)
        dialog.setModal(True)
        dialog.finished_action.connect(lambda _answer: self.model.reload())
        self.invite_staff_dialog = dialog
        dialog.show()
        return dialog

    def _update_invite_button(self) -> None:
        reason = self.workspace.refusal(InviteStaff)
        self.invite_staff_button.setEnabled(reason is None)
        self.invite_staff_button.setToolTip(reason or "Invite a person as Society Staff or Society Admin by e-mail")

    # ----------------------------------------------------------------- internals

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Menu and self.current_user() is not None:
            self._context_menu(self.table.visualRect(self.table.currentIndex()).center())
            event.accept()
            return
        super().keyPressEvent(event)

    def _revoke_refusal(self, user: UserListItem) -> str | None:
        return refusal(self.workspace, RevokeUser(user_id=user.id), user)

    def _clicked(self, index: QModelIndex) -> None:
        if index.column() == REVOKE_COLUMN:
            self.action_bar.set_user(self.model.user(index.row()))
            self.act("revoke")

    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        user = self.model.user(index.row())
        self.table.setCurrentIndex(index)
        menu = self.user_actions.menu(user, self)
        menu.popup(self.table.viewport().mapToGlobal(position))

    def _update_buttons(self) -> None:
        self.action_bar.set_user(self.current_user())

    def _update(self) -> None:
        model = self.model
        self.summary.setText(results_summary(model))
        self._update_buttons()
        if model.searching:
            return
        empty = None
        if model.filter is not None:
            empty = (("There are no users yet", "") if model.filter.is_empty else
                     ("No users match these filters", "Check the spelling, or choose “All roles” and “All states”."))
        self.show_outcome("The users could not be listed", empty)
