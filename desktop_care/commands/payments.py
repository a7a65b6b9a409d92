"""The payment manager's commands (docs/decisions/0023-payment-manager.md): record a
payment taken by hand, refund a payment (with a second staff member's approval above
the Society Admin's threshold), issue a credit note, and — for the server itself — what
the provider says became of a card refund.

All are online only: money needs the server now (what is still refundable, whether an
order is paid, the threshold). Each is idempotent by its op id (``execute`` locks the
member and returns a retried op id's stored result), and a refund reserves its amount
from the moment it is asked for, so two refunds can never take more than the payment.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, Strict, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    AccountTransaction,
    Member,
    MemberStatus,
    Order,
    OrderKind,
    OrderState,
    Payment,
    PaymentMethod,
    Refund,
    RefundState,
    TxnKind,
    TxnStatus,
    UserRole,
    cancel_transaction,
    post_transaction,
    settle_transaction,
    utcnow,
)
from ..models.ledger import money
from ..models.on_behalf import set_setting
from ..models.refunds import (
    MAX_AMOUNT_CENTS,
    REFUND_APPROVAL_THRESHOLD,
    approval_threshold,
    needs_approval,
    refundable_cents,
)
from .base import REASON_SCHEMA, Actor, Rejected, SettingCommand, clean_reason, json_integer
from .orders import _OnlineCommand, _order, lift_renewal_block
from .registry import register

#: An amount typed by staff: whole minor units, at least 1p, at most £1,000,000.
# (The bounds come before the JSON integer rule, so that the document states them as
# minimum and maximum: after a validator pydantic could only write them as "ge"/"le".)
Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT_CENTS), BeforeValidator(json_integer), Strict()]
Reason = Annotated[str, Field(min_length=3, max_length=500, json_schema_extra=REASON_SCHEMA)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1), BeforeValidator(json_integer), Strict()]
#: How a payment can be taken by hand.
ManualMethod = Literal["cash", "cheque", "bank_transfer"]
#: Names op ids made from what the provider answered about a refund.
REFUND_NAMESPACE = uuid.UUID("9a3c1f0e-2b7d-4f5e-8c61-0d4e7a2b9f35")


def _open_account(member: Member) -> None:
    if member.status == MemberStatus.MERGED:
        raise Rejected(f"member {member.member_no} was merged into another account; use that account")


class _ReasonCommand(_OnlineCommand):
    reason: Reason

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return clean_reason(value)


@register
class RecordManualPayment(_OnlineCommand):
    """A payment taken by hand (cash, a cheque, a bank transfer), settled at once; for an
    order, its whole amount (the order is then paid; a renewal lifts the block for
    payment)."""

    kind: Literal["record_manual_payment"] = "record_manual_payment"
    amount_cents: Amount
    method: ManualMethod
    #: The cheque number, the bank's reference or the receipt number.
    reference: str = Field(min_length=1, max_length=120, pattern=r"\S")
    order_id: Id | None = None

    action: ClassVar[str] = "payment.recorded"
    label: ClassVar[str] = "Record a payment"

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must say which cheque, transfer or receipt it was")
        return value

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"blocked_for_balance", "blocked_reason"})

    def _the_order(self, session: Session, member: Member) -> Order | None:
        if self.order_id is None:
            return None
        order = _order(session, member, self.order_id, contact_only=True)
        refusal = {OrderState.PAID: f"order {order.order_no} is paid already",
                   OrderState.PAYMENT_PENDING: f"a payment for order {order.order_no} is being settled",
                   OrderState.CANCELLED: f"order {order.order_no} was cancelled"}.get(order.state)
        if refusal:
            raise Rejected(refusal, {"order_id": refusal})
        if self.amount_cents != order.amount_cents:
            raise Rejected(f"a payment for order {order.order_no} is its whole amount, "
                           f"{money(order.amount_cents, order.currency)}; record a part payment on the account",
                           {"amount_cents": f"must be {money(order.amount_cents, order.currency)} for this order"})
        return order

    def check_in(self, session: Session, member: Member) -> None:
        _open_account(member)
        self._the_order(session, member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        order = self._the_order(session, member)
        method = PaymentMethod(self.method)
        what = f"{method.label} payment" + (f" for order {order.order_no}" if order else "")
        txn = post_transaction(session, member, -self.amount_cents, what[:200], TxnStatus.SETTLED,
                               kind=TxnKind.PAYMENT, order_id=order.id if order else None, method=method,
                               method_reference=self.reference, recorded_by=actor.username)
        session.flush()
        effect = "payment settled"
        if order is not None:
            order.state, order.paid_at = OrderState.PAID, order.paid_at or utcnow()
            if order.kind == OrderKind.RENEWAL and lift_renewal_block(member):
                effect += "; block for payment lifted"
        return {"txn_id": txn.id, "amount": money(self.amount_cents), "method": method.value,
                "reference": self.reference, "order_no": order.order_no if order else None, "effect": effect}

    def summary(self) -> str:
        return f"Record a {PaymentMethod(self.method).label.lower()} payment of {money(self.amount_cents)}"


def _payment(session: Session, member: Member, txn_id: int) -> AccountTransaction:
    txn = session.get(AccountTransaction, txn_id)
    if txn is None or txn.member_id != member.id or txn.kind != TxnKind.PAYMENT:
        raise Rejected(f"there is no payment {txn_id} on this account", {"payment_txn_id": "no such payment"})
    return txn


def _refund(session: Session, member: Member, refund_id: int) -> Refund:
    refund = session.get(Refund, refund_id)
    if refund is None or refund.member_id != member.id:
        raise Rejected(f"there is no refund {refund_id} on this account", {"refund_id": "no such refund"})
    return refund


def _go_ahead(session: Session, member: Member, refund: Refund, payment: AccountTransaction, actor: Actor) -> str:
    """Post the refund's transaction: paid out at once by hand (settled), or pending
    until the provider answers (a card refund, sent after this commits)."""
    card = refund.method == PaymentMethod.CARD
    what = f"Refund of {refund.method.label.lower()} payment" + (
        f" for order {order.order_no}" if payment.order_id and (order := session.get(Order, payment.order_id)) else "")
    txn = post_transaction(session, member, refund.amount_cents, what[:200],
                           TxnStatus.PENDING if card else TxnStatus.SETTLED, kind=TxnKind.REFUND,
                           order_id=payment.order_id, method=refund.method, note=refund.reason,
                           refund_of_id=payment.id, recorded_by=actor.username)
    session.flush()
    refund.txn_id = txn.id
    if card:
        refund.state = RefundState.PENDING
        return "sent to the payment provider"
    refund.state, refund.finished_at = RefundState.SETTLED, utcnow()
    return f"paid out by {refund.method.label.lower()}"


@register
class RefundPayment(_ReasonCommand):
    """Refund part or all of a settled payment, back by its own method: at most what is
    still refundable. Above the threshold it waits for another staff member's approval
    (:class:`DecideRefund`); otherwise it goes ahead now."""

    kind: Literal["refund_payment"] = "refund_payment"
    payment_txn_id: Id
    amount_cents: Amount

    action: ClassVar[str] = "payment.refund_requested"
    label: ClassVar[str] = "Refund a payment"

    def check_in(self, session: Session, member: Member) -> None:
        _open_account(member)
        payment = _payment(session, member, self.payment_txn_id)
        if payment.status == TxnStatus.PENDING:
            raise Rejected("this payment has not settled yet; it can be refunded once the money has arrived",
                           {"payment_txn_id": "not settled yet"})
        if payment.method is None:
            raise Rejected("it is not known how this payment was made, so it cannot be refunded here",
                           {"payment_txn_id": "method unknown"})
        if payment.method == PaymentMethod.CARD and session.scalar(
                select(Payment.id).where(Payment.txn_id == payment.id)) is None:
            raise Rejected("this card payment has no checkout to refund through", {"payment_txn_id": "no checkout"})
        left = refundable_cents(session, payment)
        if left <= 0:
            raise Rejected("this payment has been refunded in full (or refunds of all of it are waiting)",
                           {"amount_cents": "nothing left to refund"})
        if self.amount_cents > left:
            raise Rejected(f"at most {money(left)} of this payment can still be refunded",
                           {"amount_cents": f"at most {money(left)}"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        payment = _payment(session, member, self.payment_txn_id)
        assert payment.method is not None
        checkout = session.scalar(select(Payment).where(Payment.txn_id == payment.id))
        waits = needs_approval(session, self.amount_cents)
        refund = Refund(member_id=member.id, payment_txn_id=payment.id, amount_cents=self.amount_cents,
                        currency=payment.currency, method=payment.method, reason=self.reason,
                        state=RefundState.AWAITING_APPROVAL, requested_at=utcnow(),
                        requested_by_user_id=actor.user_id, requested_by=actor.username, decided_by="",
                        decision_reason="", provider=checkout.provider if checkout else "", failure="")
        session.add(refund)
        session.flush()
        effect = (f"awaiting approval (over {money(approval_threshold(session))})" if waits
                  else _go_ahead(session, member, refund, payment, actor))
        return {"refund_id": refund.id, "payment_txn_id": payment.id, "amount": money(self.amount_cents),
                "method": payment.method.value, "reason": self.reason, "state": refund.state.value,
                "effect": effect}

    def summary(self) -> str:
        return f"Refund {money(self.amount_cents)}"


@register
class DecideRefund(_ReasonCommand):
    """Approve or reject a refund awaiting approval: another staff member than the one
    who asked for it. Approved, it goes ahead (a card refund then reaches the
    provider); rejected, nothing is refunded and its amount is refundable again."""

    kind: Literal["decide_refund"] = "decide_refund"
    refund_id: Id
    approve: bool

    action: ClassVar[str] = "payment.refund_decided"
    label: ClassVar[str] = "Approve or reject a refund"

    def check_in(self, session: Session, member: Member) -> None:
        refund = _refund(session, member, self.refund_id)
        if refund.state != RefundState.AWAITING_APPROVAL:
            raise Rejected(f"this refund is {refund.state.label.lower()} already; only a refund awaiting "
                           "approval can be approved or rejected", {"refund_id": refund.state.label})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        refund = _refund(session, member, self.refund_id)
        # The rule needs the actor, which only ``apply`` sees; nothing is written before it.
        if refund.requested_by_user_id is not None and refund.requested_by_user_id == actor.user_id:
            raise Rejected("you asked for this refund: another staff member must approve or reject it",
                           {"approve": "needs another staff member"})
        refund.decided_at, refund.decided_by_user_id = utcnow(), actor.user_id
        refund.decided_by, refund.decision_reason = actor.username, self.reason
        if self.approve:
            payment = session.get(AccountTransaction, refund.payment_txn_id)
            assert payment is not None
            effect = "approved; " + _go_ahead(session, member, refund, payment, actor)
        else:
            refund.state, refund.finished_at = RefundState.REJECTED, utcnow()
            effect = "rejected; nothing refunded"
        return {"refund_id": refund.id, "amount": money(refund.amount_cents), "approve": self.approve,
                "requested_by": refund.requested_by, "reason": self.reason, "state": refund.state.value,
                "effect": effect}

    def summary(self) -> str:
        return "Approve a refund" if self.approve else "Reject a refund"


@register
class IssueCreditNote(_ReasonCommand):
    """Reduce what the member owes without money moving, against an order (at most what
    of it has not been credited yet) or the account."""

    kind: Literal["issue_credit_note"] = "issue_credit_note"
    amount_cents: Amount
    order_id: Id | None = None

    action: ClassVar[str] = "payment.credit_note"
    label: ClassVar[str] = "Issue a credit note"

    def _the_order(self, session: Session, member: Member) -> Order | None:
        if self.order_id is None:
            return None
        order = _order(session, member, self.order_id, contact_only=True)
        if order.state == OrderState.CANCELLED:
            raise Rejected(f"order {order.order_no} was cancelled", {"order_id": "cancelled"})
        credited = int(session.scalar(select(func.coalesce(func.sum(AccountTransaction.amount_cents), 0)).where(
            AccountTransaction.order_id == order.id, AccountTransaction.kind == TxnKind.CREDIT_NOTE)) or 0)
        left = order.amount_cents + credited
        if self.amount_cents > left:
            message = (f"order {order.order_no} has been credited in full" if left <= 0 else
                       f"at most {money(left)} of order {order.order_no} can still be credited")
            raise Rejected(message, {"amount_cents": f"at most {money(max(left, 0))}"})
        return order

    def check_in(self, session: Session, member: Member) -> None:
        _open_account(member)
        self._the_order(session, member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        order = self._the_order(session, member)
        what = "Credit note" + (f" for order {order.order_no}" if order else "")
        txn = post_transaction(session, member, -self.amount_cents, what, TxnStatus.SETTLED,
                               kind=TxnKind.CREDIT_NOTE, order_id=order.id if order else None, note=self.reason,
                               recorded_by=actor.username)
        session.flush()
        return {"txn_id": txn.id, "amount": money(self.amount_cents), "reason": self.reason,
                "order_no": order.order_no if order else None}

    def summary(self) -> str:
        return f"Issue a credit note of {money(self.amount_cents)}"


RefundAnswer = Literal["pending", "succeeded", "failed"]


def refund_answer_op_id(provider: str, refund_id: int, status: str) -> uuid.UUID:
    """The op id of recording what the provider answered when asked for a refund."""
    return uuid.uuid5(REFUND_NAMESPACE, f"{provider}:answer:{refund_id}:{status}")


@register
class RecordRefundOutcome(_OnlineCommand):
    """What the provider says about a card refund (its answer when asked, or a webhook
    event), applied once and only forward: pending → settled (the refund transaction
    settles) or failed (it is cancelled: no money went back, the amount is refundable
    again). Only the server itself records these."""

    kind: Literal["record_refund_outcome"] = "record_refund_outcome"
    refund_id: Id
    provider_refund_id: str = Field(min_length=1, max_length=120)
    status: RefundAnswer
    failure: str = Field(default="", max_length=200)
    event_id: str = Field(default="", max_length=120)

    action: ClassVar[str] = "payment.refund_outcome"
    label: ClassVar[str] = "Record a refund's outcome"

    @classmethod
    def permits(cls, role: UserRole | None) -> bool:
        return role is None

    @classmethod
    def refusal(cls, role: UserRole | None) -> str | None:
        return None if role is None else "Record a refund's outcome: only the payment provider does this"

    def check_in(self, session: Session, member: Member) -> None:
        refund = _refund(session, member, self.refund_id)
        if refund.method != PaymentMethod.CARD:
            raise Rejected("this refund was paid out by hand", {"refund_id": "not a card refund"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        refund = _refund(session, member, self.refund_id)
        before = refund.state
        effect = "none"
        if refund.provider_refund_id is None:
            refund.provider_refund_id = self.provider_refund_id
        refund.sent_at = refund.sent_at or utcnow()
        txn = session.get(AccountTransaction, refund.txn_id) if refund.txn_id is not None else None
        if refund.state == RefundState.PENDING and txn is not None:
            if self.status == "succeeded":
                settle_transaction(member, txn)
                refund.state, refund.finished_at = RefundState.SETTLED, utcnow()
                effect = "refund settled"
            elif self.status == "failed":
                cancel_transaction(member, txn)
                refund.state, refund.finished_at = RefundState.FAILED, utcnow()
                refund.failure = self.failure or "the provider could not refund it"
                effect = "refund failed"
        return {"refund_id": refund.id, "provider_refund_id": self.provider_refund_id, "status": self.status,
                "event_id": self.event_id, "before": before.value, "after": refund.state.value, "effect": effect}


@register
class SetRefundApprovalThreshold(SettingCommand):
    """Refunds above this amount need a second staff member's approval (Society Admin)."""

    kind: Literal["set_refund_approval_threshold"] = "set_refund_approval_threshold"
    #: In minor units; 0 makes every refund need approval.
    amount_cents: Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS), BeforeValidator(json_integer), Strict()]

    action: ClassVar[str] = "settings.changed"
    label: ClassVar[str] = "Set the refund approval threshold"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_ADMIN
    setting_key: ClassVar[str] = REFUND_APPROVAL_THRESHOLD

    def check_in(self, session: Session, actor: Actor) -> None:
        if approval_threshold(session) == self.amount_cents:
            raise Rejected(f"the threshold is {money(self.amount_cents)} already", {"amount_cents": "unchanged"})

    def apply(self, session: Session, actor: Actor) -> dict[str, Any]:
        before = set_setting(session, REFUND_APPROVAL_THRESHOLD, self.amount_cents, changed_by=actor.username)
        return {"key": REFUND_APPROVAL_THRESHOLD, "before": before, "after": self.amount_cents}
