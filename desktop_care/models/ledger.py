"""The points ledger and the account's money transactions.

A member's ``points_balance`` equals the sum of its points entries, and its account
balance and pending figures equal the sums of its transactions (invariant 2). Only the
functions here write ledger rows (:func:`add_points`, :func:`post_transaction`,
:func:`settle_transaction`), and they update the summary columns in the same session,
so one commit keeps both in step.

Money is never points: account transactions are integer minor units of
:data:`ACCOUNT_CURRENCY`, with a :class:`TxnKind` (charge, payment, refund, credit note,
each with its sign in :data:`KIND_SIGN`) and a life of pending → settled (or, for a
pending one that never happened, cancelled). A transaction made for a
payment carries the provider's ``reference`` (its checkout session), unique, so the
same payment can never be recorded twice (docs/decisions/0016-payments-and-ledger.md).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow
from .choices import PaymentMethod, PointsType, TxnKind, TxnStatus
from .member import Member

#: The sign each kind's amount must have (+1: owed, -1: paid).
KIND_SIGN = {TxnKind.CHARGE: 1, TxnKind.PAYMENT: -1, TxnKind.REFUND: 1, TxnKind.CREDIT_NOTE: -1}


#: The currency every member account is kept in (ISO 4217; amounts in its minor unit).
ACCOUNT_CURRENCY = "GBP"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class PointsEntry(Base):
    __tablename__ = "points_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    points_type: Mapped[PointsType] = mapped_column(_enum(PointsType))
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    #: The Points tab reads a member's ledger newest first.
    __table_args__ = (Index("ix_points_entry_member_created", "member_id", "created_at", "id"),)


class AccountTransaction(Base):
    """A charge (positive) or payment/credit (negative) on the member's account,
    in minor currency units. A positive balance is money the member owes."""

    __tablename__ = "account_txn"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[TxnStatus] = mapped_column(_enum(TxnStatus), default=TxnStatus.SETTLED)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[TxnKind] = mapped_column(_enum(TxnKind), default=TxnKind.CHARGE, server_default="charge")
    currency: Mapped[str] = mapped_column(String(3), default=ACCOUNT_CURRENCY, server_default=ACCOUNT_CURRENCY)
    #: The order it is for, if any.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"), default=None, index=True)
    #: The provider's reference of a payment (its checkout session id): one transaction each.
    reference: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: How the money moved (payments and refunds; None for charges, credit notes and
    #: payments from before it was kept).
    method: Mapped[PaymentMethod | None] = mapped_column(_enum(PaymentMethod), default=None)
    #: The cheque number, bank reference or receipt number of a payment taken by hand.
    method_reference: Mapped[str] = mapped_column(String(120), default="", server_default="")
    #: Why (a credit note's or refund's reason), in the staff member's words.
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    #: The payment a refund pays back.
    refund_of_id: Mapped[int | None] = mapped_column(ForeignKey("account_txn.id"), default=None, index=True)
    #: Who recorded it (the staff member, "payment provider (test)", "System").
    recorded_by: Mapped[str] = mapped_column(String(120), default="", server_default="")

    #: The Payments tab reads a member's ledger newest first, with running balances.
    __table_args__ = (Index("ix_account_txn_member_created", "member_id", "created_at", "id"),)


def add_points(
    session: Session,
    member: Member,
    delta: int,
    points_type: PointsType,
    reason: str = "",
    actor_user_id: int | None = None,
    at: dt.datetime | None = None,
) -> PointsEntry:
    entry = PointsEntry(**points_entry_values(member.id, delta, points_type, reason, actor_user_id, at))
    session.add(entry)
    member.points_balance = (member.points_balance or 0) + delta
    return entry


def points_entry_values(
    member_id: int,
    delta: int,
    points_type: PointsType,
    reason: str = "",
    actor_user_id: int | None = None,
    at: dt.datetime | None = None,
) -> dict[str, object]:
    """One points entry's column values: what :func:`add_points` adds, and what a pushed
    batch's direct path inserts in bulk while it moves ``points_balance`` by ``delta``
    in the same transaction (docs/decisions/0039)."""
    return {"member_id": member_id, "delta": delta, "points_type": points_type, "reason": reason,
            "actor_user_id": actor_user_id, "created_at": at or utcnow()}


class LedgerError(ValueError):
    """A transaction that breaks the ledger's rules (wrong sign, currency, settled twice)."""


