"""Server-only secrets of portal users: one-time links (password reset, invitation)
and portal sessions. Only the SHA-256 digest of a token is stored; the token itself
goes to the user once (in an e-mail, or a cookie) and is never kept.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow

#: How long a password-reset link works.
RESET_LINK_LIFETIME = dt.timedelta(hours=1)
#: How long an invitation link works.
INVITATION_LIFETIME = dt.timedelta(days=7)


class TokenPurpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"
    INVITATION = "invitation"


def new_secret() -> str:
    """An unguessable token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserToken(Base):
    """A single-use link: used once (``used_at``), replaced (``cancelled_at``) or expired."""

    __tablename__ = "user_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    #: The member account it was issued for (rate limits count per member).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), default=None)
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Who asked for it ("staff" user id; None when the user asked themselves).
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)

    __table_args__ = (
        Index("ix_user_token_user", "user_id", "purpose"),
        Index("ix_user_token_member", "member_id", "purpose", "created_at"),
    )

    def usable(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return self.used_at is None and self.cancelled_at is None and self.expires_at > now


@dataclass(frozen=True)
class IssuedLink:
    row: UserToken
    #: The token itself: put it in the e-mail, never store it.
    token: str


def cancel_links(session: Session, user_id: int, purpose: TokenPurpose, *, now: dt.datetime | None = None) -> int:
    """Cancel every unused link of ``purpose`` of the user; returns how many."""
    result = session.execute(
        update(UserToken)
        .where(UserToken.user_id == user_id, UserToken.purpose == purpose,
               UserToken.used_at.is_(None), UserToken.cancelled_at.is_(None))
        .values(cancelled_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def issue_link(
    session: Session,
    user_id: int,
    purpose: TokenPurpose,
    *,
    member_id: int | None,
    created_by_user_id: int | None,
    now: dt.datetime | None = None,
) -> IssuedLink:
    """A new single-use link for the user; any older unused one of the same purpose
    stops working."""
    now = now or utcnow()
    cancel_links(session, user_id, purpose, now=now)
    lifetime = RESET_LINK_LIFETIME if purpose == TokenPurpose.PASSWORD_RESET else INVITATION_LIFETIME
    token = new_secret()
    row = UserToken(
        token_hash=digest(token), user_id=user_id, member_id=member_id, purpose=purpose,
        created_at=now, expires_at=now + lifetime, created_by_user_id=created_by_user_id,
    )
    session.add(row)
    session.flush()
    return IssuedLink(row, token)


def find_link(session: Session, token: str, purpose: TokenPurpose, *, lock: bool = False) -> UserToken | None:
    """The link a token belongs to, usable or not (None if unknown)."""
    if not token or len(token) > 200:
        return None
    query = select(UserToken).where(UserToken.token_hash == digest(token), UserToken.purpose == purpose)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def pending_invitation(session: Session, user_id: int) -> UserToken | None:
    """The user's newest unused, uncancelled invitation link (expired or not)."""
    return session.scalar(
        select(UserToken)
        .where(UserToken.user_id == user_id, UserToken.purpose == TokenPurpose.INVITATION,
               UserToken.used_at.is_(None), UserToken.cancelled_at.is_(None))
        .order_by(UserToken.id.desc())
        .limit(1)
    )


#: How long a portal session lasts after sign-in, at most.
PORTAL_SESSION_LIFETIME = dt.timedelta(hours=8)


class HashedToken:
    """The columns of a secret handed to one user and kept only as its SHA-256: staff
    sessions, portal sessions and remembered sign-ins."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PortalSession(HashedToken, Base):
    """A member's signed-in portal session: the cookie's SHA-256, never the cookie."""

    __tablename__ = "portal_session"

    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    client_address: Mapped[str] = mapped_column(String(64), default="")


def end_portal_sessions(
    session: Session, user_id: int, *, keep_id: int | None = None, now: dt.datetime | None = None
) -> int:
    """End the user's portal sessions (except ``keep_id``); returns how many."""
    query = update(PortalSession).where(PortalSession.user_id == user_id, PortalSession.ended_at.is_(None))
    if keep_id is not None:
        query = query.where(PortalSession.id != keep_id)
    result = session.execute(query.values(ended_at=now or utcnow()).execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0) or 0)


#: How long "Remember me" keeps a workstation signed in without a password.
REMEMBERED_LIFETIME = dt.timedelta(days=30)


class RememberedSignIn(HashedToken, Base):
    """"Remember me" on one workstation (docs/decisions/0036): a long-lived credential
    that can only be exchanged for a staff session (``POST /auth/resume``), never used
    as a bearer token itself. Only its SHA-256 is stored; the secret lives in the
    workstation's system keyring. It ends when it expires, at that workstation's sign
    out, or when staff revoke it (``revoked_at``)."""

    __tablename__ = "remembered_sign_in"

    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    def usable(self, now: dt.datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or utcnow())


@dataclass(frozen=True)
class IssuedRemembered:
    row: RememberedSignIn
    #: The secret itself: for the workstation's keyring, never stored here.
    token: str


def remember_sign_in(session: Session, user_id: int, *, now: dt.datetime | None = None) -> IssuedRemembered:
    """A new remembered sign-in for the user (flushed, not committed)."""
    now = now or utcnow()
    token = new_secret()
    row = RememberedSignIn(token_hash=digest(token), user_id=user_id, created_at=now,
                           expires_at=now + REMEMBERED_LIFETIME)
    session.add(row)
    session.flush()
    return IssuedRemembered(row, token)


def end_remembered(session: Session, user_id: int, *, now: dt.datetime | None = None) -> int:
    """Revoke every remembered sign-in of the user that still works; returns how many."""
    now = now or utcnow()
    result = session.execute(
        update(RememberedSignIn)
        .where(RememberedSignIn.user_id == user_id, RememberedSignIn.revoked_at.is_(None),
               RememberedSignIn.expires_at > now)
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def find_remembered(session: Session, token: str) -> RememberedSignIn | None:
    """The remembered sign-in of ``token``, usable or not (None if unknown)."""
    if not token or len(token) > 200:
        return None
    return session.scalar(select(RememberedSignIn).where(RememberedSignIn.token_hash == digest(token)))
