"""The audit log: append-only, one row per staff action, naming the real actor."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict, Unpack

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


class AuditValues(TypedDict, total=False):
    """The columns of one audit row, as :func:`record` takes them (``at`` is the
    insert's default; ``actor_name`` and ``action`` are required)."""

    actor_user_id: int | None
    actor_name: str
    action: str
    entity_type: str
    entity_id: str | int
    details: dict[str, Any] | None
    impersonation_id: str | None
    client_address: str
    origin: str


def audit_values(**values: Unpack[AuditValues]) -> dict[str, Any]:
    """One audit row's column values, with the defaults filled in: what :func:`record`
    adds, and what a pushed batch's direct path inserts in bulk (docs/decisions/0039)."""
    return {
        "actor_user_id": values.get("actor_user_id"),
        "actor_name": values["actor_name"],
        "action": values["action"],
        "entity_type": values.get("entity_type", ""),
        "entity_id": str(values.get("entity_id", "")),
        "details": values.get("details") or {},
        "impersonation_id": values.get("impersonation_id"),
        "client_address": values.get("client_address", ""),
        "origin": values.get("origin", ""),
    }


def record(session: Session, **values: Unpack[AuditValues]) -> AuditEvent:
    """Add an audit row to the session (the keywords of :class:`AuditValues`)."""
    event_ = AuditEvent(**audit_values(**values))
    session.add(event_)
    return event_
