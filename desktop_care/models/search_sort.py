"""Member search sorted by a column: one keyset page at a time, on SQLite and PostgreSQL.

:func:`~desktop_care.models.search.search_members` with ``sort=`` comes here; without it
the search pages in member id order as before. Each sortable column has an index that
leads with it and ends with the member id (:data:`SORT_INDEXES`), so a sorted page is an
index walk whatever the size of the register, and the cursor holds the sort, the last
row's sort value and its id (ties are broken by id, in the direction of the sort).

- No query: the column's index is walked from the cursor on, ``limit + 1`` rows.
- A query matching at most ``total_cap`` members (what the unsorted search counts
  anyway): their ids are sorted in SQL (an array on PostgreSQL, ``json_each`` on
  SQLite) and the page is cut after the cursor.
- A query matching more (a common term, at least 1 % of a million members): the
  column's index is walked and each row tested against the query (:func:`_matches`),
  which finds a page within a few thousand rows, as the unsorted search's own walk does.

Text columns sort by the normalised keys of ``member_search`` (case and accents
ignored), byte-wise on both databases (``COLLATE "C"`` on PostgreSQL, SQLite's default
``BINARY``), so both give the same order. A member who never signed in has no last
login: they come after every member who did, in either direction.
``docs/decisions/0028-sorted-tables.md`` explains the choices and the plans.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FunctionElement,
    Index,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Integer

from .keyset import walk_parts
from .member import Member
from .search import (
    MAX_LIMIT,
    MIN_TRIGRAM,
    TOTAL_CAP,
    InvalidCursor,
    MemberSearch,
    SearchPage,
    SortColumn,
    cursor_moment,
    decode_sorted_cursor,
    encode_sorted_cursor,
    tokenize,
)


class byte_order(FunctionElement[str]):
    """A text column compared byte by byte: ``COLLATE "C"`` on PostgreSQL, the column
    itself on SQLite (whose default collation is already byte-wise)."""

    type = String()
    inherit_cache = True
    name = "byte_order"


@compiles(byte_order)
def _byte_order_plain(element: byte_order, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(byte_order, "postgresql")
def _byte_order_pg(element: byte_order, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


_ms = MemberSearch.__table__.c
_m = Member.__table__.c


class MemberSort(SortColumn):
    """A column of the member search, ascending; ``-`` first for descending
    (``-balance``: highest balance first)."""

    MEMBER_NO = "member_no"
    MEMBER_NO_DESC = "-member_no"
    NAME = "name"
    NAME_DESC = "-name"
    EMAIL = "email"
    EMAIL_DESC = "-email"
    STATUS = "status"
    STATUS_DESC = "-status"
    POINTS = "points"
    POINTS_DESC = "-points"
    BALANCE = "balance"
    BALANCE_DESC = "-balance"
    PENDING = "pending"
    PENDING_DESC = "-pending"
    LAST_LOGIN = "last_login"
    LAST_LOGIN_DESC = "-last_login"

    @property
    def column(self) -> str:
        return self.column_name

    @property
    def key(self) -> _Key:
        return _KEYS[self.column]


@dataclass(frozen=True)
class _Key:
    """How one column sorts: its expressions (the member id breaks ties), on which
    table, and what type each value in a cursor has."""

    columns: tuple[ColumnElement[Any], ...]
    on_search: bool
    kind: type
    nullable: bool = False

    @property
    def id(self) -> ColumnElement[int]:
        return _ms.member_id if self.on_search else _m.id


_KEYS: dict[str, _Key] = {
    "member_no": _Key((byte_order(_ms.member_no),), on_search=True, kind=str),
    "name": _Key((byte_order(_ms.last_key), byte_order(_ms.first_key)), on_search=True, kind=str),
    "email": _Key((byte_order(_ms.email_key),), on_search=True, kind=str),
    "status": _Key((_m.status,), on_search=False, kind=str),
    "points": _Key((_m.points_balance,), on_search=False, kind=int),
    "balance": _Key((_m.account_balance_cents,), on_search=False, kind=int),
    "pending": _Key((_m.pending_cents,), on_search=False, kind=int),
    "last_login": _Key((_m.last_login_at,), on_search=False, kind=dt.datetime, nullable=True),
}

#: Text keys' indexes order byte-wise on PostgreSQL: the collation follows the column in
#: the DDL (as an operator class would), so the index is still one of plain columns.
_BYTEWISE = 'COLLATE "C"'


def _text_index(name: str, *keys: str) -> Index:
    return Index(name, *(_ms[k] for k in keys), _ms.member_id, postgresql_ops={k: _BYTEWISE for k in keys})


#: One index per sortable column, ending with the member id (migration 0022 makes them).
SORT_INDEXES: tuple[Index, ...] = (
    _text_index("ix_member_search_sort_member_no", "member_no"),
    _text_index("ix_member_search_sort_name", "last_key", "first_key"),
    _text_index("ix_member_search_sort_email", "email_key"),
    Index("ix_member_sort_status", _m.status, _m.id),
    Index("ix_member_sort_points", _m.points_balance, _m.id),
    Index("ix_member_sort_balance", _m.account_balance_cents, _m.id),
    Index("ix_member_sort_pending", _m.pending_cents, _m.id),
    Index("ix_member_sort_last_login", _m.last_login_at, _m.id),
)


# --- the cursor -------------------------------------------------------------------

_BAD = "is not a cursor from a previous page of this sort"


def encode_sort_cursor(sort: MemberSort, values: Sequence[Any] | None, member_id: int) -> str:
    """The cursor after the row with these sort ``values`` (None: no value) and id."""
    return encode_sorted_cursor(sort.value, None if values is None else list(values), member_id)


def decode_sort_cursor(cursor: str, sort: MemberSort) -> tuple[tuple[Any, ...] | None, int]:
    """The sort values (None: past every row that has one) and id a cursor holds."""
    values, member_id = decode_sorted_cursor(cursor, sort.value, _BAD)
    key = sort.key
    if values is None:
        if not key.nullable:
            raise InvalidCursor(_BAD)
        return None, member_id
    if not isinstance(values, list) or len(values) != len(key.columns):
        raise InvalidCursor(_BAD)
    return tuple(_value_in(key, v) for v in values), member_id


def _value_in(key: _Key, value: Any) -> Any:
    if key.kind is dt.datetime:
        return cursor_moment(value, _BAD)
    if type(value) is not key.kind:
        raise InvalidCursor(_BAD)
    return value


# --- the query ----------------------------------------------------------------------


def _contains(sqlite: bool, token: str) -> ColumnElement[bool]:
    return (func.instr if sqlite else func.strpos)(_ms.text, token) > 0


def _prefix(key: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    return func.substr(key, 1, len(prefix)) == prefix


def _matches(sqlite: bool, tokens: list[str]) -> ColumnElement[bool]:
    """True on the ``member_search`` rows the query matches (decision 0002's rules),
    tested row by row: for walking a sort index when the matches are too many to fetch.
    ``tests/models/test_search_sort.py`` checks it finds what the search finds."""
    if any(len(t) >= MIN_TRIGRAM for t in tokens):
        matched = and_(*(_contains(sqlite, t) for t in tokens))
    else:
        first, *others = tokens
        named = or_(*(_prefix(k, first) for k in (_ms.first_key, _ms.last_key, _ms.email_key)))
        matched = and_(named, *(_contains(sqlite, t) for t in others))
    if len(tokens) == 1:
        matched = or_(matched, _prefix(_ms.member_no, tokens[0]))
    return matched


def _among(sqlite: bool, member_id: ColumnElement[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """``member_id`` is one of ``ids``, as one parameter (an array, or JSON on SQLite)."""
    if sqlite:
        listed = select(func.json_each(bindparam("ids", json.dumps(sorted(ids)))).table_valued("value").c.value)
        return member_id.in_(listed)
    return member_id == func.any(bindparam("ids", sorted(ids), type_=ARRAY(Integer)))


def _page_query(
    key: _Key, descending: bool, restrict: Sequence[ColumnElement[bool]], after: tuple[tuple[Any, ...] | None, int] | None,
    null_phase: bool, n: int,
) -> Select[Any]:
    """Up to ``n`` member ids in the sort's order after ``after``: those with a value,
    or (``null_phase``) those without one, in id order."""
    member_id = key.id
    query = select(member_id)
    if key.on_search:
        query = query.select_from(MemberSearch)
    else:
        query = query.select_from(Member).join(MemberSearch, _ms.member_id == _m.id)
    query = query.where(*restrict)
    if null_phase:
        query = query.where(key.columns[0].is_(None))
        if after is not None:
            query = query.where(member_id < after[1] if descending else member_id > after[1])
        return query.order_by(member_id.desc() if descending else member_id.asc()).limit(n)
    if key.nullable:
        query = query.where(key.columns[0].is_not(None))
    values, last_id = after if after is not None else (None, 0)
    if values is not None:
        row = tuple_(*key.columns, member_id)
        bound = tuple_(*(literal(v, c.type) for v, c in zip(values, key.columns, strict=True)), literal(last_id))
        query = query.where(row < bound if descending else row > bound)
    order = [*key.columns, member_id]
    return query.order_by(*(c.desc() if descending else c.asc() for c in order)).limit(n)


def _ids(session: Session, key: _Key, descending: bool, restrict: Sequence[ColumnElement[bool]],
         after: tuple[tuple[Any, ...] | None, int] | None, n: int) -> list[int]:
    """Up to ``n`` ids after ``after``: the rows with a value, then those without."""
    return walk_parts(session, lambda bound, empty, m: _page_query(key, descending, restrict, bound, empty, m),
                      key.nullable, after, n)


def _values(session: Session, key: _Key, member_id: int) -> tuple[Any, ...] | None:
    query = select(*key.columns).select_from(Member).join(MemberSearch, _ms.member_id == _m.id)
    values = tuple(session.execute(query.where(_m.id == member_id)).one())
    return None if key.nullable and values[0] is None else values


def search_sorted(
    session: Session,
    q: str,
    limit: int,
    cursor: str | None,
    sort: MemberSort,
    *,
    total_cap: int = TOTAL_CAP,
) -> SearchPage:
    """One page of the members matching ``q`` in ``sort``'s order (see the module's
    docstring). Raises :class:`InvalidCursor` for a cursor no page of this sort gave
    and ``ValueError`` for a ``limit`` outside 1..``MAX_LIMIT``."""
    from .search import matching_ids  # the search's own matching (search.py's hook)

    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    after = decode_sort_cursor(cursor, sort) if cursor is not None else None
    sqlite = session.get_bind().dialect.name == "sqlite"
    key = sort.key
    tokens = tokenize(q)
    restrict: list[ColumnElement[bool]] = []
    if not tokens:
        total, exact = session.scalar(select(func.count()).select_from(MemberSearch)) or 0, True
    else:
        found = matching_ids(session, q, total_cap)
        if found is None:
            restrict.append(_matches(sqlite, tokens))
            total, exact = total_cap, False
        else:
            total, exact = len(found), True
            if not found:
                return SearchPage([], 0, True, None)
            restrict.append(_among(sqlite, key.id, sorted(found)))
    ids = _ids(session, key, sort.descending, restrict, after, limit + 1)
    page_ids = ids[:limit]
    next_cursor = None
    if len(ids) > limit:
        last = page_ids[-1]
        next_cursor = encode_sort_cursor(sort, _values(session, key, last), last)
    return SearchPage(_members(session, page_ids), total, exact, next_cursor)


def _members(session: Session, ids: list[int]) -> list[Member]:
    """The members of ``ids`` with their addresses, in the order given."""
    rows = session.scalars(select(Member).where(Member.id.in_(ids)).options(selectinload(Member.addresses))).all()
    order = {member_id: position for position, member_id in enumerate(ids)}
    return sorted(rows, key=lambda member: order[member.id])


__all__ = ["SORT_INDEXES", "MemberSort", "byte_order", "decode_sort_cursor", "encode_sort_cursor", "search_sorted"]
