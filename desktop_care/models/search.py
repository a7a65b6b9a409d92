"""Member search: the normalised search row of each member and the query over it.

This module has no FastAPI and no Qt: the central server and (later) a workstation's
local cache run the same search over their own SQLAlchemy session.

Each searchable member has one ``member_search`` row holding its searchable text,
normalised (accents removed, case folded) so that "jose" finds "José". Merged members
have none, so they never appear in results. The database indexes the row for
substring search: an FTS5 ``trigram`` table on SQLite, a ``pg_trgm`` GIN index on
PostgreSQL (both created by the migrations), so no query scans the whole table.
``docs/decisions/0002-member-search.md`` explains the query plan.

How a query runs (:func:`search_members`):

1. The query is normalised and split into tokens; every token must occur in the
   member's text. Tokens of three characters or more use the trigram index; when all
   tokens are shorter, the first one is matched as a prefix of the first name, last
   name or email (B-tree range scans). Other short tokens filter the candidates.
   A one-token query also matches member IDs exactly or by prefix.
2. Each of those *sources* counts up to ``total_cap + 1`` matching ids through its
   index (unless index-only counts of name, email or member ID prefixes already show
   more). When a source has no more than ``total_cap`` matches, the total is exact and
   the page is cut from them in the same statement. Otherwise the term is
   common (at least 1 % of a million members), so walking the primary key in id order
   and filtering finds a page after a few thousand rows at most; the total is then
   reported as "at least ``total_cap``" (``total_exact`` false). Member IDs are
   counted first, and the text source then counts only members whose ID does not
   match, so together they look at no more than ``total_cap + 1`` ids (see ``_union``).
   The database counts and sorts them and sends only the page (``_counted_page``): a
   total of 9,000 costs no 9,000 Python objects.
3. Results are ordered by member id and paged by keyset (the opaque cursor holds the
   last id); an exact member ID match comes first on the first page.
"""

from __future__ import annotations

import abc
import base64
import binascii
import datetime as dt
import enum
import heapq
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    column,
    delete,
    event,
    func,
    insert,
    inspect,
    literal_column,
    not_,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column, selectinload

from .base import Base, table_of
from .contact import national_digits
from .member import Address, Member, MemberStatus

if TYPE_CHECKING:
    from .search_sort import MemberSort

#: White space and control characters (C0, DEL, C1): word separators.
_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_NOT_DIGIT = re.compile(r"\D")

#: Totals are counted up to this many matches; beyond it a total is "at least".
TOTAL_CAP = 10_000
#: Largest page a caller may ask for.
MAX_LIMIT = 200
#: Shortest token a trigram index can look up.
MIN_TRIGRAM = 3
#: How much of a token PostgreSQL looks up in its trigram index (see _TextSource).
_TRIGRAM_WINDOW = 6
#: Below every member id: a workstation's members registered there and not yet on the
#: server have negative (provisional) ids, listed first. Cursors are never negative, so
#: a first page holds every provisional match it can (docs/decisions/0014).
BEFORE_ALL = -(2**31)  # the least 32-bit integer (member.id is one)
#: Sorts after every real character: the upper bound of a prefix range.
_PREFIX_END = "\U0010ffff"


