"""What every portal page shares: the templates, the security headers, CSRF tokens,
the session cookie, flash messages (docs/decisions/0007-mail-and-portal.md).

- **CSRF**: double submit. A random token lives in the ``dc_csrf`` cookie (HttpOnly,
  SameSite=Strict, path /portal) and in a hidden field of every form; a POST whose
  field does not match its cookie is refused. Signing in replaces the token.
- **Session**: the ``dc_portal`` cookie (HttpOnly, SameSite=Lax, path /portal, Secure
  under TLS) holds a random token; the server keeps only its SHA-256
  (``portal_session``), with an expiry (``PORTAL_SESSION_LIFETIME``).
- **Headers**: a Content-Security-Policy without inline script or style, no framing,
  no referrer (links carry one-time tokens), no MIME sniffing, no caching.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import Actor
from desktop_care.models import (
    Member,
    OnBehalfSession,
    PortalSession,
    User,
    UserRole,
    utcnow,
)
from desktop_care.models.access import PortalAccess, portal_access
from desktop_care.models.status import sign_in_refusal
from desktop_care.models.tokens import PORTAL_SESSION_LIFETIME, digest, new_secret

from .. import on_behalf
from ..deps import SessionDep
from ..security import state_refusal

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "portal"
PREFIX = "/portal"
SESSION_COOKIE = "dc_portal"
CSRF_COOKIE = "dc_csrf"
FLASH_COOKIE = "dc_flash"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

#: Flash messages by code (the cookie carries only the code, never text).
FLASHES = {
    "signed_out": ("info", "You are signed out."),
    "password_changed": ("success", "Your password was changed. Sign in with the new one."),
    "welcome": ("success", "Welcome! Your account is ready."),
    "session_ended": ("info", "Your session ended. Sign in again."),
    "profile_saved": ("success", "Your profile was updated."),
    "message_sent": ("success", "Thank you: your message was sent. We answer by e-mail and here."),
    "message_added": ("success", "Your message was added to the conversation."),
    "own_password_changed": ("success", "Your password was changed. Your other sessions were signed out, "
                                        "and we sent you an e-mail to confirm."),
}


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a new one if it has none yet; set on the response
    by :func:`page`)."""
    token = getattr(request.state, "csrf", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or ""
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
        request.state.csrf = token
    return str(token)


def renew_csrf(request: Request) -> None:
    request.state.csrf = secrets.token_urlsafe(32)


def csrf_ok(request: Request, submitted: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie.encode(), submitted.encode())


def _set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None,
                samesite: str) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PREFIX, secure=is_tls(request), httponly=True,
                        samesite=samesite)  # type: ignore[arg-type]


def finish(request: Request, response: Response) -> Response:
    """Cookies this request decided on: the CSRF token, a flash consumed."""
    token = getattr(request.state, "csrf", None)
    if token is not None and token != request.cookies.get(CSRF_COOKIE):
        _set_cookie(request, response, CSRF_COOKIE, token, max_age=None, samesite="strict")
    if getattr(request.state, "flash_shown", None):
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    """A page of the portal on the base layout."""
    flash = None
    code = request.cookies.get(FLASH_COOKIE)
    if code in FLASHES:
        flash = FLASHES[code]
        request.state.flash_shown = True
    values.setdefault("user", None)
    current = getattr(request.state, "portal_current", None)
    # The banner of an on-behalf session, on every page of it, whoever renders it.
    values["on_behalf"] = current.on_behalf if isinstance(current, SignedIn) else None
    values.setdefault("errors", {})
    values.setdefault("form_error", "")
    values.setdefault("active", template.removesuffix(".html"))
    html = _environment().get_template(template).render(
        csrf_field=CSRF_FIELD, csrf_token=csrf_token(request), flash=flash, prefix=PREFIX, **values
    )
    return finish(request, HTMLResponse(html, status_code=status_code))


def redirect(request: Request, path: str, *, flash: str | None = None) -> Response:
    response = RedirectResponse(f"{PREFIX}{path}", status_code=303)
    if flash is not None:
        _set_cookie(request, response, FLASH_COOKIE, flash, max_age=300, samesite="lax")
    return finish(request, response)


# ---------------------------------------------------------------------- sessions


def start_session(request: Request, session: Session, user: User, response: Response) -> PortalSession:
    """A new portal session for ``user``, its cookie on ``response``. The caller commits."""
    token = new_secret()
    now = utcnow()
    row = PortalSession(token_hash=digest(token), user_id=user.id, created_at=now,
                        expires_at=now + PORTAL_SESSION_LIFETIME,
                        client_address=request.client.host if request.client else "")
    session.add(row)
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=int(PORTAL_SESSION_LIFETIME.total_seconds()),
                samesite="lax")
    return row


