"""Runs a command once and only once, with field-level conflict detection.

``execute`` is what the server does with every command, pushed by a workstation or run
at once (``POST /commands``):

0. The actor's role must be at least the command's ``required_role``
   (:class:`NotPermitted` otherwise: nothing is stored, so the right person may still
   send the same op later).
1. An ``op_id`` seen before returns the stored result with status ``duplicate`` and
   applies nothing; the same ``op_id`` with another payload raises :class:`OpIdReused`.
2. The target (a member, or a user for :class:`UserCommand`) is locked, with the other
   members the command names (``also_locks``: a merge's survivor), in id order; a member command based on an older version conflicts only if one of
   the fields it writes was changed since that version (``Member.field_versions``);
   otherwise it applies on top (field-level merge). Deltas never conflict.
3. Business rules (``check_in``, by default ``check``) may reject it with a reason; a
   command whose ``apply`` may still reject it part-way runs in a savepoint, rolled
   back whole.
4. It applies, the fields it wrote get the member's new version, the action is audited
   with the real actor, and the result is stored under the ``op_id``.

All of it happens in the caller's transaction: commit once, or roll back everything.
A pushed batch runs its commands through :class:`Batch`, in one transaction: the
members locked and the stored results read once for all of them, and the hot kinds
written by a direct path of Core statements (docs/decisions/0039).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Update, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..models import AuditEvent, Member, User, record, utcnow
from ..models.audit import AuditValues, audit_values
from ..models.base import Base, table_of
from ..models.search import SEARCHED_FIELDS, member_postcodes, rewrite_search_rows, search_fields
from ..models.sync import ProcessedCommand
from .base import Actor, BaseCommand, Command, DirectChange, NotPermitted, RecordCommand, Rejected, UserCommand
from .member import FIXED_FIELDS
from .registry import kinds


def error_field(loc: tuple[int | str, ...], error_type: str = "") -> str:
    """A validation error's field as people name it: ``commands.2.delta`` rather than
    pydantic's ``commands.2.adjust_points.delta`` (the ``kind`` tag is left out, as in
    ``command.delta`` for ``POST /commands``), and
    ``….kind`` when the kind itself is missing or unknown."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        # A tag follows the union: a batch's index, ``command`` or nothing.
        tagged = index == 0 or isinstance(loc[index - 1], int) or loc[index - 1] == "command"
        if not (part in kinds() and tagged):
            parts.append(str(part))
    if error_type in ("union_tag_invalid", "union_tag_not_found"):
        parts.append("kind")
    return ".".join(parts)


def kind_message(error: Mapping[str, Any]) -> str | None:
    """Plain words for an unknown or missing ``kind``, or for a field no command may
    write (``logon_id``); None for other errors."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "extra_forbidden" and loc and loc[-1] in FIXED_FIELDS:
        return FIXED_FIELDS[str(loc[-1])]
    if error.get("type") == "union_tag_invalid":
        tag = (error.get("ctx") or {}).get("tag")
        return f"unknown kind {tag!r}: must be one of {', '.join(kinds())}"
    if error.get("type") == "union_tag_not_found":
        return f"is required: one of {', '.join(kinds())}"
    return None


class Status(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class CommandResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    op_id: str
    status: Status
    #: For a duplicate: what the first run's status was.
    original_status: Status | None = None
    #: The member's version after this command (applied) or as it is now (conflict).
    member_version: int | None = None
    reason: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    #: For a conflict: the server's current values of the conflicting fields.
    server_values: dict[str, Any] = Field(default_factory=dict)
    #: For a command that registers a member (``AddMember``): the server's id and
    #: member number for it (a workstation re-keys its provisional member with them).
    member_id: int | None = None
    member_no: str | None = None
    #: For a command on a record of its own (``RecordCommand``): the record's id.
    entity_id: int | None = None


class OpIdReused(ValueError):
    """The same op_id came with a different payload: a client bug, refused (422)."""


class ProvisionalMember(ValueError):
    """A command names a workstation's provisional member id (negative) that only its
    registration may carry: a client bug, refused (422) and not stored."""


def check_target(command: BaseCommand) -> None:
    """Raise :class:`ProvisionalMember` for a command on a provisional member id other
    than the member's registration (a workstation re-keys those before sending them)."""
    if isinstance(command, Command) and command.provisional and not command.creates:
        raise ProvisionalMember(
            f"member {command.member_id} is a provisional id of a workstation: send the member's "
            "registration first, then this change with the id the server gave it")


