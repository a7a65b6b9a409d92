"""Demo data has orders and payments a new user can look at, and keeps every balance
equal to the sum of its ledger."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop_care.models import AccountTransaction, Member, Order, OrderState, Refund, RefundState, TxnKind
from desktop_care.models.ledger import ledger_totals
from desktop_care.server.db import make_engine, upgrade
from desktop_care.server.demo import seed_demo
from tests.support.servers import DatabaseFactory


def test_demo_members_have_orders_some_paid_some_exported(databases: DatabaseFactory, backend: str) -> None:
    engine = make_engine(databases.create(backend))
    upgrade(engine)
    seed_demo(engine, 60, seed=7)
    with Session(engine) as session:
        states = dict(session.execute(select(Order.state, func.count()).group_by(Order.state)).all())
        assert states[OrderState.PAID] > 10 and states[OrderState.UNPAID] > 10
        assert session.scalar(select(func.count()).select_from(Order).where(Order.exported)) > 0
        # The payment manager: refunds paid out, approved, rejected and one awaiting
        # approval; credit notes against orders and accounts.
        refunds = dict(session.execute(select(Refund.state, func.count()).group_by(Refund.state)).all())
        assert refunds[RefundState.SETTLED] >= 3 and refunds[RefundState.AWAITING_APPROVAL] == 1
        assert refunds[RefundState.REJECTED] == 1
        notes = session.scalar(select(func.count()).select_from(AccountTransaction).where(
            AccountTransaction.kind == TxnKind.CREDIT_NOTE))
        assert notes >= 4
        for member in session.scalars(select(Member)):
            _, settled, count, pending = ledger_totals(session, member.id)
            assert (member.account_balance_cents, member.pending_count, member.pending_cents) == (
                settled, count, pending), member.member_no
    engine.dispose()
