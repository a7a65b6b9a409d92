"""The workstation's local store: a SQLite (WAL) cache of the member directory, the
outbox of changes typed here, and the Sync issues (docs/decisions/0003-offline-sync.md).

The entity tables (``member``, ``address``, ``member_search`` + FTS5 ``member_fts``)
are the server's own definitions and hold only what the server said; the search is the
server's :func:`~desktop_care.models.search.search_members`. Queued commands are laid
over those rows when they are read (``Command.preview``), so a pending change shows at
once and a pull can never overwrite or lose it.

Every queued command carries its author (:class:`Author`): a syncer sends only the
commands of the person its token belongs to, and a person's command waits behind an
earlier one of a colleague for the same member (invariant 7,
docs/decisions/0009-feed-and-author-integrity.md).

Every state change is one SQLite transaction (``BEGIN IMMEDIATE``; ``synchronous=FULL``):
an enqueue writes its outbox row; recording the server's answers removes outbox rows
and adds issues together; a pulled page and the new cursor are written together. A
crash at any point leaves either the state before or the state after.

Thread use: any thread may call any method (each call uses its own pooled connection);
WAL lets searches run while the syncer writes a page.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.schema import CreateTable

from .. import config
from ..models import Address, Member, MemberSearch, MemberSort, MemberStatus
from ..models.duplicates import likely_duplicates
from ..models.search import REPLICA_INDEX_DDL, SQLITE_FTS_DDL, normalize, search_members
from ..models.search_sort import SORT_INDEXES
from ..schemas import (
    CompactFeedPage,
    DuplicateCheckIn,
    DuplicateList,
    FeedPage,
    LikelyDuplicate,
    MemberDetail,
    MemberPage,
    MemberRecord,
    MemberSummary,
    StaffPublic,
)
from .api_client import normalize_server_url
from .local_models import AppliedChange, CachedDetail, LocalBase, OutboxEntry, SyncIssueRow, SyncState
from .page_rows import FeedFormatError, compact_page, table_rows

if TYPE_CHECKING:
    from ..commands import AddMember, Command, CommandResult, Status

#: Fault injection for the crash tests: ``DESKTOP_CARE_CRASH_AT=<point>`` makes the
#: process exit abruptly (no clean-up, like a power cut of the app) at that point.
CRASH_ENV = "DESKTOP_CARE_CRASH_AT"
CRASH_EXIT_CODE = 86

def table_of(entity: type[Any]) -> Table:
    table: Table = entity.__table__
    return table


_member = table_of(Member)
_address = table_of(Address)
_search = table_of(MemberSearch)
_ENTITY_TABLES = [_member, _address, _search]
_outbox = table_of(OutboxEntry)
_issue = table_of(SyncIssueRow)
_state = table_of(SyncState)
_cached = table_of(CachedDetail)
_applied = table_of(AppliedChange)

#: Member columns replicated from the feed (``MemberRecord`` without addresses).
_RECORD_FIELDS = tuple(name for name in MemberRecord.model_fields if name != "addresses")
_ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postcode", "country")
#: SQLite's default limit of bound parameters is 32766; stay well below per IN list.
_CHUNK = 900


def crash_point(name: str) -> None:
    """Exit the process at once if the crash tests asked for ``name``."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(CRASH_EXIT_CODE)


#: Each connection's page cache, in KiB when negative (SQLite's usual default, set explicitly).
PAGE_CACHE_KIB = -2000


