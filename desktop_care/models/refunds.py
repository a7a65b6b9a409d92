"""Refunds of payments, and the rules that guard them (docs/decisions/0023).

A :class:`Refund` pays back part or all of one payment transaction, by the payment's own
method. It reserves its amount from the moment it is asked for, so what is still
refundable (:func:`refundable_cents`) can never be refunded twice, even by two requests
at once. A refund above the Society Admin's threshold (:func:`approval_threshold`)
waits for a second staff member's approval; until then (and if it is rejected) no money
moves and the ledger has no row for it. Once it goes ahead it posts a ``refund``
transaction: settled at once for a payment taken by hand (paid out at the desk), pending
for a card payment until the provider says the money went back (then settled, or
cancelled if the provider failed it).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow
from .choices import RefundState
from .ledger import ACCOUNT_CURRENCY, AccountTransaction, PaymentMethod, TxnKind, _enum
from .merge import member_reference
from .on_behalf import SETTING_DEFAULTS, setting

#: States that hold their amount against the payment (what is refundable shrinks).
RESERVING = (RefundState.AWAITING_APPROVAL, RefundState.PENDING, RefundState.SETTLED)


class Refund(Base):
    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    #: The payment it pays back.
    payment_txn_id: Mapped[int] = mapped_column(ForeignKey("account_txn.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default=ACCOUNT_CURRENCY)
    #: The payment's method: a card refund goes through the provider.
    method: Mapped[PaymentMethod] = mapped_column(_enum(PaymentMethod))
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[RefundState] = mapped_column(_enum(RefundState))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    requested_by: Mapped[str] = mapped_column(String(120), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    decided_by: Mapped[str] = mapped_column(String(120), default="")
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    #: The provider (card refunds) and its id for the refund, once it was asked.
    provider: Mapped[str] = mapped_column(String(20), default="")
    provider_refund_id: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: What the provider said when it failed the refund.
    failure: Mapped[str] = mapped_column(String(200), default="")
    #: The ledger's refund transaction, once the refund goes ahead.
    txn_id: Mapped[int | None] = mapped_column(ForeignKey("account_txn.id"), default=None)

    #: The approvals list reads refunds awaiting approval, oldest first.
    __table_args__ = (Index("ix_refund_state_requested", "state", "requested_at", "id"),)

    @property
    def reference(self) -> str:
        """Our reference for it at the provider (its idempotency key there)."""
        return f"refund-{self.id}"

    @property
    def to_send(self) -> bool:
        """Gone ahead by card and not yet asked of the provider."""
        return self.state == RefundState.PENDING and self.method == PaymentMethod.CARD and self.sent_at is None


member_reference("refund", "member_id", "refunds")

#: Refunds above this many minor units need a second staff member's approval.
REFUND_APPROVAL_THRESHOLD = "refunds.approval_threshold_cents"
DEFAULT_APPROVAL_THRESHOLD = 25_000
SETTING_DEFAULTS[REFUND_APPROVAL_THRESHOLD] = DEFAULT_APPROVAL_THRESHOLD
#: The largest single amount a person may type (a payment, refund, credit note): £1,000,000.
MAX_AMOUNT_CENTS = 100_000_000


def approval_threshold(session: Session) -> int:
    return int(setting(session, REFUND_APPROVAL_THRESHOLD))


def needs_approval(session: Session, amount_cents: int) -> bool:
    return amount_cents > approval_threshold(session)


def refunded_cents(session: Session, payment_txn_id: int) -> int:
    """What refunds of the payment hold (asked for, gone ahead or done)."""
    return int(session.scalar(select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
        Refund.payment_txn_id == payment_txn_id, Refund.state.in_(RESERVING))) or 0)


def refundable_cents(session: Session, payment: AccountTransaction) -> int:
    """What of ``payment`` may still be refunded: its amount less what refunds hold."""
    if payment.kind != TxnKind.PAYMENT:
        return 0
    return -payment.amount_cents - refunded_cents(session, payment.id)
