"""Bookkeeping for offline workstations: the change feed and the commands seen.

The change feed keeps, for every replicated entity, the sequence number of its latest
change (``sync_change``). A workstation pulls entities whose number is above its cursor,
in order. Numbers are handed out from one counter row, locked until the transaction
commits (:func:`allocate_sequence`), so transactions commit in the order of their
numbers and a reader can never see number N+1 before N is visible: no change is
skipped, on PostgreSQL as on SQLite (where writers are serialised anyway).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow


class SyncCounter(Base):
    __tablename__ = "sync_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class SyncChange(Base):
    """The latest change of one replicated entity (a row per entity whose ``seq``
    moves forward at each change, so the feed never grows past the entity count)."""

    __tablename__ = "sync_change"

    entity: Mapped[str] = mapped_column(String(30), primary_key=True)
    entity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcessedCommand(Base):
    """Server only: every command ever run, by op_id, with the result it got."""

    __tablename__ = "processed_command"

    op_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(64))
    #: What the command targeted: "member" or "user", and its id.
    entity: Mapped[str] = mapped_column(String(20), default="member")
    entity_id: Mapped[int] = mapped_column(Integer, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


def allocate_sequence(session: Session, count: int) -> range:
    """Take ``count`` consecutive sequence numbers. The counter row stays locked until
    the caller's transaction ends, so call this as late as possible (just before commit)."""
    new_value = session.execute(
        update(SyncCounter).where(SyncCounter.id == 1).values(value=SyncCounter.value + count)
        .returning(SyncCounter.value)
    ).scalar_one()
    return range(new_value - count + 1, new_value + 1)


def backfill_feed(session: Session) -> int:
    """Give every member without a feed row one (after a bulk load that bypassed the
    ORM, such as the demo seeder); returns how many were added."""
    from .member import Member

    missing = session.scalars(
        select(Member.id).where(~select(SyncChange.entity_id).where(
            SyncChange.entity == "member", SyncChange.entity_id == Member.id).exists()).order_by(Member.id)
    ).all()
    if not missing:
        return 0
    numbers = allocate_sequence(session, len(missing))
    session.execute(
        insert(SyncChange),
        [{"entity": "member", "entity_id": i, "seq": n, "deleted": False} for i, n in zip(missing, numbers, strict=True)],
    )
    return len(missing)