def field_value(member: Member, field: str) -> Any:
    if field.startswith("address."):
        kind = field.split(".", 1)[1]
        address = next((a for a in member.addresses if a.kind.value == kind), None)
        if address is None:
            return None
        return {k: getattr(address, k) for k in ("line1", "line2", "city", "region", "postcode", "country")}
    return getattr(member, field)


def _written_by_other(member: Member, field: str, command: Command) -> bool:
    """Was ``field`` written after the command's base version by someone else?"""
    stamp = member.field_versions.get(field)
    if not stamp or command.base_version is None:
        return False
    version, origin = stamp[0], stamp[1] if len(stamp) > 1 else None
    return isinstance(version, int) and version > command.base_version and (origin is None or origin != command.origin)


def lock_members(session: Session, ids: Iterable[int]) -> dict[int, Member]:
    """Lock these members (``SELECT … FOR UPDATE`` on PostgreSQL, in id order so two
    lockers cannot deadlock; SQLite's writer already holds the database) and load them."""
    locked = session.scalars(select(Member).where(Member.id.in_(sorted(set(ids)))).order_by(Member.id)
                             .with_for_update()).all()
    return {member.id: member for member in locked}


def execute(session: Session, command: BaseCommand, actor: Actor, batch: Batch | None = None) -> CommandResult:
    """Run ``command`` once, in the caller's transaction (see the module docstring).
    Within a pushed batch (``batch``), the members are already locked, the stored
    results already read, and a hot kind takes the direct path (:class:`Batch`).

    Raises :class:`NotPermitted` (nothing stored, nothing applied) when the actor's
    role may not run this kind, and :class:`OpIdReused` for a reused op_id."""
    reason = command.refusal(actor.role)
    if reason is not None:
        raise NotPermitted(reason)
    check_target(command)
    op_id = str(command.op_id)
    # Lock the target first: a concurrent run of the same op_id then waits here and,
    # once the first commits, finds its stored result below. A registration has no
    # target yet: a concurrent run of the same op_id meets the first one's stored
    # result at the unique op_id (IntegrityError; ``run_command`` retries and finds it).
    target: Member | User | None
    held = batch is not None and batch.holds(command)
    direct = batch if held and isinstance(command, Command) and command.direct() else None
    if isinstance(command, RecordCommand) or (isinstance(command, Command) and command.creates):
        target = None  # a record or a setting: its row is written by the command
    elif held:
        assert batch is not None
        target = batch.members[command.target_id]
    elif isinstance(command, Command):
        locked = lock_members(session, {command.target_id, *command.also_locks()})
        target = locked.get(command.target_id)
    else:
        # FOR NO KEY UPDATE: rows that merely reference the target (an audit event naming
        # a user as its actor) need not wait for this lock, so two commands on two users
        # that each name the other as actor cannot deadlock.
        target = session.scalars(
            select(User).where(User.id == command.target_id).with_for_update(key_share=True)
        ).one_or_none()
    digest = batch.digest(command) if batch is not None else command.digest()
    prior = batch.stored(op_id) if batch is not None else _stored(session, op_id)
    if prior is not None:
        if prior[0] != digest:
            raise OpIdReused(f"op_id {op_id} was already used for a different change")
        first = prior[1]
        return first.model_copy(update={"status": Status.DUPLICATE, "original_status": first.status})

    result: CommandResult
    if isinstance(command, Command) and command.creates:
        result = _create(session, command, actor)
    elif isinstance(command, RecordCommand):
        result = _run_record(session, command, actor)
    elif target is None:
        result = CommandResult(op_id=op_id, status=Status.REJECTED,
                               reason=f"no {command.target_type} with id {command.target_id}")
    elif isinstance(command, Command):
        assert isinstance(target, Member)
        result = _run(session, command, target, actor, direct)
    else:
        assert isinstance(command, UserCommand) and isinstance(target, User)
        result = _run_on_user(session, command, target, actor)
    stored = {
        "op_id": op_id,
        "kind": command.kind,
        "digest": digest,
        "entity": command.target_type,
        "entity_id": result.member_id if result.member_id is not None
        else result.entity_id if result.entity_id is not None else command.target_id,
        "actor_user_id": actor.user_id,
        "result": result.model_dump(mode="json"),
    }
    if direct is not None:
        # No other transaction can store this op_id before this one commits: it would
        # have to lock the member first. So the row waits for the batch's bulk insert
        # (a command on the ORM path stores its own, in its savepoint: rolled back with it).
        direct.add(ProcessedCommand, stored)
    else:
        session.add(ProcessedCommand(**stored))
    return result


