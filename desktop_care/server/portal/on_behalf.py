"""The portal's side of acting on behalf (docs/decisions/0017-acting-on-behalf.md):
exchanging the console's one-time token for an on-behalf portal session, and ending it
(Sign in as yourself, Sign out)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from desktop_care.models import PortalSession, utcnow
from desktop_care.models.tokens import digest, new_secret

from .. import on_behalf
from ..deps import ClientAddress, SessionDep
from .web import (
    SESSION_COOKIE,
    _set_cookie,
    csrf_ok,
    end_session_cookie,
    page,
    redirect,
    renew_csrf,
    signed_in,
)

router = APIRouter()

#: Where the banner's buttons lead, for the console to notice (it watches the URL).
ENDED_PATH = "/on-behalf/ended"
_THEN = {"yourself": on_behalf.EndReason.SIGN_IN_AS_YOURSELF, "sign_out": on_behalf.EndReason.SIGN_OUT}


@router.get("/on-behalf")
def start(request: Request, session: SessionDep, client: ClientAddress, token: str = "") -> Response:
    """Exchange the one-time token for an on-behalf portal session (once, within seconds)."""
    row = on_behalf.exchange(session, token, client_address=client)
    if row is None:
        session.commit()  # an ended row is kept (and audited) even when the exchange failed
        return page(request, "link_invalid.html", 410, title="This link no longer works", invitation=False,
                    on_behalf_link=True)
    secret = new_secret()
    assert row.expires_at is not None
    portal = PortalSession(token_hash=digest(secret), user_id=row.staff_user_id, created_at=utcnow(),
                           expires_at=row.expires_at, client_address=client)
    session.add(portal)
    session.flush()
    row.portal_session_id = portal.id
    session.commit()
    renew_csrf(request)
    response = redirect(request, "/account")
    _set_cookie(request, response, SESSION_COOKIE, secret,
                max_age=int(on_behalf.ON_BEHALF_SESSION_LIFETIME.total_seconds()), samesite="lax")
    return response


@router.post("/on-behalf/end")
def finish_session(request: Request, session: SessionDep, client: ClientAddress,
                   then: Annotated[str, Form()] = "yourself", csrf_token: Annotated[str, Form()] = "") -> Response:
    """Sign in as yourself / Sign out: the on-behalf session ends on the server."""
    current = signed_in(request, session)
    if current is None or current.on_behalf is None:
        return redirect(request, "/sign-in")
    if not csrf_ok(request, csrf_token):
        return redirect(request, "/account")
    why = _THEN.get(then, on_behalf.EndReason.SIGN_IN_AS_YOURSELF)
    on_behalf.end(session, current.on_behalf.row, why, client_address=client)
    session.commit()
    renew_csrf(request)
    response = redirect(request, f"{ENDED_PATH}?then={'sign_out' if why == on_behalf.EndReason.SIGN_OUT else 'yourself'}")
    end_session_cookie(response)
    return response


@router.get(ENDED_PATH)
def ended(request: Request, then: str = "yourself") -> Response:
    return page(request, "on_behalf_ended.html", title="You are no longer acting on behalf of the member",
                signing_out=then == "sign_out")
