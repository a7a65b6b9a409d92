"""The Payments tab of a member's details against the real server: record a payment by
hand (validation under the fields first), then a refund above the threshold, which the
person who asked cannot approve, and another staff member's refund, approved from the
console. Set ``DESKTOP_CARE_SHOTS=/some/dir`` to keep its PNGs."""

from __future__ import annotations

from sqlalchemy import select

from desktop_care.models import AccountTransaction, Member, Refund, RefundState, TxnKind, UserRole
from desktop_care.models.refunds import DEFAULT_APPROVAL_THRESHOLD
from desktop_care.server.accounts import create_staff
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.payments import PaymentsTab, RecordPaymentDialog, RefundDialog, parse_amount
from desktop_care.ui.qt import Qt
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, server_session, shot, unique
from tests.ui.test_editing import member, opened, type_into, window  # noqa: F401 (fixtures)


def _loaded(qtbot, tab: PaymentsTab, rows: int) -> None:
    qtbot.waitUntil(lambda: tab.loaded and not tab.loading and tab.table.rowCount() == rows, timeout=10_000)


def test_amounts_are_pounds_and_pence_typed_as_text() -> None:
    assert [parse_amount(t) for t in ("12.50", "£1,250", "7.5", " 3 ")] == [1250, 125_000, 750, 300]
    for text, message in (("", "Enter an amount"), ("12.505", "two decimal places"), ("abc", "pounds and pence"),
                          ("0", "at least 0.01"), ("-5", "at least 0.01"), ("2000000", "at most")):
        try:
            parse_amount(text)
        except ValueError as exc:
            assert message in str(exc), text
        else:
            raise AssertionError(f"{text!r} was taken")