def _stored(session: Session, op_id: str) -> tuple[str, CommandResult] | None:
    row = session.execute(select(ProcessedCommand.digest, ProcessedCommand.result)
                          .where(ProcessedCommand.op_id == op_id)).one_or_none()
    return None if row is None else (row.digest, CommandResult.model_validate(row.result))


@functools.cache
def _member_update(columns: frozenset[str]) -> Update:
    """The direct path's UPDATE of these member columns, checked against the version
    (built once a column set, so its compiled SQL is found in the cache at once)."""
    table = table_of(Member)
    return (update(table).where(table.c.id == bindparam("_id"), table.c.version == bindparam("_version"))
            .values({name: bindparam(name) for name in sorted(columns)}))


class Batch:
    """The commands of one pushed batch, run one after another in the caller's write
    transaction, each still its own outcome and each once (docs/decisions/0039).

    Made at the start of the transaction, it locks every member the commands name at
    once (in id order) and reads the stored results of all their op_ids in one
    statement. :meth:`run` runs each command in a SAVEPOINT of its own, so that a
    command that fails rolls back to it alone, except a hot kind (:meth:`Command.direct`: points, a
    contact edit without addresses) on a locked member, which takes the direct path: its
    member row is written by one UPDATE with the version check, and its ledger, audit
    and stored-result rows and its member search row are kept here and written in bulk
    by :meth:`flush` (executemany), which also runs before any other command so that
    rows stay in order. The caller flushes before it commits."""

    def __init__(self, session: Session, actor: Actor, commands: Sequence[BaseCommand],
                 digests: Sequence[str] | None = None) -> None:
        self.session, self.actor = session, actor
        self._digests = {str(c.op_id): d for c, d in
                         zip(commands, digests or [c.digest() for c in commands], strict=True)}
        ids: set[int] = set()
        for command in commands:
            if isinstance(command, Command) and not command.creates:
                ids.update((command.target_id, *command.also_locks()))
        self.locked_ids = frozenset(ids)
        self.members = lock_members(session, ids) if ids else {}
        rows = session.execute(select(ProcessedCommand.op_id, ProcessedCommand.digest, ProcessedCommand.result)
                               .where(ProcessedCommand.op_id.in_(sorted(self._digests))))
        self._stored = {op_id: (digest, CommandResult.model_validate(result)) for op_id, digest, result in rows}
        self._search_wanted = {c.target_id for c in commands
                               if isinstance(c, Command) and c.target_id in self.members
                               and c.direct() and c.changed_fields() & SEARCHED_FIELDS}
        self._postcodes: dict[int, list[str]] = {}
        self._pending: dict[type[Base], list[dict[str, Any]]] = {}
        self._search: dict[int, dict[str, str]] = {}
        #: A direct command failed part-way: only a rollback of the whole transaction
        #: leaves nothing half-applied (PostgreSQL refuses anything else until then).
        self.broken = False

    def holds(self, command: BaseCommand) -> bool:
        """Whether this batch has locked the command's member (and any other it names)."""
        return (isinstance(command, Command) and not command.creates and command.target_id in self.members
                and self.locked_ids.issuperset((command.target_id, *command.also_locks())))

    def digest(self, command: BaseCommand) -> str:
        return self._digests.get(str(command.op_id)) or command.digest()

    def stored(self, op_id: str) -> tuple[str, CommandResult] | None:
        """The digest and the result stored under ``op_id`` (earlier in this batch, too)."""
        return self._stored.get(op_id)

    def run(self, command: BaseCommand) -> CommandResult:
        """``execute`` the next command. A refusal by role is answered ``rejected`` and
        not stored (the right person may still send it).

        A command on the ORM path runs in a SAVEPOINT of its own: if it raises, it alone
        is rolled back and the exception propagates. A direct command runs without one
        (a savepoint costs more than the command itself): its one write is the member's
        UPDATE, a single statement, after every check; if it raises, :attr:`broken` is
        set and the caller must roll back the whole transaction."""
        op_id = str(command.op_id)
        direct = isinstance(command, Command) and command.direct() and self.holds(command)
        if not direct:
            self.flush()
        for attempt in range(2):
            try:
                with nullcontext() if direct else self.session.begin_nested():
                    result = execute(self.session, command, self.actor, batch=self)
                break
            except NotPermitted as exc:
                return CommandResult(op_id=op_id, status=Status.REJECTED, reason=exc.reason)
            except OpIdReused:
                raise  # found before anything is written
            except IntegrityError:
                # Another transaction stored this op_id meanwhile (no member to lock: a
                # registration, an unknown member); the retry reads its result.
                self.broken = direct
                if attempt or self.holds(command):
                    raise
                found = _stored(self.session, op_id)
                if found is not None:
                    self._stored[op_id] = found
            except Exception:
                self.broken = direct
                raise
        if not direct and isinstance(command, Command):
            self._postcodes.pop(command.target_id, None)  # the ORM may have changed its addresses
        self._stored[op_id] = (self.digest(command), result)
        return result

    def add(self, model: type[Base], values: dict[str, Any]) -> None:
        """A row for :meth:`flush` to insert."""
        self._pending.setdefault(model, []).append(values)

    def write_member(self, member: Member, change: DirectChange, field_versions: dict[str, Any]) -> None:
        """The direct path's write: one UPDATE of the member, checked against its
        version; the loaded member gets the new values as committed (so a later
        command of the batch reads them), and the change's rows and the member's
        search row wait for :meth:`flush`."""
        values: dict[str, Any] = {**change.values, "version": member.version + 1, "updated_at": utcnow()}
        if field_versions is not member.field_versions:
            values["field_versions"] = field_versions
        written = self.session.connection().execute(
            _member_update(frozenset(values)), {**values, "_id": member.id, "_version": member.version})
        if written.rowcount != 1:
            raise StaleDataError(f"member {member.id} changed under its lock (version {member.version})")
        for key, value in values.items():
            set_committed_value(member, key, value)
        for model, row in change.rows:
            self.add(model, row)
        if change.values.keys() & SEARCHED_FIELDS:
            self._search[member.id] = search_fields(member, self._member_postcodes(member.id))

    def _member_postcodes(self, member_id: int) -> list[str]:
        if member_id not in self._postcodes:
            wanted = {member_id} | (self._search_wanted - self._postcodes.keys())
            found = member_postcodes(self.session, wanted)
            self._postcodes.update({i: found.get(i, []) for i in wanted})
        return self._postcodes[member_id]

    def flush(self) -> None:
        """Write the rows the direct path kept: the search rows, then one insert a
        table (executemany)."""
        rewrite_search_rows(self.session, self._search)
        self._search = {}
        connection = self.session.connection() if self._pending else None
        for model, rows in self._pending.items():
            assert connection is not None
            connection.execute(insert(table_of(model)), rows)
        self._pending = {}


