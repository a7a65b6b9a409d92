"""Bookkeeping for offline workstations: the change feed and the commands seen.

The change feed keeps, for every replicated entity, the sequence number of its latest
change (``sync_change``). A workstation pulls entities whose number is above its cursor,
in order. The database fills it itself: triggers on ``member`` and ``address`` (made by
migration 0007, see :mod:`.changefeed`) move the member's row to a new number on every
write, whoever makes it. Whoever takes a number holds the counter row's lock until its
transaction ends, so transactions commit in the order of their numbers and a reader can
never see number N+1 before N is visible: no change is skipped, on PostgreSQL as on
SQLite (where writers are serialised anyway).

Numbers are 64-bit. SQLite counts in ``sync_counter.value``; PostgreSQL takes them
from the ``sync_seq`` sequence (under the counter row's lock), so a bulk UPDATE of a
million rows does not write a million versions of the counter row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, insert, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow


class SyncCounter(Base):
    __tablename__ = "sync_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: SQLite: the last number handed out. PostgreSQL: unused (``sync_seq`` counts);
    #: the row is the lock every number taker holds until it commits.
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    #: A random id made with the database (migration 0007), sent on every feed page:
    #: a workstation that sees another one is looking at another database (a restored
    #: backup, a replacement) and pulls everything again. ``rotate_epoch`` makes a new one.
    epoch: Mapped[str] = mapped_column(String(36))


class SyncChange(Base):
    """The latest change of one replicated entity (a row per entity whose ``seq``
    moves forward at each change, so the feed never grows past the entity count)."""

    __tablename__ = "sync_change"

    entity: Mapped[str] = mapped_column(String(30), primary_key=True)
    entity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
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
    if count <= 0:
        return range(0)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(SyncCounter.id).where(SyncCounter.id == 1).with_for_update())
        last = int(session.execute(
            text("SELECT setval('sync_seq', nextval('sync_seq') + :n - 1)"), {"n": count}
        ).scalar_one())
        return range(last - count + 1, last + 1)
    new_value = session.execute(
        update(SyncCounter).where(SyncCounter.id == 1).values(value=SyncCounter.value + count)
        .returning(SyncCounter.value)
    ).scalar_one()
    return range(new_value - count + 1, new_value + 1)


def latest_sequence(session: Session) -> int:
    """The highest number handed out so far (0 before the first)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(
            text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync_seq")
        ).scalar_one())
    return session.scalar(select(SyncCounter.value).where(SyncCounter.id == 1)) or 0


def feed_epoch(session: Session) -> str:
    """The feed's epoch (see :attr:`SyncCounter.epoch`)."""
    return session.execute(select(SyncCounter.epoch).where(SyncCounter.id == 1)).scalar_one()


def rotate_epoch(session: Session) -> str:
    """Give the feed a new epoch (after restoring a backup in place): every workstation
    then pulls the directory again, keeping its queued work. Returns the new epoch."""
    epoch = str(uuid.uuid4())
    session.execute(update(SyncCounter).where(SyncCounter.id == 1).values(epoch=epoch))
    return epoch


def backfill_feed(session: Session) -> int:
    """Give every member without a feed row one (after a bulk load with capture
    suspended, such as the demo seeder's); returns how many were added."""
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
