"""My profile (personal information) and Change password.

My profile builds the same ``UpdateContact`` command as the console's Edit info, so
both validate alike, and runs it through ``execute`` (``run_command``): audited with
the real actor (the member's user, or the staff member acting on their behalf), and in
the change feed at once. Staff acting on behalf may not change the e-mail address or
the password: 403, with the reason on the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from desktop_care.commands import Status, UpdateContact
from desktop_care.models import (
    EmailCategory,
    UserCredential,
    end_sessions,
    queue_mail,
    record,
    utcnow,
)
from desktop_care.models.contact import InvalidContact, display_phone, normalize_phone

from .. import on_behalf
from ..deps import ClientAddress, SessionDep, Sessions
from ..errors import plain_message
from ..security import MIN_PASSWORD_LENGTH, hash_password, verify_password
from ..transactions import run_command
from .auth import EXPIRED_FORM, MAX_PASSWORD_LENGTH, _password_errors
from .web import CurrentPortalUser, SignedIn, csrf_ok, page, redirect, renew_csrf

router = APIRouter()

FormText = Annotated[str, Form()]
_NAMES = ("title", "first_name", "last_name", "email", "phone")
_ADDRESS = ("line1", "line2", "city", "region", "postcode", "country")
#: Command error locations as the form's field names.
_FIELD_OF = {"home_address": "line1"}


def _values(current: SignedIn) -> dict[str, str]:
    member = current.member
    home = member.home_address
    country = home.country if home is not None else "GB"
    values = {"title": member.title, "first_name": member.first_name, "last_name": member.last_name,
              "email": member.email, "phone": display_phone(member.phone, country) if member.phone else ""}
    for key in _ADDRESS:
        values[key] = getattr(home, key) if home is not None else ("GB" if key == "country" else "")
    values["version"] = str(member.version)
    return values


def _profile(request: Request, current: SignedIn, status: int = 200, **values: Any) -> Response:
    values.setdefault("form", _values(current))
    return page(request, "profile.html", status, title="My profile", user=current.user, member=current.member,
                active="profile", **values)


def _refused(session: Session, current: SignedIn, what: str, client: str) -> None:
    """Audit an attempt the on-behalf session may not make (it is an action too)."""
    assert current.on_behalf is not None
    record(session, actor_user_id=current.on_behalf.staff.id, actor_name=current.on_behalf.staff.username,
           action="on_behalf.refused", entity_type="member", entity_id=current.member.id,
           impersonation_id=current.on_behalf.session_id, client_address=client,
           details={"member_no": current.member.member_no, "attempted": what,
                    "session_id": current.on_behalf.session_id})
    session.commit()


@router.get("/profile")
def profile_page(request: Request, current: CurrentPortalUser) -> Response:
    return _profile(request, current)


def _same_phone(typed: str, stored: str, country: str) -> bool:
    try:
        return normalize_phone(typed, country) == stored
    except InvalidContact:
        return False


def _command(current: SignedIn, form: dict[str, str]) -> dict[str, Any]:
    """The UpdateContact payload of what the form changed."""
    member = current.member
    before = _values(current)
    payload: dict[str, Any] = {"member_id": member.id, "base_version": int(form["version"] or member.version)}
    for name in ("title", "first_name", "last_name"):
        if form[name].strip() != before[name]:
            payload[name] = form[name]
    if form["email"].strip().lower() != member.email.lower():
        payload["email"] = form["email"]
    if form["phone"].strip() != before["phone"] and not _same_phone(form["phone"], member.phone, form["country"]):
        payload["phone"] = form["phone"]
    address = {key: form[key] for key in _ADDRESS}
    if any(address[k].strip() != before[k] for k in _ADDRESS) and (
            member.home_address is not None or any(address[k].strip() for k in _ADDRESS if k != "country")):
        payload["home_address"] = address
    return payload


def _errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())] or ["form"]
        name = loc[-1] if loc[0] == "home_address" and len(loc) > 1 else _FIELD_OF.get(loc[0], loc[0])
        message = plain_message(error).removeprefix("value error, ")
        fields.setdefault(name, message[:1].upper() + message[1:].rstrip(".") + ".")
    return fields


@router.post("/profile")
def update_profile(
    request: Request, session: SessionDep, sessions: Sessions, client: ClientAddress, current: CurrentPortalUser,
    title: FormText = "", first_name: FormText = "", last_name: FormText = "", email: FormText = "",
    phone: FormText = "", line1: FormText = "", line2: FormText = "", city: FormText = "", region: FormText = "",
    postcode: FormText = "", country: FormText = "GB", version: FormText = "", csrf_token: FormText = "",
) -> Response:
    form = {"title": title, "first_name": first_name, "last_name": last_name, "email": email, "phone": phone,
            "line1": line1, "line2": line2, "city": city, "region": region, "postcode": postcode,
            "country": country or "GB", "version": version}
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _profile(request, current, 400, form=form, form_error=EXPIRED_FORM)
    if not version.isdigit():
        form["version"] = str(current.member.version)
    payload = _command(current, form)
    if current.on_behalf is not None and "email" in payload:
        _refused(session, current, "change the e-mail address", client)
        return _profile(request, current, 403, form=form, form_error=on_behalf.EMAIL_REFUSED,
                        errors={"email": "Only the member can change their e-mail address."})
    if len(payload) == 2:
        return _profile(request, current, form=form, notice="Nothing was changed.")
    try:
        command = UpdateContact.model_validate(payload)
    except ValidationError as exc:
        errors = _errors(exc)
        whole = errors.pop("form", "")
        return _profile(request, current, 400, form=form, errors=errors,
                        form_error=whole or "Please correct the fields marked below.")
    actor = current.actor(client)
    session.rollback()  # end this request's read: the command runs in its own write transaction
    result = run_command(sessions, command, actor)
    if result.status is Status.CONFLICT:
        session.expire_all()
        fresh = _values(current)
        return _profile(request, current, 409, form={**form, "version": fresh["version"]},
                        form_error=("Someone else changed these details since you opened this page "
                                    f"({result.reason.removeprefix('changed by someone else since: ')}). "
                                    "Check them and save again."))
    if result.status is Status.REJECTED:
        return _profile(request, current, 400, form=form, errors={k: v for k, v in result.fields.items()},
                        form_error=result.reason[:1].upper() + result.reason[1:] + ".")
    return redirect(request, "/profile", flash="profile_saved")


# ---------------------------------------------------------------------- password


def _password_page(request: Request, current: SignedIn, status: int = 200, **values: Any) -> Response:
    return page(request, "change_password.html", status, title="Change password", user=current.user,
                member=current.member, active="change_password", min_length=MIN_PASSWORD_LENGTH, **values)


@router.get("/password")
def password_page(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser) -> Response:
    if current.on_behalf is not None:
        return _password_page(request, current, 403, form_error=on_behalf.PASSWORD_REFUSED, refused=True)
    return _password_page(request, current, refused=False)


@router.post("/password")
def change_password(
    request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
    current_password: FormText = "", password: FormText = "", repeat: FormText = "", csrf_token: FormText = "",
) -> Response:
    if current.on_behalf is not None:
        _refused(session, current, "change the password", client)
        return _password_page(request, current, 403, form_error=on_behalf.PASSWORD_REFUSED, refused=True)
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _password_page(request, current, 400, form_error=EXPIRED_FORM, refused=False)
    user = current.user
    credential = session.get(UserCredential, user.id)
    errors: dict[str, str] = {}
    if not current_password:
        errors["current_password"] = "Enter your current password."
    elif (len(current_password) > MAX_PASSWORD_LENGTH or credential is None
          or not verify_password(credential.password_hash, current_password)):
        errors["current_password"] = "This is not your current password."
    errors.update(_password_errors(password, repeat))
    if not errors and password == current_password:
        errors["password"] = "Choose a password different from the current one."
    if errors:
        if "current_password" in errors and current_password:
            record(session, actor_user_id=user.id, actor_name=user.username, action="portal.password_change_failed",
                   entity_type="member", entity_id=current.member.id, client_address=client,
                   details={"user_id": user.id, "username": user.username, "reason": "wrong current password"})
            session.commit()
        return _password_page(request, current, 400, errors=errors, refused=False)
    assert credential is not None
    credential.password_hash, credential.changed_at = hash_password(password), utcnow()
    ended = end_sessions(session, user.id, keep_portal_session_id=current.portal_session.id)
    record(session, actor_user_id=user.id, actor_name=user.username, action="portal.password_changed",
           entity_type="member", entity_id=current.member.id, client_address=client,
           details={"user_id": user.id, "username": user.username, "sessions_ended": ended})
    queue_mail(session, template="password_changed", category=EmailCategory.SERVICE, to_address=user.email,
               to_name=user.display_name, member=current.member, user_id=user.id,
               context={"name": user.display_name or user.username, "username": user.username},
               actor_user_id=user.id, actor_name=user.username, client_address=client)
    session.commit()
    return redirect(request, "/account", flash="own_password_changed")
