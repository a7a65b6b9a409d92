"""The Payments tab of a member's details: the account's ledger (charges, payments,
refunds and credit notes, pending, settled or cancelled) newest first with the running
balance the server works out, the refunds awaiting a second staff member's approval,
and the payment manager's actions: **Record payment…**, **Refund…** (from a payment
row), **Credit note…**, **Approve…** / **Reject…** (docs/decisions/0023).

Each action is an online-only command run through ``Workspace.run_now`` (an op, off the
GUI thread); a dialog checks what it can before sending (amounts are typed as
"12.50" and become whole pence, never floats), shows the server's refusal under the
field it concerns, and sends the same op id again when the person retries unchanged,
so a retry after a lost answer never pays or refunds twice.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from ...commands import (
    Command,
    CommandResult,
    DecideRefund,
    IssueCreditNote,
    RecordManualPayment,
    RefundPayment,
    Status,
)
from ...models import PaymentMethod, TxnKind, TxnStatus
from ...models.refunds import MAX_AMOUNT_CENTS, RefundState
from ...schemas import LedgerEntryOut, LedgerPage, MemberDetail, OrderList, OrderOut, RefundList, RefundOut
from .. import format as fmt
from ..errors import describe, sentence
from ..ops import Op
from ..qt import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    is_alive,
)
from ..widgets import make_read_only_table, named
from .activity import PAGE, _PagedTab
from .editing import CommandDialog, Invalid

if TYPE_CHECKING:
    from ..workspace import Workspace

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_METHODS = (PaymentMethod.CASH, PaymentMethod.CHEQUE, PaymentMethod.BANK_TRANSFER)


class LedgerSource(Protocol):
    def member_ledger(self, member_id: int, limit: int = 50, cursor: str | None = None) -> LedgerPage: ...

    def member_refunds(self, member_id: int) -> RefundList: ...

    def member_orders(self, member_id: int) -> OrderList: ...


def parse_amount(text: str) -> int:
    """"12.50", "£1,250", "7.5" → whole pence; ValueError in plain words otherwise."""
    cleaned = text.strip().removeprefix("£").replace(",", "").strip()
    if not cleaned:
        raise ValueError("Enter an amount, e.g. 12.50.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("Enter an amount in pounds and pence, e.g. 12.50.") from None
    if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]  # finite: an int
        raise ValueError("Use at most two decimal places (pence), e.g. 12.50.")
    pence = int(value * 100)
    if pence < 1:
        raise ValueError("Enter an amount of at least 0.01.")
    if pence > MAX_AMOUNT_CENTS:
        raise ValueError(f"Enter at most {fmt.money(MAX_AMOUNT_CENTS)}.")
    return pence


def _amount_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


_SAY_WHY = "Say why, in at least 3 characters."


class MoneyDialog(CommandDialog):
    """A payment manager dialog: runs its command on the server now and shows a
    refusal where it belongs. ``on_applied`` runs once the server has applied it."""

    labels: ClassVar[dict[str, str]] = {}
    #: The server's field names → this dialog's fields.
    server_fields: ClassVar[dict[str, str]] = {}

    def __init__(self, workspace: Workspace, member: MemberDetail, title: str, parent: QWidget | None = None,
                 *, on_applied: Callable[[CommandResult], None] | None = None) -> None:
        super().__init__(member, self._run, title, parent)
        self.workspace = workspace
        self.on_applied = on_applied
        self._last: Command | None = None
        self.answer: CommandResult | None = None

    def amount(self, edit: QLineEdit, field: str = "amount_cents") -> int:
        try:
            return parse_amount(edit.text())
        except ValueError as exc:
            raise Invalid({field: str(exc)}, []) from None

    def build(self) -> Command:
        raise NotImplementedError

    def build_command(self) -> Command:
        command = self.build()
        # Sent before and unchanged (the answer was lost, or the person tries again):
        # the same op id, so the server runs it at most once.
        if self._last is not None and self._last.model_dump(exclude={"op_id"}) == command.model_dump(exclude={"op_id"}):
            return self._last
        self._last = command
        return command

    def _run(self, command: Command, done: Callable[[], None], failed: Callable[[BaseException], None]) -> None:
        reason = self.workspace.refusal(type(command))
        if reason is not None:
            failed(ValueError(reason))
            return

        def answered(result: CommandResult) -> None:
            self.answer = result
            if result.status in (Status.APPLIED, Status.DUPLICATE):
                done()
                if self.on_applied is not None:
                    self.on_applied(result)
                return
            self._set_busy(False)
            self._last = None  # refused: whatever the person changes next is a new request
            where = next((self.server_fields.get(f, f) for f in result.fields
                          if self.server_fields.get(f, f) in self.fields), None)
            text = sentence(result.reason)
            if where is None:
                self.show_form_error(text)
            else:
                self.fields[where].set_error(text)
                self._fit()

        self.workspace.run_now(command, parent=self, on_done=answered, on_failed=failed)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        text = sentence(str(exc)) if isinstance(exc, ValueError) else describe(exc).text
        self.show_form_error(f"Nothing was recorded: {text} Try again when the server can be reached."
                             if not isinstance(exc, ValueError) else text)

    def _form(self) -> QFormLayout:
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        return form

    def _body(self, form: QFormLayout, hint: QLabel) -> None:
        """Lay out ``form`` with a muted, wrapped ``hint`` under it."""
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(form)
        body_layout.addWidget(hint)
        self._layout(body)

    def checked(self, amount_edit: QLineEdit, **texts: tuple[QLineEdit, str]) -> int:
        """The amount in pence, once it and each required text (``name=(edit,
        message)``) are checked; Invalid with every problem at once otherwise. A
        ``reason`` needs 3 characters, any other text one."""
        errors: dict[str, str] = {}
        amount = 0
        try:
            amount = self.amount(amount_edit)
        except Invalid as exc:
            errors.update(exc.fields)
        for name, (edit, message) in texts.items():
            if len(" ".join(edit.text().split())) < (3 if name == "reason" else 1):
                errors[name] = message
        if errors:
            raise Invalid(errors, [])
        return amount


def _order_choices(combo: QComboBox, orders: list[OrderOut], *, unpaid_only: bool) -> None:
    combo.clear()
    combo.addItem("The account (no order)", None)
    for order in orders:
        if not order.is_contact or order.state == "cancelled" or (unpaid_only and order.state != "unpaid"):
            continue
        combo.addItem(f"{order.order_no} · {order.description} · {fmt.money(order.amount_cents, order.currency)}",
                      order)


class _OrdersDialog(MoneyDialog):
    """A dialog with an optional order, its choices loaded from the server on opening."""

    unpaid_only: ClassVar[bool] = False
    order: QComboBox

    def _load_orders(self, source: LedgerSource) -> None:
        self.order.setEnabled(False)
        self.order.addItem("Loading orders…", None)
        member_id = self.member.id
        Op(self, lambda: source.member_orders(member_id)).success(self._orders_arrived) \
            .failure(lambda _exc: self._orders_arrived(None)).run()

    def _orders_arrived(self, orders: OrderList | None) -> None:
        _order_choices(self.order, list(orders.items) if orders else [], unpaid_only=self.unpaid_only)
        self.order.setEnabled(True)
        if orders is None:
            self.order.setToolTip("The orders could not be loaded; record it on the account")

    def order_id(self) -> int | None:
        order = self.order.currentData()
        return order.id if isinstance(order, OrderOut) else None


class RecordPaymentDialog(_OrdersDialog):
    """Record a payment taken by hand: amount, method, reference, and optionally the
    unpaid order it pays (its whole amount)."""

    labels: ClassVar[dict[str, str]] = {"amount_cents": "Amount", "method": "Method", "reference": "Reference",
                                        "order_id": "For"}
    unpaid_only: ClassVar[bool] = True

    def __init__(self, workspace: Workspace, member: MemberDetail, source: LedgerSource,
                 parent: QWidget | None = None, *, on_applied: Callable[[CommandResult], None] | None = None) -> None:
        super().__init__(workspace, member, "Record a payment", parent, on_applied=on_applied)
        self.setObjectName("recordPaymentDialog")
        self.save_button.setText("Record payment")
        self.amount_edit = QLineEdit(placeholderText="e.g. 12.50")
        self.method = QComboBox()
        for method in _METHODS:
            self.method.addItem(method.label, method.value)
        self.reference = QLineEdit(placeholderText="Receipt, cheque or bank reference")
        self.order = QComboBox()
        self.order.currentIndexChanged.connect(self._order_chosen)
        form = self._form()
        form.addRow("Amount (£):", self._field("amount_cents", self.amount_edit))
        form.addRow("Method:", self._field("method", self.method))
        form.addRow("Reference:", self._field("reference", self.reference))
        form.addRow("For:", self._field("order_id", self.order))
        self._body(form, named(QLabel("The payment is settled at once. For an order, it is the order's whole "
                                      "amount."), "paymentHint"))
        self._load_orders(source)

    def _order_chosen(self) -> None:
        order = self.order.currentData()
        if isinstance(order, OrderOut):
            self.amount_edit.setText(_amount_text(order.amount_cents))

    def build(self) -> Command:
        amount = self.checked(self.amount_edit, reference=(
            self.reference, "Enter the receipt number, cheque number or bank reference."))
        return RecordManualPayment(member_id=self.member.id, amount_cents=amount, method=self.method.currentData(),
                                   reference=self.reference.text(), order_id=self.order_id())


class CreditNoteDialog(_OrdersDialog):
    """Issue a credit note: amount, against an order or the account, and why."""

    labels: ClassVar[dict[str, str]] = {"amount_cents": "Amount", "order_id": "Against", "reason": "Reason"}

    def __init__(self, workspace: Workspace, member: MemberDetail, source: LedgerSource,
                 parent: QWidget | None = None, *, on_applied: Callable[[CommandResult], None] | None = None) -> None:
        super().__init__(workspace, member, "Credit note", parent, on_applied=on_applied)
        self.setObjectName("creditNoteDialog")
        self.save_button.setText("Issue credit note")
        self.amount_edit = QLineEdit(placeholderText="e.g. 12.50")
        self.order = QComboBox()
        self.reason = QLineEdit(placeholderText="Why (kept with the credit note)")
        form = self._form()
        form.addRow("Amount (£):", self._field("amount_cents", self.amount_edit))
        form.addRow("Against:", self._field("order_id", self.order))
        form.addRow("Reason:", self._field("reason", self.reason))
        self._body(form, named(QLabel("A credit note reduces what the member owes; no money is paid out."),
                               "creditHint"))
        self._load_orders(source)

    def build(self) -> Command:
        amount = self.checked(self.amount_edit, reason=(self.reason, _SAY_WHY))
        return IssueCreditNote(member_id=self.member.id, amount_cents=amount, reason=self.reason.text(),
                               order_id=self.order_id())


def _method_text(entry: LedgerEntryOut) -> str:
    if entry.method is None:
        return ""
    return entry.method.label + (f" · {entry.method_reference}" if entry.method_reference else "")


class RefundDialog(MoneyDialog):
    """Refund part or all of a settled payment, back by its own method, with a reason;
    says before sending whether it needs a second staff member's approval."""

    labels: ClassVar[dict[str, str]] = {"amount_cents": "Amount", "reason": "Reason"}
    server_fields: ClassVar[dict[str, str]] = {"payment_txn_id": "amount_cents"}

    def __init__(self, workspace: Workspace, member: MemberDetail, payment: LedgerEntryOut, threshold_cents: int,
                 parent: QWidget | None = None, *, on_applied: Callable[[CommandResult], None] | None = None) -> None:
        super().__init__(workspace, member, "Refund", parent, on_applied=on_applied)
        self.setObjectName("refundDialog")
        self.payment, self.threshold = payment, threshold_cents
        self.save_button.setText("Refund")
        what = named(QLabel(f"{fmt.money(-payment.amount_cents)} by {_method_text(payment) or 'an unknown method'}"
                            f", {fmt.when(payment.at)}"), "refundPayment")
        what.setWordWrap(True)
        left = named(QLabel(fmt.money(payment.refundable_cents)), "refundable")
        self.amount_edit = QLineEdit(_amount_text(payment.refundable_cents), placeholderText="e.g. 12.50")
        self.amount_edit.textChanged.connect(self._explain)
        self.reason = QLineEdit(placeholderText="Why (kept with the refund)")
        form = self._form()
        form.addRow("Payment:", what)
        form.addRow("Refundable:", left)
        form.addRow("Amount (£):", self._field("amount_cents", self.amount_edit))
        form.addRow("Reason:", self._field("reason", self.reason))
        self.how = named(QLabel(), "refundHow")
        self.how.setWordWrap(True)
        self.how.setProperty("role", "muted")
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(form)
        body_layout.addWidget(self.how)
        self._layout(body)
        self._explain()

    def _explain(self) -> None:
        card = self.payment.method == PaymentMethod.CARD
        how = ("It goes back to the card through the payment provider." if card else
               f"Pay it out by {self.payment.method.label.lower() if self.payment.method else 'hand'}; "
               "recording it here says you did.")
        try:
            amount = parse_amount(self.amount_edit.text())
        except ValueError:
            amount = 0
        if amount > self.threshold:
            how = (f"Over {fmt.money(self.threshold)}: another staff member must approve it before any money "
                   "moves. " + how)
        self.how.setText(how)

    def build(self) -> Command:
        amount = self.checked(self.amount_edit, reason=(self.reason, _SAY_WHY))
        if amount > self.payment.refundable_cents:
            raise Invalid({"amount_cents": f"At most {fmt.money(self.payment.refundable_cents)} can be refunded."},
                          [])
        return RefundPayment(member_id=self.member.id, payment_txn_id=self.payment.id, amount_cents=amount,
                             reason=self.reason.text())


