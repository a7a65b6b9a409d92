"""Applying what the provider says: one :class:`RecordPayment` command per webhook event
(its op id made from the event id, so a replayed event is a duplicate) or per outcome
read on the return page. The command is idempotent by checkout session as well, so the
two paths and any order of events end in the same state."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import Actor, Outcome, RecordPayment, Status
from desktop_care.commands.orders import EVENT_NAMESPACE, event_op_id
from desktop_care.models import Payment

from ..transactions import run_command
from . import refunds
from .provider import (
    CheckoutSession,
    EventType,
    PaymentProvider,
    SessionStatus,
    WebhookEvent,
)

_OUTCOMES = {
    EventType.COMPLETED: Outcome.PAID,
    EventType.SETTLED: Outcome.SETTLED,
    EventType.DECLINED: Outcome.DECLINED,
    EventType.EXPIRED: Outcome.EXPIRED,
}


def _actor(provider: PaymentProvider) -> Actor:
    return Actor(user_id=None, username=f"payment provider ({provider.name})", role=None)


def _record(sessions: sessionmaker[Session], provider: PaymentProvider, checkout_id: str, outcome: Outcome,
            event_id: str, op_id: uuid.UUID) -> str:
    with sessions() as session:
        payment = session.scalar(select(Payment).where(Payment.checkout_id == checkout_id,
                                                       Payment.provider == provider.name))
        if payment is None:
            return "ignored: not one of our checkouts"
        member_id, order_id = payment.member_id, payment.order_id
    result = run_command(sessions, RecordPayment(op_id=op_id, member_id=member_id, order_id=order_id,
                                                 checkout_id=checkout_id, outcome=outcome, event_id=event_id),
                         _actor(provider))
    return "duplicate" if result.status == Status.DUPLICATE else result.status.value


def fulfil_event(sessions: sessionmaker[Session], provider: PaymentProvider, event: WebhookEvent) -> str:
    """Apply one webhook event; what came of it ("applied", "duplicate", "ignored: …")."""
    if event.type == EventType.REFUND_UPDATED:
        return refunds.record_event(sessions, provider, event)
    try:
        outcome = _OUTCOMES[EventType(event.type)]
    except ValueError:
        return f"ignored: {event.type} is not an event we act on"
    return _record(sessions, provider, event.checkout_id, outcome, event.id, event_op_id(provider.name, event.id))


def session_outcome(checkout: CheckoutSession) -> Outcome | None:
    if checkout.status == SessionStatus.COMPLETE:
        return Outcome.SETTLED if checkout.payment_status == "paid" else Outcome.PAID
    if checkout.status == SessionStatus.DECLINED:
        return Outcome.DECLINED
    if checkout.status == SessionStatus.EXPIRED:
        return Outcome.EXPIRED
    return None


def fulfil_session(sessions: sessionmaker[Session], provider: PaymentProvider, checkout: CheckoutSession,
                   outcome: Outcome | None = None) -> str:
    """Apply the session's state as read from the provider (the return page), or
    ``outcome`` (the member cancelled)."""
    outcome = outcome or session_outcome(checkout)
    if outcome is None:
        return "open"
    op_id = uuid.uuid5(EVENT_NAMESPACE, f"{provider.name}:return:{checkout.id}:{outcome.value}")
    return _record(sessions, provider, checkout.id, outcome, "", op_id)
