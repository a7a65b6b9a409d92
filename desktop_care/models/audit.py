"""The audit log: append-only, one row per staff action, naming the real actor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    #: The actor's username at the time, kept even if the user is later renamed.
    actor_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40), default="")
    entity_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    impersonation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    client_address: Mapped[str] = mapped_column(String(64), default="")
    #: The workstation that recorded the change (its local store's id), when known.
    origin: Mapped[str] = mapped_column(String(64), default="")

    #: A member's history, newest first (migration 0004 also adds the triggers that
    #: refuse UPDATE and DELETE in the database itself).
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id", "id"),)


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context: object, instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise AuditLogIsAppendOnly("audit events are never changed or deleted")


def record(
    session: Session,
    *,
    actor_user_id: int | None,
    actor_name: str,
    action: str,
    entity_type: str = "",
    entity_id: str | int = "",
    details: dict[str, Any] | None = None,
    impersonation_id: str | None = None,
    client_address: str = "",
    origin: str = "",
) -> AuditEvent:
    event_ = AuditEvent(
        actor_user_id=actor_user_id,
        actor_name=actor_name,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        details=details or {},
        impersonation_id=impersonation_id,
        client_address=client_address,
        origin=origin,
    )
    session.add(event_)
    return event_
