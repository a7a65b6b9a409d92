"""The payment manager's reads (docs/server.md, "Payment manager"):

- ``GET /members/{member_id}/ledger``: the account's transactions, newest first, a
  keyset page at a time, each with the running balance worked out here;
- ``GET /members/{member_id}/refunds``: the member's refunds, newest first;
- ``GET /refunds/awaiting-approval``: every refund waiting for a second staff member,
  oldest first, with their count;
- ``GET /settings/refunds``: the approval threshold.

Writes are commands (``POST /commands``): ``record_manual_payment``, ``refund_payment``,
``decide_refund``, ``issue_credit_note``, ``set_refund_approval_threshold``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from desktop_care.models import AccountTransaction, Member, Order, Refund, RefundState, TxnKind, TxnStatus
from desktop_care.models.refunds import RESERVING, approval_threshold
from desktop_care.schemas import ErrorDetail, LedgerEntryOut, LedgerPage, RefundList, RefundOut, RefundSettings

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, NotFound
from .member_activity import MAX_PAGE, _decode, _encode

router = APIRouter(tags=["payments"], responses=ERROR_RESPONSES)
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member"}}

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")]


def _member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    return member


@router.get("/members/{member_id}/ledger", operation_id="getMemberLedger", response_model=LedgerPage,
            responses=_NOT_FOUND)
def ledger(member_id: MemberId, session: SessionDep, staff: CurrentStaff, limit: Limit = 50,
           cursor: Cursor = None) -> LedgerPage:
    """The member's account, newest first: charges, payments, refunds and credit notes,
    pending, settled or cancelled, each with the settled balance once it is counted."""
    member = _member(session, member_id)
    txn = AccountTransaction
    where = [txn.member_id == member_id]
    total = session.scalar(select(func.count()).select_from(txn).where(*where)) or 0
    if cursor is not None:
        at, row_id = _decode(cursor)
        where.append(or_(txn.created_at < at, and_(txn.created_at == at, txn.id < row_id)))
    rows = list(session.scalars(select(txn).where(*where).order_by(txn.created_at.desc(), txn.id.desc())
                                .limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    balance = 0
    if rows:
        first = rows[0]
        balance = int(session.scalar(select(func.coalesce(func.sum(txn.amount_cents), 0)).where(
            txn.member_id == member_id, txn.status == TxnStatus.SETTLED,
            or_(txn.created_at < first.created_at, and_(txn.created_at == first.created_at, txn.id <= first.id)),
        )) or 0)
    payments = [r.id for r in rows if r.kind == TxnKind.PAYMENT]
    refunded: dict[int, int] = {}
    waiting: dict[int, int] = {}
    if payments:
        for payment_id, state, cents in session.execute(
                select(Refund.payment_txn_id, Refund.state, func.sum(Refund.amount_cents))
                .where(Refund.payment_txn_id.in_(payments), Refund.state.in_(RESERVING))
                .group_by(Refund.payment_txn_id, Refund.state)):
            into = waiting if state == RefundState.AWAITING_APPROVAL else refunded
            into[payment_id] = into.get(payment_id, 0) + int(cents)
    orders = {o.id: o.order_no for o in session.scalars(select(Order).where(
        Order.id.in_({r.order_id for r in rows if r.order_id is not None})))}
    items = []
    for row in rows:
        back, held = refunded.get(row.id, 0), waiting.get(row.id, 0)
        refundable = (-row.amount_cents - back - held
                      if row.kind == TxnKind.PAYMENT and row.status == TxnStatus.SETTLED else 0)
        items.append(LedgerEntryOut(
            id=row.id, at=row.created_at, kind=row.kind, status=row.status, description=row.description,
            amount_cents=row.amount_cents, currency=row.currency, balance_cents=balance, method=row.method,
            method_reference=row.method_reference, note=row.note, order_id=row.order_id,
            order_no=orders.get(row.order_id) if row.order_id is not None else None, refund_of_id=row.refund_of_id,
            recorded_by=row.recorded_by, settled_at=row.settled_at, refunded_cents=back,
            awaiting_approval_cents=held, refundable_cents=max(refundable, 0)))
        if row.status == TxnStatus.SETTLED:
            balance -= row.amount_cents
    return LedgerPage(items=items, total=total, next_cursor=_encode(rows[-1].created_at, rows[-1].id) if more else None,
                      balance_cents=member.account_balance_cents, pending_count=member.pending_count,
                      pending_cents=member.pending_cents, approval_threshold_cents=approval_threshold(session))


def _refund_out(refund: Refund, member: Member) -> RefundOut:
    return RefundOut(
        id=refund.id, member_id=member.id, member_no=member.member_no, member_name=member.display_name,
        payment_txn_id=refund.payment_txn_id, amount_cents=refund.amount_cents, currency=refund.currency,
        method=refund.method, reason=refund.reason, state=refund.state, requested_at=refund.requested_at,
        requested_by=refund.requested_by, requested_by_user_id=refund.requested_by_user_id,
        decided_at=refund.decided_at, decided_by=refund.decided_by, decision_reason=refund.decision_reason,
        failure=refund.failure)


@router.get("/members/{member_id}/refunds", operation_id="getMemberRefunds", response_model=RefundList,
            responses=_NOT_FOUND)
def member_refunds(member_id: MemberId, session: SessionDep, staff: CurrentStaff, limit: Limit = 50) -> RefundList:
    """The member's refunds, newest first (``limit`` of them; ``total`` counts all)."""
    member = _member(session, member_id)
    where = Refund.member_id == member_id
    total = session.scalar(select(func.count()).select_from(Refund).where(where)) or 0
    rows = session.scalars(select(Refund).where(where).order_by(Refund.requested_at.desc(), Refund.id.desc())
                           .limit(limit))
    return RefundList(items=[_refund_out(r, member) for r in rows], total=total)


@router.get("/refunds/awaiting-approval", operation_id="getRefundsAwaitingApproval", response_model=RefundList)
def awaiting_approval(session: SessionDep, staff: CurrentStaff, limit: Limit = 50) -> RefundList:
    """Every refund waiting for a second staff member's approval, oldest first (``limit``
    of them; ``total`` counts all)."""
    where = Refund.state == RefundState.AWAITING_APPROVAL
    total = session.scalar(select(func.count()).select_from(Refund).where(where)) or 0
    rows = session.execute(select(Refund, Member).join(Member, Member.id == Refund.member_id).where(where)
                           .order_by(Refund.requested_at, Refund.id).limit(limit)).all()
    return RefundList(items=[_refund_out(r, m) for r, m in rows], total=total)


@router.get("/settings/refunds", operation_id="getRefundSettings", response_model=RefundSettings)
def refund_settings(session: SessionDep, staff: CurrentStaff) -> RefundSettings:
    """Refunds above ``approval_threshold_cents`` need a second staff member's approval
    (changed by a Society Admin with the ``set_refund_approval_threshold`` command)."""
    return RefundSettings(approval_threshold_cents=approval_threshold(session))
