"""Fraud stop at the doors: the checks the portal and the payment provider make.

Every portal request that opens an account (accepting an invitation) or pays (opening a
checkout, on an order or on the renew page) checks the client's IP address and the
e-mail addresses involved; the test provider checks the card it is about to charge
(:func:`card_screen`, as a provider's own block list would). A refusal is generic to the
buyer (:data:`GENERIC_REFUSAL`, no hint that a block exists) and specific in the staff
log: an audit ``fraud.refused`` event on each block that stopped it, and an INFO line on
the ``desktop_care.fraud`` logger (docs/decisions/0022-fraud-stop.md).

**The client address** is ``request.client.host``: the peer of the TCP connection. Behind
a reverse proxy that is the proxy's address; the server then must be started with
uvicorn's ``--proxy-headers --forwarded-allow-ips=<the proxy>`` so that uvicorn itself
replaces it with the proxy's ``X-Forwarded-For``. We never read ``X-Forwarded-For``
ourselves: anyone can send one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.models.fraud import Attempt, Hit, Probe, describe, stop

log = logging.getLogger("desktop_care.fraud")

GENERIC_TITLE = "We could not complete this request"
GENERIC_REFUSAL = "Please contact the society's office if you think this is a mistake."


def client_host(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def check(session: Session, *, attempt: Attempt, entry: str, client: str = "", emails: Sequence[str] = (),
          card: str = "", actor_user_id: int | None = None, actor_name: str = "",
          details: dict[str, object] | None = None) -> list[Hit]:
    """The blocks that stop this request (none: go ahead). Counted and logged in the
    caller's transaction: the caller commits even when it refuses."""
    probes = [Probe.ip(client)] if client else []
    probes += [Probe.email(e) for e in dict.fromkeys(e for e in emails if e)]
    if card:
        probes.append(Probe.card(card))
    hits = stop(session, probes, attempt, actor_user_id=actor_user_id, actor_name=actor_name or "(anonymous)",
                client_address=client, details={"entry": entry, **(details or {})})
    if hits:
        log.info("fraud stop: refused %s to %s at %s (%s): %s", actor_name or "(anonymous)", attempt.value, entry,
                 client or "no address", describe(hits))
    return hits


def card_screen(sessions: sessionmaker[Session]) -> Callable[..., bool]:
    """The test provider's screen: whether to refuse a charge on the card with this
    fingerprint (counted and logged as a fraud-stop refusal)."""

    def screen(fingerprint: str, *, checkout_id: str, reference: str, last4: str, brand: str) -> bool:
        with sessions.begin() as session:
            hits = check(session, attempt=Attempt.PURCHASE, entry="payment", card=fingerprint,
                         actor_name="payment provider (test)",
                         details={"checkout_id": checkout_id, "reference": reference,
                                  "card": f"{brand} ending {last4}"})
        return bool(hits)

    return screen


__all__ = ["GENERIC_REFUSAL", "GENERIC_TITLE", "card_screen", "check", "client_host"]
