"""Merging two members: the record kept of each merge (its snapshot, for Undo), and
the extension point through which every table that points at a member is moved.

A table added later that has a foreign key to ``member.id`` registers itself with
:func:`member_reference` (Tryton's ``fields_to_replace()`` is the model); the merge
moves its rows to the survivor and Undo moves them back. :func:`uncovered_references`
lists the foreign keys nobody registered, and a test fails while it is not empty, so a
new table cannot be forgotten by the merge (docs/decisions/0013-merge-and-undo.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    any_,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow

#: How long a merge can be undone.
UNDO_WINDOW = dt.timedelta(days=30)


class MergeRecord(Base):
    """One merge: who, when, and the snapshot Undo restores."""

    __tablename__ = "member_merge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The member merged away (status Merged, ``merged_into_id`` = survivor).
    merged_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: {"members": {"merged": {...}, "survivor": {...}} (every column before the
    #: merge), "addresses": {...}, "moved": {"table.column": [row ids]}, "choices": {...}}
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Both members' versions right after the merge: a later change of either makes
    #: an undo unsafe (it would be lost).
    merged_version: Mapped[int] = mapped_column(Integer)
    survivor_version: Mapped[int] = mapped_column(Integer)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    undone_by: Mapped[str | None] = mapped_column(String(120), default=None)


# ---------------------------------------------------------------------- extension point

#: ``count(session, member_id)``: rows of one member, for the plan.
Counter = Callable[[Session, int], int]


@dataclass(frozen=True)
class MemberReference:
    """A column that points at a member and follows it into the survivor."""

    table: str
    column: str
    #: For people, plural: "points ledger entries", "portal users".
    label: str
    #: Moved by the merge command itself (addresses: kinds may collide), not by
    #: the generic repointing below.
    custom: bool = False
    #: The table itself when it is not one of ``Base.metadata``'s.
    table_object: Table | None = None

    @property
    def key(self) -> str:
        return f"{self.table}.{self.column}"

    def _table(self) -> Table:
        return self.table_object if self.table_object is not None else Base.metadata.tables[self.table]

    def count(self, session: Session, member_id: int) -> int:
        table = self._table()
        return int(session.scalar(select(func.count()).select_from(table).where(table.c[self.column] == member_id))
                   or 0)

    def move(self, session: Session, source_id: int, survivor_id: int) -> list[int]:
        """Point the source's rows at the survivor; the ids moved (for Undo)."""
        table = self._table()
        ids = [int(i) for i in session.scalars(
            select(table.c.id).where(table.c[self.column] == source_id).order_by(table.c.id))]
        if ids:
            session.execute(update(table).where(table.c[self.column] == source_id)
                            .values({self.column: survivor_id}))
        return ids

    def still_moved(self, session: Session, ids: list[int], survivor_id: int) -> bool:
        """Whether the moved rows all still point at the survivor (Undo can take them back)."""
        table = self._table()
        found = 0
        for where in _id_in(session, table.c.id, ids):
            found += int(session.scalar(select(func.count()).select_from(table).where(
                where, table.c[self.column] == survivor_id)) or 0)
        return found == len(ids)

    def move_back(self, session: Session, ids: list[int], source_id: int) -> None:
        table = self._table()
        for where in _id_in(session, table.c.id, ids):
            session.execute(update(table).where(where).values({self.column: source_id}))


#: SQLite's default limit of bound parameters is 32766: IN lists go in chunks.
_SQLITE_CHUNK = 5000


def _id_in(session: Session, column: ColumnElement[int], ids: list[int]) -> Iterator[ColumnElement[bool]]:
    """``column IN ids`` as few conditions as the database allows: one array parameter
    on PostgreSQL (thousands of separate parameters cost more to send and plan than the
    update itself), chunks of an IN list on SQLite; nothing for no ids."""
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(literal(ids, ARRAY(Integer)))
        return
    for start in range(0, len(ids), _SQLITE_CHUNK):
        yield column.in_(ids[start : start + _SQLITE_CHUNK])


_REFERENCES: dict[str, MemberReference] = {}

#: Foreign keys to ``member.id`` that a merge must not move: the merge pointer itself,
#: the merge records (history of both members) and the search index (rewritten from
#: each member on flush: a merged member has no row).
NOT_MOVED = frozenset({"member.merged_into_id", "member_merge.merged_id", "member_merge.survivor_id",
                       "member_search.member_id"})


def member_reference(table: str | Table, column: str, label: str, *, custom: bool = False) -> MemberReference:
    """Register ``table.column`` (a foreign key to ``member.id``) with the merge; the
    table by name when it is one of the models', else the Table itself."""
    if isinstance(table, Table):
        reference = MemberReference(table.name, column, label, custom, table)
    else:
        reference = MemberReference(table, column, label, custom)
    _REFERENCES[reference.key] = reference
    return reference


def unregister(reference: MemberReference) -> None:
    _REFERENCES.pop(reference.key, None)


def references() -> list[MemberReference]:
    return [_REFERENCES[key] for key in sorted(_REFERENCES)]


def uncovered_references(metadata: MetaData | None = None) -> list[str]:
    """``table.column`` of every foreign key to ``member.id`` that no one registered."""
    out = []
    for table in (metadata or Base.metadata).tables.values():
        for fk in table.foreign_keys:
            if fk.column.table.name == "member" and fk.column.name == "id":
                key = f"{table.name}.{fk.parent.name}"
                if key not in _REFERENCES and key not in NOT_MOVED:
                    out.append(key)
    return sorted(out)


# The tables of the core; later features register theirs next to their models.
member_reference("points_entry", "member_id", "points ledger entries")
member_reference("account_txn", "member_id", "account transactions")
member_reference("app_user", "member_id", "portal users")
member_reference("address", "member_id", "addresses", custom=True)
member_reference("mail_message", "member_id", "e-mails")
member_reference("user_token", "member_id", "password-reset and invitation links")
member_reference("on_behalf_session", "member_id", "acting-on-behalf sessions")
