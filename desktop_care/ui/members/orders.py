"""The Orders tab of a member's details: every order the member is the order contact
for or a registrant on (from the server), and **Mark exported** / **Mark not exported**
for the selected order (an online-only command; an exported order can no longer be paid
in the portal), and the red **FRAUD-STOP** for the selected order: block the card it was
paid with and the address the member signed in from (two clicks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ...commands import AddBlock, CommandResult, MarkOrderExported, Status
from ...schemas import OrderList, OrderOut
from .. import format as fmt
from .. import message
from ..fraud.dialogs import FraudStopDialog
from ..qt import QDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton, QWidget
from ..widgets import named
from .activity import _PagedTab

if TYPE_CHECKING:
    from ..workspace import Workspace

_STATES = {"unpaid": "Unpaid", "payment_pending": "Payment pending", "paid": "Paid", "cancelled": "Cancelled"}


class OrdersSource(Protocol):
    def member_orders(self, member_id: int) -> OrderList: ...


class OrdersTab(_PagedTab):
    headers = ("Order", "Date", "For", "Order contact", "Amount", "Status", "Exported")
    numeric = frozenset({4})
    noun = "order"
    nouns = "orders"
    failed_title = "The orders could not be loaded."
    empty_title = "No orders."
    empty_body = "Orders this member places, or is a registrant on, are listed here."

    def __init__(self, source: OrdersSource, member_id: int, parent: QWidget | None = None, *,
                 workspace: Workspace | None = None) -> None:
        super().__init__(source, member_id, "ordersTab", parent)  # type: ignore[arg-type]  # reads member_orders only
        self.orders_source = source
        self.workspace = workspace
        self.orders: list[OrderOut] = []
        self.export_button = named(QPushButton("Mark exported"), "markExportedButton")
        self.export_button.setEnabled(False)
        if workspace is None:  # not setVisible(True): a parentless button would show as a window
            self.export_button.hide()
        self.export_button.clicked.connect(self.toggle_exported)
        self.member_name = ""
        self.fraud_stop_button = named(QPushButton("FRAUD-STOP"), "orderFraudStopButton")
        self.fraud_stop_button.setProperty("role", "danger")
        self.fraud_stop_button.setEnabled(False)
        if workspace is None:  # not setVisible(True): a parentless button would show as a window
            self.fraud_stop_button.hide()
        self.fraud_stop_button.clicked.connect(self.open_fraud_stop)
        self.fraud_stop_dialog: QDialog | None = None
        self.hint = named(QLabel("An exported order can no longer be paid in the portal."), "ordersHint")
        self.hint.setProperty("role", "muted")
        actions = QHBoxLayout()
        actions.addWidget(self.hint, 1)
        actions.addWidget(self.export_button)
        actions.addWidget(self.fraud_stop_button)
        self._finish_layout(actions)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def fetch_page(self, cursor: str | None) -> Callable[[], OrderList]:
        source, member_id = self.orders_source, self.member_id
        return lambda: source.member_orders(member_id)

    def reload(self) -> None:
        self.orders = []
        super().reload()
        self._selection_changed()

    def row(self, item: OrderOut) -> list[str]:
        self.orders.append(item)
        contact = "This member" if item.is_contact else item.contact_name
        exported = "Yes" if item.exported else "No"
        return [item.order_no, fmt.when(item.created_at), item.description, contact,
                fmt.money(item.amount_cents, item.currency), _STATES.get(item.state, item.state), exported]

    def tooltip(self, item: OrderOut) -> str:
        lines = [f"Order {item.order_no}" + (f" · invoice {item.invoice_no}" if item.invoice_no else "")]
        lines += [f"{line.quantity} × {line.description}: {fmt.money(line.amount_cents, item.currency)}"
                  for line in item.lines]
        if item.exported:
            when = fmt.when(item.exported_at) if item.exported_at else "earlier"
            lines.append(f"Exported to the accounting system {when} by {item.exported_by or 'someone'}")
        return "\n".join(lines)

    def selected(self) -> OrderOut | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.orders):
            return None
        return self.orders[rows[0].row()]

    def select(self, order_no: str) -> None:
        for index, order in enumerate(self.orders):
            if order.order_no == order_no:
                self.table.selectRow(index)
                return
        raise KeyError(order_no)

    def _selection_changed(self) -> None:
        order = self.selected()
        self.export_button.setText("Mark not exported" if order is not None and order.exported else "Mark exported")
        reason = self.workspace.refusal(MarkOrderExported) if self.workspace is not None else "read only"
        if reason is None and order is None:
            reason = "Select an order first"
        if reason is None and order is not None and not order.is_contact:
            reason = f"Only the order contact's account ({order.contact_name}) can mark this order"
        self.export_button.setEnabled(reason is None)
        self.export_button.setToolTip(reason or "Exported orders can no longer be paid in the portal")
        stop = self.workspace.refusal(AddBlock) if self.workspace is not None else "read only"
        if stop is None and order is None:
            stop = "Select an order first"
        self.fraud_stop_button.setEnabled(stop is None)
        self.fraud_stop_button.setToolTip(stop or "Block the card this order was paid with and the member's "
                                          "last sign-in address")

    def open_fraud_stop(self) -> QDialog | None:
        """FRAUD-STOP on the selected order: the confirm dialog, prefilled."""
        order = self.selected()
        if order is None or self.workspace is None:
            return None
        dialog = FraudStopDialog(self.workspace.client, self.member_id, self.member_name or "this member", self,
                                 order_id=order.id, order_no=order.order_no)
        dialog.setModal(True)
        self.fraud_stop_dialog = dialog
        dialog.show()
        return dialog

    def toggle_exported(self) -> None:
        order = self.selected()
        if order is None or self.workspace is None:
            return
        command = MarkOrderExported(member_id=self.member_id, order_id=order.id, exported=not order.exported)
        self.export_button.setEnabled(False)
        self.workspace.run_now(command, parent=self, on_done=self._done, on_failed=self._failed_run)

    def _done(self, result: CommandResult) -> None:
        if result.status not in (Status.APPLIED, Status.DUPLICATE):
            message.error(f"The order was not changed: {result.reason}", parent=self)
        self.reload()

    def _failed_run(self, exc: BaseException) -> None:
        message.problem(exc, parent=self)
        self._selection_changed()
