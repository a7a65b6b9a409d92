"""The Society Users page's query: every user of the system, filtered and paged.

Each user's ``search_text`` holds its normalised username, display name, e-mail and
member ID (of the member account it belongs to), one per line, written by the mapper
events below whenever the ORM inserts or updates a user. Bulk loads that bypass the
ORM must fill it with :func:`user_search_text`. A database index serves substring
matches on it: the FTS5 ``trigram`` table ``user_fts`` on SQLite (migration 0006 and
triggers keep it in step), a ``pg_trgm`` GIN index on PostgreSQL.

:func:`search_users` pages by keyset on the user id (the opaque cursor holds the last
id). On SQLite, text of three characters or more is looked up in ``user_fts``, which
returns matches in id order and honours the id bound itself, so a page costs the same
for rare and common terms. Totals are counted up to :data:`TOTAL_CAP`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Index, Integer, Select, Text, column, event, func, select, table
from sqlalchemy.orm import Mapper, Session

from .base import utcnow
from .keyset import SortKey, folded, sort_index, sorted_page
from .member import Member
from .search import MIN_TRIGRAM, SortColumn, decode_cursor, encode_cursor, normalize, tokenize
from .user import SignInThrottle, User, UserRole, UserState

#: Totals are counted up to this many matches; beyond it a total is "at least".
TOTAL_CAP = 1_000
#: Largest page a caller may ask for.
MAX_LIMIT = 200
#: Role and state filters leaving at most this many users are the query's driver: the
#: text is then checked on those rows rather than looked up in the trigram index.
NARROW = 2_000

#: SQLite's trigram index over ``app_user.search_text`` (external content, rowid = id).
SQLITE_USER_FTS_DDL: tuple[str, ...] = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS user_fts USING fts5("
    "search_text, content='app_user', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS app_user_fts_insert AFTER INSERT ON app_user BEGIN "
    "INSERT INTO user_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS app_user_fts_delete AFTER DELETE ON app_user BEGIN "
    "INSERT INTO user_fts (user_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS app_user_fts_update AFTER UPDATE OF search_text ON app_user BEGIN "
    "INSERT INTO user_fts (user_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO user_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
)

_fts = table("user_fts", column("rowid", Integer), column("user_fts", Text))


def user_search_text(username: str, display_name: str, email: str, member_no: str | None) -> str:
    """The ``search_text`` of a user with these values."""
    lines = (normalize(username), normalize(display_name), normalize(email), member_no or "")
    return "\n".join(dict.fromkeys(line for line in lines if line))


def _member_no(connection: Connection, member_id: int | None) -> str | None:
    if member_id is None:
        return None
    return connection.scalar(select(Member.member_no).where(Member.id == member_id))


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _keep_search_text(mapper: Mapper[User], connection: Connection, user: User) -> None:
    user.search_text = user_search_text(
        user.username, user.display_name or "", user.email or "", _member_no(connection, user.member_id)
    )


class StateFilter(enum.StrEnum):
    """The Users page's state filter: a stored state, or ``locked`` (sign-in
    throttled right now, whatever the state)."""

    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"
    REVOKED = "revoked"
    LOCKED = "locked"


class UserSort(SortColumn):
    """A column of the Users page, ascending; ``-`` first for descending
    (``-last_login``: the latest sign-in first)."""

    USERNAME = "username"
    USERNAME_DESC = "-username"
    NAME = "name"
    NAME_DESC = "-name"
    EMAIL = "email"
    EMAIL_DESC = "-email"
    ROLE = "role"
    ROLE_DESC = "-role"
    STATE = "state"
    STATE_DESC = "-state"
    LAST_LOGIN = "last_login"
    LAST_LOGIN_DESC = "-last_login"

    @property
    def key(self) -> SortKey:
        return SORT_KEYS[self.column_name]


_u = User.__table__.c
#: How each sortable column sorts (text: ASCII case ignored, byte order; see keyset.py).
SORT_KEYS: dict[str, SortKey] = {
    "username": SortKey(folded(_u.username), _u.id, str),
    "name": SortKey(folded(_u.display_name), _u.id, str),
    "email": SortKey(folded(_u.email), _u.id, str),
    "role": SortKey(_u.role, _u.id, str),
    "state": SortKey(_u.state, _u.id, str),
    "last_login": SortKey(_u.last_login_at, _u.id, dt.datetime, nullable=True),
}
#: One index per sortable column, ending with the id (migration 0026; ``state`` has
#: ``ix_app_user_state_id`` already).
SORT_INDEXES: tuple[Index, ...] = tuple(
    sort_index(f"ix_app_user_sort_{name}", SORT_KEYS[name]) for name in ("username", "name", "email", "role",
                                                                       "last_login"))


@dataclass(frozen=True)
class UserRow:
    user: User
    member_no: str | None
    throttle: SignInThrottle | None

    @property
    def failed_sign_ins(self) -> int:
        return self.throttle.failures if self.throttle is not None else 0

    def locked_until(self, now: dt.datetime) -> dt.datetime | None:
        """Until when sign-in is refused, if it is at ``now``."""
        until = self.throttle.blocked_until if self.throttle is not None else None
        return until if until is not None and until > now else None


def user_rows(session: Session, condition: ColumnElement[bool]) -> list[UserRow]:
    """The users matching ``condition`` with their member ID and throttle, in id order."""
    found = session.execute(
        select(User, Member.member_no, SignInThrottle)
        .outerjoin(Member, Member.id == User.member_id)
        .outerjoin(SignInThrottle, SignInThrottle.username == User.username)
        .where(condition)
        .order_by(User.id)
    ).all()
    return [UserRow(user, member_no, throttle) for user, member_no, throttle in found]


@dataclass(frozen=True)
class UserPage:
    rows: list[UserRow]
    #: How many users match; when ``total_exact`` is false, at least this many.
    total: int
    total_exact: bool
    next_cursor: str | None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _locked_now(now: dt.datetime) -> ColumnElement[bool]:
    # Few usernames are throttled at any moment: look them up by the username index.
    return User.username.in_(select(SignInThrottle.username).where(SignInThrottle.blocked_until > now))


def _narrow(session: Session, conditions: list[ColumnElement[bool]]) -> bool:
    """Do the role and state filters leave few users (counted through their indexes)?"""
    if not conditions:
        return False
    few = select(User.id).where(*conditions).limit(NARROW + 1).subquery()
    return (session.scalar(select(func.count()).select_from(few)) or 0) <= NARROW


def _matching_ids(
    session: Session,
    tokens: list[str],
    roles: frozenset[UserRole],
    states: frozenset[StateFilter],
    now: dt.datetime,
) -> Select[Any]:
    """Ids of the matching users, in id order (the caller adds bounds and limits)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    long_tokens = [t for t in tokens if len(t) >= MIN_TRIGRAM]
    short_tokens = [t for t in tokens if len(t) < MIN_TRIGRAM]
    conditions: list[ColumnElement[bool]] = []
    if roles:
        conditions.append(User.role.in_(sorted(roles)))
    stored = sorted(UserState(s.value) for s in states if s is not StateFilter.LOCKED)
    if states:
        options: list[ColumnElement[bool]] = []
        if stored:
            options.append(User.state.in_(stored))
        if StateFilter.LOCKED in states:
            options.append(_locked_now(now))
        conditions.append(options[0] if len(options) == 1 else options[0] | options[1])
    find = func.instr if sqlite else func.strpos
    if _narrow(session, conditions):
        # Sorting the few rows is cheaper than walking every id in order to find them:
        # ``id + 0`` keeps the planner from the primary key, for the order and the bound.
        return (
            select((User.id + 0).label("id"))
            .where(*conditions, *(find(User.search_text, t) > 0 for t in tokens))
            .order_by(User.id + 0)
        )
    if sqlite:
        contains = [func.instr(User.search_text, t) > 0 for t in short_tokens]
        if long_tokens:
            match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_tokens)
            return (
                select(_fts.c.rowid.label("id"))
                .join(User, User.id == _fts.c.rowid)
                .where(_fts.c.user_fts.op("MATCH")(match), *contains, *conditions)
                .order_by(_fts.c.rowid)
            )
        return select(User.id).where(*contains, *conditions).order_by(User.id)
    likes = [User.search_text.like(f"%{_escape_like(t)}%", escape="\\") for t in long_tokens]
    contains = [func.strpos(User.search_text, t) > 0 for t in short_tokens]
    return select(User.id).where(*likes, *contains, *conditions).order_by(User.id)


