"""Payments through a provider's hosted checkout, and the test provider's own state.

:class:`Payment` is our record of one checkout session for one order: who started it,
how much, until when it can be paid, and what became of it. The money itself moves only
as account transactions (:mod:`.ledger`): a completed checkout posts one *pending*
payment transaction (its ``reference`` is the checkout session id, unique), which
settles when the provider says the money arrived. See
docs/decisions/0016-payments-and-ledger.md.

The ``test_checkout*`` tables are the test provider's side (it plays the payment
service inside our server): its sessions, the events it sends, its webhook secret.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow
from .ledger import _enum
from .merge import member_reference


class CheckoutState(enum.StrEnum):
    #: Waiting for the member on the provider's page (until ``expires_at``).
    OPEN = "open"
    #: Paid: the payment transaction exists (pending or settled).
    PAID = "paid"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Payment(Base):
    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    #: The account paying (the order contact).
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    checkout_id: Mapped[str] = mapped_column(String(120), unique=True)
    checkout_url: Mapped[str] = mapped_column(String(500))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[CheckoutState] = mapped_column(_enum(CheckoutState), default=CheckoutState.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: The portal user who started it.
    started_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    #: The payment transaction, once the checkout is paid.
    txn_id: Mapped[int | None] = mapped_column(ForeignKey("account_txn.id"), default=None)

    __table_args__ = (Index("ix_payment_order_state", "order_id", "state"),)

    def usable(self, now: dt.datetime | None = None) -> bool:
        """Still open and not expired: the member can go on paying it."""
        return self.state == CheckoutState.OPEN and self.expires_at > (now or utcnow())


member_reference("payment", "member_id", "payments")


# ---------------------------------------------------------------------- test provider


class TestCheckout(Base):
    """A checkout session of the test provider (its own side of the story)."""

    __tablename__ = "test_checkout"
    __test__ = False  # not a pytest class

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(120))
    success_url: Mapped[str] = mapped_column(String(500))
    cancel_url: Mapped[str] = mapped_column(String(500))
    webhook_url: Mapped[str] = mapped_column(String(500))
    #: open, complete, declined, expired
    status: Mapped[str] = mapped_column(String(20), default="open")
    #: unpaid, processing (taken, settling), paid
    payment_status: Mapped[str] = mapped_column(String(20), default="unpaid")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class TestProviderEvent(Base):
    """An event the test provider sends to the webhook (kept, so it can be sent again)."""

    __tablename__ = "test_checkout_event"
    __test__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(120), unique=True)
    checkout_id: Mapped[str] = mapped_column(ForeignKey("test_checkout.id"), index=True)
    type: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class TestCheckoutCard(Base):
    """The card a test checkout was paid (or refused) with, as a provider reports it:
    its fingerprint (the same card always has the same one), brand, BIN and last four;
    never the card number."""

    __tablename__ = "test_checkout_card"
    __test__ = False

    checkout_id: Mapped[str] = mapped_column(ForeignKey("test_checkout.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    brand: Mapped[str] = mapped_column(String(20))
    bin: Mapped[str] = mapped_column(String(8))
    last4: Mapped[str] = mapped_column(String(4))


class TestProviderKey(Base):
    """The test provider's webhook signing secret (one row, made on first use)."""

    __tablename__ = "test_checkout_key"
    __test__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(100))


class TestRefund(Base):
    """A refund the test provider made of one of its paid sessions: one per idempotency
    key (a retried request answers the same refund), answered "pending" and then
    settled (or failed) by a ``refund.updated`` event."""

    __tablename__ = "test_refund"
    __test__ = False

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    checkout_id: Mapped[str] = mapped_column(ForeignKey("test_checkout.id"))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    #: pending, succeeded, failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
