"""The points ledger and the account's money transactions.

A member's ``points_balance`` equals the sum of its points entries, and its account
balance and pending figures equal the sums of its transactions (invariant 2). Only the
functions here write ledger rows, and they update the summary columns in the same
session, so one commit keeps both in step.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow
from .member import Member


class PointsType(enum.StrEnum):
    BASE = "base"
    BONUS = "bonus"
    PROMOTIONAL = "promotional"
    GOODWILL = "goodwill"
    CORRECTION = "correction"
    REDEMPTION = "redemption"


class TxnStatus(enum.StrEnum):
    SETTLED = "settled"
    PENDING = "pending"


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


def add_points(
    session: Session,
    member: Member,
    delta: int,
    points_type: PointsType,
    reason: str = "",
    actor_user_id: int | None = None,
    at: dt.datetime | None = None,
) -> PointsEntry:
    entry = PointsEntry(
        member_id=member.id,
        delta=delta,
        points_type=points_type,
        reason=reason,
        actor_user_id=actor_user_id,
        created_at=at or utcnow(),
    )
    session.add(entry)
    member.points_balance = (member.points_balance or 0) + delta
    return entry


def post_transaction(
    session: Session,
    member: Member,
    amount_cents: int,
    description: str,
    status: TxnStatus = TxnStatus.SETTLED,
    at: dt.datetime | None = None,
) -> AccountTransaction:
    txn = AccountTransaction(
        member_id=member.id,
        amount_cents=amount_cents,
        description=description,
        status=status,
        created_at=at or utcnow(),
    )
    session.add(txn)
    if status == TxnStatus.PENDING:
        member.pending_count = (member.pending_count or 0) + 1
        member.pending_cents = (member.pending_cents or 0) + amount_cents
    else:
        member.account_balance_cents = (member.account_balance_cents or 0) + amount_cents
    return txn


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
