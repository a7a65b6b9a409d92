"""Orders, their lines, registrants and invoices (the Arlo customer portal's "My orders").

An order has one **order contact** (the billing contact: the member account that is
charged and may pay) and any number of **registrants** (members the order is for: they
see it in the portal too). Its amount is the sum of its lines, in integer minor units of
its currency. Placing an order issues its invoice and posts the charge on the contact's
account (:func:`place_order`, through the ledger's one writer). An order can be marked
**exported** to the accounting system; an exported order can no longer be paid in the
portal (the Arlo manual's Xero rule), see :func:`payment_refusal`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .ledger import ACCOUNT_CURRENCY, TxnKind, _enum, post_transaction
from .member import Member, MemberStatus
from .merge import member_reference


class OrderState(enum.StrEnum):
    #: Invoiced, not paid yet.
    UNPAID = "unpaid"
    #: The provider took the payment; it settles on the account shortly.
    PAYMENT_PENDING = "payment_pending"
    PAID = "paid"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"unpaid": "Unpaid", "payment_pending": "Payment pending", "paid": "Paid",
                "cancelled": "Cancelled"}[self.value]


class OrderKind(enum.StrEnum):
    ORDER = "order"
    #: A membership renewal: paying it lifts a block for payment.
    RENEWAL = "renewal"


class Order(Base):
    __tablename__ = "sales_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The number members and staff quote ("SO-100042").
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[OrderKind] = mapped_column(_enum(OrderKind), default=OrderKind.ORDER)
    #: The order contact: whose account is charged, who may pay.
    contact_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    #: ISO 4217 code; amounts are integer minor units of it.
    currency: Mapped[str] = mapped_column(String(3), default=ACCOUNT_CURRENCY)
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[OrderState] = mapped_column(_enum(OrderState), default=OrderState.UNPAID)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Exported to the accounting system: no more portal payments.
    exported: Mapped[bool] = mapped_column(Boolean, default=False)
    exported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    exported_by: Mapped[str] = mapped_column(String(120), default="")

    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                  order_by="OrderLine.id")
    registrants: Mapped[list[OrderRegistrant]] = relationship(back_populates="order",
                                                              cascade="all, delete-orphan",
                                                              order_by="OrderRegistrant.id")
    invoice: Mapped[Invoice | None] = relationship(back_populates="order", uselist=False)

    @property
    def payable(self) -> bool:
        return payment_refusal(self) is None


class OrderLine(Base):
    __tablename__ = "order_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_cents: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderRegistrant(Base):
    """A member an order is for (no unique key: a merge may bring one member twice;
    readers take distinct members)."""

    __tablename__ = "order_registrant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)

    order: Mapped[Order] = relationship(back_populates="registrants")


class Invoice(Base):
    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_no: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id", ondelete="CASCADE"), unique=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="invoice")

    __table_args__ = (Index("ix_invoice_issued", "issued_at"),)


member_reference("sales_order", "contact_member_id", "orders (as order contact)")
member_reference("order_registrant", "member_id", "order registrations")


# ---------------------------------------------------------------------- rules


@dataclass(frozen=True)
class LineIn:
    description: str
    unit_cents: int
    quantity: int = 1


def place_order(
    session: Session,
    contact: Member,
    lines: Sequence[LineIn],
    *,
    registrants: Sequence[Member] = (),
    description: str = "",
    kind: OrderKind = OrderKind.ORDER,
    at: dt.datetime | None = None,
) -> Order:
    """A new order for ``contact`` with its invoice, and its charge on the contact's
    account (in the caller's transaction). Raises ValueError for an empty or negative order."""
    if not lines:
        raise ValueError("an order needs at least one line")
    if any(line.quantity < 1 or line.unit_cents < 0 for line in lines):
        raise ValueError("quantities are at least 1 and prices are not negative")
    at = at or utcnow()
    amount = sum(line.unit_cents * line.quantity for line in lines)
    order = Order(
        order_no="pending", kind=kind, contact_member_id=contact.id,
        description=description or lines[0].description, currency=ACCOUNT_CURRENCY, amount_cents=amount,
        state=OrderState.UNPAID, created_at=at, exported=False, exported_by="",
        lines=[OrderLine(description=line.description, quantity=line.quantity, unit_cents=line.unit_cents,
                         amount_cents=line.unit_cents * line.quantity) for line in lines],
        registrants=[OrderRegistrant(member_id=m.id) for m in dict.fromkeys(registrants)],
    )
    session.add(order)
    session.flush()
    order.order_no = f"SO-{100000 + order.id}"
    session.add(Invoice(invoice_no=f"INV-{100000 + order.id}", order_id=order.id, amount_cents=amount,
                        currency=order.currency, issued_at=at))
    post_transaction(session, contact, amount, f"Order {order.order_no}: {order.description}"[:200],
                     kind=TxnKind.CHARGE, order_id=order.id, at=at)
    return order


def payment_refusal(order: Order) -> str | None:
    """Why ``order`` cannot be paid in the portal now, in plain words (None if it can)."""
    if order.exported:
        when = f" on {order.exported_at:%d %B %Y}" if order.exported_at else ""
        return (f"This order was exported to our accounting system{when}, so it can no longer be paid "
                "here. Please contact us to pay it.")
    if order.state == OrderState.PAID:
        return "This order is paid."
    if order.state == OrderState.PAYMENT_PENDING:
        return "A payment for this order was received and is being settled."
    if order.state == OrderState.CANCELLED:
        return "This order was cancelled."
    if order.amount_cents <= 0:
        return "There is nothing to pay on this order."
    return None


def orders_visible_to(session: Session, member_id: int) -> list[Order]:
    """Every order ``member_id`` is the order contact for or a registrant on, newest first."""
    registrant = select(OrderRegistrant.order_id).where(OrderRegistrant.member_id == member_id)
    return list(session.scalars(
        select(Order).where(or_(Order.contact_member_id == member_id, Order.id.in_(registrant)))
        .order_by(Order.created_at.desc(), Order.id.desc())
    ))


def can_see(session: Session, order: Order, member_id: int) -> bool:
    if order.contact_member_id == member_id:
        return True
    return session.scalar(select(OrderRegistrant.id).where(
        OrderRegistrant.order_id == order.id, OrderRegistrant.member_id == member_id).limit(1)) is not None


def registrant_members(session: Session, order: Order) -> list[Member]:
    ids = list(dict.fromkeys(r.member_id for r in order.registrants))
    if not ids:
        return []
    found = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def may_order(member: Member) -> bool:
    return member.status not in (MemberStatus.MERGED, MemberStatus.INACTIVE)
