"""``GET /sync/changes/compact``: the change feed as arrays, for first syncs of large
directories (docs/decisions/0040).

The same changes as ``GET /sync/changes`` in the same order under the same cursor, so a
workstation may switch between the two at any page. What differs is the cost: rows are
read with Core (no ORM objects, no pydantic model a member), each member comes with the
search row the server already keeps for it (the workstation need not rebuild it), and
the page is one ``json.dumps`` of lists. On these machines that is about a tenth of the
server's time a member of the object feed (bench/sync.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import BigInteger, ColumnElement, Enum, String, and_, literal, select, type_coerce

from desktop_care.models import Address, Member, MemberStatus
from desktop_care.models.base import UTCDateTime
from desktop_care.models.search import MemberSearch
from desktop_care.models.sync import SyncChange, feed_epoch, latest_sequence
from desktop_care.schemas import (
    COMPACT_ADDRESS_COLUMNS,
    COMPACT_MEMBER_COLUMNS,
    COMPACT_SEARCH_COLUMNS,
    CompactFeedPage,
    wire_time,
)

from ..deps import CurrentStaff, Sessions
from ..errors import ERROR_RESPONSES
from ..transactions import transaction
from .sync import FeedCursor

#: Most changes a compact page may hold (a page of 10,000 members is about 4 MB).
MAX_COMPACT_LIMIT = 10_000

router = APIRouter(prefix="/sync", tags=["sync"], responses=ERROR_RESPONSES)

_member = Member.__table__
_address = Address.__table__
_search = MemberSearch.__table__


def _sqlite_time(value: str) -> str:
    """A time as SQLAlchemy stores it on SQLite (UTC text) in the wire's form, re-cut."""
    if len(value) == 26:
        return f"{value[:10]}T{value[11:]}Z"
    return wire_time(dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC))


class _Columns:
    """The columns of a compact page as selected on one backend, and what turns each
    row into JSON values. Statuses and other enums are stored as their values and read
    as text; on SQLite times are read as their stored text and only re-cut."""

    def __init__(self, columns: Sequence[ColumnElement[Any]], sqlite: bool) -> None:
        self.selected: list[Any] = []
        self.convert: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(columns):
            if isinstance(column.type, UTCDateTime):
                self.selected.append(type_coerce(column, String).label(column.key) if sqlite else column)
                self.convert.append((index, _sqlite_time if sqlite else wire_time))
            elif isinstance(column.type, Enum):
                self.selected.append(type_coerce(column, String).label(column.key))
            else:
                self.selected.append(column)

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        out = []
        convert = self.convert
        for row in rows:
            values = list(row)
            for index, function in convert:
                value = values[index]
                if value is not None:
                    values[index] = function(value)
            out.append(values)
        return out


_MEMBER_COLUMNS = [_member.c[name] for name in COMPACT_MEMBER_COLUMNS]
_SEARCH_COLUMNS = [_search.c[name] for name in COMPACT_SEARCH_COLUMNS]
_ADDRESS_COLUMNS = [_address.c[name] for name in COMPACT_ADDRESS_COLUMNS]
_LAYOUTS = {sqlite: (_Columns([*_MEMBER_COLUMNS, *_SEARCH_COLUMNS], sqlite), _Columns(_ADDRESS_COLUMNS, sqlite))
            for sqlite in (True, False)}


@router.get("/changes/compact", operation_id="getCompactChanges", response_model=CompactFeedPage)
def compact_changes(
    sessions: Sessions,
    staff: CurrentStaff,
    after: FeedCursor = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_COMPACT_LIMIT, description="Most changes to return")] = 5000,
) -> Response:
    """Entities changed after ``after``, in sequence order, each with its current state,
    as arrays (see ``CompactFeedPage``). Repeat with ``cursor`` while ``has_more``."""
    with transaction(sessions, write=False) as session:
        conn = session.connection()  # Core rows: no ORM loading a row
        member_layout, address_layout = _LAYOUTS[conn.dialect.name == "sqlite"]
        rows = conn.execute(
            select(SyncChange.seq, SyncChange.entity, SyncChange.entity_id, _member.c.id.label("found"),
                   *member_layout.selected)
            .select_from(SyncChange)
            .outerjoin(_member, and_(SyncChange.entity == "member", _member.c.id == SyncChange.entity_id))
            # A merged member is never found, whatever its search row says (one left by an
            # update made in SQL, past the ORM that keeps the rows): as the object feed.
            .outerjoin(_search, and_(_search.c.member_id == _member.c.id, _member.c.status != MemberStatus.MERGED))
            # The cursor as a 64-bit value whatever the column's width (no overflow).
            .where(SyncChange.seq > literal(after, BigInteger))
            .order_by(SyncChange.seq)
            .limit(limit + 1)
        ).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        members = [row[4:] for row in rows if row.found is not None]
        deleted = [row.entity_id for row in rows if row.entity == "member" and row.found is None]
        addresses: Sequence[Any] = []
        if members:
            # The addresses of this page's members: a range of the feed joined, not a list of ids.
            addresses = conn.execute(
                select(*address_layout.selected)
                .join(SyncChange, and_(SyncChange.entity == "member", SyncChange.entity_id == _address.c.member_id))
                .where(SyncChange.seq > literal(after, BigInteger), SyncChange.seq <= literal(rows[-1].seq, BigInteger))
                .order_by(_address.c.member_id, _address.c.id)
            ).all()
        latest, epoch = latest_sequence(session), feed_epoch(session)
    body = {
        "member_columns": COMPACT_MEMBER_COLUMNS,
        "search_columns": COMPACT_SEARCH_COLUMNS,
        "members": member_layout.rows(members),
        "address_columns": COMPACT_ADDRESS_COLUMNS,
        "addresses": address_layout.rows(addresses),
        "deleted": deleted,
        "size": len(rows),
        "cursor": rows[-1].seq if rows else after,
        "has_more": has_more,
        "latest": latest,
        "epoch": epoch,
    }
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json")