def _audit_of(command: BaseCommand, actor: Actor, details: dict[str, Any],
              entity_id: int | str | None = None) -> AuditValues:
    return AuditValues(
        actor_user_id=actor.user_id,
        actor_name=actor.username,
        action=command.action,
        entity_type=command.target_type,
        entity_id=command.target_id if entity_id is None else entity_id,
        details={"op_id": str(command.op_id), **details},
        impersonation_id=actor.impersonation_id,
        client_address=actor.client_address,
        origin=getattr(command, "origin", None) or "",
    )


def _audit(session: Session, command: BaseCommand, actor: Actor, details: dict[str, Any],
           entity_id: int | str | None = None) -> None:
    record(session, **_audit_of(command, actor, details, entity_id))


def _run_on_user(session: Session, command: UserCommand, user: User, actor: Actor) -> CommandResult:
    op_id = str(command.op_id)
    try:
        command.check(user, actor)
    except Rejected as exc:
        return CommandResult(op_id=op_id, status=Status.REJECTED, reason=exc.reason, fields=exc.fields)
    details = command.apply(session, user, actor)
    session.flush()
    _audit(session, command, actor, {"username": user.username, **details})
    return CommandResult(op_id=op_id, status=Status.APPLIED)


def _run_record(session: Session, command: RecordCommand, actor: Actor) -> CommandResult:
    """A record's or a setting's command: what it names is the audit's entity (a
    record's id is answered as ``entity_id`` too)."""
    op_id = str(command.op_id)
    try:
        entity, details = command.run(session, actor)
    except Rejected as exc:
        return CommandResult(op_id=op_id, status=Status.REJECTED, reason=exc.reason, fields=exc.fields)
    session.flush()
    _audit(session, command, actor, details, entity_id=entity)
    return CommandResult(op_id=op_id, status=Status.APPLIED, entity_id=entity if isinstance(entity, int) else None)


