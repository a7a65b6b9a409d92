"""One member's details: identity, contact, addresses, balances, users — and the
buttons that change them (Edit info, Email prefs, Adjust points).

The page opens at once with a loading state and fills itself when the member arrives
(an op: from the server, or from the local store when offline); the main window hosts
it in a tab of its own (decision 0030), so several members can be open side by side. Changes queued on this workstation show at
once, with a pending mark, until the server has taken them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...commands import (
    ActOnBehalf,
    AddBlock,
    AdjustPoints,
    BaseCommand,
    BlockForPayment,
    CancelInvitation,
    Command,
    CommandResult,
    InviteUser,
    ResendInvitation,
    ResetPassword,
    SetEmailPreference,
    UpdateContact,
)
from ...models import OPTIONAL_CATEGORIES, AddressKind, MemberStatus, UserState
from ...schemas import MemberDetail, PortalUserOut
from ...sync.api_client import NotFound
from .. import format as fmt
from .. import message
from ..errors import Action, describe
from ..fraud.dialogs import FraudStopDialog
from ..ops import Op
from ..portal.on_behalf import ActOnBehalfDialog, act_on_behalf_refusal
from ..qt import (
    QAbstractItemView,
    QAction,
    QDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QKeySequence,
    QLabel,
    QPoint,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
    is_alive,
)
from ..tickets.member_tab import MemberTicketsTab
from ..users.actions import UserActionBar, UserActions, state_tooltip
from ..widgets import StatePanel, make_read_only_table, named
from ..wizards import WizardHost, open_wizard, wizard_refusal
from .accounts import InviteDialog, UserActionDialog, reset_question
from .activity import PointsTab
from .animals import AnimalsTab
from .courses import CoursesTab
from .editing import (
    AdjustPointsDialog,
    BlockForPaymentDialog,
    CommandDialog,
    EditContactDialog,
    EmailPrefsDialog,
    OpensCommandDialog,
    address_values,
    block_summary,
)
from .orders import OrdersTab
from .payments import PaymentsTab
from .timeline import TimelineTab, select_when_loaded

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


def email_choices(m: MemberDetail) -> str:
    """"Newsletters, Event reminders", or "None (service messages only)"."""
    chosen = [c.label for c in OPTIONAL_CATEGORIES if getattr(m, c.column)]
    return ", ".join(chosen) if chosen else "None (service messages only)"


def _user_state(user: PortalUserOut) -> str:
    text = fmt.user_state(user.state)
    if user.state == UserState.INVITED and user.invitation_expires_at is not None:
        text += f" · until {fmt.day(user.invitation_expires_at)}"
    return text


#: Why online-only actions wait for a member registered on this computer.
NOT_ON_SERVER_YET = "This member is not on the server yet: wait until this computer has synced"
PENDING_MEMBER_NOTE = ("Registered on this computer and waiting to sync: the server gives this member their "
                       "member number and logon ID when it takes the registration. Changes made meanwhile "
                       "follow the member.")


def _empty_note(text: str) -> QLabel:
    return named(QLabel(text), "emptyNote")


class MemberDetailsView(QWidget):
    """Loads member ``member_id`` and shows it; ``member`` is set once it is loaded.

    ``source`` is where it reads from (a workspace, or a bare ApiClient: read-only);
    with a ``workspace`` the editing buttons show and changes go through it. A page for
    a tab of the main window (a window of its own when shown without a parent)."""

    #: The member was loaded (or loaded again) and is shown: a :class:`MemberDetail`.
    loaded = Signal(object)
    #: The tab's title or tooltip changed (loaded, failed, changes waiting).
    tab_changed = Signal()

    def __init__(self, source: MemberSource, member_id: int, parent: QWidget | None = None, *,
                 workspace: Workspace | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memberDetails")
        self.setWindowTitle("Member details")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(860, 680)
        self.source = source
        self.workspace = workspace
        self.member_id = member_id
        self.member: MemberDetail | None = None
        #: The last load found no such member.
        self.not_found = False
        self._loading = False
        self._reload_again = False
        self.edit_dialog: CommandDialog | None = None
        self.pending_label: QLabel | None = None
        #: Revoke / Disable / Enable / Unlock for the portal users (with a workspace).
        self.user_actions = UserActions(workspace, self) if workspace is not None else None
        self.user_action_bar: UserActionBar | None = None
        if self.user_actions is not None:
            self.user_actions.changed.connect(lambda _user_id: self.refresh())
        self.block_banner: QLabel | None = None

        self.status_page = StatePanel(self)
        self.status_page.retry_button.clicked.connect(self.load)

        self.scroll_area = named(QScrollArea(), "detailsScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.points_tab = PointsTab(source, member_id)  # type: ignore[arg-type]  # both sources have it
        self.history_tab = TimelineTab(source, member_id, workspace=workspace,  # type: ignore[arg-type]
                                       open_order=lambda no: select_when_loaded(self.orders_tab, no))
        self.orders_tab = OrdersTab(source, member_id, workspace=workspace)  # type: ignore[arg-type]
        self.animals_tab = AnimalsTab(source, member_id)  # type: ignore[arg-type]  # the workspace has it
        self.tabs = named(QTabWidget(), "detailsTabs")
        self.tabs.addTab(self.scroll_area, "Details")
        self.tabs.addTab(self.points_tab, "Points")
        self.tabs.addTab(self.history_tab, "Timeline")
        self.tabs.addTab(self.orders_tab, "Orders")
        self.payments_tab = PaymentsTab(source, member_id, workspace=workspace)  # type: ignore[arg-type]
        self.tabs.addTab(self.payments_tab, "Payments")
        self.tickets_tab = MemberTicketsTab(workspace, member_id) if workspace is not None else None
        if self.tickets_tab is not None:
            self.tabs.addTab(self.tickets_tab, "Tickets")
        self.courses_tab = CoursesTab(source, member_id, workspace=workspace)  # type: ignore[arg-type]
        self.tabs.addTab(self.courses_tab, "Courses")
        self.tabs.addTab(self.animals_tab, "Animals")
        self.tabs.currentChanged.connect(self._tab_shown)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.status_page)
        # The heading, pending mark and block banner stay above the tabs, whichever shows.
        self.header = named(QWidget(), "detailsHeader")
        self.header_layout = QVBoxLayout(self.header)
        self.header_layout.setContentsMargins(4, 0, 4, 4)
        loaded_page = QWidget()
        loaded_layout = QVBoxLayout(loaded_page)
        loaded_layout.setContentsMargins(0, 0, 0, 0)
        loaded_layout.addWidget(self.header)
        loaded_layout.addWidget(self.tabs, 1)
        self.stack.addWidget(loaded_page)

        self.edit_info_button = named(QPushButton("Edit info…"), "editInfoButton")
        self.email_prefs_button = named(QPushButton("Email prefs…"), "emailPrefsButton")
        self.adjust_points_button = named(QPushButton("Adjust points…"), "adjustPointsButton")
        self.wizard_buttons = {
            "status": named(QPushButton("Change &status…"), "changeStatusButton"),
            "merge": named(QPushButton("&Merge…"), "mergeButton"),
            "undo": named(QPushButton("&Undo merge…"), "undoMergeButton"),
        }
        self.on_behalf_button = named(QPushButton("Act on &behalf…"), "actOnBehalfButton")
        self.on_behalf_button.clicked.connect(self.open_act_on_behalf)
        self.on_behalf_dialog: QDialog | None = None
        self.fraud_stop_button = named(QPushButton("FRAUD-STOP"), "fraudStopButton")
        self.fraud_stop_button.setProperty("role", "danger")
        self.fraud_stop_button.clicked.connect(self.open_fraud_stop)
        self.fraud_stop_dialog: QDialog | None = None
        self.wizard: WizardHost | None = None
        for which, button in self.wizard_buttons.items():
            button.clicked.connect(lambda _=False, w=which: self.open_wizard(w))
        self.block_button = named(QPushButton("Block for payment…"), "blockButton")
        self.edit_info_button.clicked.connect(lambda: self.open_editor(EditContactDialog))
        self.email_prefs_button.clicked.connect(lambda: self.open_editor(EmailPrefsDialog))
        self.adjust_points_button.clicked.connect(lambda: self.open_editor(AdjustPointsDialog))
        self.block_button.clicked.connect(lambda: self.open_editor(BlockForPaymentDialog))
        # Actions, not button shortcuts: a button's setText (Block / Lift block) drops its shortcut.
        for button, keys in ((self.edit_info_button, "Ctrl+E"), (self.adjust_points_button, "Ctrl+P"),
                             (self.block_button, "Ctrl+B")):
            press = QAction(button.text(), self)  # named, for the shortcuts list (?)
            press.setShortcut(QKeySequence(keys))
            press.triggered.connect(lambda _=False, b=button: b.click() if b.isVisible() and b.isEnabled() else None)
            self.addAction(press)
            button.setToolTip(f"{button.text().rstrip('…')} ({keys})")
        for number in range(9):  # Alt+1 … Alt+9, whatever tabs this member has
            switch = QAction(f"Show tab {number + 1}", self)
            switch.setShortcut(QKeySequence(f"Alt+{number + 1}"))
            switch.triggered.connect(lambda _=False, n=number: self.tabs.setCurrentIndex(n))
            self.addAction(switch)
        self.users_table: QTableWidget | None = None
        self.action_dialog: QDialog | None = None
        self._make_account_buttons()
        if workspace is not None:
            workspace.status_changed.connect(self._status_changed)
        edits, bottom = QHBoxLayout(), QHBoxLayout()
        bottom_buttons = (*self.wizard_buttons.values(), self.on_behalf_button, self.fraud_stop_button)
        for row, row_buttons in ((edits, self.edit_buttons), (bottom, bottom_buttons)):
            for button in row_buttons:
                row.addWidget(button)
                if workspace is None:  # not setVisible(True): a parentless button would show as a window
                    button.hide()
                button.setEnabled(False)
            row.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addLayout(edits)
        layout.addLayout(bottom)
        self.load()

    @property
    def edit_buttons(self) -> tuple[QPushButton, ...]:
        return (self.edit_info_button, self.email_prefs_button, self.adjust_points_button, self.block_button)

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
        self._activity_changed()
        if self._loading:
            self._reload_again = True
            return
        self._loading = True
        self._fetch()

    def _enable_actions(self) -> None:
        """Each button as its command's declaration allows (role, online-only), with the
        reason in the tooltip when it does not."""
        kinds: tuple[type[Command], ...] = (UpdateContact, SetEmailPreference, AdjustPoints, BlockForPayment)
        for button, kind in zip(self.edit_buttons, kinds, strict=True):
            reason = self.workspace.refusal(kind) if self.workspace is not None else None
            button.setEnabled(reason is None)
            if reason is not None:
                button.setToolTip(reason)

    def _tab_shown(self, index: int) -> None:
        tab = self.tabs.widget(index)
        if isinstance(tab, (PointsTab, TimelineTab, OrdersTab, PaymentsTab, CoursesTab, AnimalsTab, MemberTicketsTab)):
            tab.ensure_loaded()

    def show_tab(self, name: str) -> None:
        """Switch to "Details", "Points" or "History" (loading it if need be)."""
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index) == name:
                self.tabs.setCurrentIndex(index)
                return
        raise KeyError(name)

    def _activity_changed(self) -> None:
        """After a change: what the open Points/History tab shows is stale; the others
        reload the next time they are shown."""
        for tab in (self.points_tab, self.history_tab, self.orders_tab, self.payments_tab, self.courses_tab,
                    self.animals_tab):
            if tab.loaded:
                if self.tabs.currentWidget() is tab:
                    tab.reload()
                else:
                    tab.loaded = False

    def rekey(self, member_id: int) -> None:
        """The member registered here (a provisional id) is now on the server as
        ``member_id``: follow it, and read it again."""
        self.member_id = member_id
        for tab in (self.points_tab, self.history_tab, self.courses_tab):
            tab.member_id = member_id
            tab.loaded = False
        self.refresh()

    def _fetch(self) -> None:
        source, member_id = self.source, self.member_id

        def current(then: Callable[[Any], None]) -> Callable[[Any], None]:
            def answer(value: Any) -> None:
                if member_id != self.member_id:  # re-keyed meanwhile: read it under its new id
                    self._loading = False
                    self.refresh()
                else:
                    then(value)
            return answer

        Op(self, lambda: source.member(member_id)).success(current(self._loaded)) \
            .failure(current(self._failed)).run()

    def open_editor(self, kind: OpensCommandDialog) -> CommandDialog | None:
        """Open Edit info / Email prefs / Adjust points for the member as shown."""
        workspace, member = self.workspace, self.member
        if workspace is None or member is None:
            return None
        open_now = self.edit_dialog
        if open_now is not None and is_alive(open_now) and open_now.isVisible():
            if type(open_now) is kind:  # the same edit again: the one with what was typed
                open_now.raise_()
                open_now.activateWindow()
                return open_now
            open_now.close()

        def send(command: Command, done: object, failed: object) -> None:
            workspace.submit(command, parent=dialog, on_done=done, on_failed=failed)  # type: ignore[arg-type]

        dialog = kind(member, send, self)
        # Not modal: the agent may turn to another member's tab meanwhile; the editor
        # hides with its tab and comes back with it (ui/tabs.py), and closing the tab
        # asks about what it holds.
        dialog.setModal(False)
        dialog.destroyed.connect(self._editor_closed)
        self.edit_dialog = dialog
        dialog.show()
        return dialog

    def _enable_on_behalf(self) -> None:
        workspace, member = self.workspace, self.member
        if workspace is None or member is None:
            return
        reason = act_on_behalf_refusal(ActOnBehalf.refusal(workspace.session.staff.role), workspace.online,
                                       member.status == MemberStatus.MERGED)
        self.on_behalf_button.setEnabled(reason is None)
        self.on_behalf_button.setToolTip(reason or "Open the member portal as this member (a reason is required)")

    def open_act_on_behalf(self) -> ActOnBehalfDialog | None:
        """Act on behalf…: the reason, then the portal as the member in its own window."""
        workspace, member = self.workspace, self.member
        if workspace is None or member is None:
            return None
        dialog = ActOnBehalfDialog(workspace.client, member.id, member.name, self)
        dialog.setModal(True)
        self.on_behalf_dialog = dialog
        dialog.show()
        return dialog

    def _enable_fraud_stop(self) -> None:
        workspace, member = self.workspace, self.member
        if workspace is None or member is None:
            return
        reason = workspace.refusal(AddBlock) or (NOT_ON_SERVER_YET if member.id < 0 else None)
        self.fraud_stop_button.setEnabled(reason is None)
        self.fraud_stop_button.setToolTip(reason or "Block what this member used (its last sign-in address, "
                                          "its cards) so they can no longer open an account or pay")

    def open_fraud_stop(self) -> QDialog | None:
        """FRAUD-STOP: the confirm dialog, prefilled with what the member used."""
        workspace, member = self.workspace, self.member
        if workspace is None or member is None:
            return None
        dialog = FraudStopDialog(workspace.client, member.id, member.name, self)
        dialog.setModal(True)
        dialog.finished_action.connect(lambda _results: self.refresh())
        self.fraud_stop_dialog = dialog
        dialog.show()
        return dialog

    def open_wizard(self, which: str) -> WizardHost | None:
        """Change status… / Merge… / Undo merge… for the member as shown."""
        if self.workspace is None or self.member is None:
            return None
        self.wizard = open_wizard(self.workspace, self.member, which, self)
        return self.wizard

    def _editor_closed(self) -> None:
        self.edit_dialog = None

    def _show_status(self, title: str, body: str, *, retry: bool) -> None:
        self.status_page.show_state(title, body, retry=retry)
        self.stack.setCurrentIndex(0)

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
        self._reload_again = False
        for button in (*self.edit_buttons, *self.wizard_buttons.values(), self.on_behalf_button,
                       self.fraud_stop_button):
            button.setEnabled(False)
        self.not_found = isinstance(exc, NotFound)
        self.tab_changed.emit()
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
        if self.tickets_tab is not None:
            self.tickets_tab.member_name = member.name
        self.orders_tab.member_name = member.name
        self.payments_tab.member = member
        self.payments_tab.update_actions()
        self._enable_actions()
        self.block_button.setText("Lift block…" if member.blocked_for_balance else "Block for payment…")
        if self.workspace is not None:
            for which, button in self.wizard_buttons.items():
                reason = wizard_refusal(self.workspace, member, which)
                if member.id < 0 and which != "status":  # merges need the member on the server
                    reason = NOT_ON_SERVER_YET
                button.setEnabled(reason is None)
                button.setToolTip(reason or "")
            self._enable_on_behalf()
            self._enable_fraud_stop()
        self.setWindowTitle(f"Member {member.member_no} — {member.name}")
        self.not_found = False
        self.tab_changed.emit()
        page = named(QWidget(), "detailsPage")
        grid = QGridLayout(page)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        heading = named(QLabel(f"{member.name}  ·  {member.member_no}"), "detailsHeading")
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        while self.header_layout.count():
            old = self.header_layout.takeAt(0)
            gone = old.widget() if old is not None else None
            if gone is not None:
                gone.deleteLater()
        top = self.header_layout
        top.addWidget(heading)
        self.pending_label = self._pending_mark(member.pending_changes) if member.pending_changes else None
        if self.pending_label is not None:
            top.addWidget(self.pending_label)
        self.block_banner = self._block_banner(member) if member.blocked_for_balance else None
        if self.block_banner is not None:
            top.addWidget(self.block_banner)
        if member.id < 0:
            note = named(QLabel(PENDING_MEMBER_NOTE), "provisionalNote")
            note.setWordWrap(True)
            top.addWidget(note)
        elif not member.detail_cached:
            note = named(QLabel("Only the directory entry is available offline: portal users and pending "
                                "transactions show once this member has been opened while online."),
                         "offlineNote")
            note.setWordWrap(True)
            top.addWidget(note)
        for index in range(top.count()):  # at once, not when the event loop next runs
            item = top.itemAt(index)
            shown = item.widget() if item is not None else None
            if shown is not None:
                shown.show()

        left = QVBoxLayout()
        left.addWidget(self._identity(member))
        left.addWidget(self._contact(member))
        left.addWidget(self._addresses(member))
        left.addStretch()
        right = QVBoxLayout()
        right.addWidget(self._balances(member))
        right.addWidget(self._activity(member))
        right.addStretch()
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        grid.addWidget(self._users(member), 1, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(2, 1)
        self.scroll_area.setWidget(page)
        self.stack.setCurrentIndex(1)
        self._tab_shown(self.tabs.currentIndex())
        self.loaded.emit(member)

    @property
    def tab_title(self) -> str:
        """The tab's title: name and member ID, "⟳" first while changes wait to sync."""
        m = self.member
        if m is None:
            return f"Member {self.member_id} (not found)" if self.not_found else f"Member {self.member_id}…"
        return f"{'⟳ ' if m.pending_changes else ''}{m.name} · {m.member_no}"

    @property
    def tab_tooltip(self) -> str:
        m = self.member
        if m is None:
            return "This member no longer exists." if self.not_found else "Loading the member…"
        lines = [f"{m.name} · member {m.member_no}",
                 f"{fmt.member_status(m.status, long=True)}{' · Blocked for payment' if m.blocked_for_balance else ''}",
                 fmt.or_none(m.email),
                 f"Points {fmt.count(m.points_balance)} · balance {fmt.money(m.account_balance_cents)}"]
        if m.pending_changes:
            lines.append(f"⟳ {fmt.plural(len(m.pending_changes), 'change')} waiting to sync")
        return "\n".join(lines)

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

    def _block_banner(self, m: MemberDetail) -> QLabel:
        banner = named(QLabel(f"{block_summary(m)}. The member can sign in to the portal only to renew "
                              "and pay."), "blockBanner")
        banner.setWordWrap(True)
        banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return banner

    @property
    def block_text(self) -> str:
        """The Block for payment banner's text ("" when not blocked)."""
        banner = self.block_banner
        return banner.text() if banner is not None and is_alive(banner) else ""

    def _identity(self, m: MemberDetail) -> QGroupBox:
        full_name = " ".join(p for p in (m.title, m.first_name, m.last_name) if p)
        status = fmt.member_status(m.status, long=True)
        if m.blocked_for_balance:
            status += " · Blocked for payment"
        return _form("Identity", [
            ("Member ID", _value(m.member_no, "memberNo")),
            ("Logon ID", _value("given by the server when registered" if m.id < 0 else m.logon_id, "logonId")),
            ("Name", _value(full_name, "fullName")),
            ("Status", _value(status, "status")),
        ])

    def _contact(self, m: MemberDetail) -> QGroupBox:
        return _form("Contact", [
            ("Email", _value(fmt.or_none(m.email), "email")),
            ("Phone", _value(fmt.phone(m.phone, address_values(m, AddressKind.HOME)["country"] or None), "phone")),
            ("Email prefs", _value(email_choices(m), "emailOptIn")),
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
        self.users_table = None
        if self.workspace is not None:
            self._make_account_buttons()
            row = QHBoxLayout()
            for button in self.account_buttons:
                row.addWidget(button)
            row.addStretch()
            layout.addLayout(row)
        if not m.detail_cached:
            layout.addWidget(_empty_note("Not known on this computer until the member is opened while online."))
        elif not m.users:
            layout.addWidget(_empty_note("No one can sign in to this account in the portal yet."))
        else:
            rows = [[u.username, u.display_name, u.email, fmt.role(u.role), _user_state(u),
                     fmt.when(u.last_login_at)] for u in m.users]
            table = _table("usersTable", ["Username", "Name", "Email", "Role", "State", "Last login"], rows)
            table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            # Long usernames and addresses share the width (elided, whole in the tooltip)
            # rather than pushing the state off to the right.
            table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            header = table.horizontalHeader()
            header.setStretchLastSection(False)
            for column in (0, 2):
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
            for r in range(table.rowCount()):
                for c in range(table.columnCount()):
                    item = table.item(r, c)
                    if item is not None:
                        item.setToolTip(item.text())
            table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
            table.itemSelectionChanged.connect(self._update_account_buttons)
            for index, user in enumerate(m.users):
                item = table.item(index, 4)
                if item is not None:
                    item.setToolTip(state_tooltip(user))
            self.users_table = table
            layout.addWidget(table)
            self._add_access_actions(layout, table, m.users)
            if len(m.users) == 1:
                table.selectRow(0)
        self._update_account_buttons()
        return box

    # ----------------------------------------------------------------- account actions

    def _make_account_buttons(self) -> None:
        """The buttons under Portal users (made again with each page: they live on it)."""
        self.invite_button = named(QPushButton("Invite…"), "inviteButton")
        self.reset_button = named(QPushButton("Reset password…"), "resetPasswordButton")
        self.resend_button = named(QPushButton("Re-send invitation…"), "resendInvitationButton")
        self.cancel_invite_button = named(QPushButton("Cancel invitation…"), "cancelInvitationButton")
        self.invite_button.clicked.connect(self.open_invite)
        self.reset_button.clicked.connect(lambda: self.open_user_action(ResetPassword))
        self.resend_button.clicked.connect(lambda: self.open_user_action(ResendInvitation))
        self.cancel_invite_button.clicked.connect(lambda: self.open_user_action(CancelInvitation))
        for button in self.account_buttons:
            button.setEnabled(False)

    @property
    def account_buttons(self) -> tuple[QPushButton, ...]:
        return (self.invite_button, self.reset_button, self.resend_button, self.cancel_invite_button)

    def selected_user(self) -> PortalUserOut | None:
        member, table = self.member, self.users_table
        if member is None or table is None or not is_alive(table):
            return None
        rows = table.selectionModel().selectedRows()
        return member.users[rows[0].row()] if rows else None

    def _status_changed(self, status: object) -> None:
        self._update_account_buttons()
        self._enable_on_behalf()
        self._enable_fraud_stop()

    def _update_account_buttons(self) -> None:
        """Enable each action for the selected user when it applies; the tooltip says
        why not (offline, the role, the user's state)."""
        workspace, member = self.workspace, self.member
        if workspace is None or not is_alive(self.invite_button):
            return
        user = self.selected_user()
        select_first = "Select a portal user in the list first"
        wants: dict[QPushButton, tuple[type[BaseCommand], str | None]] = {
            self.invite_button: (InviteUser, NOT_ON_SERVER_YET if member is not None and member.id < 0 else
                                 None if member is not None and member.detail_cached
                                 else "Open this member while online first"),
            self.reset_button: (ResetPassword, select_first if user is None else
                                None if user.state == UserState.ACTIVE else
                                f"{user.username} is {user.state.label.lower()}: only an active user's "
                                "password can be reset"),
            self.resend_button: (ResendInvitation, select_first if user is None else
                                 None if user.state == UserState.INVITED else f"{user.username} has no pending invitation"),
            self.cancel_invite_button: (CancelInvitation, select_first if user is None else
                                        None if user.state == UserState.INVITED else
                                        f"{user.username} has no pending invitation"),
        }
        for button, (kind, why_not) in wants.items():
            reason = workspace.refusal(kind) or why_not
            button.setEnabled(reason is None)
            button.setToolTip(reason or kind.label)

    def _run_now(self, command: BaseCommand, done: Callable[[CommandResult], None],
                 failed: Callable[[BaseException], None]) -> None:
        assert self.workspace is not None
        self.workspace.run_now(command, parent=self, on_done=done, on_failed=failed)

    def _show_action(self, dialog: QDialog) -> QDialog:
        if self.action_dialog is not None and is_alive(self.action_dialog):
            self.action_dialog.close()
        dialog.setModal(True)
        self.action_dialog = dialog
        dialog.show()
        return dialog

    def open_invite(self) -> InviteDialog | None:
        if self.member is None or not self.invite_button.isEnabled():
            return None
        dialog = InviteDialog(self.member, self._run_now, self)
        self._show_action(dialog)
        return dialog

    def open_user_action(self, kind: type[BaseCommand]) -> UserActionDialog | None:
        """Reset password… / Re-send invitation / Cancel invitation for the selected user."""
        member, user = self.member, self.selected_user()
        button = {ResetPassword: self.reset_button, ResendInvitation: self.resend_button,
                  CancelInvitation: self.cancel_invite_button}[kind]
        if member is None or user is None or not button.isEnabled():
            return None
        name = user.display_name or user.username
        if kind is ResetPassword:
            dialog = UserActionDialog(
                "Reset password", reset_question(user), ResetPassword(member_id=member.id, user_id=user.id),
                f"A link to choose a new password was sent to {user.email}. It works once, for 1 hour.",
                self._run_now, self, confirm_text="Send reset link")
        elif kind is ResendInvitation:
            dialog = UserActionDialog(
                "Re-send invitation", f"Send {name} a new invitation link at {user.email}? The link sent "
                "before stops working.", ResendInvitation(member_id=member.id, user_id=user.id),
                f"A new invitation was sent to {user.email}.", self._run_now, self, confirm_text="Re-send")
        else:
            dialog = UserActionDialog(
                "Cancel invitation", f"Cancel the invitation of {name} ({user.email})? Its link stops working; "
                "you can invite them again later.", CancelInvitation(member_id=member.id, user_id=user.id),
                f"The invitation of {user.email} was cancelled.", self._run_now, self,
                confirm_text="Cancel invitation")
            dialog.cancel_button.setText("Keep it")
        self._show_action(dialog)
        return dialog

    def _add_access_actions(self, layout: QVBoxLayout, table: QTableWidget, users: list[PortalUserOut]) -> None:
        """Revoke / Disable / Enable / Unlock under the portal users table, for the
        selected user (and the row's context menu)."""
        actions = self.user_actions
        if actions is None:
            return
        bar = UserActionBar(actions, table.parentWidget(), staff_actions=False)
        self.user_action_bar = bar
        table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.currentCellChanged.connect(lambda row, *_: bar.set_user(users[row] if 0 <= row < len(users) else None))
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

        def context_menu(position: QPoint) -> None:
            row = table.rowAt(position.y())
            if 0 <= row < len(users):
                table.selectRow(row)
                actions.menu(users[row], table).popup(table.viewport().mapToGlobal(position))

        table.customContextMenuRequested.connect(context_menu)
        layout.addWidget(bar)


#: Its name when it was a window of its own (kept so code written against it still reads).
MemberDetailsDialog = MemberDetailsView
