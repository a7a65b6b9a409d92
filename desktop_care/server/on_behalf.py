"""Staff acting on behalf of a member in the portal: who may, the one-time token, the
exchange for a portal session of its own, and its end (docs/decisions/0017-acting-on-behalf.md).

- :func:`grant` (``POST /api/v1/members/{id}/on-behalf``): a staff member with a reason
  gets a token that works once, for :data:`ON_BEHALF_TOKEN_LIFETIME`; only its SHA-256
  is stored, and ``on_behalf.start`` is audited on the member with the reason.
- :func:`exchange` (the portal's ``GET /portal/on-behalf?token=``): the token becomes a
  portal session whose row belongs to the staff member (``portal_session.user_id``),
  never to the member's own users, so the member's sessions elsewhere are untouched.
  The member is told by e-mail, with the reason, unless a Society Admin turned that off.
- :func:`end`: Sign in as yourself, Sign out, closing the view, the staff member signing
  out of the console (:func:`end_for_staff_token`), or the hard time limit
  (:data:`ON_BEHALF_SESSION_LIFETIME`); ``on_behalf.end`` is audited with why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from desktop_care.commands import Actor
from desktop_care.models import (
    EmailCategory,
    Member,
    MemberStatus,
    OnBehalfSession,
    PortalSession,
    StaffToken,
    User,
    UserRole,
    UserState,
    queue_mail,
    record,
    sign_in_refusal,
    utcnow,
)
from desktop_care.models.on_behalf import (
    MAX_REASON_LENGTH,
    NOTIFY_ON_BEHALF,
    ON_BEHALF_SESSION_LIFETIME,
    ON_BEHALF_TOKEN_LIFETIME,
    EndReason,
    setting,
)
from desktop_care.models.tokens import digest, new_secret

from .security import StaffSession, refusal

STAFF_FOR_STAFF = "staff cannot act on behalf of a staff account"
REVOKED = "access to the portal was revoked for this account; it must be invited again first"
EMAIL_REFUSED = ("Staff cannot change the member's e-mail address while acting on their behalf: "
                 "the member changes it themselves, or use Edit info in the console.")
PASSWORD_REFUSED = ("Staff cannot change the member's password while acting on their behalf: "
                    "use Reset password in the console, so that the member chooses it.")


def account_user(session: Session, member: Member) -> User | None:
    """The member's portal user the pages show: the first active Full user, else any
    active user, else None (a member without portal access yet)."""
    users = session.scalars(select(User).where(User.member_id == member.id).order_by(User.id)).all()
    active = [u for u in users if u.state == UserState.ACTIVE and u.role in (UserRole.FULL, UserRole.STANDARD)]
    for user in active:
        if user.role is UserRole.FULL:
            return user
    return active[0] if active else None


def member_refusal(session: Session, member: Member) -> str | None:
    """Why no one may act on behalf of this member now (None if they may)."""
    if member.status is MemberStatus.MERGED:
        return f"member {member.member_no} was merged into another account; act on behalf of that one"
    reason = sign_in_refusal(member)
    if reason is not None:
        return f"member {member.member_no} cannot use the portal: {reason}"
    users = session.scalars(select(User).where(User.member_id == member.id)).all()
    if users and all(u.state == UserState.REVOKED for u in users):
        return REVOKED
    return None


def user_refusal(member: Member, user: User) -> str | None:
    """Why staff may not act as this particular user of the member (None if they may)."""
    if user.role.is_staff:
        return STAFF_FOR_STAFF
    if user.member_id != member.id:
        return f"this user is not a user of member {member.member_no}"
    if user.state == UserState.REVOKED:
        return REVOKED
    if user.state != UserState.ACTIVE:
        return f"this user cannot sign in ({user.state.label.lower()})"
    return None


class Refused(Exception):
    """Acting on behalf is refused; ``reason`` says why in plain words; ``field`` when
    the request itself is wrong (422)."""

    def __init__(self, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Granted:
    row: OnBehalfSession
    #: The one-time token: hand it to the portal, never store it.
    token: str


def clean_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise Refused("give the reason for acting on the member's behalf", "reason")
    if len(text) > MAX_REASON_LENGTH:
        raise Refused(f"use at most {MAX_REASON_LENGTH} characters", "reason")
    return text


def grant(session: Session, staff: StaffSession, member: Member, reason: str, *, user_id: int | None = None,
          client_address: str = "", now: dt.datetime | None = None) -> Granted:
    """A one-time token to act on behalf of ``member`` (raises :class:`Refused`).
    Flushed and audited; the caller commits."""
    text = clean_reason(reason)
    why = member_refusal(session, member)
    if why is not None:
        raise Refused(why)
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise Refused(f"no user with id {user_id}", "user_id")
        why = user_refusal(member, user)
        if why is not None:
            raise Refused(why)
    else:
        user = account_user(session, member)
    now = now or utcnow()
    token = new_secret()
    row = OnBehalfSession(token_hash=digest(token), staff_user_id=staff.user.id, staff_token_id=staff.token.id,
                          member_id=member.id, as_user_id=user.id if user else None, reason=text, created_at=now,
                          token_expires_at=now + ON_BEHALF_TOKEN_LIFETIME, end_reason="",
                          client_address=client_address)
    session.add(row)
    session.flush()
    record(session, actor_user_id=staff.user.id, actor_name=staff.user.username, action="on_behalf.start",
           entity_type="member", entity_id=member.id, impersonation_id=row.id, client_address=client_address,
           details={"member_no": member.member_no, "reason": text, "session_id": row.id,
                    "as_user": user.username if user else "",
                    "time_limit_minutes": int(ON_BEHALF_SESSION_LIFETIME.total_seconds() // 60)})
    return Granted(row, token)


def staff_token_live(session: Session, row: OnBehalfSession, now: dt.datetime) -> bool:
    """The console session that asked is still signed in, and its user still staff."""
    token = session.get(StaffToken, row.staff_token_id)
    staff = session.get(User, row.staff_user_id)
    return (token is not None and token.revoked_at is None and token.expires_at > now
            and staff is not None and refusal(staff) is None)


def exchange(session: Session, token: str, *, client_address: str = "",
             now: dt.datetime | None = None) -> OnBehalfSession | None:
    """Use the one-time token, once: the on-behalf row (its portal session is then the
    caller's to create and attach), or None when the token is unknown, used, expired,
    or acting on behalf is no longer allowed. The caller commits."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    row = session.scalar(select(OnBehalfSession).where(OnBehalfSession.token_hash == digest(token)))
    if row is None:
        return None
    used = session.execute(
        update(OnBehalfSession)
        .where(OnBehalfSession.id == row.id, OnBehalfSession.exchanged_at.is_(None),
               OnBehalfSession.ended_at.is_(None), OnBehalfSession.token_expires_at > now)
        .values(exchanged_at=now, expires_at=now + ON_BEHALF_SESSION_LIFETIME)
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 0) != 1:
        return None
    session.refresh(row)
    member = session.get(Member, row.member_id)
    if member is None or member_refusal(session, member) is not None or not staff_token_live(session, row, now):
        end(session, row, EndReason.STAFF_SIGNED_OUT if member is not None else "member_gone", now=now)
        return None
    staff = session.get(User, row.staff_user_id)
    assert staff is not None
    if setting(session, NOTIFY_ON_BEHALF) and member.email:
        queue_mail(session, template="on_behalf_notice", category=EmailCategory.SERVICE, to_address=member.email,
                   to_name=member.display_name, member=member,
                   context={"name": member.display_name, "staff": staff.display_name or staff.username,
                            "reason": row.reason, "when": now.strftime("%d %B %Y at %H:%M UTC")},
                   actor_user_id=staff.id, actor_name=staff.username, impersonation_id=row.id,
                   client_address=client_address)
    return row


def end(session: Session, row: OnBehalfSession, why: str, *, client_address: str = "",
        now: dt.datetime | None = None) -> bool:
    """End the session (its portal session too) and audit why; False if it had already
    ended. The caller commits."""
    if row.ended_at is not None:
        return False
    now = now or utcnow()
    if row.expires_at is not None and row.expires_at <= now and why != EndReason.TIME_LIMIT:
        why = EndReason.TIME_LIMIT
    row.ended_at, row.end_reason = now, why
    if row.portal_session_id is not None:
        portal = session.get(PortalSession, row.portal_session_id)
        if portal is not None and portal.ended_at is None:
            portal.ended_at = now
    staff = session.get(User, row.staff_user_id)
    member = session.get(Member, row.member_id)
    record(session, actor_user_id=row.staff_user_id, actor_name=staff.username if staff else "",
           action="on_behalf.end", entity_type="member", entity_id=row.member_id, impersonation_id=row.id,
           client_address=client_address,
           details={"member_no": member.member_no if member else "", "session_id": row.id, "why": why,
                    "reason": row.reason})
    return True


def end_for_staff_token(session: Session, staff_token_id: int, why: str = EndReason.STAFF_SIGNED_OUT, *,
                        client_address: str = "") -> int:
    """End every open on-behalf session the console session opened (its sign-out)."""
    rows = session.scalars(select(OnBehalfSession).where(OnBehalfSession.staff_token_id == staff_token_id,
                                                         OnBehalfSession.ended_at.is_(None))).all()
    return sum(end(session, row, why, client_address=client_address) for row in rows)


def actor(row: OnBehalfSession, staff: User, client_address: str = "") -> Actor:
    """The actor of every change in the session: the staff member, with the session id."""
    return Actor(user_id=staff.id, username=staff.username, impersonation_id=row.id,
                 client_address=client_address, role=staff.role)
