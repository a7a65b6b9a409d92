"""The account balance always equals the sum of its transactions, whatever sequence of
charges, checkouts, provider events (replayed, late, out of order), payments by hand,
refunds (approved, rejected, settled or failed at the provider, replayed) and credit
notes arrives; each checkout makes at most one payment, no payment is refunded beyond
its amount, and the money moves only forward."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    Actor,
    DecideRefund,
    IssueCreditNote,
    OpenCheckout,
    Outcome,
    RecordManualPayment,
    RecordPayment,
    RecordRefundOutcome,
    RefundPayment,
    Status,
    execute,
)
from desktop_care.commands.orders import event_op_id
from desktop_care.models import (
    AccountTransaction,
    LineIn,
    Member,
    Order,
    OrderState,
    PaymentMethod,
    Refund,
    RefundState,
    TxnKind,
    TxnStatus,
    place_order,
    post_transaction,
    utcnow,
)
from desktop_care.models.ledger import LedgerError, cancel_transaction, ledger_totals, money
from desktop_care.models.on_behalf import set_setting
from desktop_care.models.refunds import REFUND_APPROVAL_THRESHOLD, RESERVING
from tests.models.conftest import make_member

SERVER = Actor(user_id=None, username="payment provider (test)", role=None)
DESK = Actor(user_id=None, username="the desk", role=None)
_MANUAL = ("cash", "cheque", "bank_transfer")

_charge = st.tuples(st.just("charge"), st.integers(min_value=1, max_value=50_000))
_checkout = st.tuples(st.just("checkout"), st.integers(min_value=0, max_value=5))
_event = st.tuples(st.just("event"), st.integers(min_value=0, max_value=5), st.sampled_from(list(Outcome)),
                   st.integers(min_value=0, max_value=1))
# The payment manager: by hand, refunds (a share of the payment in per cent, over 100:
# more than was paid; some above the threshold), their approval, the provider's word on
# them (replayed, reordered) and credit notes.
_manual = st.tuples(st.just("manual"), st.integers(min_value=1, max_value=50_000), st.sampled_from(_MANUAL))
_refund = st.tuples(st.just("refund"), st.integers(min_value=0, max_value=5), st.integers(min_value=1, max_value=120),
                    st.integers(min_value=0, max_value=1), st.sampled_from(["", "succeeded", "failed"]))
_decide = st.tuples(st.just("decide"), st.integers(min_value=0, max_value=5), st.booleans())
_refund_event = st.tuples(st.just("refund_event"), st.integers(min_value=0, max_value=5),
                          st.sampled_from(["pending", "succeeded", "failed"]), st.integers(min_value=0, max_value=1))
# An order paid by card at once (checkout, completed, settled): a card payment to refund.
_card = st.tuples(st.just("card"), st.integers(min_value=100, max_value=50_000))
_credit = st.tuples(st.just("credit"), st.integers(min_value=1, max_value=30_000), st.integers(min_value=-1, max_value=5))
steps = st.lists(st.one_of(_charge, _checkout, _event, _manual, _card, _refund, _decide, _refund_event, _credit),
                 min_size=4, max_size=30)
#: Refunds above this need approval in the property test (low, so that many do).
THRESHOLD = 2_000


def _check(session: Session, member: Member, paid: dict[str, set[Outcome]], amounts: dict[str, int],
           charged: int, by_hand: int = 0, credited: int = 0) -> None:
    session.flush()
    _, settled, count, pending = ledger_totals(session, member.id)
    assert (member.account_balance_cents, member.pending_count, member.pending_cents) == (settled, count, pending)
    payments = {t.reference: t for t in session.scalars(select(AccountTransaction).where(
        AccountTransaction.member_id == member.id, AccountTransaction.kind == TxnKind.PAYMENT))}
    for checkout, outcomes in paid.items():
        took = outcomes & {Outcome.PAID, Outcome.SETTLED}
        txn = payments.get(checkout)
        assert (txn is not None) == bool(took)
        if txn is not None:
            assert txn.amount_cents == -amounts[checkout]
            assert (txn.status == TxnStatus.SETTLED) == (Outcome.SETTLED in took)
    received = sum(amounts[c] for c, o in paid.items() if o & {Outcome.PAID, Outcome.SETTLED})
    refunds = list(session.scalars(select(Refund).where(Refund.member_id == member.id)))
    paid_back = sum(r.amount_cents for r in refunds if r.state in (RefundState.PENDING, RefundState.SETTLED))
    assert settled + pending == charged - received - by_hand - credited + paid_back
    # No payment is ever refunded beyond its amount, counting refunds still to approve.
    for txn in session.scalars(select(AccountTransaction).where(
            AccountTransaction.member_id == member.id, AccountTransaction.kind == TxnKind.PAYMENT)):
        assert sum(r.amount_cents for r in refunds if r.payment_txn_id == txn.id and r.state in RESERVING) <= \
            -txn.amount_cents
    # Each refund that went ahead has its transaction, in step with its state.
    for refund in refunds:
        txn = session.get(AccountTransaction, refund.txn_id) if refund.txn_id else None
        expected = {RefundState.AWAITING_APPROVAL: None, RefundState.REJECTED: None,
                    RefundState.PENDING: TxnStatus.PENDING, RefundState.SETTLED: TxnStatus.SETTLED,
                    RefundState.FAILED: TxnStatus.CANCELLED}[refund.state]
        assert (txn.status if txn else None) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_balance_is_the_sum_of_transactions_under_any_events(session: Session, plan: list[tuple]) -> None:
    member = make_member(session, "Ledger", "Property")
    set_setting(session, REFUND_APPROVAL_THRESHOLD, THRESHOLD, changed_by="property test")
    orders: list[Order] = []
    checkouts: list[tuple[str, Order]] = []
    applied: dict[str, set[Outcome]] = {}
    amounts: dict[str, int] = {}
    charged = by_hand = credited = 0
    for step in plan:
        if step[0] == "charge":
            orders.append(place_order(session, member, [LineIn("Entry", step[1])]))
            charged += step[1]
        elif step[0] == "checkout" and orders:
            order = orders[step[1] % len(orders)]
            checkout = f"cs_{uuid.uuid4().hex[:12]}"
            result = execute(session, OpenCheckout(
                member_id=member.id, order_id=order.id, provider="test", checkout_id=checkout,
                checkout_url="http://x/", amount_cents=order.amount_cents, currency=order.currency,
                expires_at=utcnow() + dt.timedelta(minutes=30)), SERVER)
            if order.state == OrderState.UNPAID and not any(o is order for _, o in checkouts):
                assert result.status == Status.APPLIED
            if result.status == Status.APPLIED:
                checkouts.append((checkout, order))
                applied[checkout] = set()
                amounts[checkout] = order.amount_cents
        elif step[0] == "event" and checkouts:
            checkout, order = checkouts[step[1] % len(checkouts)]
            outcome, copy = step[2], step[3]
            event_id = f"evt_{checkout}_{outcome.value}_{copy}"
            command = RecordPayment(op_id=event_op_id("test", event_id), member_id=member.id, order_id=order.id,
                                    checkout_id=checkout, outcome=outcome, event_id=event_id)
            result = execute(session, command, SERVER)
            assert result.status in (Status.APPLIED, Status.DUPLICATE)
            applied[checkout].add(outcome)
        elif step[0] == "card":
            order = place_order(session, member, [LineIn("Course", step[1])])
            orders.append(order)
            charged += step[1]
            checkout = f"cs_{uuid.uuid4().hex[:12]}"
            assert execute(session, OpenCheckout(
                member_id=member.id, order_id=order.id, provider="test", checkout_id=checkout,
                checkout_url="http://x/", amount_cents=order.amount_cents, currency=order.currency,
                expires_at=utcnow() + dt.timedelta(minutes=30)), SERVER).status == Status.APPLIED
            checkouts.append((checkout, order))
            applied[checkout], amounts[checkout] = {Outcome.SETTLED}, order.amount_cents
            event_id = f"evt_{checkout}_settled"
            assert execute(session, RecordPayment(
                op_id=event_op_id("test", event_id), member_id=member.id, order_id=order.id, checkout_id=checkout,
                outcome=Outcome.SETTLED, event_id=event_id), SERVER).status == Status.APPLIED
        elif step[0] == "manual":
            command = RecordManualPayment(member_id=member.id, amount_cents=step[1], method=step[2],
                                          reference="R-1")
            assert execute(session, command, DESK).status == Status.APPLIED
            # A retried request is a duplicate: it never pays twice.
            assert execute(session, command, DESK).status == Status.DUPLICATE
            by_hand += step[1]
        elif step[0] == "refund":
            payments = list(session.scalars(select(AccountTransaction).where(
                AccountTransaction.member_id == member.id, AccountTransaction.kind == TxnKind.PAYMENT)
                .order_by(AccountTransaction.id)))
            if payments:
                txn = payments[step[1] % len(payments)]
                share = max(1, -txn.amount_cents * step[2] // 100)
                refund_cmd = RefundPayment(member_id=member.id, payment_txn_id=txn.id, amount_cents=share,
                                           reason="property test")
                result = execute(session, refund_cmd, DESK)
                if step[3]:
                    assert execute(session, refund_cmd, DESK).status == Status.DUPLICATE
                refund = session.scalar(select(Refund).where(Refund.payment_txn_id == txn.id)
                                        .order_by(Refund.id.desc()).limit(1))
                if result.status == Status.APPLIED and step[4] and refund is not None \
                        and refund.method == PaymentMethod.CARD:
                    # The provider answers at once (a webhook replayed later is a duplicate or no-op).
                    answer = RecordRefundOutcome(op_id=event_op_id("test", f"answer_{refund.id}"), member_id=member.id,
                                                 refund_id=refund.id, provider_refund_id=f"re_{refund.id}",
                                                 status=step[4])
                    assert execute(session, answer, SERVER).status == Status.APPLIED
                if result.status == Status.REJECTED:
                    assert txn.status == TxnStatus.PENDING or "refund" in result.reason, result.reason
                elif share > -txn.amount_cents:  # (not step[2] > 100: 101 % of 1p rounds down to 1p)
                    raise AssertionError("refunded more than was paid")
        elif step[0] == "decide":
            waiting = list(session.scalars(select(Refund).where(
                Refund.member_id == member.id, Refund.state == RefundState.AWAITING_APPROVAL).order_by(Refund.id)))
            if waiting:
                refund = waiting[step[1] % len(waiting)]
                decide = DecideRefund(member_id=member.id, refund_id=refund.id, approve=step[2], reason="checked")
                assert execute(session, decide, Actor(user_id=None, username="approver", role=None)).status \
                    == Status.APPLIED
        elif step[0] == "refund_event":
            cards = list(session.scalars(select(Refund).where(
                Refund.member_id == member.id, Refund.method == PaymentMethod.CARD,
                Refund.txn_id.is_not(None)).order_by(Refund.id)))
            if cards:
                refund = cards[step[1] % len(cards)]
                event_id = f"evt_refund_{refund.id}_{step[2]}_{step[3]}"
                outcome_cmd = RecordRefundOutcome(op_id=event_op_id("test", event_id), member_id=member.id,
                                                  refund_id=refund.id, provider_refund_id=f"re_{refund.id}",
                                                  status=step[2], event_id=event_id)
                assert execute(session, outcome_cmd, SERVER).status in (Status.APPLIED, Status.DUPLICATE)
        elif step[0] == "credit":
            order_id = orders[step[2] % len(orders)].id if orders and step[2] >= 0 else None
            credit = IssueCreditNote(member_id=member.id, amount_cents=step[1], reason="goodwill", order_id=order_id)
            if execute(session, credit, DESK).status == Status.APPLIED:
                credited += step[1]
        _check(session, member, applied, amounts, charged, by_hand, credited)
    # However the events came, one payment transaction per checkout at most.
    assert session.scalar(select(func.count()).select_from(AccountTransaction).where(
        AccountTransaction.member_id == member.id, AccountTransaction.reference.is_not(None))) == sum(
        1 for o in applied.values() if o & {Outcome.PAID, Outcome.SETTLED})


def test_the_ledger_refuses_floats_wrong_signs_and_other_currencies(session: Session) -> None:
    member = make_member(session)
    with pytest.raises(LedgerError, match="never floats"):
        post_transaction(session, member, 12.5, "float")  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="cannot be negative"):
        post_transaction(session, member, -100, "odd charge", kind=TxnKind.CHARGE)
    with pytest.raises(LedgerError, match="cannot be positive"):
        post_transaction(session, member, 100, "odd payment", kind=TxnKind.PAYMENT)
    with pytest.raises(LedgerError, match="kept in GBP"):
        post_transaction(session, member, 100, "dollars", currency="USD")
    assert (member.account_balance_cents, member.pending_count) == (0, 0)
    assert money(123456) == "£1,234.56" and money(-500) == "-£5.00" and money(5, "SEK") == "0.05 SEK"


def test_refund_and_credit_note_signs_and_cancelling(session: Session) -> None:
    member = make_member(session)
    with pytest.raises(LedgerError, match="cannot be negative"):
        post_transaction(session, member, -100, "odd refund", kind=TxnKind.REFUND)
    with pytest.raises(LedgerError, match="cannot be positive"):
        post_transaction(session, member, 100, "odd credit", kind=TxnKind.CREDIT_NOTE)
    refund = post_transaction(session, member, 500, "refund", TxnStatus.PENDING, kind=TxnKind.REFUND)
    assert (member.pending_count, member.pending_cents) == (1, 500)
    assert cancel_transaction(member, refund) and not cancel_transaction(member, refund)
    assert (member.pending_count, member.pending_cents, member.account_balance_cents) == (0, 0, 0)
    settled = post_transaction(session, member, -700, "credit", kind=TxnKind.CREDIT_NOTE)
    with pytest.raises(LedgerError, match="cannot be cancelled"):
        cancel_transaction(member, settled)
    session.flush()
    assert ledger_totals(session, member.id)[1:] == (-700, 0, 0) == (member.account_balance_cents, 0, 0)
