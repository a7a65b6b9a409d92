"""Server only: staff acting on behalf of a member in the portal, and server settings.

An :class:`OnBehalfSession` starts as a one-time token (only its SHA-256 is stored)
that lives :data:`ON_BEHALF_TOKEN_LIFETIME`; the portal exchanges it, once, for a
portal session of its own (``portal_session_id``) that ends at the latest
:data:`ON_BEHALF_SESSION_LIFETIME` after the exchange. Its ``id`` is the session id
every audit event of the session carries (``AuditEvent.impersonation_id``).
See docs/decisions/0017-acting-on-behalf.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow

#: How long the console has to hand the one-time token to the portal.
ON_BEHALF_TOKEN_LIFETIME = dt.timedelta(seconds=30)
#: The hard limit of an on-behalf session after the exchange (never extended).
ON_BEHALF_SESSION_LIFETIME = dt.timedelta(minutes=30)
#: The longest reason staff may give.
MAX_REASON_LENGTH = 500


class EndReason:
    """Why an on-behalf session ended (``OnBehalfSession.end_reason``)."""

    SIGN_IN_AS_YOURSELF = "sign_in_as_yourself"
    SIGN_OUT = "sign_out"
    VIEW_CLOSED = "view_closed"
    STAFF_SIGNED_OUT = "staff_signed_out"
    TIME_LIMIT = "time_limit"


class OnBehalfSession(Base):
    __tablename__ = "on_behalf_session"

    #: The session id (a UUID), named by every audit event of the session.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The real actor, and the console session (staff token) that asked.
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    staff_token_id: Mapped[int] = mapped_column(ForeignKey("staff_token.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    #: The member's portal user the pages show, when the account has one.
    as_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    reason: Mapped[str] = mapped_column(String(MAX_REASON_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    token_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: Set when the portal exchanged the token (then it never works again).
    exchanged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    portal_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_session.id", ondelete="SET NULL"), unique=True, default=None)
    #: The hard time limit, from the exchange.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    end_reason: Mapped[str] = mapped_column(String(40), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_on_behalf_session_staff", "staff_user_id", "ended_at"),)

    def live(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return (self.exchanged_at is not None and self.ended_at is None
                and self.expires_at is not None and self.expires_at > now)


class ServerSetting(Base):
    """A setting of the whole server that a Society Admin changes (audited)."""

    __tablename__ = "server_setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(120), default="")


#: Whether members get an e-mail when staff act on their behalf (default: yes).
NOTIFY_ON_BEHALF = "on_behalf.notify_member"
SETTING_DEFAULTS: dict[str, Any] = {NOTIFY_ON_BEHALF: True}


def setting(session: Session, key: str) -> Any:
    row = session.get(ServerSetting, key)
    return SETTING_DEFAULTS[key] if row is None else row.value


def set_setting(session: Session, key: str, value: Any, *, changed_by: str) -> Any:
    """Store ``value``; returns the value before. The caller audits and commits."""
    before = setting(session, key)
    row = session.get(ServerSetting, key)
    if row is None:
        session.add(ServerSetting(key=key, value=value, changed_at=utcnow(), changed_by=changed_by))
    else:
        row.value, row.changed_at, row.changed_by = value, utcnow(), changed_by
    return before
