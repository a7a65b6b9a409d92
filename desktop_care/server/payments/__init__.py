"""Payments: the provider interface (:mod:`.provider`), the test provider (a hosted
checkout served under ``/test-provider/``), the webhook endpoint and fulfilment."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import BaseCommand, CommandResult, DecideRefund, RefundPayment, Status

from ..fraud import card_screen
from . import refunds, test_provider, webhooks
from .provider import PaymentProvider
from .test_provider import TestProvider

#: Commands after which card refunds may be due at the provider.
_SENDS_REFUNDS = (RefundPayment, DecideRefund)


def install(app: FastAPI, sessions: sessionmaker[Session], public_url: str) -> PaymentProvider:
    """Serve the webhook endpoint and the test provider; the provider is on ``app.state``,
    and ``app.state.after_command`` sends card refunds once their command has committed."""
    provider = TestProvider(sessions, public_url)
    provider.screen = card_screen(sessions)  # fraud stop: a blocked card is declined
    app.state.payment_provider = provider

    def after_command(command: BaseCommand, result: CommandResult) -> None:
        # A retried request (duplicate) sends too: what its first run could not send.
        if isinstance(command, _SENDS_REFUNDS) and result.status in (Status.APPLIED, Status.DUPLICATE):
            refunds.send_refunds(sessions, provider)

    app.state.after_command = after_command
    app.include_router(webhooks.router)
    app.include_router(test_provider.router)
    return provider


__all__ = ["PaymentProvider", "TestProvider", "install"]
