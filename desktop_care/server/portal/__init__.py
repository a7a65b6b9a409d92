"""The member portal under ``/portal/``: server-rendered pages (Jinja2) on one base
layout, one router module per section (docs/server.md, "Member portal")."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import account, animals, auth, contact, courses, on_behalf, orders, profile
from .web import (
    PREFIX,
    SECURITY_HEADERS,
    TEMPLATES,
    BlockedForPayment,
    NotSignedIn,
    redirect,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
router.include_router(auth.router)
router.include_router(account.router)
router.include_router(profile.router)
router.include_router(on_behalf.router)
router.include_router(orders.router)
router.include_router(courses.router)
router.include_router(animals.router)
router.include_router(contact.router)


@router.get("/static/portal.css")
def stylesheet() -> Response:
    return FileResponse(TEMPLATES / "portal.css", media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})


class SecurityHeaders:
    """Adds the portal's security headers to every response under /portal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _not_signed_in(request: Request, exc: Exception) -> Response:
    return redirect(request, "/sign-in")


def _blocked(request: Request, exc: Exception) -> Response:
    return redirect(request, "/renew")


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(BlockedForPayment, _blocked)


__all__ = ["install", "router"]
