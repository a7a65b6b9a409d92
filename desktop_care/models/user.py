"""Users: portal users of a member account, non-member users, and staff.

Secrets (password hashes, session tokens) live in their own server-only tables,
``user_credential`` and ``staff_token``, that are never replicated to workstations.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class UserRole(enum.StrEnum):
    #: Portal user of a member account who may invite further users to it.
    FULL = "full"
    #: Portal user of a member account.
    STANDARD = "standard"
    #: A user with no membership (e.g. saves animal searches).
    NON_MEMBER = "non_member"
    #: Staff: everything, including inviting and revoking staff.
    SOCIETY_ADMIN = "society_admin"
    #: Staff: member work, no staff administration.
    SOCIETY_STAFF = "society_staff"

    @property
    def is_staff(self) -> bool:
        return self in (UserRole.SOCIETY_ADMIN, UserRole.SOCIETY_STAFF)

    @property
    def label(self) -> str:
        return {
            UserRole.FULL: "Full",
            UserRole.STANDARD: "Standard",
            UserRole.NON_MEMBER: "Non-member",
            UserRole.SOCIETY_ADMIN: "Society Admin",
            UserRole.SOCIETY_STAFF: "Society Staff",
        }[self]


class UserState(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    #: Too many failed sign-ins; staff can enable it again.
    LOCKED = "locked"
    #: Disabled by staff; staff can enable it again.
    DISABLED = "disabled"
    #: Access revoked; the user must be invited again.
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return self.value.capitalize()


#: Failed sign-ins in a row after which an account is locked.
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
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy declares its type)


class UserCredential(Base):
    """Server only: the argon2 hash of a user's password."""

    __tablename__ = "user_credential"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StaffToken(Base):
    """Server only: an opaque bearer token, stored as its SHA-256 digest."""

    __tablename__ = "staff_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
