"""Records every change of a replicated entity in the change feed, at commit.

Installed on the server's sessionmaker only (a workstation's cache records nothing).
Flushes note which entities changed; just before commit, the transaction takes its
sequence numbers from the locked counter and moves those entities' feed rows forward.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from .member import Address, Member
from .sync import SyncChange, allocate_sequence

_KEY = "changefeed.pending"


def _entity_key(obj: Any) -> tuple[str, int] | None:
    if isinstance(obj, Member):
        return ("member", obj.id)
    if isinstance(obj, Address) and obj.member_id is not None:
        return ("member", obj.member_id)
    return None


def _after_flush(session: Session, flush_context: Any) -> None:
    pending: dict[tuple[str, int], bool] = session.info.setdefault(_KEY, {})
    for obj in session.new | session.dirty:
        key = _entity_key(obj)
        if key and key[1] is not None and (obj in session.new or session.is_modified(obj)):
            pending.setdefault(key, False)
    for obj in session.deleted:
        key = _entity_key(obj)
        if key and key[1] is not None:
            # Deleting an address is a change of its member, not a tombstone.
            pending[key] = isinstance(obj, Member)


def _before_commit(session: Session) -> None:
    session.flush()
    pending: dict[tuple[str, int], bool] = session.info.pop(_KEY, {})
    if not pending:
        return
    record_changes(session, pending)


def record_changes(session: Session, changes: dict[tuple[str, int], bool]) -> None:
    """Give each (entity, id) a new sequence number; True marks a tombstone."""
    keys = sorted(changes)
    existing = {
        (row.entity, row.entity_id): row
        for row in session.scalars(
            select(SyncChange).where(tuple_(SyncChange.entity, SyncChange.entity_id).in_(keys))
        )
    }
    for key, seq in zip(keys, allocate_sequence(session, len(keys)), strict=True):
        row = existing.get(key)
        if row is None:
            session.add(SyncChange(entity=key[0], entity_id=key[1], seq=seq, deleted=changes[key]))
        else:
            row.seq, row.deleted = seq, changes[key]
    session.flush()


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def install(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_soft_rollback", lambda s, t: _after_rollback(s))
