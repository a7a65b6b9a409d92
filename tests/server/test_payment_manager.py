"""The payment manager over HTTP against the real server (SQLite and PostgreSQL):
payments by hand, refunds (by hand and through the test provider, its webhook replayed),
the second person's approval above the threshold, credit notes, the ledger with its
running balance, and idempotency under concurrent retries."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop_care.models import (
    AccountTransaction,
    AuditEvent,
    CheckoutState,
    LineIn,
    Member,
    Order,
    OrderState,
    Payment,
    PaymentMethod,
    Refund,
    RefundState,
    TxnKind,
    TxnStatus,
    UserRole,
    place_order,
    post_transaction,
    utcnow,
)
from desktop_care.models.payments import TestCheckout
from desktop_care.models.refunds import DEFAULT_APPROVAL_THRESHOLD
from desktop_care.server.payments.test_provider import WEBHOOK_PATH
from tests.server.conftest import make_member, staff_headers, unique
from tests.server.test_portal_orders import _balanced as _sums
from tests.server.test_portal_orders import _until
from tests.support.servers import LiveServer

Headers = dict[str, str]


def _run(server: LiveServer, headers: Headers, **command: Any) -> requests.Response:
    return requests.post(f"{server.api}/commands", json={"command": command}, headers=headers, timeout=30)


def _ok(server: LiveServer, headers: Headers, **command: Any) -> dict[str, Any]:
    answer = _run(server, headers, **command)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == "applied", result
    return result


def _refused(server: LiveServer, headers: Headers, **command: Any) -> dict[str, Any]:
    answer = _run(server, headers, **command)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == "rejected", result
    return result


def _ledger(server: LiveServer, headers: Headers, member_id: int, **params: Any) -> dict[str, Any]:
    answer = requests.get(f"{server.api}/members/{member_id}/ledger", params=params, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _balanced(db: Session, member_id: int) -> int:
    """The settled balance, once the summary columns are checked against the ledger."""
    return _sums(db, member_id)[0]


def _member(db: Session) -> Member:
    return make_member(db, "Penny", unique("Ledger"))


def _order(db: Session, member: Member, cents: int = 4850) -> Order:
    contact = db.get(Member, member.id)
    assert contact is not None
    order = place_order(db, contact, [LineIn("Herd book entry", cents)])
    db.commit()
    return order


def _card_payment(server: LiveServer, db: Session, member: Member, cents: int) -> AccountTransaction:
    """A settled card payment of an order, as the test provider and its webhooks leave it."""
    order = _order(db, member, cents)
    checkout = f"cs_test_{uuid.uuid4().hex[:16]}"
    now = utcnow()
    db.add(TestCheckout(id=checkout, amount_cents=cents, currency="GBP", description="test", reference=str(order.id),
                        success_url="http://x/", cancel_url="http://x/", webhook_url=server.url + WEBHOOK_PATH,
                        status="complete",
                        payment_status="paid", created_at=now, expires_at=now))
    contact = db.get(Member, member.id)
    assert contact is not None
    txn = post_transaction(db, contact, -cents, f"Card payment for order {order.order_no}", kind=TxnKind.PAYMENT,
                           order_id=order.id, reference=checkout, method=PaymentMethod.CARD)
    db.flush()
    db.add(Payment(order_id=order.id, member_id=member.id, provider="test", checkout_id=checkout,
                   checkout_url="http://x/", amount_cents=cents, currency="GBP", state=CheckoutState.PAID,
                   created_at=now, expires_at=now, txn_id=txn.id))
    db.get(Order, order.id).state = OrderState.PAID  # type: ignore[union-attr]
    db.commit()
    return txn


def _cash(server: LiveServer, headers: Headers, db: Session, member: Member, cents: int) -> AccountTransaction:
    result = _ok(server, headers, kind="record_manual_payment", member_id=member.id, amount_cents=cents,
                 method="cash", reference="Receipt 17")
    db.expire_all()
    txn = db.scalar(select(AccountTransaction).where(AccountTransaction.member_id == member.id,
                                                     AccountTransaction.kind == TxnKind.PAYMENT)
                    .order_by(AccountTransaction.id.desc()).limit(1))
    assert txn is not None and result["status"] == "applied"
    return txn


def _refund_row(db: Session, payment: AccountTransaction) -> Refund:
    db.expire_all()
    refund = db.scalar(select(Refund).where(Refund.payment_txn_id == payment.id).order_by(Refund.id.desc()).limit(1))
    assert refund is not None
    return refund


def test_payments_by_hand_settle_at_once_pay_an_order_and_show_in_the_ledger_with_running_balances(
        server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    member = _member(db)
    order = _order(db, member, 4850)
    _ok(server, staff, kind="record_manual_payment", member_id=member.id, amount_cents=2000, method="cash",
        reference="  Receipt   104 ")
    refusal = _refused(server, staff, kind="record_manual_payment", member_id=member.id, amount_cents=2000,
                       method="cheque", reference="Cheque 000123", order_id=order.id)
    assert refusal["reason"] == (f"a payment for order {order.order_no} is its whole amount, £48.50; "
                                 "record a part payment on the account")
    assert refusal["fields"] == {"amount_cents": "must be £48.50 for this order"}
    _ok(server, staff, kind="record_manual_payment", member_id=member.id, amount_cents=4850, method="cheque",
        reference="Cheque 000123", order_id=order.id)
    db.expire_all()
    assert db.get(Order, order.id).state == OrderState.PAID  # type: ignore[union-attr]
    again = _refused(server, staff, kind="record_manual_payment", member_id=member.id, amount_cents=4850,
                     method="bank_transfer", reference="BACS 9", order_id=order.id)
    assert again["reason"] == f"order {order.order_no} is paid already"
    assert _balanced(db, member.id) == 4850 - 2000 - 4850

    page = _ledger(server, staff, member.id)
    assert page["balance_cents"] == -2000 == page["items"][0]["balance_cents"]
    assert page["approval_threshold_cents"] == DEFAULT_APPROVAL_THRESHOLD and page["total"] == 3
    rows = [(i["kind"], i["amount_cents"], i["balance_cents"], i["method"], i["method_reference"], i["status"])
            for i in page["items"]]
    assert rows == [("payment", -4850, -2000, "cheque", "Cheque 000123", "settled"),
                    ("payment", -2000, 2850, "cash", "Receipt 104", "settled"),
                    ("charge", 4850, 4850, None, "", "settled")]
    assert page["items"][0]["order_no"] == order.order_no and page["items"][0]["refundable_cents"] == 4850
    # One row a page: the running balance goes on across pages.
    first = _ledger(server, staff, member.id, limit=1)
    second = _ledger(server, staff, member.id, limit=1, cursor=first["next_cursor"])
    assert [first["items"][0]["balance_cents"], second["items"][0]["balance_cents"]] == [-2000, 2850]
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "payment.recorded",
                                               AuditEvent.entity_id == str(member.id)).limit(1))
    assert audit is not None and audit.actor_name.startswith("staff.")


def test_bad_amounts_and_methods_are_422_with_the_field(server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    member = _member(db)
    base = {"kind": "record_manual_payment", "member_id": member.id, "method": "cash", "reference": "R1"}
    for change, field in (({"amount_cents": 12.5}, "command.amount_cents"), ({"amount_cents": 0}, "command.amount_cents"),
                          ({"amount_cents": "1250"}, "command.amount_cents"), ({"method": "card"}, "command.method"),
                          ({"reference": "   "}, "command.reference")):
        answer = _run(server, staff, **{**base, "amount_cents": 1250, **change})
        assert answer.status_code == 422 and field in answer.json()["fields"], (change, answer.text)
    answer = _run(server, staff, kind="issue_credit_note", member_id=member.id, amount_cents=100, reason=" x ")
    assert answer.status_code == 422 and "command.reason" in answer.json()["fields"]
    assert requests.get(f"{server.api}/members/999999999/ledger", headers=staff, timeout=10).status_code == 404
    assert requests.get(f"{server.api}/members/999999999/refunds", headers=staff, timeout=10).status_code == 404
    assert requests.get(f"{server.api}/members/{member.id}/ledger", params={"limit": 0}, headers=staff,
                        timeout=10).status_code == 422


def test_refunds_by_hand_at_most_what_is_refundable_and_never_of_a_pending_payment(
        server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    member = _member(db)
    cash = _cash(server, staff, db, member, 5000)
    over = _refused(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id,
                    amount_cents=5001, reason="Overpaid at the desk")
    assert over["reason"] == "at most £50.00 of this payment can still be refunded"
    assert over["fields"] == {"amount_cents": "at most £50.00"}
    _ok(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id, amount_cents=3000,
        reason="Overpaid at the desk")
    refund = _refund_row(db, cash)
    assert refund.state == RefundState.SETTLED and refund.method == PaymentMethod.CASH
    rest = _refused(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id,
                    amount_cents=2001, reason="The rest")
    assert rest["reason"] == "at most £20.00 of this payment can still be refunded"
    _ok(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id, amount_cents=2000,
        reason="The rest")
    done = _refused(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id,
                    amount_cents=1, reason="Once more")
    assert done["reason"].startswith("this payment has been refunded in full")
    assert _balanced(db, member.id) == 0
    page = _ledger(server, staff, member.id)
    assert [(i["kind"], i["amount_cents"], i["balance_cents"], i["method"]) for i in page["items"]] == [
        ("refund", 2000, 0, "cash"), ("refund", 3000, -2000, "cash"), ("payment", -5000, -5000, "cash")]
    assert page["items"][0]["refund_of_id"] == cash.id and page["items"][0]["note"] == "The rest"
    assert page["items"][2]["refundable_cents"] == 0 and page["items"][2]["refunded_cents"] == 5000

    contact = db.get(Member, member.id)
    assert contact is not None
    pending = post_transaction(db, contact, -700, "Card payment settling", TxnStatus.PENDING, kind=TxnKind.PAYMENT,
                               method=PaymentMethod.CARD, reference=f"cs_{uuid.uuid4().hex}")
    db.commit()
    refused = _refused(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=pending.id,
                       amount_cents=700, reason="Changed their mind")
    assert refused["reason"] == "this payment has not settled yet; it can be refunded once the money has arrived"
    other = _member(db)
    stranger = _refused(server, staff, kind="refund_payment", member_id=other.id, payment_txn_id=cash.id,
                        amount_cents=1, reason="Wrong account")
    assert stranger["reason"] == f"there is no payment {cash.id} on this account"


def test_a_card_refund_reaches_the_provider_and_its_webhook_settles_it_once(server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    member = _member(db)
    card = _card_payment(server, db, member, 6000)
    _ok(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=card.id, amount_cents=2500,
        reason="Show cancelled")
    refund = _refund_row(db, card)
    _until(db, lambda: db.get(Refund, refund.id).state == RefundState.SETTLED)  # type: ignore[union-attr]
    refund = _refund_row(db, card)
    assert refund.provider_refund_id and refund.provider_refund_id.startswith("re_test_")
    settled = _balanced(db, member.id)
    assert settled == 6000 - 6000 + 2500
    # The provider's event, sent again (late, twice): nothing more happens.
    events = requests.get(f"{server.url}/test-provider/checkout/{card.reference}/events", timeout=10).json()
    refund_events = [e for e in events if e["type"] == "refund.updated"]
    assert len(refund_events) == 1 and json.loads(refund_events[0]["body"])["data"]["object"]["status"] == "succeeded"
    for _ in range(2):
        answer = requests.post(f"{server.url}/payments/webhooks/test", data=refund_events[0]["body"].encode(),
                               headers={"Test-Signature": refund_events[0]["signature"],
                                        "Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["result"] == "duplicate", answer.text
    assert _balanced(db, member.id) == settled
    # A refund the provider fails (13p) is cancelled in the ledger and refundable again.
    _ok(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=card.id, amount_cents=1013,
        reason="Postage refund")
    failed = _refund_row(db, card)
    _until(db, lambda: db.get(Refund, failed.id).state == RefundState.FAILED)  # type: ignore[union-attr]
    assert _balanced(db, member.id) == settled
    page = _ledger(server, staff, member.id)
    assert (page["items"][0]["kind"], page["items"][0]["status"]) == ("refund", "cancelled")
    payment_row = next(i for i in page["items"] if i["id"] == card.id)
    assert payment_row["refundable_cents"] == 3500


def test_a_refund_above_the_threshold_waits_for_another_staff_member(server: LiveServer, db: Session) -> None:
    asker, approver = staff_headers(server, db), staff_headers(server, db)
    member = _member(db)
    card = _card_payment(server, db, member, 40_000)
    big = DEFAULT_APPROVAL_THRESHOLD + 1
    _ok(server, asker, kind="refund_payment", member_id=member.id, payment_txn_id=card.id, amount_cents=big,
        reason="Course cancelled")
    refund = _refund_row(db, card)
    assert refund.state == RefundState.AWAITING_APPROVAL and refund.txn_id is None
    assert _balanced(db, member.id) == 0  # no money moved yet
    row = next(i for i in _ledger(server, asker, member.id)["items"] if i["id"] == card.id)
    assert (row["refunded_cents"], row["awaiting_approval_cents"], row["refundable_cents"]) == (0, big, 40_000 - big)
    waiting = requests.get(f"{server.api}/refunds/awaiting-approval", params={"limit": 200}, headers=asker,
                           timeout=10).json()
    assert any(r["id"] == refund.id and r["member_id"] == member.id for r in waiting["items"])
    assert waiting["total"] >= 1
    # Its amount is held: nothing more than the rest can be asked for meanwhile.
    held = _refused(server, asker, kind="refund_payment", member_id=member.id, payment_txn_id=card.id,
                    amount_cents=40_000 - big + 1, reason="More")
    assert held["reason"] == "at most £149.99 of this payment can still be refunded"
    own = _refused(server, asker, kind="decide_refund", member_id=member.id, refund_id=refund.id, approve=True,
                   reason="Looks right")
    assert own["reason"] == "you asked for this refund: another staff member must approve or reject it"
    _ok(server, approver, kind="decide_refund", member_id=member.id, refund_id=refund.id, approve=True,
        reason="Checked the booking")
    _until(db, lambda: db.get(Refund, refund.id).state == RefundState.SETTLED)  # type: ignore[union-attr]
    assert _balanced(db, member.id) == big
    twice = _refused(server, approver, kind="decide_refund", member_id=member.id, refund_id=refund.id,
                     approve=False, reason="Changed my mind")
    assert twice["reason"].startswith("this refund is refunded already")
    # Exactly at the threshold goes ahead at once; rejected refunds free their amount.
    cash = _cash(server, asker, db, member, 60_000)
    _ok(server, asker, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id,
        amount_cents=DEFAULT_APPROVAL_THRESHOLD, reason="At the limit")
    assert _refund_row(db, cash).state == RefundState.SETTLED
    _ok(server, asker, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id, amount_cents=35_000,
        reason="The rest of it")
    rejected = _refund_row(db, cash)
    _ok(server, approver, kind="decide_refund", member_id=member.id, refund_id=rejected.id, approve=False,
        reason="No booking found")
    assert _refund_row(db, cash).state == RefundState.REJECTED
    rows = {i["id"]: i for i in _ledger(server, asker, member.id)["items"]}
    assert rows[cash.id]["refundable_cents"] == 35_000
    decided = db.scalar(select(AuditEvent).where(AuditEvent.action == "payment.refund_decided",
                                                 AuditEvent.entity_id == str(member.id)).order_by(AuditEvent.id.desc()))
    assert decided is not None and decided.details["approve"] is False and decided.details["reason"] == "No booking found"


def test_only_a_society_admin_sets_the_threshold(server: LiveServer, db: Session) -> None:
    staff, admin = staff_headers(server, db), staff_headers(server, db, UserRole.SOCIETY_ADMIN)
    answer = _run(server, staff, kind="set_refund_approval_threshold", amount_cents=10_000)
    assert answer.status_code == 403
    assert "only a Society Admin" in answer.json()["detail"]
    try:
        _ok(server, admin, kind="set_refund_approval_threshold", amount_cents=10_000)
        assert requests.get(f"{server.api}/settings/refunds", headers=staff, timeout=10).json() == {
            "approval_threshold_cents": 10_000}
        same = _refused(server, admin, kind="set_refund_approval_threshold", amount_cents=10_000)
        assert same["reason"] == "the threshold is £100.00 already"
        member = _member(db)
        cash = _cash(server, staff, db, member, 20_000)
        _ok(server, staff, kind="refund_payment", member_id=member.id, payment_txn_id=cash.id, amount_cents=10_001,
            reason="Above the new limit")
        assert _refund_row(db, cash).state == RefundState.AWAITING_APPROVAL
    finally:
        _run(server, admin, kind="set_refund_approval_threshold", amount_cents=DEFAULT_APPROVAL_THRESHOLD)
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "settings.changed",
                                               AuditEvent.entity_id == "refunds.approval_threshold_cents")
                      .order_by(AuditEvent.id.desc()).limit(1))
    assert audit is not None and audit.details["after"] == DEFAULT_APPROVAL_THRESHOLD


def test_credit_notes_against_an_order_or_the_account(server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    member = _member(db)
    order = _order(db, member, 4850)
    _ok(server, staff, kind="issue_credit_note", member_id=member.id, amount_cents=850, order_id=order.id,
        reason="Postage charged twice")
    over = _refused(server, staff, kind="issue_credit_note", member_id=member.id, amount_cents=4001,
                    order_id=order.id, reason="Goodwill")
    assert over["reason"] == f"at most £40.00 of order {order.order_no} can still be credited"
    _ok(server, staff, kind="issue_credit_note", member_id=member.id, amount_cents=10_000, reason="Goodwill")
    assert _balanced(db, member.id) == 4850 - 850 - 10_000
    page = _ledger(server, staff, member.id)
    assert [(i["kind"], i["amount_cents"], i["balance_cents"], i["note"]) for i in page["items"][:2]] == [
        ("credit_note", -10_000, -6000, "Goodwill"), ("credit_note", -850, 4000, "Postage charged twice")]
    not_theirs = _refused(server, staff, kind="issue_credit_note", member_id=_member(db).id, amount_cents=1,
                          order_id=order.id, reason="Wrong account")
    assert not_theirs["fields"] == {"order_id": "no such order"}


def test_concurrent_retries_never_pay_or_refund_twice(server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    member = _member(db)
    payment_op, credit_op = str(uuid.uuid4()), str(uuid.uuid4())
    card = _card_payment(server, db, member, 9000)
    refund_op = str(uuid.uuid4())
    commands = [
        {"kind": "record_manual_payment", "op_id": payment_op, "member_id": member.id, "amount_cents": 1500,
         "method": "bank_transfer", "reference": "BACS 55"},
        {"kind": "issue_credit_note", "op_id": credit_op, "member_id": member.id, "amount_cents": 700,
         "reason": "Goodwill"},
        {"kind": "refund_payment", "op_id": refund_op, "member_id": member.id, "payment_txn_id": card.id,
         "amount_cents": 4000, "reason": "Cancelled entry"},
    ]
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def retry(command: dict[str, Any]) -> None:
        barrier.wait(timeout=20)
        answer = _run(server, staff, **command)
        with lock:
            answers.append((command["kind"], answer.status_code, answer.json().get("status", "")))

    threads = [threading.Thread(target=retry, args=(c,)) for c in commands for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 12 and all(code == 200 for _, code, _ in answers), answers
    for kind in ("record_manual_payment", "issue_credit_note", "refund_payment"):
        assert sorted(s for k, _, s in answers if k == kind) == ["applied", "duplicate", "duplicate", "duplicate"]
    # And different requests at once can never refund more than the payment.
    racing = [{"kind": "refund_payment", "member_id": member.id, "payment_txn_id": card.id, "amount_cents": 2000,
               "reason": f"Race {n}"} for n in range(4)]
    answers.clear()
    barrier = threading.Barrier(4)
    threads = [threading.Thread(target=retry, args=(c,)) for c in racing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(s for _, _, s in answers) == ["applied", "applied", "rejected", "rejected"]
    _until(db, lambda: db.scalar(select(func.count()).select_from(Refund).where(
        Refund.payment_txn_id == card.id, Refund.state == RefundState.SETTLED)) == 3)
    db.expire_all()
    kinds = list(db.scalars(select(AccountTransaction.kind).where(AccountTransaction.member_id == member.id)))
    assert sorted(kinds) == sorted(["charge", "payment", "payment", "credit_note", "refund", "refund", "refund"])
    assert _balanced(db, member.id) == 9000 - 9000 - 1500 - 700 + 8000
    checkout = card.reference
    assert db.scalar(select(func.count()).select_from(TestCheckout).where(TestCheckout.id == checkout)) == 1