class DecideRefundDialog(MoneyDialog):
    """Approve or reject a refund awaiting approval, with a reason (not the requester)."""

    labels: ClassVar[dict[str, str]] = {"reason": "Reason"}
    server_fields: ClassVar[dict[str, str]] = {"approve": "reason", "refund_id": "reason"}

    def __init__(self, workspace: Workspace, member: MemberDetail, refund: RefundOut, approve: bool,
                 parent: QWidget | None = None, *, on_applied: Callable[[CommandResult], None] | None = None) -> None:
        title = "Approve refund" if approve else "Reject refund"
        super().__init__(workspace, member, title, parent, on_applied=on_applied)
        self.setObjectName("decideRefundDialog")
        self.refund, self.approve = refund, approve
        self.save_button.setText("Approve" if approve else "Reject")
        form = self._form()
        form.addRow("Refund:", named(QLabel(f"{fmt.money(refund.amount_cents, refund.currency)} by "
                                            f"{refund.method.label.lower()}"), "decideAmount"))
        asked = named(QLabel(f"{refund.requested_by}, {fmt.when(refund.requested_at)}"), "decideAsked")
        form.addRow("Asked by:", asked)
        why = named(QLabel(refund.reason), "decideWhy")
        why.setWordWrap(True)
        form.addRow("Their reason:", why)
        self.reason = QLineEdit(placeholderText="Why you approve it" if approve else "Why you reject it")
        form.addRow("Your reason:", self._field("reason", self.reason))
        body = QWidget()
        body.setLayout(form)
        self._layout(body)

    def build(self) -> Command:
        if len(" ".join(self.reason.text().split())) < 3:
            raise Invalid({"reason": _SAY_WHY}, [])
        return DecideRefund(member_id=self.member.id, refund_id=self.refund.id, approve=self.approve,
                            reason=self.reason.text())


