"""Keyset pages of one table sorted by one column: the Society Users page and the Fraud
stop page (docs/decisions/0028 — the member search and the ticket queues sort the same
way with their own, richer keys).

A :class:`SortKey` says how one column sorts: its SQL expression (indexed together with
the row id, see :func:`sort_index`), the type a cursor holds for it, and whether it can
be empty. :func:`sorted_ids` reads one page: the rows with a value in the order of
(value, id), in the direction of the sort, then — for a column that can be empty — the
rows without one, by id: no value comes last both ways. The cursor is the shared one of
:mod:`desktop_care.models.search` (the sort, the last row's value, its id).

Text sorts ignore ASCII case and compare bytes on both databases: ``lower(x)`` on
SQLite (its default collation is byte-wise), ``lower(x COLLATE "C")`` on PostgreSQL
(which folds ASCII letters only and orders byte-wise), so a page reads the same on
either database and the index serves both the order and the bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FunctionElement, Index, Select, String, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from .search import InvalidCursor, SortColumn, cursor_moment, decode_sorted_cursor, encode_sorted_cursor

BAD_CURSOR = "is not a cursor from a previous page of this sort"


class folded(FunctionElement[str]):
    """A text column with ASCII letters in lower case, compared byte by byte."""

    type = String()
    inherit_cache = True
    name = "folded"


@compiles(folded)
def _folded_plain(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_pg(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f'lower({compiler.process(element.clauses, **kw)} COLLATE "C")'


@dataclass(frozen=True)
class SortKey:
    """How one column sorts: ``expression`` (ties broken by ``id``), the Python type of
    its value in a cursor, and whether a row may have no value."""

    expression: ColumnElement[Any]
    id: ColumnElement[int]
    kind: type
    nullable: bool = False


def sort_index(name: str, key: SortKey) -> Index:
    """The index a walk of ``key`` needs: its expression, then the id."""
    return Index(name, key.expression, key.id)


def encode_cursor(sort: SortColumn, value: Any, row_id: int) -> str:
    """The cursor after the row with this sort ``value`` (None: no value) and id."""
    return encode_sorted_cursor(sort.value, value, row_id)


def decode_cursor(cursor: str, sort: SortColumn, key: SortKey) -> tuple[Any, int]:
    """The value (None: past every row that has one) and id a cursor of ``sort`` holds;
    :class:`InvalidCursor` for any other cursor."""
    value, row_id = decode_sorted_cursor(cursor, sort.value, BAD_CURSOR)
    if value is None:
        if not key.nullable:
            raise InvalidCursor(BAD_CURSOR)
        return None, row_id
    if key.kind is dt.datetime:
        return cursor_moment(value, BAD_CURSOR), row_id
    if type(value) is not key.kind:
        raise InvalidCursor(BAD_CURSOR)
    return value, row_id


def _part(base: Select[Any], key: SortKey, descending: bool, after: tuple[Any, int] | None, empty: bool,
          n: int) -> Select[Any]:
    """Up to ``n`` ids of ``base`` after ``after``: rows with a value in sort order, or
    (``empty``) rows without one in id order."""
    if empty:
        query = base.where(key.expression.is_(None))
        if after is not None:
            query = query.where(key.id < after[1] if descending else key.id > after[1])
        return query.order_by(key.id.desc() if descending else key.id.asc()).limit(n)
    query = base.where(key.expression.is_not(None)) if key.nullable else base
    if after is not None:
        # (value, id) past the bound, written so that the leading ``value <= :v`` (or
        # ``>=``) seeks the index on both databases (SQLite scans an expression index
        # for a row-value comparison).
        value, row_id = literal(after[0], key.expression.type), literal(after[1])
        if descending:
            query = query.where(key.expression <= value, or_(key.expression < value, key.id < row_id))
        else:
            query = query.where(key.expression >= value, or_(key.expression > value, key.id > row_id))
    order = (key.expression, key.id)
    return query.order_by(*(c.desc() if descending else c.asc() for c in order)).limit(n)


def walk_parts(session: Session, part: Callable[[tuple[Any, Any] | None, bool, int], Select[Any]], nullable: bool,
               after: tuple[Any, Any] | None, n: int) -> list[int]:
    """Up to ``n`` ids after the cursor's row ``after`` (its value None: among the rows
    without one): ``part(after, empty, n)`` selects the rows with a value, then
    (``empty``) those without; a cursor in the second part skips the first."""
    ids: list[int] = []
    in_empty = after is not None and after[0] is None
    if not in_empty:
        ids = list(session.scalars(part(after, False, n)))
    if nullable and len(ids) < n:
        ids += session.scalars(part(after if in_empty else None, True, n - len(ids)))
    return ids


def sorted_ids(session: Session, base: Select[Any], key: SortKey, descending: bool, after: tuple[Any, int] | None,
               n: int) -> list[int]:
    """Up to ``n`` ids of ``base`` (a ``select`` of ``key.id`` with the page's filters)
    after the cursor's row: those with a value, then those without."""
    return walk_parts(session, lambda bound, empty, m: _part(base, key, descending, bound, empty, m), key.nullable,
                      after, n)


def sorted_page(session: Session, base: Select[Any], key: SortKey, sort: SortColumn, cursor: str | None,
                limit: int) -> tuple[list[int], str | None]:
    """One page of ids of ``base`` in ``sort``'s order and the cursor of the next page
    (None on the last); :class:`InvalidCursor` for a cursor no page of this sort gave."""
    after = decode_cursor(cursor, sort, key) if cursor is not None else None
    ids = sorted_ids(session, base, key, sort.descending, after, limit + 1)
    page = ids[:limit]
    if len(ids) <= limit:
        return page, None
    last = page[-1]
    value = session.scalar(select(key.expression).where(key.id == last))
    return page, encode_cursor(sort, value, last)


__all__: Sequence[str] = ["BAD_CURSOR", "SortKey", "decode_cursor", "encode_cursor", "folded", "sort_index",
                          "sorted_ids", "sorted_page", "walk_parts"]
