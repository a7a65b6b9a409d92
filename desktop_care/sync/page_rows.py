"""Feed pages as the rows a workstation stores (docs/decisions/0040).

A compact page (``GET /sync/changes/compact``) names its columns once and carries each
member as an array, with the server's own search row for it. :class:`TableRows` turns
such arrays into one plain ``executemany`` for a local table, checking the column names
against the table once a page, not a row; times go from the wire's fixed form to the
form SQLAlchemy stores on SQLite by slicing, not parsing. An object page
(``GET /sync/changes``, or one a test builds) is turned into the same arrays by
:func:`compact_page`, so the store has one way to write a page.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table

from ..models import UTCDateTime
from ..models.member import MemberStatus
from ..models.search import search_values
from ..schemas import (
    COMPACT_ADDRESS_COLUMNS,
    COMPACT_MEMBER_COLUMNS,
    COMPACT_SEARCH_COLUMNS,
    CompactFeedPage,
    FeedPage,
    wire_time,
)

#: How SQLAlchemy writes a time on SQLite (always with microseconds).
_STORED = "%Y-%m-%d %H:%M:%S.%f"


class FeedFormatError(ValueError):
    """A page this app cannot store (columns it does not know, a time without a zone)."""


def stored_time(value: str) -> str:
    """A time from the feed (ISO 8601 with a zone) as this store keeps it: UTC text.
    The compact feed's own form (``2026-12-03T08:00:00.000000Z``) is only re-cut."""
    if len(value) == 27 and value[10] == "T" and value[26] == "Z":
        return f"{value[:10]} {value[11:26]}"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise FeedFormatError(f"not a time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise FeedFormatError(f"a time without its zone: {value!r}")
    return parsed.astimezone(dt.UTC).strftime(_STORED)


class TableRows:
    """The INSERT of one local table's rows from arrays with the given column names."""

    def __init__(self, table: Table, names: Sequence[str], constants: dict[str, str]) -> None:
        unknown = [name for name in names if name not in table.c]
        missing = [c.name for c in table.columns
                   if c.name not in names and c.name not in constants and not c.nullable and c.default is None]
        if unknown or missing:
            raise FeedFormatError(f"{table.name}: columns not known here {unknown}, missing {missing}")
        literals = [f"'{value}'" for value in constants.values()]
        self.sql = (f"INSERT INTO {table.name} ({', '.join([*names, *constants])}) "
                    f"VALUES ({', '.join(['?'] * len(names) + literals)})")
        self.names = tuple(names)
        self._times = [i for i, name in enumerate(names) if isinstance(table.c[name].type, UTCDateTime)]

    def convert(self, rows: Iterable[list[Any]]) -> list[list[Any]]:
        """The rows with their times as stored here (in place: the page is not kept)."""
        times = self._times
        out = list(rows)
        for row in out:
            for index in times:
                value = row[index]
                if value is not None:
                    row[index] = stored_time(value)
        return out


@functools.lru_cache(maxsize=16)
def table_rows(table: Table, names: tuple[str, ...], constants: tuple[tuple[str, str], ...] = ()) -> TableRows:
    """The :class:`TableRows` for these names (pages of one server all repeat them)."""
    return TableRows(table, names, dict(constants))


def compact_page(page: FeedPage) -> CompactFeedPage:
    """An object page as a compact one, with search rows built here as the server
    builds its own (``search_values``; none for a merged member)."""
    members: list[list[Any]] = []
    addresses: list[list[Any]] = []
    deleted: list[int] = []
    for change in page.changes:
        if change.entity != "member":
            continue
        record = change.member
        if change.deleted or record is None:
            deleted.append(change.id)
            continue
        values = [_wire_value(getattr(record, name)) for name in COMPACT_MEMBER_COLUMNS]
        ordered = sorted(record.addresses, key=lambda a: a.id)
        if record.status is MemberStatus.MERGED:  # as on the server: merged members are not found
            search: list[Any] = [None] * len(COMPACT_SEARCH_COLUMNS)
        else:
            fields = search_values(record.member_no, record.first_name, record.last_name, record.email,
                                   record.phone, [a.postcode for a in ordered])
            search = [fields[name] for name in COMPACT_SEARCH_COLUMNS]
        members.append(values + search)
        addresses.extend([record.id, *(_wire_value(getattr(a, name)) for name in COMPACT_ADDRESS_COLUMNS[1:])]
                         for a in ordered)
    return CompactFeedPage.model_construct(
        member_columns=list(COMPACT_MEMBER_COLUMNS), search_columns=list(COMPACT_SEARCH_COLUMNS), members=members,
        address_columns=list(COMPACT_ADDRESS_COLUMNS), addresses=addresses, deleted=deleted,
        size=len(page.changes), cursor=page.cursor, has_more=page.has_more, latest=page.latest, epoch=page.epoch,
    )


def _wire_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return wire_time(value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC))
    return getattr(value, "value", value)


__all__ = ["FeedFormatError", "TableRows", "compact_page", "stored_time", "table_rows"]