_Row = TypeVar("_Row", LedgerEntryOut, RefundOut)


def _selected_item(table: QTableWidget, items: list[_Row]) -> _Row | None:
    rows = table.selectionModel().selectedRows() if table.selectionModel() else []
    return items[rows[0].row()] if rows and rows[0].row() < len(items) else None


def _select_by_id(table: QTableWidget, items: list[_Row], item_id: int) -> None:
    index = next((i for i, item in enumerate(items) if item.id == item_id), None)
    if index is None:
        raise KeyError(item_id)
    table.selectRow(index)


#: The widest the Method and Status columns grow (their text wraps beyond it).
_NARROW = 150
_STATUS = {TxnStatus.SETTLED: "Settled", TxnStatus.PENDING: "Pending", TxnStatus.CANCELLED: "Cancelled"}


class PaymentsTab(_PagedTab):
    """The account's ledger with the running balance, the refunds awaiting approval,
    and the payment manager's actions (with a workspace)."""

    headers = ("Date", "What", "Method", "Status", "Amount", "Balance")
    numeric = frozenset({4, 5})
    noun = "transaction"
    nouns = "transactions"
    failed_title = "The account could not be loaded."
    empty_title = "No transactions."
    empty_body = "Charges, payments, refunds and credit notes on this account are listed here."

    def __init__(self, source: LedgerSource, member_id: int, parent: QWidget | None = None, *,
                 workspace: Workspace | None = None) -> None:
        super().__init__(source, member_id, "paymentsTab", parent)  # type: ignore[arg-type]  # reads the ledger only
        self.ledger_source = source
        self.workspace = workspace
        self.member: MemberDetail | None = None
        self.entries: list[LedgerEntryOut] = []
        self.awaiting: list[RefundOut] = []
        self.threshold_cents = 0
        self.dialog: MoneyDialog | None = None

        self.summary = named(QLabel("Loading…"), "accountSummary")
        self.threshold_label = named(QLabel(), "thresholdLabel")
        self.threshold_label.setProperty("role", "muted")
        self.threshold_label.setWordWrap(True)
        self.record_button = named(QPushButton("Record payment…"), "recordPaymentButton")
        self.refund_button = named(QPushButton("Refund…"), "refundButton")
        self.credit_button = named(QPushButton("Credit note…"), "creditNoteButton")
        self.record_button.clicked.connect(self.open_record_payment)
        self.refund_button.clicked.connect(self.open_refund)
        self.credit_button.clicked.connect(self.open_credit_note)
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.threshold_label, 1)
        for button in self.action_buttons:
            if workspace is None:  # not setVisible(True): a parentless button would show as a window
                button.hide()
            top.addWidget(button)

        self.approvals = named(QGroupBox("Refunds awaiting approval"), "approvalsBox")
        self.approvals_table = named(QTableWidget(0, 4), "approvalsTable")
        self.approvals_table.setHorizontalHeaderLabels(["Asked", "Amount", "By", "Reason"])
        make_read_only_table(self.approvals_table)
        header = self.approvals_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.approvals_table.itemSelectionChanged.connect(self.update_actions)
        self.approve_button = named(QPushButton("Approve…"), "approveRefundButton")
        self.reject_button = named(QPushButton("Reject…"), "rejectRefundButton")
        self.approve_button.clicked.connect(lambda: self.open_decision(True))
        self.reject_button.clicked.connect(lambda: self.open_decision(False))
        approvals_layout = QVBoxLayout(self.approvals)
        approvals_layout.addWidget(self.approvals_table)
        decide = QHBoxLayout()
        self.approvals_hint = named(QLabel("Another staff member than the one who asked approves or rejects it."),
                                    "approvalsHint")
        self.approvals_hint.setProperty("role", "muted")
        decide.addWidget(self.approvals_hint, 1)
        decide.addWidget(self.approve_button)
        decide.addWidget(self.reject_button)
        approvals_layout.addLayout(decide)
        self.approvals.hide()

        self._finish_layout(self.summary, top, self.approvals)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (2, 3):  # sized to their contents on arrival, but never wider than this
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        self.table.itemSelectionChanged.connect(self.update_actions)
        if workspace is not None:
            workspace.status_changed.connect(self._status_changed)
        self.update_actions()

    def _status_changed(self, _status: object) -> None:
        self.update_actions()  # offline: the actions grey out, saying why

    @property
    def action_buttons(self) -> tuple[QPushButton, ...]:
        return (self.record_button, self.refund_button, self.credit_button)

    # ----------------------------------------------------------------- loading

    def fetch_page(self, cursor: str | None) -> Callable[[], LedgerPage]:
        source, member_id = self.ledger_source, self.member_id
        return lambda: source.member_ledger(member_id, limit=PAGE, cursor=cursor)

    def reload(self) -> None:
        self.entries = []
        super().reload()
        if self.member_id > 0:
            source, member_id = self.ledger_source, self.member_id
            Op(self, lambda: source.member_refunds(member_id)).success(self._refunds_arrived) \
                .failure(lambda _exc: None).run()
        self.update_actions()

    def _arrived(self, page: Any, first: bool) -> None:
        if first:
            owed = page.balance_cents
            state = "owes" if owed > 0 else "in credit" if owed < 0 else "settled up"
            text = f"Balance {fmt.money(owed)} ({state})"
            if page.pending_count:
                text += f" · {fmt.money(page.pending_cents)} pending in {fmt.plural(page.pending_count, 'transaction')}"
            self.summary.setText(text)
            self.threshold_cents = page.approval_threshold_cents
            self.threshold_label.setText(f"Refunds over {fmt.money(page.approval_threshold_cents)} need a second "
                                         "staff member's approval.")
        super()._arrived(page, first)
        for column in (2, 3):
            self.table.resizeColumnToContents(column)
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), _NARROW))
        self.table.resizeRowsToContents()
        self.update_actions()

    def _refunds_arrived(self, refunds: RefundList) -> None:
        self.awaiting = [r for r in refunds.items if r.state == RefundState.AWAITING_APPROVAL]
        self.approvals_table.setRowCount(len(self.awaiting))
        for r, refund in enumerate(self.awaiting):
            cells = [fmt.when(refund.requested_at), fmt.money(refund.amount_cents, refund.currency),
                     refund.requested_by, refund.reason]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 1:
                    item.setTextAlignment(_RIGHT)
                self.approvals_table.setItem(r, c, item)
        self.approvals.setTitle(f"Refunds awaiting approval ({len(self.awaiting)})")
        self.approvals.setVisible(bool(self.awaiting))
        if self.awaiting and not self.approvals_table.selectedItems():
            self.approvals_table.selectRow(0)
        self.approvals_table.setFixedHeight(self.approvals_table.horizontalHeader().height() + 4 +
                                            sum(self.approvals_table.rowHeight(i) for i in range(len(self.awaiting))))
        self.update_actions()

    def row(self, item: LedgerEntryOut) -> list[str]:
        self.entries.append(item)
        what = item.kind.label if item.kind == TxnKind.CREDIT_NOTE and not item.description else item.description
        if item.note and item.kind in (TxnKind.CREDIT_NOTE, TxnKind.REFUND):
            what += f" — {item.note}"
        if item.method_reference:
            what += f" · {item.method_reference}"
        status = _STATUS[item.status]
        if item.refunded_cents:
            status = "Refunded" if item.refunded_cents >= -item.amount_cents else "Part refunded"
        elif item.awaiting_approval_cents:
            status = "Refund awaiting approval"
        return [fmt.when(item.at), what, item.method.label if item.method else "", status,
                fmt.money(item.amount_cents, item.currency), fmt.money(item.balance_cents, item.currency)]

    def tooltip(self, item: LedgerEntryOut) -> str:
        lines = [f"{item.kind.label} of {fmt.money(abs(item.amount_cents), item.currency)}"
                 + (f" for order {item.order_no}" if item.order_no else "")]
        if item.recorded_by:
            lines.append(f"Recorded by {item.recorded_by}")
        if item.settled_at and item.status == TxnStatus.SETTLED:
            lines.append(f"Settled {fmt.when(item.settled_at)}")
        if item.kind == TxnKind.PAYMENT and item.status == TxnStatus.SETTLED:
            if item.refunded_cents:
                lines.append(f"Refunded: {fmt.money(item.refunded_cents, item.currency)}")
            if item.awaiting_approval_cents:
                lines.append(f"Refunds awaiting approval: {fmt.money(item.awaiting_approval_cents, item.currency)}")
            lines.append(f"Still refundable: {fmt.money(item.refundable_cents, item.currency)}")
        lines.append(f"Balance after it: {fmt.money(item.balance_cents, item.currency)}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- actions

    def selected(self) -> LedgerEntryOut | None:
        return _selected_item(self.table, self.entries)

    def select_entry(self, entry_id: int) -> None:
        _select_by_id(self.table, self.entries, entry_id)

    def selected_refund(self) -> RefundOut | None:
        return _selected_item(self.approvals_table, self.awaiting)

    def select_refund(self, refund_id: int) -> None:
        _select_by_id(self.approvals_table, self.awaiting, refund_id)

    def refund_refusal(self) -> str | None:
        entry = self.selected()
        if entry is None or entry.kind != TxnKind.PAYMENT:
            return "Select a payment to refund first"
        if entry.status == TxnStatus.PENDING:
            return "This payment has not settled yet"
        if entry.method is None:
            return "It is not known how this payment was made"
        if entry.refundable_cents <= 0:
            return "This payment has been refunded in full (or refunds of all of it are waiting)"
        return None

    def update_actions(self) -> None:
        ready = self.workspace is not None and self.member is not None and self.loaded
        for button, kind in ((self.record_button, RecordManualPayment), (self.credit_button, IssueCreditNote),
                             (self.refund_button, RefundPayment)):
            reason = self.workspace.refusal(kind) if self.workspace is not None else "read only"
            if reason is None and not ready:
                reason = "Wait until the account has loaded"
            if reason is None and button is self.refund_button:
                reason = self.refund_refusal()
            button.setEnabled(reason is None)
            button.setToolTip(reason or "")
        refund = self.selected_refund()
        reason = self.workspace.refusal(DecideRefund) if self.workspace is not None else "read only"
        if reason is None and (refund is None or self.member is None):
            reason = "Select a refund first"
        staff = self.workspace.session.staff if self.workspace is not None else None
        if reason is None and refund is not None and staff is not None and refund.requested_by_user_id == staff.id:
            reason = "You asked for this refund: another staff member must approve or reject it"
        for button in (self.approve_button, self.reject_button):
            button.setEnabled(reason is None)
            button.setToolTip(reason or "")

    def _show(self, dialog: MoneyDialog) -> MoneyDialog:
        if self.dialog is not None and is_alive(self.dialog) and self.dialog.isVisible():
            self.dialog.close()
        self.dialog = dialog
        dialog.show()
        return dialog

    def _applied(self, _result: CommandResult) -> None:
        self.reload()

    def open_record_payment(self) -> MoneyDialog | None:
        if self.workspace is None or self.member is None or not self.record_button.isEnabled():
            return None
        return self._show(RecordPaymentDialog(self.workspace, self.member, self.ledger_source, self,
                                              on_applied=self._applied))

    def open_credit_note(self) -> MoneyDialog | None:
        if self.workspace is None or self.member is None or not self.credit_button.isEnabled():
            return None
        return self._show(CreditNoteDialog(self.workspace, self.member, self.ledger_source, self,
                                           on_applied=self._applied))

    def open_refund(self) -> MoneyDialog | None:
        entry = self.selected()
        if self.workspace is None or self.member is None or entry is None or not self.refund_button.isEnabled():
            return None
        return self._show(RefundDialog(self.workspace, self.member, entry, self.threshold_cents, self,
                                       on_applied=self._applied))

    def open_decision(self, approve: bool) -> MoneyDialog | None:
        refund = self.selected_refund()
        button = self.approve_button if approve else self.reject_button
        if self.workspace is None or self.member is None or refund is None or not button.isEnabled():
            return None
        return self._show(DecideRefundDialog(self.workspace, self.member, refund, approve, self,
                                             on_applied=self._applied))


class ApprovalsSource(Protocol):
    def refunds_awaiting_approval(self) -> RefundList: ...


class RefundApprovalsDialog(QDialog):
    """Customer Care → Refunds awaiting approval…: every refund waiting for a second
    staff member, oldest first, with their count; **Open member** (or a double-click)
    opens the member's Payments tab, where it is approved or rejected."""

    headers = ("Member", "Asked", "Amount", "By", "Reason")

    def __init__(self, source: ApprovalsSource, open_member: Callable[[int], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("refundApprovals")
        self.setWindowTitle("Refunds awaiting approval")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 380)
        self.source, self._open_member = source, open_member
        self.refunds: list[RefundOut] = []
        self.loaded = False
        self.heading = named(QLabel("Loading…"), "approvalsHeading")
        hint = named(QLabel("Another staff member than the one who asked approves or rejects each refund, "
                            "from the member's Payments tab. No money moves until then."), "approvalsListHint")
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        self.table = named(QTableWidget(0, len(self.headers)), "approvalsListTable")
        self.table.setHorizontalHeaderLabels(list(self.headers))
        make_read_only_table(self.table)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.state = named(QLabel(), "approvalsState")
        self.state.setProperty("role", "muted")
        self.state.hide()
        self.open_button = named(QPushButton("Open member"), "openRefundMemberButton")
        self.open_button.clicked.connect(self.open_selected)
        self.refresh_button = named(QPushButton("Refresh"), "refreshApprovalsButton")
        self.refresh_button.clicked.connect(self.reload)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch()
        buttons.addWidget(self.open_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(hint)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.reload()

    def reload(self) -> None:
        self.heading.setText("Loading…")
        self.open_button.setEnabled(False)
        source = self.source
        Op(self, source.refunds_awaiting_approval).success(self._arrived).failure(self._failed).run()

    def _arrived(self, refunds: RefundList) -> None:
        self.loaded = True
        self.refunds = list(refunds.items)
        self.heading.setText(f"Refunds awaiting approval ({refunds.total})")
        self.state.setText("None: every refund asked for has been decided." if not self.refunds else "")
        self.state.setVisible(not self.refunds)
        self.table.setRowCount(len(self.refunds))
        for r, refund in enumerate(self.refunds):
            cells = [f"{refund.member_name} ({refund.member_no})", fmt.when(refund.requested_at),
                     fmt.money(refund.amount_cents, refund.currency), refund.requested_by, refund.reason]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setTextAlignment(_RIGHT)
                self.table.setItem(r, c, item)
        if self.refunds:
            self.table.selectRow(0)
        self.open_button.setEnabled(bool(self.refunds))

    def _failed(self, exc: BaseException) -> None:
        self.loaded = True
        self.heading.setText("The refunds awaiting approval could not be loaded.")
        self.state.setText(describe(exc).text)
        self.state.show()

    def open_selected(self) -> None:
        refund = _selected_item(self.table, self.refunds)
        if refund is not None:
            self._open_member(refund.member_id)
