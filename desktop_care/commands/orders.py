"""Commands on orders and payments: mark an order exported (console), e-mail its invoice
and start paying it (portal), place a membership renewal (a member blocked for payment),
and record what the payment provider says (the webhook and the return page).

All are online only: an order's export state and its payments are decided by the
server at the moment they happen (a queued "mark exported" could land after the member
paid; see docs/decisions/0016-payments-and-ledger.md). Payments are recorded only by the
server itself (:class:`RecordPayment` permits no signed-in role at all).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, ClassVar, Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AccountTransaction,
    CheckoutState,
    EmailCategory,
    LineIn,
    Member,
    MemberStatus,
    Order,
    OrderKind,
    OrderState,
    Payment,
    PaymentMethod,
    TxnKind,
    TxnStatus,
    User,
    UserRole,
    post_transaction,
    queue_mail,
    settle_transaction,
    utcnow,
)
from ..models.ledger import money
from ..models.orders import can_see, payment_refusal, place_order
from .base import Actor, Command, Rejected
from .registry import register

#: The membership renewal's price (minor units of the account currency) and wording.
RENEWAL_CENTS = 4500
RENEWAL_LINE = "Membership renewal (12 months)"


def _order(session: Session, member: Member, order_id: int, *, contact_only: bool = False) -> Order:
    order = session.get(Order, order_id)
    if order is None or not can_see(session, order, member.id):
        raise Rejected(f"member {member.member_no} has no order {order_id}", {"order_id": "no such order"})
    if contact_only and order.contact_member_id != member.id:
        raise Rejected(f"only the order contact can pay order {order.order_no}", {"order_id": "not the order contact"})
    return order


class _OnlineCommand(Command):
    """Run now on the server, writing no member field a workstation shows."""

    never_conflicts: ClassVar[bool] = True
    online_only: ClassVar[bool] = True

    def changed_fields(self) -> frozenset[str]:
        return frozenset()

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values)


class _OrderCommand(_OnlineCommand):
    order_id: int = Field(gt=0)


@register
class MarkOrderExported(_OrderCommand):
    """Mark an order as exported to the accounting system (or not any more): an exported
    order can no longer be paid in the portal. ``member_id`` is the order contact."""

    kind: Literal["mark_order_exported"] = "mark_order_exported"
    exported: bool

    action: ClassVar[str] = "order.mark_exported"
    label: ClassVar[str] = "Mark order exported"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_STAFF

    def check_in(self, session: Session, member: Member) -> None:
        order = _order(session, member, self.order_id)
        if order.contact_member_id != member.id:
            raise Rejected(f"order {order.order_no} belongs to another order contact", {"order_id": "not this member's"})
        if order.exported == self.exported:
            state = "already exported" if self.exported else "not exported"
            raise Rejected(f"order {order.order_no} is {state}", {"exported": state})
        if self.exported and session.scalar(select(Payment.id).where(
                Payment.order_id == order.id, Payment.state == CheckoutState.OPEN,
                Payment.expires_at > utcnow()).limit(1)) is not None:
            raise Rejected(f"a payment for order {order.order_no} is in progress; try again once it is finished",
                           {"exported": "a payment is in progress"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        order = _order(session, member, self.order_id)
        before = {"exported": order.exported, "exported_at": order.exported_at.isoformat() if order.exported_at else None,
                  "exported_by": order.exported_by}
        staff = session.get(User, actor.user_id) if actor.user_id is not None else None
        order.exported = self.exported
        order.exported_at = utcnow() if self.exported else None
        order.exported_by = ((staff.display_name or staff.username) if staff else actor.username) if self.exported else ""
        return {"order_id": order.id, "order_no": order.order_no, "before": before,
                "after": {"exported": order.exported, "exported_by": order.exported_by}}

    def summary(self) -> str:
        return "Mark order exported" if self.exported else "Mark order not exported"


@register
class EmailInvoice(_OrderCommand):
    """Queue the order's invoice as an e-mail to a portal user of the member (the one
    who asked) or, without ``user_id``, to the member's own address."""

    kind: Literal["email_invoice"] = "email_invoice"
    user_id: int | None = Field(default=None, gt=0)

    action: ClassVar[str] = "order.email_invoice"
    label: ClassVar[str] = "E-mail invoice"

    def _recipient(self, session: Session, member: Member) -> tuple[str, str]:
        if self.user_id is not None:
            user = session.get(User, self.user_id)
            if user is None or user.member_id != member.id:
                raise Rejected(f"user {self.user_id} is not a portal user of member {member.member_no}",
                               {"user_id": "not a portal user of this member"})
            if user.email:
                return user.email, user.display_name or user.username
        if not member.email:
            raise Rejected("there is no e-mail address to send the invoice to", {"user_id": "no e-mail address"})
        return member.email, member.display_name

    def check_in(self, session: Session, member: Member) -> None:
        order = _order(session, member, self.order_id)
        if order.invoice is None:
            raise Rejected(f"order {order.order_no} has no invoice yet", {"order_id": "no invoice"})
        self._recipient(session, member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        order = _order(session, member, self.order_id)
        invoice = order.invoice
        assert invoice is not None
        to, name = self._recipient(session, member)
        contact = session.get(Member, order.contact_member_id)
        context = {
            "name": name, "order_no": order.order_no, "order_id": order.id, "invoice_no": invoice.invoice_no,
            "issued": f"{invoice.issued_at:%d %B %Y}", "total": money(order.amount_cents, order.currency),
            "state": order.state.label, "payable": payment_refusal(order) is None,
            "contact_name": contact.display_name if contact else "", "contact_no": contact.member_no if contact else "",
            "lines": [{"description": line.description, "quantity": line.quantity,
                       "amount": money(line.amount_cents, order.currency)} for line in order.lines],
        }
        mail = queue_mail(session, template="invoice", category=EmailCategory.SERVICE, to_address=to, to_name=name,
                          member=member, user_id=self.user_id, context=context, actor_user_id=actor.user_id,
                          actor_name=actor.username, impersonation_id=actor.impersonation_id,
                          client_address=actor.client_address)
        return {"order_id": order.id, "order_no": order.order_no, "invoice_no": invoice.invoice_no, "to": to,
                "message_id": mail.message_id if mail is not None else None}


@register
class OpenCheckout(_OrderCommand):
    """Record a checkout session the provider opened for paying the order (the member
    then pays on the provider's page). Refused for an order that cannot be paid now."""

    kind: Literal["open_checkout"] = "open_checkout"
    provider: str = Field(min_length=1, max_length=20)
    checkout_id: str = Field(min_length=1, max_length=120)
    checkout_url: str = Field(min_length=1, max_length=500)
    amount_cents: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    expires_at: dt.datetime
    user_id: int | None = Field(default=None, gt=0)

    action: ClassVar[str] = "order.checkout_opened"
    label: ClassVar[str] = "Start paying an order"

    @classmethod
    def permits(cls, role: UserRole | None) -> bool:
        return role is None  # the portal, for the signed-in order contact

    @classmethod
    def refusal(cls, role: UserRole | None) -> str | None:
        return None if role is None else "Start paying an order: only the member does this, in the portal"

    def check_in(self, session: Session, member: Member) -> None:
        order = _order(session, member, self.order_id, contact_only=True)
        reason = payment_refusal(order)
        if reason is not None:
            raise Rejected(reason, {"order_id": reason})
        if (self.amount_cents, self.currency) != (order.amount_cents, order.currency):
            raise Rejected(f"the amount is {money(order.amount_cents, order.currency)}",
                           {"amount_cents": "not the order's amount"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        payment = Payment(order_id=self.order_id, member_id=member.id, provider=self.provider,
                          checkout_id=self.checkout_id, checkout_url=self.checkout_url,
                          amount_cents=self.amount_cents, currency=self.currency, state=CheckoutState.OPEN,
                          created_at=utcnow(), expires_at=self.expires_at, started_by_user_id=self.user_id)
        session.add(payment)
        session.flush()
        return {"order_id": self.order_id, "payment_id": payment.id, "checkout_id": self.checkout_id,
                "amount": money(self.amount_cents, self.currency)}


def lift_renewal_block(member: Member) -> bool:
    """A paid renewal lifts the member's block for payment; whether there was one."""
    if not member.blocked_for_balance:
        return False
    member.blocked_for_balance, member.blocked_reason = False, ""
    member.blocked_at, member.blocked_by = None, ""
    return True


class Outcome(enum.StrEnum):
    """What the provider says became of a checkout."""

    #: Paid; the money settles later (a pending payment transaction).
    PAID = "paid"
    #: The money arrived (the payment transaction settles; made settled if it was not there).
    SETTLED = "settled"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_FAILED_STATE = {Outcome.DECLINED: CheckoutState.DECLINED, Outcome.CANCELLED: CheckoutState.CANCELLED,
                 Outcome.EXPIRED: CheckoutState.EXPIRED}
#: Names op ids made from provider events: the same event always makes the same op id.
EVENT_NAMESPACE = uuid.UUID("5b8f7a52-6f0e-4d57-9a0c-7b9f3d3c2e11")


def event_op_id(provider: str, event_id: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{provider}:{event_id}")


@register
class RecordPayment(_OrderCommand):
    """What the provider says about a checkout (a webhook event, or the session read on
    the return page), applied once: by ``op_id`` (made from the provider's event id,
    :func:`event_op_id`) and by checkout session (one payment transaction per session,
    whose ``reference`` is unique; states only move forward: paid beats everything,
    settled beats paid, a failure changes only an open checkout). Paying a renewal
    lifts the member's block for payment."""

    kind: Literal["record_payment"] = "record_payment"
    checkout_id: str = Field(min_length=1, max_length=120)
    outcome: Outcome
    event_id: str = Field(default="", max_length=120)

    action: ClassVar[str] = "order.payment_recorded"
    label: ClassVar[str] = "Record a payment"

    @classmethod
    def permits(cls, role: UserRole | None) -> bool:
        return role is None  # only the server itself, on the provider's word

    @classmethod
    def refusal(cls, role: UserRole | None) -> str | None:
        return None if role is None else "Record a payment: only the payment provider records payments"

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"blocked_for_balance", "blocked_reason"})

    def _payment(self, session: Session, member: Member) -> Payment:
        payment = session.scalar(select(Payment).where(Payment.checkout_id == self.checkout_id).with_for_update())
        if payment is None or payment.member_id != member.id or payment.order_id != self.order_id:
            raise Rejected(f"no checkout {self.checkout_id} for this order", {"checkout_id": "unknown checkout"})
        return payment

    def check_in(self, session: Session, member: Member) -> None:
        self._payment(session, member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        payment = self._payment(session, member)
        order = session.get(Order, payment.order_id)
        assert order is not None
        before = payment.state
        txn = session.get(AccountTransaction, payment.txn_id) if payment.txn_id is not None else None
        effect = "none"
        now = utcnow()
        if self.outcome in (Outcome.PAID, Outcome.SETTLED):
            if txn is None:
                status = TxnStatus.SETTLED if self.outcome == Outcome.SETTLED else TxnStatus.PENDING
                txn = post_transaction(session, member, -payment.amount_cents,
                                       f"Card payment for order {order.order_no}"[:200], status,
                                       kind=TxnKind.PAYMENT, currency=payment.currency, order_id=order.id,
                                       reference=payment.checkout_id, method=PaymentMethod.CARD,
                                       recorded_by=actor.username)
                session.flush()
                payment.txn_id = txn.id
                effect = f"payment {status.value}"
            elif self.outcome == Outcome.SETTLED and settle_transaction(member, txn):
                effect = "payment settled"
            payment.state, payment.finished_at = CheckoutState.PAID, payment.finished_at or now
            settled = txn.status == TxnStatus.SETTLED
            order.state = OrderState.PAID if settled else OrderState.PAYMENT_PENDING
            order.paid_at = order.paid_at or now
            if order.kind == OrderKind.RENEWAL and lift_renewal_block(member):
                effect += "; block for payment lifted"
        elif payment.state == CheckoutState.OPEN:
            payment.state, payment.finished_at = _FAILED_STATE[self.outcome], now
            effect = f"checkout {payment.state.value}"
        return {"order_id": order.id, "order_no": order.order_no, "checkout_id": payment.checkout_id,
                "event_id": self.event_id, "outcome": self.outcome.value, "before": before.value,
                "after": payment.state.value, "effect": effect, "amount": money(payment.amount_cents, payment.currency)}


@register
class PlaceRenewal(_OnlineCommand):
    """Place a membership renewal order for the member (the page a member blocked for
    payment sees); refused while one is unpaid (pay that one)."""

    kind: Literal["place_renewal"] = "place_renewal"

    action: ClassVar[str] = "order.renewal_placed"
    label: ClassVar[str] = "Place a membership renewal"

    def check_in(self, session: Session, member: Member) -> None:
        if member.status in (MemberStatus.MERGED, MemberStatus.INACTIVE):
            raise Rejected(f"member {member.member_no} cannot renew: the membership is closed")
        if open_renewal(session, member.id) is not None:
            raise Rejected("a membership renewal is already waiting to be paid", {"kind": "already placed"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        order = place_order(session, member, [LineIn(RENEWAL_LINE, RENEWAL_CENTS)], registrants=[member],
                            kind=OrderKind.RENEWAL, description="Membership renewal")
        return {"order_id": order.id, "order_no": order.order_no, "amount": money(order.amount_cents)}


def open_renewal(session: Session, member_id: int) -> Order | None:
    """The member's unpaid renewal order, if any."""
    return session.scalar(select(Order).where(
        Order.contact_member_id == member_id, Order.kind == OrderKind.RENEWAL,
        Order.state.in_((OrderState.UNPAID, OrderState.PAYMENT_PENDING))).order_by(Order.id.desc()).limit(1))
