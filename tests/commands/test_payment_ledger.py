"""The account balance always equals the sum of its transactions, whatever sequence of
charges, checkouts and provider events (replayed, late, out of order) arrives; each
checkout makes at most one payment, and the money moves only forward."""

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
    OpenCheckout,
    Outcome,
    RecordPayment,
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
    TxnKind,
    TxnStatus,
    place_order,
    post_transaction,
    utcnow,
)
from desktop_care.models.ledger import LedgerError, ledger_totals, money
from tests.models.conftest import make_member

SERVER = Actor(user_id=None, username="payment provider (test)", role=None)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("charge"), st.integers(min_value=1, max_value=50_000)),
        st.tuples(st.just("checkout"), st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("event"), st.integers(min_value=0, max_value=5), st.sampled_from(list(Outcome)),
                  st.integers(min_value=0, max_value=1)),
    ),
    min_size=1, max_size=25,
)


def _check(session: Session, member: Member, paid: dict[str, set[Outcome]], amounts: dict[str, int],
           charged: int) -> None:
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
    assert settled + pending == charged - received


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_balance_is_the_sum_of_transactions_under_any_events(session: Session, plan: list[tuple]) -> None:
    member = make_member(session, "Ledger", "Property")
    orders: list[Order] = []
    checkouts: list[tuple[str, Order]] = []
    applied: dict[str, set[Outcome]] = {}
    amounts: dict[str, int] = {}
    charged = 0
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
        _check(session, member, applied, amounts, charged)
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
