"""Signing in and out of the portal, and the pages behind the e-mailed links: forgot
password, choose a new password from a reset link, accept an invitation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from desktop_care.commands import Actor, ResetPassword, Status, execute
from desktop_care.commands.accounts import PORTAL_ROLES
from desktop_care.models import (
    EmailCategory,
    Member,
    User,
    UserCredential,
    UserState,
    end_sessions,
    queue_mail,
    record,
    utcnow,
)
from desktop_care.models.fraud import Attempt
from desktop_care.models.tokens import (
    TokenPurpose,
    UserToken,
    find_link,
)

from .. import fraud, on_behalf
from ..deps import ClientAddress, SessionDep
from ..errors import Forbidden, Unauthorized
from ..security import (
    MIN_PASSWORD_LENGTH,
    Channel,
    SignInThrottled,
    authenticate,
    hash_password,
)
from .web import (
    SESSION_COOKIE,
    csrf_ok,
    end_session_cookie,
    page,
    portal_refusal,
    redirect,
    renew_csrf,
    signed_in,
    start_session,
)

router = APIRouter()

FormText = Annotated[str, Form()]
MAX_PASSWORD_LENGTH = 1024
EXPIRED_FORM = "This form has expired. Please try again."


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


# ---------------------------------------------------------------------- sign in / out


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    return redirect(request, "/account" if signed_in(request, session) else "/sign-in")


@router.get("/sign-in")
def sign_in_page(request: Request, session: SessionDep) -> Response:
    if signed_in(request, session) is not None:
        return redirect(request, "/account")
    return page(request, "sign_in.html", title="Sign in", username="")


@router.post("/sign-in")
def sign_in(
    request: Request, session: SessionDep, client: ClientAddress,
    username: FormText = "", password: FormText = "", csrf_token: FormText = "",
) -> Response:
    def again(status: int, *, form_error: str = "", errors: dict[str, str] | None = None) -> Response:
        return page(request, "sign_in.html", status, title="Sign in", username=username[:120],
                    form_error=form_error, errors=errors or {})

    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return again(400, form_error=EXPIRED_FORM)
    errors = {}
    if not username.strip():
        errors["username"] = "Enter your username."
    if not password:
        errors["password"] = "Enter your password."
    if len(username) > 120 or len(password) > MAX_PASSWORD_LENGTH:
        return again(401, form_error="Wrong username or password.")
    if errors:
        return again(400, errors=errors)
    try:
        user = authenticate(session, username, password, client, channel=Channel.PORTAL,
                            refuse=lambda u: portal_refusal(session, u))
    except SignInThrottled as exc:
        return again(429, form_error=_sentence(exc.detail))
    except Unauthorized:
        return again(401, form_error="Wrong username or password.")
    except Forbidden as exc:
        return again(403, form_error=_sentence(exc.detail))
    if user.member_id is not None:
        member = session.get(Member, user.member_id)
        if member is not None:
            member.last_login_at = user.last_login_at
    renew_csrf(request)  # a new token for the signed-in browser
    response = redirect(request, "/account")
    start_session(request, session, user, response)
    session.commit()
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, client: ClientAddress, csrf_token: FormText = "") -> Response:
    current = signed_in(request, session)
    if not csrf_ok(request, csrf_token):
        return redirect(request, "/account" if current else "/sign-in")
    if current is not None and current.on_behalf is not None:  # the banner's Sign out does this too
        on_behalf.end(session, current.on_behalf.row, on_behalf.EndReason.SIGN_OUT, client_address=client)
        session.commit()
        response = redirect(request, "/on-behalf/ended?then=sign_out")
        end_session_cookie(response)
        return response
    if current is not None:
        current.portal_session.ended_at = utcnow()
        record(session, actor_user_id=current.user.id, actor_name=current.user.username, action="portal.logout",
               entity_type="user", entity_id=current.user.id, client_address=client)
        session.commit()
    renew_csrf(request)
    response = redirect(request, "/sign-in", flash="signed_out")
    end_session_cookie(response)
    return response


# ---------------------------------------------------------------------- forgot password


@router.get("/forgot-password")
def forgot_page(request: Request) -> Response:
    return page(request, "forgot_password.html", title="Forgot your password?", username="")


@router.post("/forgot-password")
def forgot(
    request: Request, session: SessionDep, client: ClientAddress,
    username: FormText = "", csrf_token: FormText = "",
) -> Response:
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return page(request, "forgot_password.html", 400, title="Forgot your password?", username=username[:254],
                    form_error=EXPIRED_FORM)
    wanted = username.strip().lower()
    if not wanted or len(wanted) > 254:
        return page(request, "forgot_password.html", 400, title="Forgot your password?", username=username[:254],
                    errors={"username": "Enter your username or e-mail address."})
    user = session.scalar(
        select(User)
        .where(or_(User.username == wanted, func.lower(User.email) == wanted), User.role.in_(PORTAL_ROLES),
               User.state == UserState.ACTIVE, User.member_id.is_not(None))
        .order_by(User.id)
        .limit(1)
    )
    if user is not None and user.member_id is not None:
        # The user asks for themselves: the same command staff run, with them as the
        # actor. No role: the server itself acts on the request (the link goes only to
        # the account's own address), as a trusted in-process caller.
        result = execute(session, ResetPassword(member_id=user.member_id, user_id=user.id),
                         Actor(user_id=user.id, username=user.username, client_address=client, role=None))
        if result.status is Status.APPLIED:
            session.commit()
        else:
            session.rollback()
    # The same answer whether or not an account matched (no probing for accounts).
    return page(request, "forgot_sent.html", title="Check your e-mail")


# ---------------------------------------------------------------------- links


def _usable_link(session: Session, token: str, purpose: TokenPurpose) -> tuple[UserToken, User] | None:
    link = find_link(session, token, purpose)
    if link is None or not link.usable():
        return None
    user = session.get(User, link.user_id)
    if user is None:
        return None
    if purpose == TokenPurpose.INVITATION and user.state != UserState.INVITED:
        return None
    if purpose == TokenPurpose.PASSWORD_RESET and user.state != UserState.ACTIVE:
        return None
    return link, user


def _use_link(session: Session, link: UserToken) -> bool:
    """Mark the link used, once: False if another request used it first."""
    now = utcnow()
    result = session.execute(
        update(UserToken)
        .where(UserToken.id == link.id, UserToken.used_at.is_(None), UserToken.cancelled_at.is_(None),
               UserToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def _password_errors(password: str, repeat: str) -> dict[str, str]:
    if not password:
        return {"password": "Choose a password."}
    if len(password) < MIN_PASSWORD_LENGTH:
        return {"password": f"Use at least {MIN_PASSWORD_LENGTH} characters."}
    if len(password) > MAX_PASSWORD_LENGTH:
        return {"password": f"Use at most {MAX_PASSWORD_LENGTH} characters."}
    if password != repeat:
        return {"repeat": "The two passwords are not the same."}
    return {}


def _set_password(session: Session, user: User, password: str) -> None:
    credential = session.get(UserCredential, user.id)
    if credential is None:
        session.add(UserCredential(user_id=user.id, password_hash=hash_password(password), changed_at=utcnow()))
    else:
        credential.password_hash, credential.changed_at = hash_password(password), utcnow()


def _link_invalid(request: Request, purpose: TokenPurpose) -> Response:
    return page(request, "link_invalid.html", 410, title="This link no longer works",
                invitation=purpose == TokenPurpose.INVITATION)


@router.get("/reset-password")
def reset_page(request: Request, session: SessionDep, token: str = "") -> Response:
    found = _usable_link(session, token, TokenPurpose.PASSWORD_RESET)
    if found is None:
        return _link_invalid(request, TokenPurpose.PASSWORD_RESET)
    return page(request, "reset_password.html", title="Choose a new password", token=token, account=found[1])


@router.post("/reset-password")
def reset(
    request: Request, session: SessionDep, client: ClientAddress,
    token: FormText = "", password: FormText = "", repeat: FormText = "", csrf_token: FormText = "",
) -> Response:
    found = _usable_link(session, token, TokenPurpose.PASSWORD_RESET)
    if found is None:
        return _link_invalid(request, TokenPurpose.PASSWORD_RESET)
    link, user = found

    def again(status: int, **values: object) -> Response:
        return page(request, "reset_password.html", status, title="Choose a new password", token=token,
                    account=user, **values)

    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return again(400, form_error=EXPIRED_FORM)
    errors = _password_errors(password, repeat)
    if errors:
        return again(400, errors=errors)
    if not _use_link(session, link):
        session.rollback()
        return _link_invalid(request, TokenPurpose.PASSWORD_RESET)
    _set_password(session, user, password)
    ended = end_sessions(session, user.id)
    member = session.get(Member, user.member_id) if user.member_id is not None else None
    record(session, actor_user_id=user.id, actor_name=user.username, action="portal.password_reset",
           entity_type="member" if member else "user", entity_id=member.id if member else user.id,
           details={"user_id": user.id, "username": user.username, "sessions_ended": ended},
           client_address=client)
    queue_mail(session, template="password_changed", category=EmailCategory.SERVICE, to_address=user.email,
               to_name=user.display_name, member=member, user_id=user.id,
               context={"name": user.display_name, "username": user.username},
               actor_user_id=user.id, actor_name=user.username, client_address=client)
    session.commit()
    renew_csrf(request)
    response = redirect(request, "/sign-in", flash="password_changed")
    if request.cookies.get(SESSION_COOKIE):
        end_session_cookie(response)
    return response


@router.get("/invitation")
def invitation_page(request: Request, session: SessionDep, token: str = "") -> Response:
    found = _usable_link(session, token, TokenPurpose.INVITATION)
    if found is None:
        return _link_invalid(request, TokenPurpose.INVITATION)
    user = found[1]
    return page(request, "invitation.html", title="Accept your invitation", token=token, account=user,
                member=session.get(Member, user.member_id) if user.member_id else None, name=user.display_name)


@router.post("/invitation")
def accept_invitation(
    request: Request, session: SessionDep, client: ClientAddress,
    token: FormText = "", name: FormText = "", password: FormText = "", repeat: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    found = _usable_link(session, token, TokenPurpose.INVITATION)
    if found is None:
        return _link_invalid(request, TokenPurpose.INVITATION)
    link, user = found
    member = session.get(Member, user.member_id) if user.member_id else None

    def again(status: int, **values: object) -> Response:
        return page(request, "invitation.html", status, title="Accept your invitation", token=token,
                    account=user, member=member, name=name[:200], **values)

    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return again(400, form_error=EXPIRED_FORM)
    errors = {}
    clean_name = " ".join(name.split())
    if not clean_name:
        errors["name"] = "Enter your name."
    elif len(clean_name) > 200:
        errors["name"] = "Use at most 200 characters."
    errors.update(_password_errors(password, repeat))
    if errors:
        return again(400, errors=errors)
    if fraud.check(session, attempt=Attempt.OPEN_ACCOUNT, entry="portal invitation", client=client,
                   emails=[user.email], actor_user_id=user.id, actor_name=user.username,
                   details={"user_id": user.id}):
        session.commit()  # the staff log and the block's count; the invitation stays unused
        return page(request, "refused.html", 403, title=fraud.GENERIC_TITLE, message=fraud.GENERIC_REFUSAL,
                    back="/sign-in")
    if not _use_link(session, link):
        session.rollback()
        return _link_invalid(request, TokenPurpose.INVITATION)
    _set_password(session, user, password)
    user.display_name, user.state = clean_name, UserState.ACTIVE
    record(session, actor_user_id=user.id, actor_name=user.username, action="portal.invitation_accepted",
           entity_type="member" if member else "user", entity_id=member.id if member else user.id,
           details={"user_id": user.id, "username": user.username, "role": user.role.value},
           client_address=client)
    if member is None or portal_refusal(session, user) is not None:
        session.commit()
        return page(request, "account_ready.html", title="Your account is ready", account=user)
    renew_csrf(request)
    response = redirect(request, "/account", flash="welcome")
    start_session(request, session, user, response)
    user.last_login_at = utcnow()
    session.commit()
    return response
