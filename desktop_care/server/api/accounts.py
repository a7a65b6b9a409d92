"""Account actions on a member's portal users (online only): reset a password,
invite a person, re-send or cancel an invitation; the member's sent mail; and staff
invitations (Society Admin only).

Each member action runs its command (``commands/accounts.py``) through ``execute``:
once per ``op_id``, audited with the real staff member, its link and its e-mail
written in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.command_schemas import InvitationIn
from desktop_care.commands import (
    CancelInvitation,
    Command,
    InviteUser,
    NotPermitted,
    OpIdReused,
    Rejected,
    ResendInvitation,
    ResetPassword,
    Status,
)
from desktop_care.commands.accounts import (
    PORTAL_ROLES,
    InviteStaff,
    existing_user,
    invite_staff,
    rate_limit_message,
    reset_limit_until,
)
from desktop_care.models import MailMessage, Member, User, UserRole, utcnow
from desktop_care.models.tokens import (
    RESET_LINK_LIFETIME,
    TokenPurpose,
    UserToken,
)
from desktop_care.schemas import (
    AccountActionOut,
    ErrorDetail,
    MailOut,
    MailPage,
    OnlineCommandIn,
    StaffInvitationIn,
)

from ..deps import ClientAddress, CurrentStaff, MemberId, SessionDep, Sessions, UserId, staff_actor
from ..errors import (
    ERROR_RESPONSES,
    ApiError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    plain_message,
)
from ..mail.render import subject_of
from ..transactions import run_command
from .members import MAX_LIMIT, PageSize, portal_user_out

router = APIRouter(tags=["accounts"], responses=ERROR_RESPONSES)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member or user"}}
_LIMITED: dict[int | str, dict[str, Any]] = {429: {"model": ErrorDetail, "description": "Too many password resets for this member; try later"}}


class Refused(ApiError):
    """422: the command's rules refused it; ``fields`` names what is wrong."""

    status_code = 422


def _member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    return member


def _member_user(session: Session, member_id: int, user_id: int) -> Member:
    """The member, when ``user_id`` is one of its portal users; 404 otherwise (a path
    that names nothing)."""
    member = _member(session, member_id)
    user = session.get(User, user_id)
    if user is None or user.member_id != member.id or user.role not in PORTAL_ROLES:
        raise NotFound(f"member {member.member_no} has no portal user with id {user_id}")
    return member


def _run(session: Session, sessions: sessionmaker[Session], command: Command, staff: User, client: str,
         done: str) -> AccountActionOut:
    session.rollback()  # end this request's read: the command runs in its own write transaction
    try:
        result = run_command(sessions, command, staff_actor(staff, client))
    except NotPermitted as exc:
        raise Forbidden(exc.reason) from None
    except OpIdReused as exc:
        raise InvalidInput("op_id", str(exc)) from None
    if result.status not in (Status.APPLIED, Status.DUPLICATE) or (
        result.status is Status.DUPLICATE and result.original_status is not Status.APPLIED
    ):
        raise Refused(result.reason, fields=result.fields)
    session.expire_all()
    user_id = getattr(command, "user_id", None)
    if user_id is None:  # an invitation: the user it made
        assert isinstance(command, InviteUser)
        user = existing_user(session, command.email)
    else:
        user = session.get(User, user_id)
    assert user is not None
    out = portal_user_out(session, user)
    link_until = out.invitation_expires_at
    if isinstance(command, ResetPassword):
        newest = session.scalar(select(UserToken).where(UserToken.user_id == user.id,
                                                        UserToken.purpose == TokenPurpose.PASSWORD_RESET)
                                .order_by(UserToken.id.desc()).limit(1))
        link_until = newest.expires_at if newest is not None else utcnow() + RESET_LINK_LIFETIME
    return AccountActionOut(
        op_id=result.op_id, status=result.status.value, user=out,
        to=user.email if not isinstance(command, CancelInvitation) else "",
        expires_at=None if isinstance(command, CancelInvitation) else link_until,
        message=done.format(email=user.email, username=user.username),
    )


def _op_id(body: OnlineCommandIn | None) -> uuid.UUID:
    return body.op_id if body is not None and body.op_id is not None else uuid.uuid4()


@router.post(
    "/members/{member_id}/users/{user_id}/password-reset",
    operation_id="resetPassword",
    response_model=AccountActionOut,
    responses={**_NOT_FOUND, **_LIMITED},
)
def reset_password(
    member_id: MemberId, user_id: UserId, session: SessionDep, sessions: Sessions, staff: CurrentStaff,
    client: ClientAddress, body: Annotated[OnlineCommandIn | None, Body()] = None,
) -> AccountActionOut:
    """E-mail the portal user a single-use link (1 hour) to choose a new password.
    Staff never see the password. At most 3 resets per member account an hour (429)."""
    _member_user(session, member_id, user_id)
    until = reset_limit_until(session, member_id)
    if until is not None:
        raise TooManyRequests(rate_limit_message(until), int((until - utcnow()).total_seconds()) + 1)
    command = ResetPassword(op_id=_op_id(body), member_id=member_id, user_id=user_id)
    return _run(session, sessions, command, staff, client, "A link to choose a new password was sent to {email}.")