def post_transaction(
    session: Session,
    member: Member,
    amount_cents: int,
    description: str,
    status: TxnStatus = TxnStatus.SETTLED,
    at: dt.datetime | None = None,
    *,
    kind: TxnKind | None = None,
    currency: str = ACCOUNT_CURRENCY,
    order_id: int | None = None,
    reference: str | None = None,
    method: PaymentMethod | None = None,
    method_reference: str = "",
    note: str = "",
    refund_of_id: int | None = None,
    recorded_by: str = "",
) -> AccountTransaction:
    """Add a transaction to ``member``'s account and its summary columns (the one
    writer of both). ``kind`` defaults by sign (charge if positive, else payment)."""
    if type(amount_cents) is not int:
        raise LedgerError("amounts are integer minor units, never floats")
    kind = kind or (TxnKind.CHARGE if amount_cents > 0 else TxnKind.PAYMENT)
    if amount_cents * KIND_SIGN[kind] < 0:
        raise LedgerError(f"a {kind.value} cannot be {'negative' if KIND_SIGN[kind] > 0 else 'positive'}")
    if currency != ACCOUNT_CURRENCY:
        raise LedgerError(f"the account is kept in {ACCOUNT_CURRENCY}, not {currency}")
    if status == TxnStatus.CANCELLED:
        raise LedgerError("a transaction is posted pending or settled; only a pending one is cancelled")
    now = at or utcnow()
    txn = AccountTransaction(
        member_id=member.id,
        amount_cents=amount_cents,
        description=description,
        status=status,
        created_at=now,
        kind=kind,
        currency=currency,
        order_id=order_id,
        reference=reference,
        settled_at=now if status == TxnStatus.SETTLED else None,
        method=method,
        method_reference=method_reference,
        note=note,
        refund_of_id=refund_of_id,
        recorded_by=recorded_by,
    )
    session.add(txn)
    if status == TxnStatus.PENDING:
        member.pending_count = (member.pending_count or 0) + 1
        member.pending_cents = (member.pending_cents or 0) + amount_cents
    else:
        member.account_balance_cents = (member.account_balance_cents or 0) + amount_cents
    return txn


def settle_transaction(member: Member, txn: AccountTransaction, at: dt.datetime | None = None) -> bool:
    """Move a pending transaction into the settled balance; False (and nothing done)
    if it is settled already. ``member`` must be the transaction's account."""
    if txn.member_id != member.id:
        raise LedgerError("the transaction belongs to another account")
    if txn.status == TxnStatus.SETTLED:
        return False
    if txn.status == TxnStatus.CANCELLED:
        raise LedgerError("a cancelled transaction cannot settle")
    txn.status, txn.settled_at = TxnStatus.SETTLED, at or utcnow()
    member.pending_count = (member.pending_count or 0) - 1
    member.pending_cents = (member.pending_cents or 0) - txn.amount_cents
    member.account_balance_cents = (member.account_balance_cents or 0) + txn.amount_cents
    return True


def cancel_transaction(member: Member, txn: AccountTransaction) -> bool:
    """Take a pending transaction out of the pending figures for good (it never
    happened: a refund the provider failed); False if it is cancelled already.
    A settled transaction is never cancelled (post a new one instead)."""
    if txn.member_id != member.id:
        raise LedgerError("the transaction belongs to another account")
    if txn.status == TxnStatus.CANCELLED:
        return False
    if txn.status == TxnStatus.SETTLED:
        raise LedgerError("a settled transaction cannot be cancelled")
    txn.status, txn.settled_at = TxnStatus.CANCELLED, None
    member.pending_count = (member.pending_count or 0) - 1
    member.pending_cents = (member.pending_cents or 0) - txn.amount_cents
    return True


def ledger_totals(session: Session, member_id: int) -> tuple[int, int, int, int]:
    """(points, settled balance, pending count, pending amount) summed from the ledgers."""
    points = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(PointsEntry.member_id == member_id)
    )
    settled = session.scalar(
        select(func.coalesce(func.sum(AccountTransaction.amount_cents), 0)).where(
            AccountTransaction.member_id == member_id, AccountTransaction.status == TxnStatus.SETTLED
        )
    )
    pending_count, pending_cents = session.execute(
        select(func.count(), func.coalesce(func.sum(AccountTransaction.amount_cents), 0)).where(
            AccountTransaction.member_id == member_id, AccountTransaction.status == TxnStatus.PENDING
        )
    ).one()
    return int(points or 0), int(settled or 0), int(pending_count), int(pending_cents)


_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(cents: int, currency: str = ACCOUNT_CURRENCY) -> str:
    """``cents`` minor units as people read them: "£1,234.50", "-£5.00"."""
    sign = "-" if cents < 0 else ""
    whole, minor = divmod(abs(cents), 100)
    symbol = _SYMBOLS.get(currency)
    amount = f"{whole:,}.{minor:02d}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"
