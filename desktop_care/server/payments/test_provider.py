"""The test provider: a hosted checkout served by our own server under ``/test-provider/``
that takes no money, and behaves as Stripe Checkout does where it matters.

- A checkout session lives :data:`CHECKOUT_LIFETIME` (then it expires: an
  ``checkout.session.expired`` event); its page shows the amount with **Pay**,
  **Decline** and **Cancel**. Pay sends ``checkout.session.completed`` (the payment is
  taken, still settling) and then ``checkout.session.async_payment_succeeded`` (settled);
  Decline sends ``checkout.session.async_payment_failed``; both return to the success
  address. Cancel returns to the cancel address and sends nothing (the session stays open
  until it expires or the server expires it, as Stripe's does).
- Webhooks are POSTed by a background thread to ``/payments/webhooks/test`` with the
  header ``Test-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``, retried a
  few times when the server does not answer 2xx. Every event is kept, so tests (and
  people) can send it again, late, twice or out of order: ``GET
  /test-provider/checkout/{id}/events`` lists them signed; a form field ``deliver=hold``
  on Pay or Decline keeps them from being sent at all.
- Pay takes one of the public test cards of :data:`TEST_CARDS` (form field ``card``) and
  reports it as a provider does: a *fingerprint* (the same card always has the same
  one; never the number), brand, BIN and last four (:meth:`TestProvider.card`, and
  ``payment_method_details.card`` in the events). Before charging it asks its
  ``screen`` (the server's fraud stop, as a provider's own block list): a screened card
  is declined like any refused card.
- :meth:`TestProvider.refund` refunds a paid session (one refund per idempotency key),
  answers "pending" and sends ``refund.updated`` (succeeded; failed for an amount ending
  in 13p). Its events are listed with the session's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import requests
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.models import utcnow
from desktop_care.models.ledger import money
from desktop_care.models.payments import (
    TestCheckout,
    TestCheckoutCard,
    TestProviderEvent,
    TestProviderKey,
    TestRefund,
)

from .provider import (
    BadWebhook,
    CheckoutSession,
    EventType,
    ProviderError,
    ProviderRefund,
    SessionStatus,
    WebhookEvent,
)

log = logging.getLogger(__name__)

CHECKOUT_LIFETIME = dt.timedelta(minutes=30)
#: A signature older than this is refused (a replay); retries are signed anew.
SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)
SIGNATURE_HEADER = "Test-Signature"
WEBHOOK_PATH = "/payments/webhooks/test"
_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)
TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "test_provider"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self' http: https:; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class TestCard:
    """A public test card number (as payment providers publish them)."""

    __test__ = False
    number: str
    brand: str
    label: str


#: The cards the hosted page offers, by form value; the first is the default.
TEST_CARDS: dict[str, TestCard] = {
    "visa": TestCard("4242424242424242", "visa", "Visa ending 4242"),
    "mastercard": TestCard("5555555555554444", "mastercard", "Mastercard ending 4444"),
    "amex": TestCard("378282246310005", "amex", "American Express ending 0005"),
    "visa_debit": TestCard("4000056655665556", "visa", "Visa debit ending 5556"),
}


@dataclass(frozen=True)
class CardDetails:
    """A card as a provider reports it: never the number."""

    fingerprint: str
    brand: str
    bin: str
    last4: str


#: ``screen(fingerprint, checkout_id=…, reference=…, last4=…, brand=…)``: True refuses the charge.
CardScreen = Callable[..., bool]


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


class TestProvider:
    """The provider interface (:class:`.provider.PaymentProvider`) on our own tables."""

    __test__ = False
    name = "test"

    def __init__(self, sessions: sessionmaker[Session], public_url: str) -> None:
        self.sessions = sessions
        self.public_url = public_url.rstrip("/")
        self._secret: str | None = None
        #: Asked before a card is charged (the server's fraud stop); None charges every card.
        self.screen: CardScreen | None = None

    # ------------------------------------------------------------------ the interface

    def secret(self) -> str:
        if self._secret is None:
            with self.sessions.begin() as session:
                row = session.get(TestProviderKey, 1)
                if row is None:
                    row = TestProviderKey(id=1, secret=secrets.token_hex(32))
                    session.add(row)
                self._secret = row.secret
        return self._secret

    def create_checkout(self, *, amount_cents: int, currency: str, description: str, reference: str,
                        success_url: str, cancel_url: str) -> CheckoutSession:
        now = utcnow()
        row = TestCheckout(id=f"cs_test_{secrets.token_urlsafe(18)}", amount_cents=amount_cents, currency=currency,
                           description=description[:200], reference=reference[:120], success_url=success_url,
                           cancel_url=cancel_url, webhook_url=self.public_url + WEBHOOK_PATH, status="open",
                           payment_status="unpaid", created_at=now, expires_at=now + CHECKOUT_LIFETIME)
        with self.sessions.begin() as session:
            session.add(row)
        return self._public(row)

    def retrieve(self, checkout_id: str) -> CheckoutSession | None:
        with self.sessions() as session:
            row = session.get(TestCheckout, checkout_id)
            if row is None:
                return None
            if row.status == "open" and row.expires_at <= utcnow():
                session.close()
                self.expire(checkout_id)
                return self.retrieve(checkout_id)
            return self._public(row)

    def expire(self, checkout_id: str) -> None:
        events = self._move(checkout_id, "open", "expired", None, (EventType.EXPIRED,))
        self.deliver(events)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        header = headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER) or ""
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            at = int(parts["t"])
        except (KeyError, ValueError):
            raise BadWebhook(f"no valid {SIGNATURE_HEADER} header") from None
        if not hmac.compare_digest(sign(self.secret(), body, at), f"t={at},v1={parts.get('v1', '')}"):
            raise BadWebhook("the signature does not match")
        if abs(time.time() - at) > SIGNATURE_TOLERANCE.total_seconds():
            raise BadWebhook("the signature is too old (a replayed request?)")
        try:
            data = json.loads(body)
            obj = data["data"]["object"]
            if obj.get("object") == "refund":
                return WebhookEvent(id=str(data["id"]), type=str(data["type"]), checkout_id=str(obj["checkout"]),
                                    created=dt.datetime.fromisoformat(data["created"]), refund_id=str(obj["id"]),
                                    refund_status=str(obj["status"]),
                                    refund_reference=str(obj["metadata"]["reference"]),
                                    refund_failure=str(obj.get("failure_reason") or ""))
            return WebhookEvent(id=str(data["id"]), type=str(data["type"]), checkout_id=str(obj["id"]),
                                created=dt.datetime.fromisoformat(data["created"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadWebhook(f"not an event: {exc}") from None

    def refund(self, *, checkout_id: str, amount_cents: int, currency: str, idempotency_key: str) -> ProviderRefund:
        """Answer "pending" and decide at once, telling the server by a ``refund.updated``
        event sent from the background (as Stripe's refunds of card payments may). A
        refund of an amount ending in 13p fails, so people can see a failed refund (as
        Stripe's test cards do); one of more than what is left of the session is refused."""
        try:
            with self.sessions.begin() as session:
                known = session.scalar(select(TestRefund).where(TestRefund.idempotency_key == idempotency_key))
                if known is not None:
                    return ProviderRefund(id=known.id, status="pending")
                row = session.scalar(select(TestCheckout).where(TestCheckout.id == checkout_id).with_for_update())
                if row is None or row.payment_status != "paid":
                    raise ProviderError(f"no paid checkout {checkout_id}")
                taken = sum(r.amount_cents for r in session.scalars(select(TestRefund).where(
                    TestRefund.checkout_id == checkout_id, TestRefund.status != "failed")))
                if currency != row.currency or amount_cents > row.amount_cents - taken:
                    raise ProviderError(f"cannot refund {amount_cents} {currency} of checkout {checkout_id}")
                fails = amount_cents % 100 == 13
                refund = TestRefund(id=f"re_test_{secrets.token_urlsafe(14)}", checkout_id=checkout_id,
                                    idempotency_key=idempotency_key, amount_cents=amount_cents, currency=currency,
                                    status="failed" if fails else "succeeded", created_at=utcnow())
                session.add(refund)
                event = self._refund_event(session, refund, "card declined the refund" if fails else "")
                session.flush()
                event_id, refund_id = event.id, refund.id
        except IntegrityError:  # the same key at the same moment: the other request made it
            with self.sessions() as session:
                known = session.scalar(select(TestRefund).where(TestRefund.idempotency_key == idempotency_key))
                if known is None:
                    raise
                return ProviderRefund(id=known.id, status="pending")
        self.deliver([event_id])
        return ProviderRefund(id=refund_id, status="pending")

    def _refund_event(self, session: Session, refund: TestRefund, failure: str) -> TestProviderEvent:
        event_id = f"evt_test_{secrets.token_urlsafe(14)}"
        body = {"id": event_id, "type": EventType.REFUND_UPDATED.value, "created": utcnow().isoformat(),
                "data": {"object": {"id": refund.id, "object": "refund", "checkout": refund.checkout_id,
                                    "status": refund.status, "amount": refund.amount_cents,
                                    "currency": refund.currency.lower(), "failure_reason": failure or None,
                                    "metadata": {"reference": refund.idempotency_key}}}}
        event = TestProviderEvent(event_id=event_id, checkout_id=refund.checkout_id, type=EventType.REFUND_UPDATED.value,
                                  body=json.dumps(body, separators=(",", ":")), created_at=utcnow(), attempts=0)
        session.add(event)
        return event

    # ------------------------------------------------------------------ its own side

    def _public(self, row: TestCheckout) -> CheckoutSession:
        return CheckoutSession(id=row.id, url=f"{self.public_url}/test-provider/checkout/{row.id}",
                               amount_cents=row.amount_cents, currency=row.currency,
                               status=SessionStatus(row.status), payment_status=row.payment_status,
                               expires_at=row.expires_at)

    def _event(self, session: Session, row: TestCheckout, event_type: EventType) -> TestProviderEvent:
        event_id = f"evt_test_{secrets.token_urlsafe(14)}"
        body: dict[str, Any] = {"id": event_id, "type": event_type.value, "created": utcnow().isoformat(),
                "data": {"object": {"id": row.id, "status": row.status, "payment_status": row.payment_status,
                                    "amount_total": row.amount_cents, "currency": row.currency.lower(),
                                    "client_reference_id": row.reference}}}
        card = session.get(TestCheckoutCard, row.id)
        if card is not None:
            body["data"]["object"]["payment_method_details"] = {"card": {
                "fingerprint": card.fingerprint, "brand": card.brand, "bin": card.bin, "last4": card.last4}}
        event = TestProviderEvent(event_id=event_id, checkout_id=row.id, type=event_type.value,
                                  body=json.dumps(body, separators=(",", ":")), created_at=utcnow(), attempts=0)
        session.add(event)
        return event

    def _move(self, checkout_id: str, source: str, target: str, payment_status: str | None,
              events: tuple[EventType, ...]) -> list[int]:
        """Move an open session on, with its events (their ids); nothing if not ``source``."""
        with self.sessions.begin() as session:
            row = session.scalar(select(TestCheckout).where(TestCheckout.id == checkout_id).with_for_update())
            if row is None or row.status != source:
                return []
            made = []
            for index, event_type in enumerate(events):
                row.status = target
                if payment_status is not None:
                    # Pay: "processing" when completed, "paid" once it settles.
                    row.payment_status = "processing" if index == 0 and len(events) > 1 else payment_status
                made.append(self._event(session, row, event_type))
            session.flush()
            return [e.id for e in made]

    def card_details(self, card: str) -> CardDetails:
        """What this provider reports of test card ``card`` (a key of TEST_CARDS)."""
        test_card = TEST_CARDS.get(card) or next(iter(TEST_CARDS.values()))
        mac = hmac.new(self.secret().encode(), f"card:{test_card.number}".encode(), hashlib.sha256).hexdigest()
        return CardDetails(fingerprint=f"fp_{mac[:16]}", brand=test_card.brand, bin=test_card.number[:6],
                           last4=test_card.number[-4:])

    def card(self, checkout_id: str) -> CardDetails | None:
        """The card the checkout was paid (or refused) with, if any."""
        with self.sessions() as session:
            row = session.get(TestCheckoutCard, checkout_id)
            return None if row is None else CardDetails(row.fingerprint, row.brand, row.bin, row.last4)

    def pay(self, checkout_id: str, card: str = "visa") -> list[int]:
        details = self.card_details(card)
        with self.sessions.begin() as session:
            row = session.get(TestCheckout, checkout_id)
            if row is None or row.status != "open":
                return []
            reference = row.reference
            session.merge(TestCheckoutCard(checkout_id=checkout_id, fingerprint=details.fingerprint,
                                           brand=details.brand, bin=details.bin, last4=details.last4))
        if self.screen is not None and self.screen(details.fingerprint, checkout_id=checkout_id,
                                                   reference=reference, last4=details.last4, brand=details.brand):
            return self.decline(checkout_id)
        return self._move(checkout_id, "open", "complete", "paid", (EventType.COMPLETED, EventType.SETTLED))

    def decline(self, checkout_id: str) -> list[int]:
        return self._move(checkout_id, "open", "declined", None, (EventType.DECLINED,))

    def signed(self, event: TestProviderEvent) -> tuple[bytes, str]:
        body = event.body.encode()
        return body, sign(self.secret(), body, int(time.time()))

    def deliver(self, event_ids: list[int]) -> None:
        """Send the events, in order, from a background thread (retrying a few times)."""
        if event_ids:
            threading.Thread(target=self._deliver, args=(event_ids,), name="test-provider-webhooks",
                             daemon=True).start()

    def _deliver(self, event_ids: list[int]) -> None:
        for event_id in event_ids:
            for delay in (0.0, *_RETRY_DELAYS):
                time.sleep(delay)  # backing off between attempts of a background delivery
                with self.sessions.begin() as session:
                    event = session.get(TestProviderEvent, event_id)
                    if event is None:
                        break
                    checkout = session.get(TestCheckout, event.checkout_id)
                    url = checkout.webhook_url if checkout else ""
                    body, signature = self.signed(event)
                    event.attempts += 1
                try:
                    answer = requests.post(url, data=body, timeout=10, headers={
                        SIGNATURE_HEADER: signature, "Content-Type": "application/json"})
                    ok = answer.ok
                except requests.RequestException as exc:
                    ok = False
                    log.info("test provider: webhook %s not delivered yet: %s", event_id, exc)
                if ok:
                    with self.sessions.begin() as session:
                        delivered = session.get(TestProviderEvent, event_id)
                        if delivered is not None:
                            delivered.delivered_at = utcnow()
                    break


# ---------------------------------------------------------------------- hosted page

router = APIRouter(prefix="/test-provider", include_in_schema=False)
FormText = Annotated[str, Form()]


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


_ENV = _environment()


def _provider(request: Request) -> TestProvider:
    provider = request.app.state.payment_provider
    assert isinstance(provider, TestProvider)
    return provider


def _form_token(provider: TestProvider, checkout_id: str) -> str:
    return hmac.new(provider.secret().encode(), f"form:{checkout_id}".encode(), hashlib.sha256).hexdigest()


def _page(template: str, status: int = 200, **values: Any) -> Response:
    return HTMLResponse(_ENV.get_template(template).render(**values), status_code=status, headers=_HEADERS)


def _return_url(url: str, checkout_id: str) -> str:
    return url.replace("{CHECKOUT_SESSION_ID}", checkout_id)


@router.get("/static/checkout.css")
def stylesheet() -> Response:
    return Response((TEMPLATES / "checkout.css").read_text(), media_type="text/css")


@router.get("/checkout/{checkout_id}")
def checkout_page(request: Request, checkout_id: str) -> Response:
    provider = _provider(request)
    session = provider.retrieve(checkout_id)
    if session is None:
        return _page("checkout.html", 404, checkout=None, state="unknown")
    with provider.sessions() as db:
        row = db.get(TestCheckout, checkout_id)
        assert row is not None
        return _page("checkout.html", 200 if session.status == SessionStatus.OPEN else 410, checkout=row,
                     state=session.status.value, amount=money(row.amount_cents, row.currency),
                     token=_form_token(provider, checkout_id), back=_return_url(row.cancel_url, row.id),
                     cards=TEST_CARDS)


def _act(request: Request, checkout_id: str, token: str, deliver: str, action: str, card: str = "") -> Response:
    provider = _provider(request)
    if not hmac.compare_digest(token, _form_token(provider, checkout_id)):
        return _page("checkout.html", 400, checkout=None, state="forged")
    session = provider.retrieve(checkout_id)
    if session is None:
        return _page("checkout.html", 404, checkout=None, state="unknown")
    with provider.sessions() as db:
        row = db.get(TestCheckout, checkout_id)
        assert row is not None
        success, cancel = _return_url(row.success_url, row.id), _return_url(row.cancel_url, row.id)
    if action == "cancel":
        return RedirectResponse(cancel, status_code=303, headers=_HEADERS)
    if session.status != SessionStatus.OPEN:
        return RedirectResponse(f"/test-provider/checkout/{checkout_id}", status_code=303, headers=_HEADERS)
    events = provider.pay(checkout_id, card or "visa") if action == "pay" else provider.decline(checkout_id)
    if deliver != "hold":
        provider.deliver(events)
    return RedirectResponse(success, status_code=303, headers=_HEADERS)


@router.post("/checkout/{checkout_id}/pay")
def pay(request: Request, checkout_id: str, token: FormText = "", deliver: FormText = "",
        card: FormText = "") -> Response:
    return _act(request, checkout_id, token, deliver, "pay", card)


@router.post("/checkout/{checkout_id}/decline")
def decline(request: Request, checkout_id: str, token: FormText = "", deliver: FormText = "") -> Response:
    return _act(request, checkout_id, token, deliver, "decline")


@router.post("/checkout/{checkout_id}/cancel")
def cancel(request: Request, checkout_id: str, token: FormText = "") -> Response:
    return _act(request, checkout_id, token, "", "cancel")


@router.post("/checkout/{checkout_id}/expire")
def expire_now(request: Request, checkout_id: str, deliver: str = "") -> Response:
    """Expire an open session now (as Stripe's expire call), sending its event."""
    provider = _provider(request)
    events = provider._move(checkout_id, "open", "expired", None, (EventType.EXPIRED,))
    if deliver != "hold":
        provider.deliver(events)
    return JSONResponse({"expired": bool(events)}, headers=_HEADERS)


@router.get("/checkout/{checkout_id}/events")
def events(request: Request, checkout_id: str) -> Response:
    """Every event of the session, oldest first, each signed now (to send it again)."""
    provider = _provider(request)
    with provider.sessions() as db:
        rows = list(db.scalars(select(TestProviderEvent).where(TestProviderEvent.checkout_id == checkout_id)
                               .order_by(TestProviderEvent.id)))
        out = []
        for row in rows:
            body, signature = provider.signed(row)
            out.append({"id": row.event_id, "type": row.type, "body": body.decode(), "signature": signature,
                        "delivered": row.delivered_at is not None, "attempts": row.attempts})
    return JSONResponse(out, headers=_HEADERS)
