"""Online-only commands on the portal users of a member account: reset a password,
invite a person, re-send or cancel an invitation. And the same invitation for staff.

Each one writes its single-use link (stored hashed) and queues its e-mail in the one
transaction of the command, so either both happen or neither. The links' lifetimes are
in :mod:`desktop_care.models.tokens`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..models import (
    EmailCategory,
    Member,
    MemberStatus,
    User,
    UserRole,
    UserState,
    queue_mail,
    record,
    utcnow,
)
from ..models.tokens import (
    INVITATION_LIFETIME,
    RESET_LINK_LIFETIME,
    TokenPurpose,
    UserToken,
    cancel_links,
    issue_link,
)
from .base import Actor, BaseCommand, Command, Rejected
from .member import clean_name
from .registry import register

#: Password resets per member account and hour, at most.
RESETS_PER_HOUR = 3
RESET_WINDOW = dt.timedelta(hours=1)
PORTAL_ROLES = (UserRole.FULL, UserRole.STANDARD)
STAFF_ROLES = (UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN)


class PortalRole(enum.StrEnum):
    """The roles a person can be invited to a member account with."""

    FULL = "full"
    STANDARD = "standard"


def normalize_email(value: str) -> str:
    """A valid address, normalised (raises ValueError in plain words)."""
    try:
        return str(validate_email(value.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid e-mail address ({exc})") from None


def reset_limit_until(session: Session, member_id: int, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the member's next password reset is allowed, if the limit is reached now."""
    now = now or utcnow()
    recent = list(session.scalars(
        select(UserToken.created_at)
        .where(UserToken.member_id == member_id, UserToken.purpose == TokenPurpose.PASSWORD_RESET,
               UserToken.created_at > now - RESET_WINDOW)
        .order_by(UserToken.created_at)
    ))
    if len(recent) < RESETS_PER_HOUR:
        return None
    return recent[len(recent) - RESETS_PER_HOUR] + RESET_WINDOW


def rate_limit_message(until: dt.datetime) -> str:
    return (f"at most {RESETS_PER_HOUR} password resets per member account in an hour; "
            f"the next one is possible at {until:%H:%M} UTC")


def _portal_user(session: Session, member: Member, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.member_id != member.id or user.role not in PORTAL_ROLES:
        raise Rejected(f"user {user_id} is not a portal user of member {member.member_no}",
                       {"user_id": "not a portal user of this member"})
    return user


def _open_account(member: Member) -> None:
    if member.status == MemberStatus.MERGED:
        raise Rejected(f"member {member.member_no} was merged into another account")


def mail_actor(actor: Actor) -> dict[str, Any]:
    return {"actor_user_id": actor.user_id, "actor_name": actor.username,
            "impersonation_id": actor.impersonation_id, "client_address": actor.client_address}


class _PortalUserCommand(Command):
    """An online-only command on one portal user of the member (a member command, so
    that it is audited on the member's history and locks the member)."""

    user_id: int = Field(gt=0)
    never_conflicts: ClassVar[bool] = True
    online_only: ClassVar[bool] = True

    def changed_fields(self) -> frozenset[str]:
        return frozenset()

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values)


