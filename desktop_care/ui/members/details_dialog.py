"""One member's details, read-only: identity, contact, addresses, balances, users.

The dialog opens at once with a loading state and fills itself when the member arrives
from the server (an op); it is non-modal, so several members can be open side by side.
"""

from __future__ import annotations

from ...schemas import MemberDetail
from ...sync.api_client import ApiClient, NotFound
from .. import format as fmt
from .. import message
from ..errors import Action, describe
from ..ops import Op
from ..widgets import StatePanel, make_read_only_table, named
from ..qt import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStackedWidget,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

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
    """Loads member ``member_id`` and shows it; ``member`` is set once it is loaded."""

    def __init__(self, client: ApiClient, member_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memberDetails")
        self.setWindowTitle("Member details")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(False)
        self.resize(860, 680)
        self.client = client
        self.member_id = member_id
        self.member: MemberDetail | None = None
        self._loading = False

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
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addWidget(buttons)
        self.load()

    @property
    def loading(self) -> bool:
        return self._loading

    def load(self) -> None:
        self._loading = True
        self._show_status("Loading member…", "", retry=False)
        client, member_id = self.client, self.member_id
        Op(self, lambda: client.member(member_id)).success(self._loaded).failure(self._failed).run()

    def _show_status(self, title: str, body: str, *, retry: bool) -> None:
        self.status_page.show_state(title, body, retry=retry)
        self.stack.setCurrentIndex(0)

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
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
        self.member = member
        self.setWindowTitle(f"Member {member.member_no} — {member.name}")
        page = named(QWidget(), "detailsPage")
        grid = QGridLayout(page)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        heading = named(QLabel(f"{member.name}  ·  {member.member_no}"), "detailsHeading")
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(heading, 0, 0, 1, 2)

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

    # ----------------------------------------------------------------- sections

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
        if not m.users:
            layout.addWidget(_empty_note("No one can sign in to this account in the portal yet."))
            return box
        rows = [[u.username, u.display_name, u.email, fmt.role(u.role), fmt.user_state(u.state),
                 fmt.when(u.last_login_at)] for u in m.users]
        layout.addWidget(_table("usersTable", ["Username", "Name", "Email", "Role", "State", "Last login"], rows))
        return box