@router.post(
    "/members/{member_id}/invitations",
    operation_id="inviteUser",
    response_model=AccountActionOut,
    status_code=status.HTTP_201_CREATED,
    responses=_NOT_FOUND,
)
def invite_user(
    member_id: MemberId, body: InvitationIn, session: SessionDep, sessions: Sessions, staff: CurrentStaff,
    client: ClientAddress,
) -> AccountActionOut:
    """Invite a person to the member's portal account as a Full or Standard user: an
    e-mail with a single-use link (7 days) to choose their password."""
    _member(session, member_id)
    try:
        command = InviteUser(op_id=_op_id(body), member_id=member_id, email=body.email,
                             display_name=body.display_name, role=body.role)
    except ValueError as exc:
        raise _invalid(exc) from None
    return _run(session, sessions, command, staff, client, "An invitation was sent to {email}.")


def _invalid(exc: ValueError) -> Refused:
    """The command's own validation (the e-mail address) in the API's words."""
    if isinstance(exc, ValidationError):
        fields = {".".join(str(p) for p in e["loc"]): plain_message(e).removeprefix("value error, ")
                  for e in exc.errors()}
        return Refused("; ".join(f"{k}: {v}" for k, v in fields.items()), fields=fields)
    return Refused(str(exc))


@router.post(
    "/members/{member_id}/invitations/{user_id}/resend",
    operation_id="resendInvitation",
    response_model=AccountActionOut,
    responses=_NOT_FOUND,
)
def resend_invitation(
    member_id: MemberId, user_id: UserId, session: SessionDep, sessions: Sessions, staff: CurrentStaff,
    client: ClientAddress, body: Annotated[OnlineCommandIn | None, Body()] = None,
) -> AccountActionOut:
    """Send a pending invitation again with a new link; the old link stops working."""
    _member_user(session, member_id, user_id)
    command = ResendInvitation(op_id=_op_id(body), member_id=member_id, user_id=user_id)
    return _run(session, sessions, command, staff, client, "The invitation was sent again to {email}.")


@router.delete(
    "/members/{member_id}/invitations/{user_id}",
    operation_id="cancelInvitation",
    response_model=AccountActionOut,
    responses=_NOT_FOUND,
)
def cancel_invitation(
    member_id: MemberId, user_id: UserId, session: SessionDep, sessions: Sessions, staff: CurrentStaff,
    client: ClientAddress,
) -> AccountActionOut:
    """Cancel a pending invitation: its link stops working."""
    _member_user(session, member_id, user_id)
    command = CancelInvitation(member_id=member_id, user_id=user_id)
    return _run(session, sessions, command, staff, client, "The invitation of {email} was cancelled.")


@router.get("/members/{member_id}/mail", operation_id="getMemberMail", response_model=MailPage,
            responses=_NOT_FOUND)
def member_mail(
    member_id: MemberId, session: SessionDep, staff: CurrentStaff,
    limit: Annotated[PageSize, Query(description="Page size", json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})] = 50,
    cursor: Annotated[str | None, Query(max_length=20, description="`next_cursor` of the previous page")] = None,
) -> MailPage:
    """The e-mails queued for the member, newest first, with their delivery state."""
    _member(session, member_id)
    query = select(MailMessage).where(MailMessage.member_id == member_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidInput("cursor", "is not a cursor this server gave out")
        query = query.where(MailMessage.id < int(cursor))
    rows = list(session.scalars(query.order_by(MailMessage.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        MailOut(id=row.id, message_id=row.message_id, template=row.template, category=row.category,
                to=row.to_address, subject=row.subject or _subject(row), state=row.state, attempts=row.attempts,
                last_error=row.last_error, created_at=row.created_at, sent_at=row.sent_at)
        for row in rows
    ]
    return MailPage(items=items, total=total, next_cursor=str(rows[-1].id) if more else None)


def _subject(row: MailMessage) -> str:
    try:
        return subject_of(row.template, row.context)
    except Exception:  # noqa: BLE001  (a template that no longer renders: the listing still works)
        return ""


@router.post(
    "/staff/invitations",
    operation_id="inviteStaff",
    response_model=AccountActionOut,
    status_code=status.HTTP_201_CREATED,
)
def staff_invitation(
    body: StaffInvitationIn, session: SessionDep, staff: CurrentStaff, client: ClientAddress,
) -> AccountActionOut:
    """Invite a person as Society Staff or Society Admin (Society Admin only): an
    e-mail with a single-use link (7 days) to choose their password."""
    if not InviteStaff.permits(staff.role):  # the declaration the UI reads too
        raise Forbidden("only a Society Admin can invite staff")
    try:
        details = invite_staff(session, body.email, body.display_name, UserRole(body.role),
                               staff_actor(staff, client))
    except Rejected as exc:
        session.rollback()
        raise Refused(exc.reason, fields=exc.fields) from None
    session.commit()
    user = session.get(User, details["user_id"])
    assert user is not None
    out = portal_user_out(session, user)
    return AccountActionOut(op_id="", status="applied", user=out, to=user.email,
                            expires_at=out.invitation_expires_at, message=f"An invitation was sent to {user.email}.")
