"""``POST /payments/webhooks/{provider}``: the provider tells us what became of a
checkout. The body is checked against its signature before anything is read from it;
each event is applied once (docs/server.md, "Payments")."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .fulfil import fulfil_event
from .provider import BadWebhook, PaymentProvider

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
MAX_BODY = 64 * 1024


@router.post("/payments/webhooks/{name}")
async def webhook(request: Request, name: str) -> Response:
    provider: PaymentProvider = request.app.state.payment_provider
    if name != provider.name:
        return JSONResponse({"detail": f"no payment provider {name!r} here"}, status_code=404)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"detail": "the body is too large"}, status_code=413)
    try:
        event = provider.parse_webhook(body, request.headers)
    except BadWebhook as exc:
        log.info("webhook refused: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=400)
    result = await run_in_threadpool(fulfil_event, request.app.state.sessions, provider, event)
    return JSONResponse({"received": True, "event": event.id, "result": result})