def end_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)


def portal_refusal(session: Session, user: User) -> str | None:
    """Why this user may not sign in to the member portal; None if they may."""
    if user.role not in (UserRole.FULL, UserRole.STANDARD) or user.member_id is None:
        return "this is not a member portal account"
    reason = state_refusal(user)
    if reason is not None:
        return reason
    member = session.get(Member, user.member_id)
    if member is None:
        return "this is not a member portal account"
    return sign_in_refusal(member)  # the status rules of the Change status wizard


@dataclass(frozen=True)
class OnBehalf:
    """An on-behalf session: ``staff`` (the real actor) acting for the member."""

    row: OnBehalfSession
    staff: User
    member: Member

    @property
    def staff_name(self) -> str:
        return self.staff.display_name or self.staff.username

    @property
    def session_id(self) -> str:
        return self.row.id


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in to the portal on this request.

    ``user`` is the real actor: the member's portal user, or, in an on-behalf session,
    the staff member. ``account_user`` is the member's portal user the pages show (None
    when staff act for a member with no portal user yet). Write with :meth:`actor`."""

    user: User
    member: Member
    portal_session: PortalSession
    account_user: User | None = None
    on_behalf: OnBehalf | None = None

    def actor(self, client_address: str = "") -> Actor:
        """The actor of a change made on this request: the member's user (a trusted
        caller: the portal lets them change only their own account), or the staff
        member with their role and the on-behalf session id."""
        if self.on_behalf is not None:
            return on_behalf.actor(self.on_behalf.row, self.on_behalf.staff, client_address)
        return self.portal_actor(client_address)

    def portal_actor(self, client_address: str = "") -> Actor:
        """The actor of a command only the portal may run (opening a checkout, e-mailing
        an invoice, inviting a user: no staff role, the portal decides who may), still
        naming the real person: in an on-behalf session the staff member and the
        session id, so the member's History says who did it and when."""
        return Actor(user_id=self.user.id, username=self.user.username, client_address=client_address, role=None,
                     impersonation_id=self.on_behalf.session_id if self.on_behalf is not None else None)

    @property
    def shown_name(self) -> str:
        who = self.account_user
        return (who.display_name or who.username) if who is not None else self.member.display_name


def _on_behalf(session: Session, portal: PortalSession, row: OnBehalfSession) -> SignedIn | None:
    now = utcnow()
    if row.ended_at is not None:
        return None
    member = session.get(Member, row.member_id)
    staff = session.get(User, row.staff_user_id)
    if member is None or staff is None:
        return None
    if not row.live(now) or not on_behalf.staff_token_live(session, row, now) or \
            on_behalf.member_refusal(session, member) is not None:
        # Past its time limit, the console signed out, or the member may no longer be
        # used: the session ends here and now (audited once).
        on_behalf.end(session, row, on_behalf.EndReason.TIME_LIMIT if not row.live(now)
                      else on_behalf.EndReason.STAFF_SIGNED_OUT, now=now)
        session.commit()
        return None
    shown = session.get(User, row.as_user_id) if row.as_user_id is not None else None
    return SignedIn(staff, member, portal, shown, OnBehalf(row, staff, member))


def signed_in(request: Request, session: Session) -> SignedIn | None:
    """The signed-in portal user of this request, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(PortalSession).where(PortalSession.token_hash == digest(token)))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    acting = session.scalar(select(OnBehalfSession).where(OnBehalfSession.portal_session_id == row.id))
    current: SignedIn | None
    if acting is not None:
        current = _on_behalf(session, row, acting)
    else:
        user = session.get(User, row.user_id)
        if user is None or portal_refusal(session, user) is not None:
            return None
        member = session.get(Member, user.member_id)
        assert member is not None
        current = SignedIn(user, member, row, user)
    request.state.portal_current = current
    return current


class NotSignedIn(Exception):
    """Raised by :data:`CurrentPortalUser`: the handler redirects to the sign-in page."""


class BlockedForPayment(Exception):
    """Raised by :data:`CurrentPortalUser` for a member blocked for payment outside the
    renew-and-pay pages: the handler redirects to ``/renew``."""


#: The only pages a member blocked for payment reaches (models/access.py).
RENEW_PATHS = (f"{PREFIX}/renew",)


def require_portal_user(request: Request, session: SessionDep) -> SignedIn:
    current = signed_in(request, session)
    if current is None:
        raise NotSignedIn()
    if portal_access(current.user, current.member) == PortalAccess.RENEW_AND_PAY and not any(
            request.url.path == p or request.url.path.startswith(p + "/") for p in RENEW_PATHS):
        raise BlockedForPayment()
    return current


CurrentPortalUser = Annotated[SignedIn, Depends(require_portal_user)]