@register
class ResetPassword(_PortalUserCommand):
    """E-mail a portal user a single-use link to choose a new password. Staff never see
    or choose the password; a newer reset cancels older links."""

    kind: Literal["reset_password"] = "reset_password"
    action: ClassVar[str] = "member.reset_password"
    label: ClassVar[str] = "Reset password"

    def check_in(self, session: Session, member: Member) -> None:
        _open_account(member)
        user = _portal_user(session, member, self.user_id)
        if user.state != UserState.ACTIVE:
            raise Rejected(f"{user.username} is {user.state.label.lower()}: only an active user's password can be reset",
                           {"user_id": f"the user is {user.state.label.lower()}"})
        if not user.email:
            raise Rejected(f"{user.username} has no e-mail address to send the link to",
                           {"user_id": "no e-mail address"})
        until = reset_limit_until(session, member.id)
        if until is not None:
            raise Rejected(rate_limit_message(until), {"user_id": "too many resets"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        user = _portal_user(session, member, self.user_id)
        self_service = actor.user_id == user.id
        link = issue_link(session, user.id, TokenPurpose.PASSWORD_RESET, member_id=member.id,
                          created_by_user_id=None if self_service else actor.user_id)
        mail = queue_mail(
            session, template="password_reset", category=EmailCategory.SERVICE, to_address=user.email,
            to_name=user.display_name, member=member, user_id=user.id,
            context={"name": user.display_name, "username": user.username, "token": link.token,
                     "minutes": int(RESET_LINK_LIFETIME.total_seconds() // 60)},
            secret_keys=("token",), **mail_actor(actor),
        )
        return {"user_id": user.id, "username": user.username, "to": user.email,
                "expires_at": link.row.expires_at.isoformat(), "self_service": self_service,
                "message_id": mail.message_id if mail is not None else None}

    def summary(self) -> str:
        return "Reset password"


def existing_user(session: Session, email: str) -> User | None:
    """The user whose username or e-mail address is ``email`` (the username first)."""
    wanted = email.lower()
    return session.scalar(
        select(User)
        .where(or_(func.lower(User.username) == wanted, func.lower(User.email) == wanted))
        .order_by((func.lower(User.username) == wanted).desc(), User.id)
        .limit(1)
    )


def invitation_mail(user: User, member: Member | None, token: str, actor: Actor) -> dict[str, Any]:
    """The arguments of ``queue_mail`` for an invitation of ``user`` with link ``token``."""
    context: dict[str, Any] = {
        "name": user.display_name, "username": user.username, "token": token, "role": user.role.label,
        "days": INVITATION_LIFETIME.days, "invited_by": actor.username,
    }
    if member is not None:
        context["member_name"] = member.display_name
        context["member_no"] = member.member_no
    return {"template": "invitation" if member is not None else "staff_invitation",
            "category": EmailCategory.SERVICE, "to_address": user.email, "to_name": user.display_name,
            "member": member, "user_id": user.id, "context": context, "secret_keys": ("token",)}


def invitation_details(user: User, expires_at: dt.datetime, message_id: str | None) -> dict[str, Any]:
    """What an invitation's audit records."""
    return {"user_id": user.id, "username": user.username, "to": user.email, "role": user.role.value,
            "expires_at": expires_at.isoformat(), "message_id": message_id}


def _send_invitation(session: Session, user: User, member: Member | None, actor: Actor) -> dict[str, Any]:
    link = issue_link(session, user.id, TokenPurpose.INVITATION, member_id=member.id if member else None,
                      created_by_user_id=actor.user_id)
    mail = queue_mail(session, **invitation_mail(user, member, link.token, actor), **mail_actor(actor))
    return invitation_details(user, link.row.expires_at, mail.message_id if mail is not None else None)


def _new_invited_user(session: Session, email: str, display_name: str, role: UserRole,
                      member_id: int | None) -> User:
    """An invited user for ``email``, or the revoked one of the same account again."""
    user = existing_user(session, email)
    if user is None:
        user = User(username=email.lower(), email=email, display_name=display_name, role=role,
                    state=UserState.INVITED, member_id=member_id)
        session.add(user)
    else:
        user.email, user.display_name, user.role, user.state = email, display_name, role, UserState.INVITED
    session.flush()
    return user


#: The start of the reasons :func:`refusal_for_user` gives (bulk invite tells them apart).
ALREADY_INVITED = "is already invited"
ALREADY_A_USER = "is already a user"


def invitation_refusal(session: Session, email: str, member_id: int | None) -> str | None:
    """Why ``email`` cannot be invited (to ``member_id``'s account, or as staff)."""
    return refusal_for_user(existing_user(session, email), email, member_id)


def refusal_for_user(user: User | None, email: str, member_id: int | None) -> str | None:
    """Why ``email``, whose existing user is ``user``, cannot be invited."""
    if user is None:
        return None
    if user.state == UserState.INVITED:
        return f"{email} {ALREADY_INVITED}; re-send the invitation instead"
    if user.state == UserState.REVOKED and user.member_id == member_id and (member_id or user.role.is_staff):
        return None
    return f"{email} {ALREADY_A_USER}"


def invite_member_refusal(member: Member) -> str | None:
    """Why no one can be invited to ``member``'s account now (merged, inactive)."""
    if member.status == MemberStatus.MERGED:
        return f"member {member.member_no} was merged into another account"
    if member.status == MemberStatus.INACTIVE:
        return f"member {member.member_no} is inactive: no one can be invited to the account"
    return None


class _Invitee(BaseModel):
    """Who is invited: an e-mail address (checked and normalised) and a name."""

    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(min_length=1, max_length=200)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @field_validator("display_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_name(value)


@register
class InviteUser(Command, _Invitee):
    """Invite a person (name, e-mail) to the member's portal account as a Full or
    Standard user: an invited user, a single-use link, an e-mail."""

    kind: Literal["invite_user"] = "invite_user"
    role: PortalRole

    never_conflicts: ClassVar[bool] = True
    online_only: ClassVar[bool] = True
    action: ClassVar[str] = "member.invite_user"
    label: ClassVar[str] = "Invite a user"

    def changed_fields(self) -> frozenset[str]:
        return frozenset()

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values)

    def check_in(self, session: Session, member: Member) -> None:
        refusal = invite_member_refusal(member)
        if refusal is not None:
            raise Rejected(refusal)
        reason = invitation_refusal(session, self.email, member.id)
        if reason is not None:
            raise Rejected(reason, {"email": reason})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        user = _new_invited_user(session, self.email, self.display_name, UserRole(self.role.value), member.id)
        return _send_invitation(session, user, member, actor)

    def summary(self) -> str:
        return f"Invite {self.email} ({self.role.value})"


def _invited_user(session: Session, member: Member, user_id: int) -> User:
    _open_account(member)
    user = _portal_user(session, member, user_id)
    if user.state != UserState.INVITED:
        raise Rejected(f"{user.username} has no pending invitation", {"user_id": "no pending invitation"})
    return user


@register
class ResendInvitation(_PortalUserCommand):
    """Send a pending invitation again with a new link; the old link stops working."""

    kind: Literal["resend_invitation"] = "resend_invitation"
    action: ClassVar[str] = "member.resend_invitation"
    label: ClassVar[str] = "Re-send invitation"

    def check_in(self, session: Session, member: Member) -> None:
        _invited_user(session, member, self.user_id)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        return _send_invitation(session, _portal_user(session, member, self.user_id), member, actor)


@register
class CancelInvitation(_PortalUserCommand):
    """Cancel a pending invitation: its link stops working and the user cannot sign in
    (they can be invited again)."""

    kind: Literal["cancel_invitation"] = "cancel_invitation"
    action: ClassVar[str] = "member.cancel_invitation"
    label: ClassVar[str] = "Cancel invitation"

    def check_in(self, session: Session, member: Member) -> None:
        _invited_user(session, member, self.user_id)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        user = _portal_user(session, member, self.user_id)
        cancelled = cancel_links(session, user.id, TokenPurpose.INVITATION)
        user.state = UserState.REVOKED
        return {"user_id": user.id, "username": user.username, "links_cancelled": cancelled}


# ---------------------------------------------------------------- staff invitations


class InviteStaff(BaseCommand, _Invitee):
    """Invite a person as Society Staff or Society Admin (``POST /staff/invitations``).

    Not a registered kind (it has no member or user to target yet, so ``execute``
    does not run it): the declaration the endpoint checks and the Society Users page
    reads (``Workspace.refusal``) to show the Invite staff button only to whom may use
    it, and its fields validate what the dialog sends."""

    kind: Literal["invite_staff"] = "invite_staff"
    role: Literal[UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN]

    label: ClassVar[str] = "Invite staff"
    action: ClassVar[str] = "staff.invited"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_ADMIN
    online_only: ClassVar[bool] = True


def invite_staff(session: Session, email: str, display_name: str, role: UserRole, actor: Actor) -> dict[str, Any]:
    """Invite a person as Society Staff or Society Admin (no member account): an
    invited user, a single-use link and an e-mail, audited as ``staff.invited``.
    Raises :class:`Rejected` naming the field. The caller commits."""
    if role not in STAFF_ROLES:
        raise Rejected(f"{role.label} is not a staff role", {"role": "must be society_staff or society_admin"})
    try:
        email = normalize_email(email)
    except ValueError as exc:
        raise Rejected(f"email: {exc}", {"email": str(exc)}) from None
    display_name = " ".join(display_name.split())
    if not display_name:
        raise Rejected("display_name: may not be blank", {"display_name": "may not be blank"})
    reason = invitation_refusal(session, email, None)
    if reason is not None:
        raise Rejected(reason, {"email": reason})
    user = _new_invited_user(session, email, display_name, role, None)
    details = _send_invitation(session, user, None, actor)
    record(session, actor_user_id=actor.user_id, actor_name=actor.username, action="staff.invited",
           entity_type="user", entity_id=user.id, details=details, client_address=actor.client_address)
    return details
