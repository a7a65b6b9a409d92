"""Payments: the provider interface (:mod:`.provider`), the test provider (a hosted
checkout served under ``/test-provider/``), the webhook endpoint and fulfilment."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from ..fraud import card_screen
from . import test_provider, webhooks
from .provider import PaymentProvider
from .test_provider import TestProvider


def install(app: FastAPI, sessions: sessionmaker[Session], public_url: str) -> PaymentProvider:
    """Serve the webhook endpoint and the test provider; the provider is on ``app.state``."""
    provider = TestProvider(sessions, public_url)
    provider.screen = card_screen(sessions)  # fraud stop: a blocked card is declined
    app.state.payment_provider = provider
    app.include_router(webhooks.router)
    app.include_router(test_provider.router)
    return provider


__all__ = ["PaymentProvider", "TestProvider", "install"]
