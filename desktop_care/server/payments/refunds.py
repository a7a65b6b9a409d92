"""Card refunds reach the provider after the command that lets them go ahead has
committed (never inside a database transaction): :func:`send_refunds` asks the
provider for every refund that has gone ahead and was not sent yet, with the refund's
own reference as the idempotency key (so asking twice never refunds twice), and records
its answer; :func:`record_event` applies the provider's later ``refund.updated``
event. Both record through ``RecordRefundOutcome`` with op ids made from what they
record, so replays are duplicates (docs/decisions/0023-payment-manager.md)."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import Actor, RecordRefundOutcome, Status
from desktop_care.commands.orders import event_op_id
from desktop_care.commands.payments import RefundAnswer, refund_answer_op_id
from desktop_care.models import Payment, PaymentMethod, Refund, RefundState

from ..transactions import run_command
from .provider import PaymentProvider, ProviderError, WebhookEvent

log = logging.getLogger(__name__)
_PREFIX = "refund-"
_STATUSES: dict[str, RefundAnswer] = {"pending": "pending", "succeeded": "succeeded", "failed": "failed",
                                      "canceled": "failed"}


def _actor(provider: PaymentProvider) -> Actor:
    return Actor(user_id=None, username=f"payment provider ({provider.name})", role=None)


def send_refunds(sessions: sessionmaker[Session], provider: PaymentProvider) -> int:
    """Ask the provider for each card refund gone ahead and not sent yet; how many were
    sent. One the provider cannot take now stays to be sent by the next call."""
    with sessions() as session:
        due = [(r.id, r.member_id, r.amount_cents, r.currency, r.reference, checkout) for r, checkout in
               session.execute(select(Refund, Payment.checkout_id)
                               .join(Payment, Payment.txn_id == Refund.payment_txn_id)
                               .where(Refund.state == RefundState.PENDING, Refund.method == PaymentMethod.CARD,
                                      Refund.sent_at.is_(None), Payment.provider == provider.name)
                               .order_by(Refund.id))]
    sent = 0
    for refund_id, member_id, amount, currency, reference, checkout_id in due:
        try:
            answer = provider.refund(checkout_id=checkout_id, amount_cents=amount, currency=currency,
                                     idempotency_key=reference)
        except ProviderError as exc:
            log.warning("refund %s not sent to %s yet: %s", refund_id, provider.name, exc)
            continue
        status: RefundAnswer = _STATUSES.get(answer.status, "pending")
        run_command(sessions, RecordRefundOutcome(
            op_id=refund_answer_op_id(provider.name, refund_id, status), member_id=member_id, refund_id=refund_id,
            provider_refund_id=answer.id, status=status, failure=answer.failure[:200]), _actor(provider))
        sent += 1
    return sent


def record_event(sessions: sessionmaker[Session], provider: PaymentProvider, event: WebhookEvent) -> str:
    """Apply a ``refund.updated`` event ("applied", "duplicate", "ignored: …")."""
    status = _STATUSES.get(event.refund_status)
    if status is None:
        return f"ignored: refund status {event.refund_status!r}"
    if not event.refund_reference.startswith(_PREFIX) or not event.refund_reference[len(_PREFIX):].isdigit():
        return "ignored: not one of our refunds"
    refund_id = int(event.refund_reference[len(_PREFIX):])
    with sessions() as session:
        refund = session.get(Refund, refund_id)
        if refund is None or refund.provider != provider.name:
            return "ignored: not one of our refunds"
        member_id = refund.member_id
    result = run_command(sessions, RecordRefundOutcome(
        op_id=event_op_id(provider.name, event.id), member_id=member_id, refund_id=refund_id,
        provider_refund_id=event.refund_id, status=status, failure=event.refund_failure[:200],
        event_id=event.id), _actor(provider))
    return "duplicate" if result.status == Status.DUPLICATE else result.status.value