def test_record_a_payment_then_a_refund_that_needs_another_staff_members_approval(
        qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer) -> None:
    details = opened(qtbot, window, member.id)
    details.show_tab("Payments")
    tab = details.payments_tab
    _loaded(qtbot, tab, 3)  # the member's subscription and two pending charges
    assert tab.summary.text() == "Balance £42.00 (owes) · £30.00 pending in 2 transactions"
    assert [r[3:] for r in tab.rows()] == [["Pending", "£15.00", "£42.00"], ["Pending", "£15.00", "£42.00"],
                                           ["Settled", "£42.00", "£42.00"]]
    assert not tab.refund_button.isEnabled() and tab.refund_button.toolTip() == "Select a payment to refund first"

    dialog = tab.open_record_payment()
    assert isinstance(dialog, RecordPaymentDialog)
    qtbot.waitUntil(lambda: dialog.order.isEnabled(), timeout=10_000)
    type_into(qtbot, dialog.amount_edit, "12.505")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.errors() == {
        "amount_cents": "Use at most two decimal places (pence), e.g. 12.50.",
        "reference": "Enter the receipt number, cheque number or bank reference."}
    shot(dialog, "record-payment-errors")
    type_into(qtbot, dialog.amount_edit, "400.00")
    dialog.method.setCurrentIndex(dialog.method.findText("Cheque"))
    type_into(qtbot, dialog.reference, "Cheque 000451")
    shot(dialog, "record-payment")
    with qtbot.waitSignal(dialog.submitted, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    _loaded(qtbot, tab, 4)
    assert tab.rows()[0][1:] == ["Cheque payment · Cheque 000451", "Cheque", "Settled", "-£400.00", "-£358.00"]
    assert tab.summary.text().startswith("Balance -£358.00 (in credit)")

    payment_id = tab.entries[0].id
    tab.select_entry(payment_id)
    assert tab.refund_button.isEnabled()
    refund = tab.open_refund()
    assert isinstance(refund, RefundDialog) and refund.amount_edit.text() == "400.00"
    assert refund.how.text().startswith(f"Over £{DEFAULT_APPROVAL_THRESHOLD // 100}.00: another staff member")
    type_into(qtbot, refund.amount_edit, "400.01")
    type_into(qtbot, refund.reason, "Paid twice")
    qtbot.mouseClick(refund.save_button, Qt.MouseButton.LeftButton)
    assert refund.errors() == {"amount_cents": "At most £400.00 can be refunded."}
    type_into(qtbot, refund.amount_edit, "300.00")
    shot(refund, "refund-dialog")
    with qtbot.waitSignal(refund.submitted, timeout=10_000):
        qtbot.mouseClick(refund.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.approvals.isVisible() and len(tab.awaiting) == 1, timeout=10_000)
    assert tab.approvals.title() == "Refunds awaiting approval (1)"
    assert not tab.approve_button.isEnabled()
    assert tab.approve_button.toolTip() == "You asked for this refund: another staff member must approve or reject it"
    shot(details, "payments-tab-awaiting")
    # Customer Care → Refunds awaiting approval… lists it with the count, and opens the member.
    approvals = window.show_refund_approvals()
    qtbot.waitUntil(lambda: approvals.loaded, timeout=10_000)
    mine = [r for r in approvals.refunds if r.member_id == member.id]
    assert len(mine) == 1 and mine[0].amount_cents == 30_000
    assert approvals.heading.text().startswith("Refunds awaiting approval (")
    shot(approvals, "refund-approvals")
    approvals.close()

    # Another staff member asked for a refund of the rest: this one may approve it.
    with server_session(sqlite_server) as db:
        other = create_staff(db, unique("desk"), "correct horse battery", role=UserRole.SOCIETY_STAFF,
                             display_name="Other Desk", actor="test")
        db.flush()
        txn = db.get(AccountTransaction, payment_id)
        assert txn is not None and txn.method is not None
        db.add(Refund(member_id=member.id, payment_txn_id=payment_id, amount_cents=10_000, currency="GBP",
                      method=txn.method, reason="Show cancelled", state=RefundState.AWAITING_APPROVAL,
                      requested_by_user_id=other.id, requested_by=other.username, decided_by="", decision_reason="",
                      provider="", failure=""))
        db.commit()
        other_name = other.username
    tab.reload()
    qtbot.waitUntil(lambda: len(tab.awaiting) == 2, timeout=10_000)
    tab.select_refund(next(r.id for r in tab.awaiting if r.requested_by == other_name))
    assert tab.approve_button.isEnabled()
    shot(details, "payments-tab-two-awaiting")
    decision = tab.open_decision(True)
    assert decision is not None
    type_into(qtbot, decision.reason, "Checked the booking")
    shot(decision, "decide-refund")
    with qtbot.waitSignal(decision.submitted, timeout=10_000):
        qtbot.mouseClick(decision.save_button, Qt.MouseButton.LeftButton)
    _loaded(qtbot, tab, 5)
    qtbot.waitUntil(lambda: len(tab.awaiting) == 1, timeout=10_000)
    assert tab.rows()[0][3:] == ["Settled", "£100.00", "-£258.00"]
    assert tab.rows()[1][3] == "Part refunded"  # £100 back, £300 awaiting approval (in the tooltip)
    assert "Refunds awaiting approval: £300.00" in tab.table.item(1, 0).toolTip()
    assert tab.summary.text().startswith("Balance -£258.00 (in credit)")
    assert tab.count_label.text() == "5 transactions"
    shot(details, "payments-tab")
    credit = tab.open_credit_note()
    assert credit is not None
    qtbot.waitUntil(lambda: credit.order.isEnabled(), timeout=10_000)  # type: ignore[attr-defined]
    credit.save_button.click()
    assert credit.errors() == {"amount_cents": "Enter an amount, e.g. 12.50.",
                               "reason": "Say why, in at least 3 characters."}
    shot(credit, "credit-note-errors")
    credit.close()
    with server_session(sqlite_server) as db:
        m = db.get(Member, member.id)
        assert m is not None and m.account_balance_cents == 4200 - 40_000 + 10_000
        kinds = list(db.scalars(select(AccountTransaction.kind).where(AccountTransaction.member_id == member.id)))
        assert sorted(kinds) == [TxnKind.CHARGE] * 3 + [TxnKind.PAYMENT, TxnKind.REFUND]
