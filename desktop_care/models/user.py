"""Users: portal users of a member account, non-member users, and staff.

Secrets (password hashes, session tokens) and the sign-in throttle live in their own
server-only tables, ``user_credential``, ``staff_token`` and ``sign_in_throttle``, that
are never replicated to workstations.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow
from .choices import UserRole, UserState
from .tokens import HashedToken, end_portal_sessions, end_remembered


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


#: Failed sign-ins in a row allowed before each further attempt must wait (see
#: ``desktop_care.server.security`` for the schedule).
MAX_FAILED_LOGINS = 5


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[UserRole] = mapped_column(_enum(UserRole))
    state: Mapped[UserState] = mapped_column(_enum(UserState), default=UserState.ACTIVE)
    #: The member account a portal user belongs to (None for staff and non-members).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True, default=None)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Normalised username, name, e-mail and member ID, one per line: what the Society
    #: Users page's text filter matches (kept by ``models.user_search``; indexed by
    #: trigrams: FTS5 ``user_fts`` on SQLite, pg_trgm on PostgreSQL).
    search_text: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy declares its type)
    __table_args__ = (
        # The Users page filters by role and state and pages by id.
        Index("ix_app_user_role_state_id", "role", "state", "id"),
        Index("ix_app_user_state_id", "state", "id"),
        # Who already has an address (an invitation, bulk invite): ``existing_user``.
        Index("ix_app_user_lower_username", func.lower(username)),
        Index("ix_app_user_lower_email", func.lower(email)),
        Index(
            "ix_app_user_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )


class UserCredential(Base):
    """Server only: the argon2 hash of a user's password."""

    __tablename__ = "user_credential"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StaffToken(HashedToken, Base):
    """Server only: an opaque bearer token, stored as its SHA-256 digest."""

    __tablename__ = "staff_token"

    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class SignInThrottle(Base):
    """Server only: failed sign-ins in a row for one username, known or not (so that
    the throttle says nothing about which usernames exist), and until when further
    attempts are refused. A successful sign-in or a staff Unlock deletes the row."""

    __tablename__ = "sign_in_throttle"

    #: The username as typed, normalised (stripped, lower case).
    username: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Attempts before this moment are refused (429) without looking at the password.
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


def clear_sign_in_throttle(session: Session, username: str) -> SignInThrottle | None:
    """Forget the failed sign-ins of ``username`` (a success, Unlock, Enable); returns
    what was there, for the audit. The caller commits."""
    row = session.get(SignInThrottle, username, populate_existing=True)
    if row is not None:
        session.expunge(row)
        session.execute(delete(SignInThrottle).where(SignInThrottle.username == username))
    return row


def end_sessions(
    session: Session, user_id: int, *, keep_portal_session_id: int | None = None, now: dt.datetime | None = None
) -> int:
    """End every session of a user at once (Revoke, Disable, a new password): their
    staff tokens, their workstations' remembered sign-ins and their member-portal
    sessions (all but ``keep_portal_session_id``, the one changing its password), so
    that enabling the account later brings none of them back. Returns how many were
    ended; the caller commits."""
    now = now or utcnow()
    result = session.execute(
        update(StaffToken)
        .where(StaffToken.user_id == user_id, StaffToken.revoked_at.is_(None), StaffToken.expires_at > now)
        .values(revoked_at=now)
    )
    return (
        int(getattr(result, "rowcount", 0) or 0)
        + end_remembered(session, user_id, now=now)
        + end_portal_sessions(session, user_id, keep_id=keep_portal_session_id, now=now)
    )