def normalize(text: str) -> str:
    """Case-folded, accent-free text with runs of white space made one space.

    Control characters (NUL, escape, DEL...) separate words as white space does, and
    invisible format characters (soft hyphen, zero-width space, BOM) are dropped: a NUL
    would otherwise end SQLite's FTS5 query string early ("unterminated string") and
    PostgreSQL refuses NUL in text outright (see docs/decisions/0010).
    """
    if text.isascii():  # the common case, and the same result: casefold() is lower() on ASCII
        return _SPACE.sub(" ", text.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(
        ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    )
    return _SPACE.sub(" ", stripped.casefold()).strip()


def phone_digits(phone: str) -> str:
    return _NOT_DIGIT.sub("", phone)


def tokenize(query: str) -> list[str]:
    """The distinct tokens of a query, normalised, in the order typed."""
    return list(dict.fromkeys(normalize(query).split()))


#: SQLite's trigram index over ``member_search.text``: an external-content FTS5 table kept
#: in step by triggers. A workstation's local store runs these; the server's migration
#: 0001 keeps its own frozen copy.
SQLITE_FTS_DDL: tuple[str, ...] = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS member_fts USING fts5("
    "text, content='member_search', content_rowid='member_id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS member_search_fts_insert AFTER INSERT ON member_search BEGIN "
    "INSERT INTO member_fts (rowid, text) VALUES (new.member_id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS member_search_fts_delete AFTER DELETE ON member_search BEGIN "
    "INSERT INTO member_fts (member_fts, rowid, text) VALUES ('delete', old.member_id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS member_search_fts_update AFTER UPDATE ON member_search BEGIN "
    "INSERT INTO member_fts (member_fts, rowid, text) VALUES ('delete', old.member_id, old.text); "
    "INSERT INTO member_fts (rowid, text) VALUES (new.member_id, new.text); END",
)

#: PostgreSQL's trigram index on ``member_search.text`` (SQLite has ``member_fts``).
TRIGRAM_INDEX = Index(
    "ix_member_search_text_trgm", "text", postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"}
).ddl_if(dialect="postgresql")

#: Characters pg_trgm leaves out of its trigrams (it keeps letters and digits only), so
#: ``a_b`` or ``n@example.`` look up only the trigrams of one-letter words, which nearly
#: every row has. ``ix_member_search_symbols_trgm`` indexes the text with each of them
#: made a letter that :func:`normalize` never leaves in it (it strips accents): the
#: mapping is one to one on normalised text, so the index loses nothing (decision 0038).
SYMBOLS = "@._-+'%"
SYMBOL_LETTERS = "àáâãäåè"


_TO_LETTERS = str.maketrans(SYMBOLS, SYMBOL_LETTERS)


def _symbols_kept(text: ColumnElement[str]) -> ColumnElement[str]:
    """``text`` with SYMBOLS made letters (constants in the SQL: the index's expression)."""
    def constant(value: str) -> ColumnElement[str]:
        return literal_column("'" + value.replace("'", "''") + "'", Text)

    return func.translate(text, constant(SYMBOLS), constant(SYMBOL_LETTERS))


class MemberSearch(Base):
    """The searchable text of one member (kept up to date by :func:`reindex_member`)."""

    __tablename__ = "member_search"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    #: The member ID normalised like every query (``normalize``: "M123" → "m123"), for
    #: exact and prefix lookups; the member's own ``member_no`` keeps its case.
    member_no: Mapped[str] = mapped_column(String(20))
    #: Normalised name, email, phone (as typed and digits only) and postcodes, one per
    #: line, so that no substring match can run across two fields.
    text: Mapped[str] = mapped_column(Text)
    #: Normalised first name, last name and email: prefix keys for queries too short
    #: for a trigram index.
    first_key: Mapped[str] = mapped_column(String(100))
    last_key: Mapped[str] = mapped_column(String(100))
    email_key: Mapped[str] = mapped_column(String(254))

    # Prefix keys: on PostgreSQL ``text_pattern_ops`` lets ``LIKE 'ab%'`` use the
    # B-tree whatever the database's collation. The trigram index on ``text`` is
    # PostgreSQL's; SQLite's is the FTS5 table ``member_fts`` (see the migrations).
    __table_args__ = (
        *(
            Index(f"ix_member_search_{name}", name, postgresql_ops={name: "text_pattern_ops"})
            for name in ("member_no", "first_key", "last_key", "email_key")
        ),
        TRIGRAM_INDEX,
    )


_SYMBOLS_KEPT = _symbols_kept(MemberSearch.__table__.c.text)
_email_key = MemberSearch.__table__.c.email_key
#: Indexes of migration 0027 (decision 0038). Two short words (``n wo``): the first and last name
#: ranges in one entry (ix_member_search_sort_name, (last_key, first_key), serves the
#: other order). E-mail domains (``@example.org``) on SQLite: the key from its "@" on.
SEARCH_INDEXES: tuple[Index, ...] = (
    Index("ix_member_search_first_last", MemberSearch.__table__.c.first_key, MemberSearch.__table__.c.last_key,
          postgresql_ops={"first_key": "text_pattern_ops", "last_key": "text_pattern_ops"}),
    Index("ix_member_search_email_domain", func.substr(_email_key, func.instr(_email_key, literal_column("'@'", Text))))
    .ddl_if(dialect="sqlite"),
)
#: The same on a workstation's replica made before them (SQLite reflects no expression
#: index, so ``checkfirst`` cannot tell): built once, not pulled again.
REPLICA_INDEX_DDL: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS ix_member_search_first_last ON member_search (first_key, last_key)",
    "CREATE INDEX IF NOT EXISTS ix_member_search_email_domain ON member_search (substr(email_key, instr(email_key, '@')))",
)
#: PostgreSQL's trigram index on the text with SYMBOLS kept (migration 0027).
SYMBOL_TRIGRAM_INDEX = Index(
    "ix_member_search_symbols_trgm", _SYMBOLS_KEPT.label("symbols_kept"),
    postgresql_using="gin", postgresql_ops={"symbols_kept": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


def search_fields(member: Member, postcodes: Iterable[str]) -> dict[str, str]:
    """The values of a member's ``member_search`` row (all but ``member_id``)."""
    return search_values(member.member_no, member.first_name, member.last_name, member.email, member.phone, postcodes)


def search_values(
    member_no: str, first_name: str, last_name: str, email: str, phone: str, postcodes: Iterable[str]
) -> dict[str, str]:
    """:func:`search_fields` from plain values (for bulk loads that build no ORM objects)."""
    postcodes = [normalize(p) for p in postcodes]
    lines = [
        normalize(f"{first_name} {last_name}"),
        normalize(email),
        normalize(phone),
        phone_digits(phone),
        national_digits(phone),  # "+442079460000" is found as "020 7946 0000" too
        *postcodes,
        *(p.replace(" ", "") for p in postcodes),
    ]
    return {
        "member_no": normalize(member_no),
        "text": "\n".join(dict.fromkeys(line for line in lines if line)),
        "first_key": normalize(first_name)[:100],
        "last_key": normalize(last_name)[:100],
        "email_key": normalize(email)[:254],
    }


def is_searchable(member: Member) -> bool:
    return member.status != MemberStatus.MERGED


# --- keeping member_search in step ------------------------------------------------

#: Member attributes that feed its search row.
_INDEXED_ATTRIBUTES = ("member_no", "first_name", "last_name", "email", "phone", "status")


#: What a member's search row is made of (``Member.field_versions`` names): a command
#: that writes none of these leaves the row as it is.
SEARCHED_FIELDS = frozenset({"first_name", "last_name", "email", "phone"})


def reindex_member(session: Session, member: Member) -> None:
    """Rewrite the member's ``member_search`` row from the member and its addresses
    as they are in the database (call after a flush). Merged members get none."""
    session.execute(delete(MemberSearch).where(MemberSearch.member_id == member.id))
    if not is_searchable(member):
        return
    postcodes = member_postcodes(session, [member.id]).get(member.id, [])
    session.execute(insert(MemberSearch).values(member_id=member.id, **search_fields(member, postcodes)))


def member_postcodes(session: Session, member_ids: Iterable[int]) -> dict[int, list[str]]:
    """The postcodes of these members' addresses, in address order (one statement)."""
    out: dict[int, list[str]] = {}
    rows = session.execute(select(Address.member_id, Address.postcode)
                           .where(Address.member_id.in_(sorted(set(member_ids)))).order_by(Address.id))
    for member_id, postcode in rows:
        out.setdefault(member_id, []).append(postcode)
    return out


def rewrite_search_rows(session: Session, rows: dict[int, dict[str, str]]) -> None:
    """Replace the ``member_search`` rows of searchable members (id → the values of
    :func:`search_fields`) with two statements, whatever their number: a pushed batch's
    direct path, which writes members without the ORM's flush (docs/decisions/0039)."""
    if not rows:
        return
    connection = session.connection()
    table = table_of(MemberSearch)
    connection.execute(delete(table).where(table.c.member_id.in_(sorted(rows))))
    connection.execute(insert(table), [{"member_id": member_id, **values} for member_id, values in rows.items()])


def _changed(obj: object, attributes: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in attributes)


@event.listens_for(Session, "after_flush")
def _reindex_changed_members(session: Session, flush_context: UOWTransaction) -> None:
    """Whenever a flush writes a member or an address, rewrite the member's search row."""
    members: dict[int, Member] = {}
    member_ids: set[int] = set()
    deleted_members = {obj.id for obj in session.deleted if isinstance(obj, Member)}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Member):
            # ``addresses``: an address taken out of the collection is deleted as an
            # orphan by the flush, and such deletes never show in ``session.deleted``.
            if obj.id not in deleted_members and (
                obj in session.new or _changed(obj, (*_INDEXED_ATTRIBUTES, "addresses"))
            ):
                members[obj.id] = obj
        elif isinstance(obj, Address):
            if obj in session.dirty and not _changed(obj, ("postcode", "member_id")):
                continue
            history = inspect(obj).attrs["member_id"].history  # the old member too, if it moved
            member_ids.update(i for i in (*history.unchanged, *history.added, *history.deleted) if i is not None)
    for member_id in member_ids - members.keys() - deleted_members:
        member = session.get(Member, member_id)
        if member is not None:
            members[member_id] = member
    for member in members.values():
        reindex_member(session, member)


# --- the cursor -------------------------------------------------------------------


class InvalidCursor(ValueError):
    """A ``cursor`` that no search returned."""


def encode_cursor(after_id: int) -> str:
    raw = json.dumps({"after": after_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidCursor("is not a cursor from a previous page") from exc
    if type(after) is not int or after < 0:
        raise InvalidCursor("is not a cursor from a previous page")
    return after


class SortColumn(enum.StrEnum):
    """A sortable column of a paged list: its name, ascending; ``-`` first for
    descending. Subclassed by each list's enum (members, tickets)."""

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")

    @property
    def column_name(self) -> str:
        """The column's name, without the direction."""
        return self.value.lstrip("-")


def encode_sorted_cursor(sort: str, values: Any, row_id: int) -> str:
    """The keyset cursor after a row: its sort, its sort key ``values`` (JSON; a
    datetime as ISO 8601 in UTC) and its id. :func:`decode_sorted_cursor` reads it."""
    def out(value: Any) -> Any:
        return value.astimezone(dt.UTC).isoformat() if isinstance(value, dt.datetime) else value

    encoded = [out(v) for v in values] if isinstance(values, (list, tuple)) else out(values)
    raw = json.dumps([sort, encoded, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_sorted_cursor(cursor: str, sort: str, bad: str) -> tuple[Any, int]:
    """The sort key values (as JSON gave them) and the id of a cursor of ``sort``;
    :class:`InvalidCursor` with the message ``bad`` for anything else."""
    try:
        name, values, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor(bad) from exc
    if name != sort or type(row_id) is not int:
        raise InvalidCursor(bad)
    return values, row_id


def cursor_moment(value: Any, bad: str) -> dt.datetime:
    """A cursor's ISO 8601 time with its zone; :class:`InvalidCursor` otherwise."""
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidCursor(bad)
    return moment


# --- the query ----------------------------------------------------------------------


class SearchPage(NamedTuple):
    #: Members of this page, with their addresses loaded.
    rows: list[Member]
    #: How many members match; when ``total_exact`` is false, at least this many.
    total: int
    total_exact: bool
    #: Pass back as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None


_ms = MemberSearch.__table__.c
#: SQLite's FTS5 index over ``member_search.text`` (external content, rowid = member id).
_fts = table("member_fts", column("rowid", Integer), column("member_fts", Text))


class _Dialect(enum.Enum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"

    @classmethod
    def of(cls, session: Session) -> _Dialect:
        name = session.get_bind().dialect.name
        try:
            return cls(name)
        except ValueError:
            raise NotImplementedError(f"member search does not support {name}") from None

    def contains(self, haystack: ColumnElement[str], needle: str) -> ColumnElement[bool]:
        """A literal substring test that no index serves (for filtering rows in hand)."""
        function = func.instr if self is _Dialect.SQLITE else func.strpos
        return function(haystack, needle) > 0

    def email_domain(self) -> ColumnElement[str]:
        """The e-mail key from its "@" on (the whole key if it has none): the expression
        of SQLite's ``ix_member_search_email_domain`` (migration 0027)."""
        return func.substr(_ms.email_key, func.instr(_ms.email_key, literal_column("'@'", Text)))

    def starts_with(self, key: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
        """A prefix test served by the key's B-tree index."""
        if self is _Dialect.SQLITE:
            return and_(key >= prefix, key < prefix + _PREFIX_END)
        return key.like(_escape_like(prefix) + "%", escape="\\")


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_phrase(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _symbol_windows(token: str) -> list[str]:
    """What of the token to look up in a trigram index: the three characters around its
    first and last symbol (see SYMBOLS), or around its "@"; nothing when it has none."""
    at = [i for i, ch in enumerate(token) if ch in SYMBOLS]
    if not at:
        return []
    if "@" in token:
        # The domain after it repeats in many rows, the local part before it rarely: up
        # to four characters before it and one after ("ryn@e", "n@e"), not also "le.".
        i = token.index("@")
        return [token[max(0, i - 4) : max(i + 2, MIN_TRIGRAM)]]
    starts = (min(max(0, i - 1), max(0, len(token) - MIN_TRIGRAM)) for i in (at[0], at[-1]))
    return list(dict.fromkeys(token[i : i + MIN_TRIGRAM] for i in starts))


def _starts_with_unindexed(key: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """A prefix test no index serves: for walking the primary key in id order."""
    return func.substr(key, 1, len(prefix)) == prefix


@dataclass(frozen=True)
class _Source(abc.ABC):
    """One way of matching members: through an index (``sample``) or, for common
    terms, by walking ``member_search`` in id order and filtering (``walk``)."""

    dialect: _Dialect

    @abc.abstractmethod
    def sample(self, n: int, excluding: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
        """Up to ``n`` matching member ids, in any order, found through an index, of
        the rows that match none of ``excluding``."""

    @abc.abstractmethod
    def walk(self, after: int, exclude: int | None, n: int) -> Select[Any]:
        """The first ``n`` matching member ids above ``after``, in id order."""

    def subsets(self, n: int) -> list[Select[Any]]:
        """Queries for up to ``n`` rows of subsets of the matches, each answered from
        one index alone: counting them shows cheaply that a term is common."""
        return []

    def condition(self) -> ColumnElement[bool] | None:
        """A condition on ``member_search`` true exactly for this source's matches, if
        there is a cheap one: the other sources then fetch only the rows it misses."""
        return None

    @staticmethod
    def _ordered(conditions: Sequence[ColumnElement[bool]], after: int, exclude: int | None, n: int) -> Select[Any]:
        query = select(_ms.member_id).where(_ms.member_id > after, *conditions)
        if exclude is not None:
            query = query.where(_ms.member_id != exclude)
        return query.order_by(_ms.member_id).limit(n)


@dataclass(frozen=True)
class _TextSource(_Source):
    """Every long token through the trigram index; short ones filter the matches."""

    long_tokens: tuple[str, ...]
    short_tokens: tuple[str, ...]

    def _fts_query(self, excluding: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
        match = " AND ".join(_fts_phrase(t) for t in self.long_tokens)
        query = select(_fts.c.rowid.label("member_id")).where(_fts.c.member_fts.op("MATCH")(match))
        filters = [*(self.dialect.contains(_ms.text, t) for t in self.short_tokens), *(not_(c) for c in excluding)]
        if filters:
            query = query.join(MemberSearch, _ms.member_id == _fts.c.rowid).where(*filters)
        return query

    def sample(self, n: int, excluding: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
        if self.dialect is _Dialect.SQLITE:
            return self._fts_query(excluding).limit(n)
        # pg_trgm intersects the posting lists of every trigram of a pattern, and a long
        # token often ends in very common ones (an email domain): look up its first
        # _TRIGRAM_WINDOW characters in the index, then check the whole token on the rows.
        # A token with symbols looks up the characters around its first and last symbol,
        # or its "@", in the index that keeps them (see SYMBOLS): "a_b", "e.o", "ryn@e".
        looked_up: list[ColumnElement[bool]] = []
        checked = list(self.short_tokens)
        for token in self.long_tokens:
            windows = _symbol_windows(token)
            if windows:
                looked_up += [_SYMBOLS_KEPT.like(f"%{_escape_like(w.translate(_TO_LETTERS))}%", escape="\\")
                              for w in windows]
            else:
                windows = [token[:_TRIGRAM_WINDOW]]
                looked_up.append(_ms.text.like(f"%{_escape_like(windows[0])}%", escape="\\"))
            if windows != [token]:
                checked.append(token)
        return (
            select(_ms.member_id)
            .where(*looked_up, *(self.dialect.contains(_ms.text, t) for t in checked), *(not_(c) for c in excluding))
            .limit(n)
        )

    def subsets(self, n: int) -> list[Select[Any]]:
        # A one-token query matches at least the members whose name or email starts with it.
        if len(self.long_tokens) != 1 or self.short_tokens:
            return []
        (token,) = self.long_tokens
        # An e-mail domain on SQLite: "@example.org" starts the domain of each. (PostgreSQL
        # cannot answer an expression index from the index alone and plans a scan of the
        # table for it, 8 s for a domain nobody has: there the symbol index serves.)
        if token.startswith("@") and self.dialect is _Dialect.SQLITE:
            return [select(self.dialect.email_domain()).where(self.dialect.starts_with(self.dialect.email_domain(),
                                                                                      token)).limit(n)]
        return [select(key).where(self.dialect.starts_with(key, token)).limit(n) for key in _PREFIX_KEYS]

    def walk(self, after: int, exclude: int | None, n: int) -> Select[Any]:
        if self.dialect is _Dialect.SQLITE:
            # FTS5 returns matches in rowid order and honours the rowid bound itself.
            query = self._fts_query().where(_fts.c.rowid > after)
            if exclude is not None:
                query = query.where(_fts.c.rowid != exclude)
            return query.order_by(_fts.c.rowid).limit(n)
        tokens = (*self.long_tokens, *self.short_tokens)
        return self._ordered([self.dialect.contains(_ms.text, t) for t in tokens], after, exclude, n)


_PREFIX_KEYS = (_ms.first_key, _ms.last_key, _ms.email_key)


@dataclass(frozen=True)
class _NamePrefixSource(_Source):
    """Queries of short tokens only. One token: a prefix of the first name, the last
    name or the email. Two or more: the first two start the first and the last name,
    in either order (``n wo``: Nora Wood, Wolfgang Neumann), through the composite
    name indexes; any others occur anywhere, as short tokens with a long one do."""

    prefix: str
    others: tuple[str, ...]

    def _filters(self) -> list[ColumnElement[bool]]:
        return [self.dialect.contains(_ms.text, t) for t in self.others[1:]]

    def _matches(self) -> ColumnElement[bool]:
        if not self.others:
            return or_(*(self.dialect.starts_with(key, self.prefix) for key in _PREFIX_KEYS))
        a, b = self.prefix, self.others[0]
        return or_(self._pair(a, b), self._pair(b, a))

    def _pair(self, first: str, last: str) -> ColumnElement[bool]:
        """The first name starts with ``first`` and the last name with ``last``: one
        composite index answers both ((first_key, last_key) or (last_key, first_key))."""
        return and_(self.dialect.starts_with(_ms.first_key, first), self.dialect.starts_with(_ms.last_key, last))

    def sample(self, n: int, excluding: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
        return select(_ms.member_id).where(self._matches(), *self._filters(), *(not_(c) for c in excluding)).limit(n)

    def subsets(self, n: int) -> list[Select[Any]]:
        if self.others:
            return []
        return [select(key).where(self.dialect.starts_with(key, self.prefix)).limit(n) for key in _PREFIX_KEYS]

    def walk(self, after: int, exclude: int | None, n: int) -> Select[Any]:
        if not self.others:
            prefixed = or_(*(_starts_with_unindexed(key, self.prefix) for key in _PREFIX_KEYS))
        else:
            a, b = self.prefix, self.others[0]
            prefixed = or_(*(and_(_starts_with_unindexed(_ms.first_key, x), _starts_with_unindexed(_ms.last_key, y))
                             for x, y in ((a, b), (b, a))))
        return self._ordered([prefixed, *self._filters()], after, exclude, n)


@dataclass(frozen=True)
class _MemberNoSource(_Source):
    """Member IDs starting with the (single) token."""

    prefix: str

    def sample(self, n: int, excluding: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
        return select(_ms.member_id).where(self.condition(), *(not_(c) for c in excluding)).limit(n)

    def subsets(self, n: int) -> list[Select[Any]]:
        return [select(_ms.member_no).where(self.condition()).limit(n)]

    def condition(self) -> ColumnElement[bool]:
        return self.dialect.starts_with(_ms.member_no, self.prefix)

    def walk(self, after: int, exclude: int | None, n: int) -> Select[Any]:
        return self._ordered([_starts_with_unindexed(_ms.member_no, self.prefix)], after, exclude, n)


def _sources(dialect: _Dialect, tokens: list[str]) -> list[_Source]:
    long_tokens = tuple(t for t in tokens if len(t) >= MIN_TRIGRAM)
    short_tokens = tuple(t for t in tokens if len(t) < MIN_TRIGRAM)
    # Member IDs first: an index-only count tells how many there are, and the text
    # source then fetches only the members whose ID does not match (see _union).
    sources: list[_Source] = [_MemberNoSource(dialect, tokens[0])] if len(tokens) == 1 else []
    if long_tokens:
        sources.append(_TextSource(dialect, long_tokens, short_tokens))
    else:
        sources.append(_NamePrefixSource(dialect, short_tokens[0], short_tokens[1:]))
    return sources


def search_members(
    session: Session,
    q: str,
    limit: int = 50,
    cursor: str | None = None,
    *,
    total_cap: int = TOTAL_CAP,
    sort: MemberSort | None = None,
) -> SearchPage:
    """One page of the members matching ``q`` (see the module's docstring); with
    ``sort``, in that column's order (:mod:`desktop_care.models.search_sort`).

    Raises :class:`InvalidCursor` for a cursor no search returned and ``ValueError``
    for a ``limit`` outside 1..``MAX_LIMIT``.
    """
    if sort is not None:
        from .search_sort import search_sorted

        return search_sorted(session, q, limit, cursor, sort, total_cap=total_cap)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    after = decode_cursor(cursor) if cursor is not None else BEFORE_ALL
    tokens = tokenize(q)
    if not tokens:
        return _list_all(session, after, limit)
    dialect = _Dialect.of(session)
    sources = _sources(dialect, tokens)

    exact_id: int | None = None
    if len(tokens) == 1:
        exact_id = session.scalar(select(_ms.member_id).where(_ms.member_no == tokens[0]))
    lead = [exact_id] if exact_id is not None and cursor is None else []
    want = limit - len(lead)

    pages, total, unknown = _union(session, sources, total_cap, after, exact_id, want + 1)
    candidates = [*pages, *(list(session.scalars(source.walk(after, exact_id, want + 1))) for source in unknown)]
    merged = list(dict.fromkeys(heapq.merge(*candidates)))[: want + 1]
    page_ids = merged[:want]
    next_cursor = encode_cursor(max(0, page_ids[-1] if page_ids else after)) if len(merged) > want else None

    total_exact = not unknown and total <= total_cap
    return SearchPage(_load(session, lead + page_ids), total if total_exact else total_cap, total_exact, next_cursor)


def matching_ids(session: Session, q: str, cap: int = TOTAL_CAP) -> set[int] | None:
    """The ids of every member matching ``q`` (a non-empty query), or None when more
    than ``cap`` match (for :mod:`desktop_care.models.search_sort`)."""
    pages, total, walk = _union(session, _sources(_Dialect.of(session), tokenize(q)), cap, BEFORE_ALL, None, cap + 1)
    return None if walk or total > cap else {member_id for page in pages for member_id in page}


def _union(
    session: Session, sources: Sequence[_Source], cap: int, after: int, exclude: int | None, n: int
) -> tuple[list[list[int]], int, Sequence[_Source]]:
    """The matches of the sources, counted up to ``cap``: for each source with no more
    than ``cap`` matches its first ``n`` matching ids above ``after`` (but ``exclude``),
    in id order; how many matches those sources have together; and the sources with
    more (to walk for a page: the total is then "at least ``cap``").

    A source with a :meth:`_Source.condition` (member IDs) excludes its matches from
    the later sources' counts, so the counts add up and the later sources count only
    what can still raise the total: when 9,800 members' IDs start "113", the text needs
    201 more matches, not 10,001, to show the term is common."""
    pages: list[list[int]] = []
    total = 0
    walk: list[_Source] = []
    excluding: list[ColumnElement[bool]] = []
    for source in sources:
        if walk or total > cap:
            # The total is "at least cap" already; a source with few matches still
            # gives its page from its index rather than a walk through every member.
            found = _counted_page(session, source, cap, cap, (), after, exclude, n)
        else:
            found = _counted_page(session, source, cap, cap - total, excluding if total else (), after, exclude, n)
        if found is None:
            walk.append(source)
            continue
        count, page = found
        total += count
        pages.append(page)
        condition = source.condition()
        # Only the last source may lack a condition: the counts of the others must not overlap.
        assert condition is not None or source is sources[-1], "a source without a condition comes last"
        if condition is not None:
            excluding.append(condition)
    return pages, total, walk


def _counted_page(
    session: Session,
    source: _Source,
    cap: int,
    room: int,
    excluding: Sequence[ColumnElement[bool]],
    after: int,
    exclude: int | None,
    n: int,
) -> tuple[int, list[int]] | None:
    """How many matches ``source`` has that match none of ``excluding``, with the first
    ``n`` of them above ``after`` (but ``exclude``) in id order; None if there are more
    than ``room`` of them or the source alone has more than ``cap``.

    One statement counts and pages: the index's matches (at most ``room + 1``) are
    counted by a window function and sorted in the database with the page's rows first,
    so no more than ``n`` ids ever become Python objects however many match."""
    subsets = source.subsets(cap + 1)
    if subsets:  # counted in one statement: one round trip, however many subsets
        counts = session.execute(
            select(*(select(func.count()).select_from(s.subquery()).scalar_subquery() for s in subsets))
        ).one()
        if any((count or 0) > cap for count in counts):
            return None
    found = source.sample(room + 1, excluding).subquery()
    member_id = next(iter(found.c))
    on_page = member_id > after if exclude is None else and_(member_id > after, member_id != exclude)
    rows = session.execute(
        select(member_id, func.count().over(), on_page)
        .order_by(case((on_page, 0), else_=1), member_id)
        .limit(n)
    ).all()
    count = rows[0][1] if rows else 0
    if count > room:
        return None
    return count, [row[0] for row in rows if row[2]]


def _list_all(session: Session, after: int, limit: int) -> SearchPage:
    ids = list(
        session.scalars(select(_ms.member_id).where(_ms.member_id > after).order_by(_ms.member_id).limit(limit + 1))
    )
    total = session.scalar(select(func.count()).select_from(MemberSearch)) or 0
    next_cursor = encode_cursor(max(0, ids[limit - 1])) if len(ids) > limit else None
    return SearchPage(_load(session, ids[:limit]), total, True, next_cursor)


def _load(session: Session, ids: list[int]) -> list[Member]:
    if not ids:
        return []
    found = session.scalars(select(Member).where(Member.id.in_(ids)).options(selectinload(Member.addresses)))
    by_id = {member.id: member for member in found}
    return [by_id[i] for i in ids if i in by_id]


__all__ = [
    "MAX_LIMIT",
    "REPLICA_INDEX_DDL",
    "SEARCH_INDEXES",
    "SQLITE_FTS_DDL",
    "TOTAL_CAP",
    "TRIGRAM_INDEX",
    "InvalidCursor",
    "MemberSearch",
    "SearchPage",
    "decode_cursor",
    "encode_cursor",
    "matching_ids",
    "normalize",
    "reindex_member",
    "search_fields",
    "search_members",
    "search_values",
    "tokenize",
]
