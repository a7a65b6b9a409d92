"""One member's details: identity, contact, addresses, balances, users — and the
buttons that change them (Edit info, Email prefs, Adjust points).

The dialog opens at once with a loading state and fills itself when the member arrives
(an op: from the server, or from the local store when offline); it is non-modal, so
several members can be open side by side. Changes queued on this workstation show at
once, with a pending mark, until the server has taken them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...commands import Command
from ...schemas import MemberDetail
from ...sync.api_client import NotFound
from .. import format as fmt
from .. import message
from ..errors import Action, describe
from ..ops import Op
from ..qt import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    is_alive,
)
from ..widgets import StatePanel, make_read_only_table, named
from .editing import AdjustPointsDialog, CommandDialog, EditContactDialog, EmailPrefsDialog, OpensCommandDialog

if TYPE_CHECKING:
    from ..workspace import MemberSource, Workspace

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _value(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label


def _form(title: str, rows: list[tuple[str, QLabel]]) -> QGroupBox:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for label, value in rows:
        form.addRow(f"{label}:", value)
    return box


def _table(
    name: str, headers: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset()
) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    make_read_only_table(table)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if c in numeric:
                item.setTextAlignment(_RIGHT)
            table.setItem(r, c, item)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    for c in numeric:
        header_item = table.horizontalHeaderItem(c)
        if header_item is not None:
            header_item.setTextAlignment(_RIGHT)
    visible_rows = max(1, min(len(rows), 6))
    table.setFixedHeight(
        header.sizeHint().height() + visible_rows * table.verticalHeader().defaultSectionSize() + 4
    )
    return table


def _empty_note(text: str) -> QLabel:
    return named(QLabel(text), "emptyNote")


class MemberDetailsDialog(QDialog):
    """Loads member ``member_id`` and shows it; ``member`` is set once it is loaded.

    ``source`` is where it reads from (a workspace, or a bare ApiClient: read-only);
    with a ``workspace`` the editing buttons show and changes go through it."""

    def __init__(self, source: MemberSource, member_id: int, parent: QWidget | None = None, *,
                 workspace: Workspace | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memberDetails")
        self.setWindowTitle("Member details")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(False)
        self.resize(860, 680)
        self.source = source
        self.workspace = workspace
        self.member_id = member_id
        self.member: MemberDetail | None = None
        self._loading = False
        self._reload_again = False
        self.edit_dialog: CommandDialog | None = None
        self.pending_label: QLabel | None = None

        self.status_page = StatePanel(self)
        self.status_page.retry_button.clicked.connect(self.load)

        self.scroll_area = named(QScrollArea(), "detailsScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.status_page)
        self.stack.addWidget(self.scroll_area)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        self.edit_info_button = named(QPushButton("Edit info…"), "editInfoButton")
        self.email_prefs_button = named(QPushButton("Email prefs…"), "emailPrefsButton")
        self.adjust_points_button = named(QPushButton("Adjust points…"), "adjustPointsButton")
        self.edit_info_button.clicked.connect(lambda: self.open_editor(EditContactDialog))
        self.email_prefs_button.clicked.connect(lambda: self.open_editor(EmailPrefsDialog))
        self.adjust_points_button.clicked.connect(lambda: self.open_editor(AdjustPointsDialog))
        bottom = QHBoxLayout()
        for button in self.edit_buttons:
            bottom.addWidget(button)
            button.setVisible(workspace is not None)
            button.setEnabled(False)
        bottom.addStretch()
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addLayout(bottom)
        self.load()

    @property
    def edit_buttons(self) -> tuple[QPushButton, ...]:
        return (self.edit_info_button, self.email_prefs_button, self.adjust_points_button)

    @property
    def loading(self) -> bool:
        return self._loading

    def load(self) -> None:
        self._loading = True
        self._show_status("Loading member…", "", retry=False)
        self._fetch()

    def refresh(self) -> None:
        """The member changed (a queued change, or a sync): read it again, keeping the
        current page on screen until the new one is ready."""
        if self._loading:
            self._reload_again = True
            return
        self._loading = True
        self._fetch()

    def _fetch(self) -> None:
        source, member_id = self.source, self.member_id
        Op(self, lambda: source.member(member_id)).success(self._loaded).failure(self._failed).run()

    def open_editor(self, kind: OpensCommandDialog) -> CommandDialog | None:
        """Open Edit info / Email prefs / Adjust points for the member as shown."""
        workspace, member = self.workspace, self.member
        if workspace is None or member is None:
            return None
        if self.edit_dialog is not None and self.edit_dialog.isVisible():
            self.edit_dialog.close()

        def send(command: Command, done: object, failed: object) -> None:
            workspace.submit(command, parent=dialog, on_done=done, on_failed=failed)  # type: ignore[arg-type]

        dialog = kind(member, send, self)
        dialog.setModal(True)
        dialog.destroyed.connect(self._editor_closed)
        self.edit_dialog = dialog
        dialog.show()
        return dialog

    def _editor_closed(self) -> None:
        self.edit_dialog = None

    def _show_status(self, title: str, body: str, *, retry: bool) -> None:
        self.status_page.show_state(title, body, retry=retry)
        self.stack.setCurrentIndex(0)

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
        self._reload_again = False
        for button in self.edit_buttons:
            button.setEnabled(False)
        if isinstance(exc, NotFound):
            self._show_status("This member no longer exists.",
                              "It may have been merged into another member or removed.", retry=False)
            return
        problem = describe(exc)
        if problem.action is Action.SIGN_IN_AGAIN:
            message.problem(exc)
        self._show_status("The member could not be loaded.", problem.text,
                          retry=problem.action is not Action.SIGN_IN_AGAIN)

    def _loaded(self, member: MemberDetail) -> None:
        self._loading = False
        if self._reload_again:
            self._reload_again = False
            self.refresh()
        self.member = member
        for button in self.edit_buttons:
            button.setEnabled(True)
        self.setWindowTitle(f"Member {member.member_no} — {member.name}")
        page = named(QWidget(), "detailsPage")
        grid = QGridLayout(page)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        heading = named(QLabel(f"{member.name}  ·  {member.member_no}"), "detailsHeading")
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QVBoxLayout()
        top.addWidget(heading)
        self.pending_label = self._pending_mark(member.pending_changes) if member.pending_changes else None
        if self.pending_label is not None:
            top.addWidget(self.pending_label)
        if not member.detail_cached:
            note = named(QLabel("Only the directory entry is available offline: portal users and pending "
                                "transactions show once this member has been opened while online."),
                         "offlineNote")
            note.setWordWrap(True)
            top.addWidget(note)
        grid.addLayout(top, 0, 0, 1, 2)

        left = QVBoxLayout()
        left.addWidget(self._identity(member))
        left.addWidget(self._contact(member))
        left.addWidget(self._addresses(member))
        left.addStretch()
        right = QVBoxLayout()
        right.addWidget(self._balances(member))
        right.addWidget(self._activity(member))
        right.addStretch()
        grid.addLayout(left, 1, 0)
        grid.addLayout(right, 1, 1)
        grid.addWidget(self._users(member), 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(3, 1)
        self.scroll_area.setWidget(page)
        self.stack.setCurrentIndex(1)

    @property
    def pending_mark(self) -> str:
        """The pending mark's text ("" when nothing is waiting)."""
        label = self.pending_label
        return label.text() if label is not None and is_alive(label) else ""

    # ----------------------------------------------------------------- sections

    def _pending_mark(self, changes: list[str]) -> QLabel:
        text = fmt.plural(len(changes), "change")
        mark = named(QLabel(f"⟳ {text} waiting to sync"), "pendingMark")
        mark.setToolTip("Queued on this computer; the server has not taken them yet:\n"
                        + "\n".join(f"• {c}" for c in changes))
        return mark

    def _identity(self, m: MemberDetail) -> QGroupBox:
        full_name = " ".join(p for p in (m.title, m.first_name, m.last_name) if p)
        status = fmt.member_status(m.status)
        if m.blocked_for_balance:
            status += " (portal blocked until the balance is paid)"
        return _form("Identity", [
            ("Member ID", _value(m.member_no, "memberNo")),
            ("Logon ID", _value(m.logon_id, "logonId")),
            ("Name", _value(full_name, "fullName")),
            ("Status", _value(status, "status")),
        ])

    def _contact(self, m: MemberDetail) -> QGroupBox:
        return _form("Contact", [
            ("Email", _value(fmt.or_none(m.email), "email")),
            ("Phone", _value(fmt.or_none(m.phone), "phone")),
            ("Email opt-in", _value(fmt.yes_no(m.email_opt_in), "emailOptIn")),
        ])

    def _addresses(self, m: MemberDetail) -> QGroupBox:
        box = QGroupBox("Addresses")
        layout = QVBoxLayout(box)
        if not m.addresses:
            layout.addWidget(_empty_note("No address on file."))
        for address in m.addresses:
            lines = [address.line1, address.line2, address.city, address.region, address.postcode,
                     address.country]
            kind = named(QLabel(fmt.address_kind(address.kind)), "addressKind")
            layout.addWidget(kind)
            layout.addWidget(_value("\n".join(line for line in lines if line), f"address{address.id}"))
        return box

    def _balances(self, m: MemberDetail) -> QGroupBox:
        box = _form("Balances", [
            ("Points", _value(fmt.count(m.points_balance), "points")),
            ("Account balance", _value(fmt.money(m.account_balance_cents), "accountBalance")),
            ("Pending", _value(fmt.pending(m.pending_count, m.pending_cents), "pending")),
        ])
        layout = box.layout()
        assert isinstance(layout, QFormLayout)
        if m.pending_transactions:
            rows = [[fmt.day(t.created_at), t.description, fmt.money(t.amount_cents)]
                    for t in m.pending_transactions]
            layout.addRow(_table("pendingTable", ["Date", "Description", "Amount"], rows, numeric=frozenset({2})))
        return box

    def _activity(self, m: MemberDetail) -> QGroupBox:
        return _form("Activity", [
            ("Last login", _value(fmt.when(m.last_login_at), "lastLogin")),
            ("Member since", _value(fmt.day(m.created_at), "createdAt")),
            ("Last changed", _value(fmt.when(m.updated_at), "updatedAt")),
        ])

    def _users(self, m: MemberDetail) -> QGroupBox:
        box = QGroupBox("Portal users")
        layout = QVBoxLayout(box)
        if not m.detail_cached:
            layout.addWidget(_empty_note("Not known on this computer until the member is opened while online."))
            return box
        if not m.users:
            layout.addWidget(_empty_note("No one can sign in to this account in the portal yet."))
            return box
        rows = [[u.username, u.display_name, u.email, fmt.role(u.role), fmt.user_state(u.state),
                 fmt.when(u.last_login_at)] for u in m.users]
        layout.addWidget(_table("usersTable", ["Username", "Name", "Email", "Role", "State", "Last login"], rows))
        return box