def search_users(
    session: Session,
    q: str = "",
    *,
    roles: frozenset[UserRole] = frozenset(),
    states: frozenset[StateFilter] = frozenset(),
    limit: int = 50,
    cursor: str | None = None,
    sort: UserSort | None = None,
    now: dt.datetime | None = None,
) -> UserPage:
    """One page of users matching every word of ``q`` (in username, name, e-mail or
    member ID) and any of ``roles`` and ``states`` (empty: all), in id order or by
    ``sort`` (ties by id).

    Raises :class:`desktop_care.models.search.InvalidCursor` for a cursor no page (of
    this sort) gave.
    """
    now = now or utcnow()
    tokens = tokenize(q)
    ids = _matching_ids(session, tokens, roles, states, now)
    if sort is not None:
        # The sort's index is walked, each row tested against the filters (their ids
        # as a semi-join): a page costs a walk of ``limit`` matches.
        base = select(_u.id)
        if tokens or roles or states:
            base = base.where(_u.id.in_(ids.order_by(None)))
        page_ids, next_cursor = sorted_page(session, base, sort.key, sort, cursor, limit)
        has_more, first = next_cursor is not None, cursor is None
    else:
        after = decode_cursor(cursor) if cursor else 0
        id_column = ids.selected_columns[0]
        page_ids = list(session.scalars(ids.where(id_column > after).limit(limit + 1)))
        has_more, first = len(page_ids) > limit, after == 0
        page_ids = page_ids[:limit]
        next_cursor = encode_cursor(page_ids[-1]) if has_more else None
    if not has_more and first:
        total, exact = len(page_ids), True
    else:
        capped = ids.order_by(None).limit(TOTAL_CAP + 1).subquery()
        counted = session.scalar(select(func.count()).select_from(capped)) or 0
        total, exact = min(counted, TOTAL_CAP), counted <= TOTAL_CAP
    found = {row.user.id: row for row in user_rows(session, User.id.in_(page_ids))} if page_ids else {}
    return UserPage(rows=[found[i] for i in page_ids], total=total, total_exact=exact, next_cursor=next_cursor)