def _create(session: Session, command: Command, actor: Actor) -> CommandResult:
    """Register the member a ``creates`` command describes: the fields it wrote are
    stamped with the member's first version and the command's workstation, so that
    the workstation's own later changes (queued behind it) never conflict with it."""
    op_id = str(command.op_id)
    try:
        member, details = command.create(session, actor)
    except Rejected as exc:
        return CommandResult(op_id=op_id, status=Status.REJECTED, reason=exc.reason, fields=exc.fields)
    stamp = [1, command.origin]  # the version the insert gives it
    member.field_versions = {f: stamp for f in command.changed_fields()}
    session.flush()
    _audit(session, command, actor, {"member_no": member.member_no, **details}, entity_id=member.id)
    return CommandResult(op_id=op_id, status=Status.APPLIED, member_version=member.version,
                         member_id=member.id, member_no=member.member_no)


def _run(session: Session, command: Command, member: Member, actor: Actor, direct: Batch | None = None) -> CommandResult:
    """A member command on its locked member; ``direct``: the batch whose direct path
    writes it (see :class:`Batch`)."""
    op_id = str(command.op_id)
    fields = command.changed_fields()
    if not command.never_conflicts and command.base_version is not None and command.base_version < member.version:
        changed_since = {f for f in fields if _written_by_other(member, f, command)}
        if changed_since:
            return CommandResult(
                op_id=op_id,
                status=Status.CONFLICT,
                member_version=member.version,
                reason="changed by someone else since: " + ", ".join(sorted(changed_since)),
                server_values={f: field_value(member, f) for f in sorted(changed_since)},
            )
    change: DirectChange | None = None
    try:
        command.check_in(session, member)
        if direct is not None:
            change = command.apply_direct(member, actor)
            details = change.details
        elif command.apply_can_reject:
            with session.begin_nested():
                details = command.apply(session, member, actor)
        else:
            details = command.apply(session, member, actor)
    except Rejected as exc:
        return CommandResult(op_id=op_id, status=Status.REJECTED, member_version=member.version,
                             reason=exc.reason, fields=exc.fields)
    new_version = member.version + 1
    field_versions = member.field_versions
    if not command.never_conflicts:
        stamp = [new_version, command.origin]
        field_versions = {**member.field_versions, **{f: stamp for f in fields}}
    if direct is not None:
        assert change is not None
        direct.write_member(member, change, field_versions)
        direct.add(AuditEvent, audit_values(**_audit_of(command, actor, {"member_no": member.member_no, **details})))
        return CommandResult(op_id=op_id, status=Status.APPLIED, member_version=member.version)
    if field_versions is not member.field_versions:
        member.field_versions = field_versions
    session.flush()  # the version column moves member.version to new_version
    _audit(session, command, actor, {"member_no": member.member_no, **details})
    return CommandResult(op_id=op_id, status=Status.APPLIED, member_version=member.version)
