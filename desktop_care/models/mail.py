"""The mail outbox: one row per message, written in the transaction of the change that
sends it, and delivered later by the server's sender (SMTP, or a Maildir).

A row names a template and the values it is rendered with; the server renders it when
it delivers. Values that must not stay at rest (the one-time link's token) are listed
in ``secret_keys`` and are blanked once the message is sent or has failed for good.

Category preferences are enforced here, at enqueue: :func:`queue_mail` returns None and
writes nothing for a member who opted out of the message's category. Service mail
(password reset, invitation, confirmations) is always sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from .audit import record
from .base import Base, UTCDateTime, utcnow
from .choices import MailState
from .member import EmailCategory, Member

#: Key in ``Session.info`` set when a transaction queued mail (the server wakes its
#: sender after such a commit).
QUEUED_KEY = "mail.queued"
#: The domain of generated Message-IDs.
MESSAGE_ID_DOMAIN = "desktop-care.invalid"


class MailMessage(Base):
    """Server only: one e-mail to send, and how its delivery went."""

    __tablename__ = "mail_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The Message-ID header, ``<uuid@desktop-care.invalid>``.
    message_id: Mapped[str] = mapped_column(String(120), unique=True)
    template: Mapped[str] = mapped_column(String(60))
    category: Mapped[EmailCategory] = mapped_column(
        Enum(EmailCategory, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    #: The values the template is rendered with.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Keys of ``context`` blanked once the message is sent or failed for good.
    secret_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Filled in when the message is first rendered for delivery.
    subject: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[MailState] = mapped_column(
        Enum(MailState, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=MailState.QUEUED,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When the sender may (next) try it; while SENDING, when its claim lapses.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (
        Index("ix_mail_message_due", "state", "next_attempt_at"),
        Index("ix_mail_message_member", "member_id", "id"),
    )


def queue_mail(
    session: Session,
    *,
    template: str,
    category: EmailCategory,
    to_address: str,
    to_name: str = "",
    member: Member | None = None,
    user_id: int | None = None,
    context: dict[str, Any] | None = None,
    secret_keys: tuple[str, ...] = (),
    actor_user_id: int | None = None,
    actor_name: str = "server",
    impersonation_id: str | None = None,
    client_address: str = "",
) -> MailMessage | None:
    """Queue one message in the caller's transaction, audited as ``mail.queued``.

    Returns None, and queues nothing, when the member opted out of ``category``
    (service mail is never refused) or there is no address to send to.
    """
    message = new_mail(template=template, category=category, to_address=to_address, to_name=to_name,
                       member=member, user_id=user_id, context=context, secret_keys=secret_keys)
    if message is None:
        return None
    session.add(message)
    session.flush()
    audit_queued(session, message, actor_user_id=actor_user_id, actor_name=actor_name,
                 impersonation_id=impersonation_id, client_address=client_address)
    return message


def new_mail(
    *,
    template: str,
    category: EmailCategory,
    to_address: str,
    to_name: str = "",
    member: Member | None = None,
    user_id: int | None = None,
    context: dict[str, Any] | None = None,
    secret_keys: tuple[str, ...] = (),
) -> MailMessage | None:
    """The message :func:`queue_mail` queues, not yet added (None when it would queue
    nothing): for callers that queue many at once, then :func:`audit_queued` each."""
    if not to_address:
        return None
    if member is not None and not member.wants(category):
        return None
    return MailMessage(
        message_id=f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>",
        template=template,
        category=category,
        to_address=to_address,
        to_name=to_name,
        member_id=member.id if member is not None else None,
        user_id=user_id,
        context=dict(context or {}),
        secret_keys=list(secret_keys),
        state=MailState.QUEUED,
        attempts=0,
        last_error="",
        created_at=utcnow(),
        next_attempt_at=utcnow(),
    )


def audit_queued(
    session: Session,
    message: MailMessage,
    *,
    actor_user_id: int | None = None,
    actor_name: str = "server",
    impersonation_id: str | None = None,
    client_address: str = "",
) -> None:
    """Audit a flushed message as ``mail.queued`` and wake the sender at commit."""
    record(
        session,
        actor_user_id=actor_user_id,
        actor_name=actor_name,
        action="mail.queued",
        entity_type="member" if message.member_id is not None else "user",
        entity_id=message.member_id if message.member_id is not None else (message.user_id or ""),
        details={"template": message.template, "to": message.to_address, "message_id": message.message_id,
                 "mail_id": message.id, "category": message.category.value},
        impersonation_id=impersonation_id,
        client_address=client_address,
    )
    session.info[QUEUED_KEY] = True
