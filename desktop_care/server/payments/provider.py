"""The payment provider interface: what the server asks of a hosted checkout service
(Stripe Checkout is the model) and what it hears back (signed webhooks).

A provider opens a checkout session for an amount, with an expiry and the addresses to
send the member back to; the member pays on the provider's own page. The provider then
tells the server what happened by webhook events — perhaps late, twice, or out of
order — which :mod:`.fulfil` applies once. The return page may also read the session
(:meth:`PaymentProvider.retrieve`) so the member sees the outcome at once.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class SessionStatus(enum.StrEnum):
    OPEN = "open"
    #: Paid (``payment_status`` says whether the money has settled).
    COMPLETE = "complete"
    DECLINED = "declined"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    #: The provider's page where the member pays.
    url: str
    amount_cents: int
    currency: str
    status: SessionStatus
    #: "unpaid", "processing" (taken, settling) or "paid" (settled).
    payment_status: str
    expires_at: dt.datetime


class EventType(enum.StrEnum):
    """The webhook events the server acts on (named as Stripe names them where it has one)."""

    COMPLETED = "checkout.session.completed"
    SETTLED = "checkout.session.async_payment_succeeded"
    DECLINED = "checkout.session.async_payment_failed"
    EXPIRED = "checkout.session.expired"
    #: A refund moved on (its ``refund_status``: succeeded, failed).
    REFUND_UPDATED = "refund.updated"


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    #: An :class:`EventType` value, or another type the server ignores.
    type: str
    checkout_id: str
    created: dt.datetime
    #: For a refund event: the provider's refund, its status and our reference for it.
    refund_id: str = ""
    refund_status: str = ""
    refund_reference: str = ""
    refund_failure: str = ""


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider answered it: ``status`` "pending" (it says later, by a
    ``refund.updated`` event), "succeeded" or "failed"."""

    id: str
    status: str
    failure: str = ""


class ProviderError(Exception):
    """The provider could not be asked (down, refused the request): nothing changed there."""


class BadWebhook(Exception):
    """A webhook that is not the provider's (bad or stale signature) or not understood."""


class PaymentProvider(Protocol):
    #: Short name, in URLs and stored on each payment ("test", "stripe").
    name: str

    def create_checkout(self, *, amount_cents: int, currency: str, description: str, reference: str,
                        success_url: str, cancel_url: str) -> CheckoutSession:
        """Open a checkout session (raises on a provider failure)."""
        ...

    def retrieve(self, checkout_id: str) -> CheckoutSession | None:
        """The session as the provider has it now (None if it does not know it)."""
        ...

    def expire(self, checkout_id: str) -> None:
        """Close an open session so it can no longer be paid (the member cancelled)."""
        ...

    def refund(self, *, checkout_id: str, amount_cents: int, currency: str, idempotency_key: str) -> ProviderRefund:
        """Refund part or all of a paid session back to the card it was paid with. The
        same ``idempotency_key`` always answers the same refund (a retried request
        never refunds twice). Raises :class:`ProviderError`."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """The event in a webhook request, once its signature is checked (raises BadWebhook)."""
        ...