def open_sqlite(path: Path) -> Engine:
    """An engine on a workstation SQLite file: WAL, full sync, one transaction per
    ``begin()``; connections with ``sqlite_immediate=True`` take the write lock at once."""
    # Owner only: SQLite gives the WAL and shared-memory files the database file's mode.
    config.private_file(path)
    for sibling in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + sibling)
        if companion.exists():
            config.private_file(companion)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Memory stays bounded whatever the replica's size and the SQLite build's defaults:
        # a 2 MiB page cache per connection, no memory-mapped file (docs/decisions/0041).
        cursor.execute(f"PRAGMA cache_size={PAGE_CACHE_KIB}")
        cursor.execute("PRAGMA mmap_size=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _chunks(items: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _errors_in_words(exc: ValidationError) -> str:
    from ..commands import kinds
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if p not in kinds())
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def field_values(values: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The values of command field names (``"address.home"`` → that address) in a
    member's values dict."""
    out: dict[str, Any] = {}
    for name in sorted(fields):
        if name.startswith("address."):
            kind = name.split(".", 1)[1]
            address = next((a for a in values.get("addresses", []) if a.get("kind") == kind), None)
            out[name] = None if address is None else {k: address.get(k, "") for k in _ADDRESS_FIELDS}
        else:
            out[name] = values.get(name)
    return out


@dataclass(frozen=True)
class Author:
    """The staff member who made a queued change."""

    user_id: int
    username: str

    @classmethod
    def of(cls, staff: StaffPublic) -> Author:
        return cls(staff.id, staff.username)


#: The reason given to changes queued before authors were recorded (Sync issues).
UNOWNED_REASON = ("Queued before this app recorded who made each change, so it was not sent. "
                  "Choose \"Keep mine\" to send it as yourself, or \"Take theirs\" to drop it.")


@dataclass(frozen=True)
class SyncIssue:
    """A change the server did not apply, waiting for someone to choose what to do."""

    id: int
    op_id: str
    member_id: int
    member_no: str
    name: str
    kind: str
    summary: str
    #: "conflict" or "rejected".
    status: str
    reason: str
    #: {"command": the payload, "values": the values this change would give}.
    mine: dict[str, Any]
    #: The server's values of the same fields.
    theirs: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class RecordedResults:
    """What :meth:`LocalStore.record_results` did."""

    #: op_ids the server applied (now or before: duplicates) — gone from the outbox.
    applied: list[str] = field(default_factory=list)
    #: op_ids moved to the Sync issues (conflict or rejected).
    issues: list[str] = field(default_factory=list)
    #: Members whose pending marks changed.
    member_ids: set[int] = field(default_factory=set)
    #: Provisional member ids the server registered, and the ids it gave them.
    rekeyed: dict[int, int] = field(default_factory=dict)


Resolution = Literal["keep_mine", "take_theirs", "edit"]


class LocalStore:
    """One workstation's cache of one server (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.engine = open_sqlite(self.path)
        self._writer = self.engine.execution_options(sqlite_immediate=True)
        with self._write() as conn:
            LocalBase.metadata.create_all(conn)
            add_missing_columns(conn, _outbox)
            laid_out = conn.scalar(select(_state.c.value).where(_state.c.key == "replica_schema"))
            if laid_out in _SAME_LAYOUT.get(REPLICA_SCHEMA, ()):
                _set_state(conn, "replica_schema", REPLICA_SCHEMA)
            elif laid_out != REPLICA_SCHEMA:
                _rebuild_replica(conn)
            if not _index_build_owed(conn):  # else the first sync's last page builds them
                for ddl in REPLICA_INDEX_DDL:  # a replica made before them: built once
                    conn.exec_driver_sql(ddl)
                # A replica made before sorting: built once, not pulled again. One look at
                # the catalogue, not a reflection per table (which SQLite's expression
                # indexes make warn).
                present = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars())
                for index in SORT_INDEXES:
                    if index.name not in present:
                        index.create(conn)
            found = conn.scalar(select(_state.c.value).where(_state.c.key == "workstation_id"))
            if found is None:
                found = str(uuid.uuid4())
                conn.execute(insert(_state).values(key="workstation_id", value=found))
        self.workstation_id: str = found
        self._move_unowned_to_issues()

    def _move_unowned_to_issues(self) -> None:
        """Changes queued before authors were recorded are never sent under whoever
        signs in next: they become Sync issues, which a person resolves as themselves."""
        with self.engine.connect() as conn:
            unowned = list(conn.scalars(select(_outbox.c.op_id).where(_outbox.c.author_id.is_(None))))
        if unowned:
            from ..commands import CommandResult, Status
            self.record_results([CommandResult(op_id=op_id, status=Status.REJECTED, reason=UNOWNED_REASON)
                                 for op_id in unowned])

    @classmethod
    def for_server(cls, server_url: str) -> LocalStore:
        """The store of ``server_url`` in the user data directory (one file per server)."""
        return cls(store_path(server_url))

    @classmethod
    def for_embedded(cls) -> LocalStore:
        """The store of the app's own embedded server: one file, whatever port that
        server gets this time, since its database is the same from run to run."""
        return cls(config.data_dir() / "workstation" / "embedded.sqlite3")

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r})"

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    def _read(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # ------------------------------------------------------------------ reading

    def search(self, q: str, limit: int = 50, cursor: str | None = None, sort: MemberSort | None = None) -> MemberPage:
        """The server's member search over the replicated directory (sorted alike,
        ``sort``), with queued changes laid over the rows they touch."""
        with self._read() as session, session.begin():
            page = search_members(session, q, limit, cursor, sort=sort)
            items = _summaries(session, page.rows)
        return MemberPage(items=items, total=page.total, total_exact=page.total_exact, next_cursor=page.next_cursor)

    def likely_duplicates(self, check: DuplicateCheckIn) -> DuplicateList:
        """The server's likely-duplicates check over the replicated directory (members
        registered here and still pending included), queued changes laid over the rows."""
        with self._read() as session, session.begin():
            found = likely_duplicates(session, email=check.email, first_name=check.first_name,
                                      last_name=check.last_name, postcode=check.postcode)
            summaries = _summaries(session, [d.member for d in found])
        return DuplicateList(items=[LikelyDuplicate(member=summary, reasons=[r.value for r in d.reasons])
                                    for summary, d in zip(summaries, found, strict=True)])

    def has_provisional(self) -> bool:
        """Whether members registered here still wait for the server's numbers."""
        with self.engine.connect() as conn:
            return bool(conn.scalar(select(func.count()).where(_member.c.id < 0)))

    def member_detail(self, member_id: int) -> MemberDetail | None:
        """The member as this workstation knows it, queued changes laid over; None if
        it knows nothing of them. ``detail_cached`` is False when only the directory
        row is known (portal users and pending transactions are then unknown)."""
        with self._read() as session, session.begin():
            member = session.scalars(
                select(Member).where(Member.id == member_id).options(selectinload(Member.addresses))
            ).one_or_none()
            row = _member_values(member) if member is not None else None
            cached = session.get(CachedDetail, member_id)
            cached_detail = dict(cached.detail) if cached is not None else None
            queued = _queued_by_member(session.connection(), [member_id]).get(member_id, [])
            applied = _applied_by_member(session.connection(), [member_id]).get(member_id, [])
        if row is None and cached_detail is None:
            return None
        values: dict[str, Any]
        if cached_detail is not None and (row is None or cached_detail.get("version", 0) > row["version"]):
            values = cached_detail
        else:
            assert row is not None
            values = {**row, "users": [], "pending_transactions": []}
            if cached_detail is not None:
                values["users"] = cached_detail.get("users", [])
                values["pending_transactions"] = cached_detail.get("pending_transactions", [])
        known_ids = {a.get("kind"): a.get("id", 0) for a in values.get("addresses", [])}
        values = _laid_over(values, applied, queued)
        values["addresses"] = [{"id": known_ids.get(a.get("kind"), 0), **a} for a in values.get("addresses", [])]
        values["pending_changes"] = [command.summary() for command in queued]
        values["detail_cached"] = cached_detail is not None
        return MemberDetail.model_validate(values)

    def has_full_detail(self, member_id: int) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).where(_cached.c.member_id == member_id)) == 1

    def remember_detail(self, detail: MemberDetail) -> None:
        """Keep a detail fetched online, for use offline."""
        data = detail.model_dump(mode="json", exclude={"pending_changes", "detail_cached"})
        with self._write() as conn:
            conn.execute(delete(_cached).where(_cached.c.member_id == detail.id))
            conn.execute(insert(_cached).values(member_id=detail.id, detail=data, fetched_at=dt.datetime.now(dt.UTC)))

    def cached_detail_ids(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.scalars(select(_cached.c.member_id)))

    def cursor(self) -> int:
        with self.engine.connect() as conn:
            return _cursor(conn)

    def epoch(self) -> str | None:
        """The epoch of the feed the directory came from (None before the first page)."""
        with self.engine.connect() as conn:
            return conn.scalar(select(_state.c.value).where(_state.c.key == "epoch"))

    def forget_directory(self) -> None:
        """Drop the replicated directory and kept details and start the feed from 0 (the
        server's database was reset or replaced). Queued changes and sync issues stay:
        they are the person's work, and go to the server like any others."""
        with self._write() as conn:
            _forget_directory(conn)

    # ------------------------------------------------------------------ the outbox

    def enqueue(self, command: Command, author: Author) -> Command:
        """Queue ``command``, made by ``author`` (one transaction); the command as
        queued. ValueError, in plain words, if it is not valid or breaks a rule this
        workstation can already check. A registration (``AddMember``) gets the next
        free provisional member id, and the new member's provisional row in the
        directory (shown as pending until the server registers it)."""
        with self._write() as conn:
            return self._enqueue(conn, command, author)

    def _enqueue(self, conn: Connection, command: Command, author: Author, *, keep_id: bool = False) -> Command:
        from ..commands import AddMember, Command, Rejected, parse_command
        if not isinstance(author, Author):
            raise TypeError(f"a queued change needs its author, not {author!r}")
        if not isinstance(command, Command):
            raise TypeError(f"not a command: {command!r}")
        try:
            checked = parse_command(command.payload())
        except ValidationError as exc:
            raise ValueError(_errors_in_words(exc)) from None
        if checked.origin is None:
            checked = checked.model_copy(update={"origin": self.workstation_id})
        if isinstance(checked, AddMember) and not keep_id:
            checked = checked.model_copy(update={"member_id": _next_provisional_id(conn)})
        values = _member_values_conn(conn, checked.member_id)
        if values is not None:
            values = _laid_over(values, _applied_by_member(conn, [checked.member_id]).get(checked.member_id, []),
                                _queued_by_member(conn, [checked.member_id]).get(checked.member_id, []))
            try:
                checked.check(_transient_member(values))
            except Rejected as exc:
                raise ValueError(exc.reason) from None
        op_id = str(checked.op_id)
        taken = conn.scalar(select(func.count()).where(_outbox.c.op_id == op_id)) or conn.scalar(
            select(func.count()).where(_issue.c.op_id == op_id)
        )
        if taken:
            raise ValueError(f"this change ({op_id}) is already queued")
        conn.execute(
            insert(_outbox).values(
                op_id=op_id, member_id=checked.member_id, kind=checked.kind, payload=checked.payload(),
                created_at=dt.datetime.now(dt.UTC), author_id=author.user_id, author_username=author.username,
            )
        )
        if isinstance(checked, AddMember) and _member_values_conn(conn, checked.member_id) is None:
            _write_provisional(conn, checked)
        return checked

    def pending_count(self, author_id: int | None = None) -> int:
        """Queued changes: all of them, or only those of ``author_id``."""
        query = select(func.count()).select_from(_outbox)
        if author_id is not None:
            query = query.where(_outbox.c.author_id == author_id)
        with self.engine.connect() as conn:
            return conn.scalar(query) or 0

    def queued(self, limit: int = 200, *, author_id: int | None = None) -> list[Command]:
        """The oldest ``limit`` queued commands, in the order they were typed. With
        ``author_id``: only the ones that person may send now — theirs, not behind an
        earlier queued change of someone else for the same member, and not for a member
        registered here that the server has not registered yet."""
        from ..commands import parse_command
        query = select(_outbox.c.payload).order_by(_outbox.c.seq).limit(limit)
        if author_id is not None:
            # A change to a member registered here waits until the registration is
            # answered and has re-keyed it with the server's id.
            query = query.where(or_(_outbox.c.member_id > 0, _outbox.c.kind.in_(_create_kinds())))
            earlier = _outbox.alias("earlier")
            query = query.where(
                _outbox.c.author_id == author_id,
                ~exists().where(and_(
                    earlier.c.member_id == _outbox.c.member_id, earlier.c.seq < _outbox.c.seq,
                    or_(earlier.c.author_id.is_(None), earlier.c.author_id != author_id),
                )),
            )
        with self.engine.connect() as conn:
            return [parse_command(p) for p in conn.scalars(query)]

    def waiting_for(self, author_id: int | None) -> tuple[tuple[str, int], ...]:
        """``(username, count)`` of the queued changes of people other than
        ``author_id``, oldest first: they wait for their authors to sign in here.
        Nothing while nobody is known to be signed in (``author_id`` None)."""
        if author_id is None:
            return ()
        query = (
            select(_outbox.c.author_username, func.count(), func.min(_outbox.c.seq))
            .where(_outbox.c.author_id.is_not(None), _outbox.c.author_id != author_id)
            .group_by(_outbox.c.author_id, _outbox.c.author_username)
            .order_by(func.min(_outbox.c.seq))
        )
        with self.engine.connect() as conn:
            return tuple((name, int(count)) for name, count, _ in conn.execute(query))

    def record_results(self, results: Sequence[CommandResult]) -> RecordedResults:
        """Record the server's answers in one transaction: applied (and duplicates of
        applied) leave the outbox; conflicts and rejections move to the Sync issues."""
        from ..commands import Status, parse_command
        recorded = RecordedResults()
        if not results:
            return recorded
        now = dt.datetime.now(dt.UTC)
        with self._write() as conn:
            op_ids = [r.op_id for r in results]
            entries = {
                row.op_id: row for row in conn.execute(select(_outbox).where(_outbox.c.op_id.in_(op_ids)))
            }
            # Applied commands leave the outbox together (a run of them: three statements
            # in all, not three each); anything else first sees the outbox without them.
            applied: list[tuple[Any, int | None]] = []
            for result in results:
                entry = entries.pop(result.op_id, None)
                if entry is None:  # already recorded (an answer seen twice)
                    continue
                status = result.status
                if status is Status.DUPLICATE:
                    status = result.original_status or Status.APPLIED
                recorded.member_ids.add(entry.member_id)
                creates = entry.kind in _create_kinds() and entry.member_id < 0 and result.member_id is not None
                if status is Status.APPLIED and not creates:
                    recorded.applied.append(result.op_id)
                    applied.append((entry, result.member_version))
                    continue
                _leave_outbox(conn, applied)
                conn.execute(delete(_outbox).where(_outbox.c.seq == entry.seq))
                if status is Status.APPLIED:
                    recorded.applied.append(result.op_id)
                    assert result.member_id is not None
                    _rekey(conn, entry.member_id, result.member_id, result.member_no or "")
                    recorded.rekeyed[entry.member_id] = result.member_id
                    recorded.member_ids.add(result.member_id)
                    continue
                command = parse_command(entry.payload)
                values = _member_values_conn(conn, command.member_id) or {}
                theirs = dict(result.server_values) if result.server_values else field_values(
                    values, command.changed_fields()
                )
                for earlier in _queued_by_member(conn, [command.member_id], before=entry.seq).get(command.member_id, []):
                    values = earlier.preview(values)
                mine_values = field_values(command.preview(values), command.changed_fields())
                conn.execute(
                    insert(_issue).values(
                        op_id=result.op_id,
                        member_id=command.member_id,
                        member_no=values.get("member_no", ""),
                        name=values.get("name", ""),
                        kind=command.kind,
                        summary=command.summary(),
                        status=status.value,
                        reason=result.reason or _default_reason(status, theirs),
                        mine={"command": entry.payload, "values": mine_values},
                        theirs=theirs,
                        server_version=result.member_version,
                        created_at=now,
                    )
                )
                recorded.issues.append(result.op_id)
            _leave_outbox(conn, applied)
        return recorded

    # ------------------------------------------------------------------ Sync issues

    def issues(self) -> list[SyncIssue]:
        """The open Sync issues, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_issue).where(_issue.c.resolution.is_(None)).order_by(_issue.c.id))
            return [
                SyncIssue(
                    id=r.id, op_id=r.op_id, member_id=r.member_id, member_no=r.member_no, name=r.name, kind=r.kind,
                    summary=r.summary, status=r.status, reason=r.reason, mine=dict(r.mine), theirs=dict(r.theirs),
                    created_at=_aware(r.created_at) or dt.datetime.now(dt.UTC),
                )
                for r in rows
            ]

    def issue_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).where(_issue.c.resolution.is_(None))) or 0

    def resolve_issue(
        self, issue_id: int, choice: Resolution, edited: Command | None = None, *, author: Author | None = None
    ) -> Command | None:
        """Close an issue: ``keep_mine`` queues the same change again as a new command
        based on the server's current version; ``take_theirs`` just closes it; ``edit``
        queues ``edited``. The issue is kept, marked with the choice. Returns the
        command queued, if any. A change queued again is ``author``'s: the person who
        chose to send it (whoever made the first one)."""
        from ..commands import parse_command
        if choice not in ("keep_mine", "take_theirs", "edit"):
            raise ValueError(f"unknown choice {choice!r}")
        if choice != "take_theirs" and author is None:
            raise ValueError(f"choose {choice!r} as someone: the change queued again needs its author")
        with self._write() as conn:
            row = conn.execute(select(_issue).where(_issue.c.id == issue_id)).one_or_none()
            if row is None:
                raise ValueError(f"there is no sync issue {issue_id}")
            if row.resolution is not None:
                raise ValueError("this sync issue was already resolved")
            queued: Command | None = None
            if choice == "keep_mine":
                payload = dict(row.mine["command"])
                known = _member_values_conn(conn, row.member_id)
                versions = [v for v in (row.server_version, known["version"] if known else None) if v]
                payload["op_id"] = str(uuid.uuid4())
                if payload.get("base_version") is not None and versions:
                    payload["base_version"] = max(versions)
                assert author is not None
                queued = self._enqueue(conn, parse_command(payload), author, keep_id=True)
            elif choice == "edit":
                if edited is None:
                    raise ValueError("choose 'edit' with the edited change")
                if edited.member_id != row.member_id:
                    raise ValueError("the edited change is for another member")
                assert author is not None
                queued = self._enqueue(conn, edited, author)
            elif row.kind in _create_kinds() and row.member_id < 0:
                _drop_provisional(conn, row.member_id)
            conn.execute(
                update(_issue).where(_issue.c.id == issue_id).values(
                    resolution=choice, resolved_at=dt.datetime.now(dt.UTC),
                    resolved_op_id=str(queued.op_id) if queued is not None else None,
                )
            )
            return queued

    # ------------------------------------------------------------------ the feed

    def apply_feed(self, page: FeedPage | CompactFeedPage) -> set[int]:
        """Write a pulled page and its cursor in one transaction; the changed member ids.

        Raises :class:`FeedFormatError` (nothing written) for a page this app cannot store."""
        compact = page if isinstance(page, CompactFeedPage) else compact_page(page)
        width = len(compact.member_columns)
        members = table_rows(_member, tuple(compact.member_columns), (("field_versions", "{}"),))
        searches = table_rows(_search, ("member_id", *compact.search_columns))
        addresses = table_rows(_address, tuple(compact.address_columns))
        try:
            id_at, version_at = members.names.index("id"), members.names.index("version")
        except ValueError:
            raise FeedFormatError("the member rows lack their id or version") from None
        member_rows = members.convert(row[:width] for row in compact.members)
        search_rows = [[row[id_at], *row[width:]] for row in compact.members
                       if compact.search_columns and row[width] is not None]
        address_rows = addresses.convert(compact.addresses)
        versions = {row[id_at]: row[version_at] for row in member_rows}
        ids = sorted({*versions, *compact.deleted})
        if not all(isinstance(member_id, int) for member_id in ids):
            raise FeedFormatError("a member id that is not a number")
        listed = json.dumps(ids)
        with self._write() as conn:
            if compact.has_more and _cursor(conn) == 0:
                _defer_search_index(conn)  # the first page of a first sync (see below)
            # One bound list a statement (json_each), not thousands of parameters.
            for table, key in ((_search, "member_id"), (_address, "member_id"), (_member, "id")):
                conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE {key} IN (SELECT value FROM json_each(?))",
                                     (listed,))
            # The driver's own executemany of the arrays as they came (SQLAlchemy's
            # would want each row a tuple): pages of thousands of rows, no per-row overhead.
            cursor = conn.connection.cursor()
            if member_rows:
                cursor.executemany(members.sql, member_rows)
            crash_point("pull.mid_page")
            if address_rows:
                cursor.executemany(addresses.sql, address_rows)
            if search_rows:
                cursor.executemany(searches.sql, search_rows)
            cursor.close()
            # The feed now holds what they did. Only the few members with applied
            # changes still laid over are looked at (one query a page, not one a member:
            # a first sync of 1,000,000 members has none).
            laid_over = conn.exec_driver_sql(
                "SELECT DISTINCT member_id FROM applied_change WHERE member_id IN (SELECT value FROM json_each(?))",
                (listed,)).scalars().all()
            for member_id in laid_over:
                done = _applied.c.member_id == member_id
                if member_id in versions:
                    done = and_(done, _applied.c.member_version <= versions[member_id])
                conn.execute(delete(_applied).where(done))
            if compact.cursor > _cursor(conn):
                _set_state(conn, "cursor", str(compact.cursor))
            if compact.epoch is not None:
                _set_state(conn, "epoch", compact.epoch)
        if not compact.has_more:
            self._build_owed_indexes()
        return set(ids)

    def _build_owed_indexes(self) -> None:
        """After a first sync's last page: the indexes it deferred, each in a transaction
        of its own, then the FTS index (nothing when none is owed). A change queued
        meanwhile waits for one index to be built, not for all of them; a build killed
        half-way resumes with the indexes not yet there, at the next pull."""
        with self._write() as conn:
            missing = _missing_indexes(conn)
        if missing is None:
            return
        for sql in missing:
            with self._write() as conn:
                conn.exec_driver_sql(sql)
            crash_point("pull.mid_index_build")
        with self._write() as conn:
            _build_search_index(conn)


# ---------------------------------------------------------------------- helpers


def add_missing_columns(conn: Connection, table: Table) -> None:
    """Columns a newer version of this app added to a local-only table are added to a
    file made by an older one (``create_all`` makes only missing tables). Existing rows
    get the column's default (NULL when it has none)."""
    have = {column["name"] for column in inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name in have:
            continue
        kind = column.type.compile(dialect=conn.dialect)
        default = getattr(column.default, "arg", None)
        if default is not None and not callable(default):
            literal = f"'{default}'" if isinstance(default, str) else str(int(default))
            kind += f" NOT NULL DEFAULT {literal}"
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")


def replica_fingerprint(details: type[BaseModel] = MemberDetail) -> str:
    """What the replica's layout depends on: the entity tables' DDL, the FTS set-up,
    the kept details' schema, and the format of the values stored (bump
    ``_REPLICA_FORMAT`` when a value is stored differently, as search keys were).

    The details' schema counts without its descriptions: they are the docstrings of the
    schemas and enums, and a reworded docstring must not cost every workstation a new pull
    of the whole directory (docs/decisions/0046)."""
    parts = [str(CreateTable(t).compile(dialect=sqlite_dialect())) for t in _ENTITY_TABLES]
    shape = json.dumps(without_descriptions(details.model_json_schema()), sort_keys=True)
    parts += [*SQLITE_FTS_DDL, shape, _REPLICA_FORMAT]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def without_descriptions(schema: Any) -> Any:
    """A JSON schema without its ``description`` texts, at every level."""
    if isinstance(schema, dict):
        return {key: without_descriptions(value) for key, value in schema.items() if key != "description"}
    if isinstance(schema, list):
        return [without_descriptions(value) for value in schema]
    return schema


#: Version of how replica values are stored (2: member_search.member_no normalised).
_REPLICA_FORMAT = "2"
#: A store whose replica was laid out otherwise (an older version of the app) drops it
#: and pulls the directory again; the outbox and the Sync issues are kept.
REPLICA_SCHEMA = replica_fingerprint()
#: Fingerprints that versions before 0046 wrote, when the descriptions counted, for the
#: layout they share with the fingerprint they map to: a replica with one of them is kept
#: and marked anew, not pulled again. Once the layout changes, REPLICA_SCHEMA is another
#: value and they no longer apply.
_SAME_LAYOUT: dict[str, frozenset[str]] = {
    # 5cadf2…: up to da4b65c; 0fc9df…: 2e8c811, whose only change was a docstring.
    "c585cbeab240a092": frozenset({"5cadf2aea90d8f96", "0fc9df2c234d03af"}),
}


def _rebuild_replica(conn: Connection) -> None:
    conn.exec_driver_sql("DROP TABLE IF EXISTS member_fts")
    Member.metadata.drop_all(conn, tables=_ENTITY_TABLES)
    Member.metadata.create_all(conn, tables=_ENTITY_TABLES)
    for ddl in SQLITE_FTS_DDL:
        conn.exec_driver_sql(ddl)
    # Made afresh, indexes and triggers with them: nothing an interrupted first sync owed.
    conn.execute(delete(_state).where(_state.c.key.in_(_OWED_KEYS)))
    _forget_directory(conn)
    _set_state(conn, "replica_schema", REPLICA_SCHEMA)


# ---------------------------------------------------------------------- the indexes during a first sync
#
# The FTS5 trigram index (``member_fts``) is kept in step with ``member_search`` by
# triggers, row by row, and the replica's secondary indexes (sorting, name and e-mail
# keys) take each row as it comes: on a first sync that is most of the time spent. The
# rows arrive in member order and their keys in no order, so every page writes into
# every part of every index, and once the indexes outgrow the page cache each page costs
# more than the last (bench/sync.py: 200,000 members load in 10 s without them, 44 s
# with them; decision 0043). So the first page of a first sync drops the FTS triggers
# and those indexes, the pages load the rows alone, and after the last page the indexes
# are built (a sort each, a transaction each), then the FTS index from the rows, and
# the triggers come back. A state key says a build is owed and which indexes: a sync
# killed between pages, or while building, resumes and builds what is missing at its end. Until then a search finds
# the pulled members by member ID (its index is kept, as is the address rows' member
# index that each page's replacement of rows uses), not yet by name or e-mail, and a
# sorted list reads the table instead of an index.

#: The state key a first sync sets while it owes the indexes: the (name, SQL) of those
#: it dropped, as JSON (the FTS index is owed with them).
_INDEXES_OWED = "indexes_owed"
#: What versions before decision 0043 set instead ("1": the FTS index alone is owed).
_SEARCH_INDEX_OWED = "search_index_owed"
_OWED_KEYS = (_INDEXES_OWED, _SEARCH_INDEX_OWED)
#: Kept through a first sync: what the pages themselves and an ID search look rows up by.
_KEPT_DURING_FIRST_SYNC = frozenset({"ix_member_search_member_no", "ix_address_member_id"})
_DEFERRED_TABLES = frozenset({"member", "member_search", "address"})
#: The replica's indexes with their SQL (a constraint's own index has none), for
#: :func:`deferred_indexes`.
INDEXES_SQL = "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"


def deferred_indexes(indexes: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """Of the (name, table, SQL) rows of :data:`INDEXES_SQL`, the (name, SQL) of those a
    first sync builds at its end: plain indexes of the directory's tables (a UNIQUE one
    checks what is written) but the ones it looks rows up by."""
    return [(name, sql) for name, table, sql in indexes
            if table in _DEFERRED_TABLES and name not in _KEPT_DURING_FIRST_SYNC
            and not sql.upper().startswith("CREATE UNIQUE")]


def _owed_indexes(conn: Connection) -> list[tuple[str, str]] | None:
    """The (name, SQL) of the indexes a first sync owes; None when it owes no build."""
    owed = dict(conn.execute(select(_state.c.key, _state.c.value).where(_state.c.key.in_(_OWED_KEYS))).all())
    if not owed:
        return None
    return [(name, sql) for name, sql in json.loads(owed.get(_INDEXES_OWED) or "[]")]


def _index_build_owed(conn: Connection) -> bool:
    return _owed_indexes(conn) is not None


def _missing_indexes(conn: Connection) -> list[str] | None:
    """The SQL of the owed indexes not built yet; None when no build is owed."""
    owed = _owed_indexes(conn)
    if owed is None:
        return None
    built = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars())
    return [sql for name, sql in owed if name not in built]


def _defer_search_index(conn: Connection) -> None:
    triggers = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'member_search'").scalars().all()
    for name in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    deferred = deferred_indexes(conn.exec_driver_sql(INDEXES_SQL).all())
    for name, _ in deferred:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    _set_state(conn, _INDEXES_OWED, json.dumps(deferred))


def _build_search_index(conn: Connection) -> None:
    """The FTS index from the rows, its triggers back, and nothing owed any more."""
    conn.exec_driver_sql("INSERT INTO member_fts (member_fts) VALUES ('rebuild')")
    for ddl in SQLITE_FTS_DDL:
        conn.exec_driver_sql(ddl)  # IF NOT EXISTS: the table stays, the triggers come back
    conn.execute(delete(_state).where(_state.c.key.in_(_OWED_KEYS)))


def _build_deferred_search_index(conn: Connection) -> None:
    """What a first sync owes, all in this transaction (of an emptied directory: quick)."""
    missing = _missing_indexes(conn)
    if missing is not None:
        for sql in missing:
            conn.exec_driver_sql(sql)
        _build_search_index(conn)


def _forget_directory(conn: Connection) -> None:
    from ..commands import AddMember, parse_command
    for table in (_search, _address, _member, _cached, _applied):
        conn.execute(delete(table))
    _build_deferred_search_index(conn)  # of the now empty rows: a first sync starts afresh
    _set_state(conn, "cursor", "0")
    conn.execute(delete(_state).where(_state.c.key == "epoch"))
    # Members registered here and not yet on the server are the person's work, not the
    # server's directory: their provisional rows come back from the outbox.
    for payload in conn.scalars(select(_outbox.c.payload).where(_outbox.c.kind.in_(_create_kinds()))
                                .order_by(_outbox.c.seq)):
        command = parse_command(payload)
        if isinstance(command, AddMember) and _member_values_conn(conn, command.member_id) is None:
            _write_provisional(conn, command)


# ---------------------------------------------------------------------- provisional members

@functools.cache
def _create_kinds() -> tuple[str, ...]:
    """The kinds that register a member (the only ones sent for a provisional member id)."""
    from ..commands import Command, kinds
    return tuple(kind for kind, cls in kinds(queueable=True).items() if issubclass(cls, Command) and cls.creates)


def provisional_member_no(member_id: int) -> str:
    """What a member registered here is numbered until the server registers it."""
    return f"PENDING-{-member_id}"


def _next_provisional_id(conn: Connection) -> int:
    """-1, -2, …: never used twice on this workstation (a dialog or an issue may still
    name an earlier one), never a server id."""
    last = conn.scalar(select(_state.c.value).where(_state.c.key == "last_provisional_id"))
    lowest = min(int(last or 0), conn.scalar(select(func.min(_member.c.id))) or 0,
                 conn.scalar(select(func.min(_outbox.c.member_id))) or 0)
    member_id = min(lowest, 0) - 1
    _set_state(conn, "last_provisional_id", str(member_id))
    return member_id


def _write_provisional(conn: Connection, command: AddMember) -> None:
    """The provisional directory row of a member registered here (with its search row:
    the ORM's flush hook writes it, as on the server)."""
    number = provisional_member_no(command.member_id)
    member = Member(id=command.member_id, member_no=number, logon_id=number.lower(), status=MemberStatus.ENROLLED,
                    version=1, field_versions={}, **command.member_values())
    for kind, address in command.addresses().items():
        member.addresses.append(Address(kind=kind, **address.as_dict()))
    with Session(bind=conn) as session:
        session.add(member)
        session.flush()


#: Why a change to a member registered here waits no more (its registration was dropped).
DROPPED_REGISTRATION = ("The new member this change was for was not registered: the registration was "
                        "dropped in Sync issues. Register the member again to make this change.")


def _drop_provisional(conn: Connection, member_id: int) -> None:
    """A refused registration was dropped ("take theirs"): its provisional member leaves
    the directory, and the changes queued to it become Sync issues (never lost silently)."""
    from ..commands import Status, parse_command
    values = _member_values_conn(conn, member_id) or {}
    now = dt.datetime.now(dt.UTC)
    for entry in conn.execute(select(_outbox).where(_outbox.c.member_id == member_id).order_by(_outbox.c.seq)):
        command = parse_command(entry.payload)
        conn.execute(insert(_issue).values(
            op_id=entry.op_id, member_id=member_id, member_no=values.get("member_no", ""),
            name=values.get("name", ""), kind=entry.kind, summary=command.summary(), status=Status.REJECTED.value,
            reason=DROPPED_REGISTRATION, mine={"command": entry.payload, "values": {}}, theirs={},
            server_version=None, created_at=now,
        ))
        conn.execute(delete(_outbox).where(_outbox.c.seq == entry.seq))
    _delete_member_rows(conn, member_id)


def _delete_member_rows(conn: Connection, member_id: int) -> None:
    for table, column in ((_search, _search.c.member_id), (_address, _address.c.member_id), (_member, _member.c.id)):
        conn.execute(delete(table).where(column == member_id))


def _rekey(conn: Connection, old: int, new: int, member_no: str) -> None:
    """The server registered provisional member ``old`` as ``new`` (``member_no``):
    every queued change, sync issue and kept change follows it, and so does its
    directory row (the feed then brings the server's own), in the caller's transaction."""
    for seq, payload in conn.execute(select(_outbox.c.seq, _outbox.c.payload).where(_outbox.c.member_id == old)):
        conn.execute(update(_outbox).where(_outbox.c.seq == seq)
                     .values(member_id=new, payload={**payload, "member_id": new}))
    for issue_id, mine in conn.execute(select(_issue.c.id, _issue.c.mine).where(_issue.c.member_id == old)):
        mine = {**mine, "command": {**mine.get("command", {}), "member_id": new}}
        conn.execute(update(_issue).where(_issue.c.id == issue_id).values(member_id=new, member_no=member_no, mine=mine))
    conn.execute(update(_applied).where(_applied.c.member_id == old).values(member_id=new))
    conn.execute(delete(_cached).where(_cached.c.member_id == old))
    if conn.scalar(select(func.count()).where(_member.c.id == new)):
        # The feed brought the server's row first (pulled under a colleague's session).
        _delete_member_rows(conn, old)
        return
    conn.execute(update(_member).where(_member.c.id == old).values(id=new, member_no=member_no))
    conn.execute(update(_address).where(_address.c.member_id == old).values(member_id=new))
    conn.execute(update(_search).where(_search.c.member_id == old).values(member_id=new,
                                                                          member_no=normalize(member_no)))


def store_path(server_url: str) -> Path:
    url = normalize_server_url(server_url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.split("://", 1)[1]).strip("-")[:60]
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return config.data_dir() / "workstation" / f"{slug}-{digest}.sqlite3"


def _cursor(conn: Connection) -> int:
    value = conn.scalar(select(_state.c.value).where(_state.c.key == "cursor"))
    return int(value) if value is not None else 0


def _set_state(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(_state).where(_state.c.key == key))
    conn.execute(insert(_state).values(key=key, value=value))


def _default_reason(status: Status, theirs: dict[str, Any]) -> str:
    from ..commands import Status
    if status is Status.CONFLICT:
        return f"Changed on the server in the meantime: {', '.join(sorted(theirs)) or 'the same fields'}."
    return "The server refused this change."


def _address_values(address: Any) -> dict[str, Any]:
    kind = address.kind
    return {
        "id": address.id, "kind": getattr(kind, "value", kind),
        **{k: getattr(address, k) or "" for k in _ADDRESS_FIELDS},
    }


def _summary_values(values: dict[str, Any]) -> dict[str, Any]:
    values["name"] = " ".join(p for p in (values.get("first_name"), values.get("last_name")) if p)
    home = next((a for a in values["addresses"] if a["kind"] == "home"), None)
    if home is None and values["addresses"]:
        home = values["addresses"][0]
    values["postcode"] = home["postcode"] if home is not None else ""
    return values


def _member_values(member: Member) -> dict[str, Any]:
    """A member's values as plain data: the record fields, name, postcode, addresses."""
    values = {name: getattr(member, name) for name in _RECORD_FIELDS}
    values["addresses"] = [_address_values(a) for a in sorted(member.addresses, key=lambda a: a.id)]
    return _summary_values(values)


def _summaries(session: Session, members: Sequence[Member]) -> list[MemberSummary]:
    """Search rows for these members, with their queued (and kept) changes laid over."""
    rows = [_member_values(member) for member in members]
    ids = [row["id"] for row in rows]
    queued = _queued_by_member(session.connection(), ids)
    applied = _applied_by_member(session.connection(), ids)
    items = []
    for values in rows:
        commands = queued.get(values["id"], [])
        values = _laid_over(values, applied.get(values["id"], []), commands)
        items.append(MemberSummary.model_validate({**values, "pending_changes": len(commands)}))
    return items


def _member_values_conn(conn: Connection, member_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(_member).where(_member.c.id == member_id)).one_or_none()
    if row is None:
        return None
    values = {name: getattr(row, name) for name in _RECORD_FIELDS}
    values["addresses"] = [
        _address_values(a)
        for a in conn.execute(select(_address).where(_address.c.member_id == member_id).order_by(_address.c.id))
    ]
    return _summary_values(values)


def _parse_command(payload: dict[str, Any]) -> Command:
    """A stored command's payload as its command (the command classes load here, on first
    use: a start with nothing queued never needs them, decision 0044)."""
    from ..commands import parse_command

    return parse_command(payload)


def _queued_by_member(
    conn: Connection, member_ids: Sequence[int], *, before: int | None = None
) -> dict[int, list[Command]]:
    """The queued commands of these members, in order (only those queued before the
    outbox entry ``before``, if given)."""
    out: dict[int, list[Command]] = defaultdict(list)
    for chunk in _chunks(list(member_ids)):
        query = select(_outbox.c.member_id, _outbox.c.payload).where(_outbox.c.member_id.in_(chunk))
        if before is not None:
            query = query.where(_outbox.c.seq < before)
        rows = conn.execute(query.order_by(_outbox.c.seq))
        for member_id, payload in rows:
            out[member_id].append(_parse_command(payload))
    return out


@dataclass(frozen=True)
class _Applied:
    command: Command
    member_version: int


def _applied_by_member(conn: Connection, member_ids: Sequence[int]) -> dict[int, list[_Applied]]:
    """The applied commands still laid over these members' rows, in the order applied."""
    out: dict[int, list[_Applied]] = defaultdict(list)
    for chunk in _chunks(list(member_ids)):
        rows = conn.execute(
            select(_applied.c.member_id, _applied.c.payload, _applied.c.member_version)
            .where(_applied.c.member_id.in_(chunk)).order_by(_applied.c.id)
        )
        for member_id, payload, version in rows:
            out[member_id].append(_Applied(_parse_command(payload), version))
    return out


def _laid_over(values: dict[str, Any], applied: Sequence[_Applied], queued: Sequence[Command]) -> dict[str, Any]:
    """A member's known values with the applied changes its row does not hold yet (its
    version is older than theirs), then the queued changes, laid over."""
    known = int(values.get("version") or 0)
    for change in applied:
        if change.member_version > known:
            values = change.command.preview(values)
    for command in queued:
        values = command.preview(values)
    return values


def _leave_outbox(conn: Connection, applied: list[tuple[Any, int | None]]) -> None:
    """Take applied commands (outbox entries, each with the member version the server
    answered) out of the outbox, and keep each laid over until the feed brings that
    version; empties ``applied``."""
    if not applied:
        return
    conn.execute(delete(_outbox).where(_outbox.c.seq.in_([entry.seq for entry, _ in applied])))
    known = dict(conn.execute(select(_member.c.id, _member.c.version)
                              .where(_member.c.id.in_({entry.member_id for entry, _ in applied}))).all())
    now = dt.datetime.now(dt.UTC)
    kept = [{"op_id": entry.op_id, "member_id": entry.member_id, "payload": entry.payload,
             "member_version": version, "applied_at": now}
            for entry, version in applied
            # No version: nothing says when the directory catches up, so it goes now.
            if version is not None and (known.get(entry.member_id) is None or known[entry.member_id] < version)]
    if kept:
        conn.execute(insert(_applied), kept)
    applied.clear()


def _transient_member(values: dict[str, Any]) -> Member:
    """A detached Member with these values, for ``Command.check`` (never saved)."""
    member = Member(**{name: values[name] for name in _RECORD_FIELDS if name not in ("version",)})
    return member


__all__ = [
    "CRASH_ENV",
    "UNOWNED_REASON",
    "Author",
    "LocalStore",
    "RecordedResults",
    "Resolution",
    "SyncIssue",
    "add_missing_columns",
    "crash_point",
    "open_sqlite",
    "provisional_member_no",
    "store_path",
    "table_of",
]
