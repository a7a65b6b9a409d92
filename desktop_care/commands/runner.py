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
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Member, User, record
from ..models.sync import ProcessedCommand
from .base import Actor, BaseCommand, Command, NotPermitted, RecordCommand, Rejected, UserCommand
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


def execute(session: Session, command: BaseCommand, actor: Actor) -> CommandResult:
    """Run ``command`` once, in the caller's transaction (see the module docstring).

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
    if isinstance(command, RecordCommand) or (isinstance(command, Command) and command.creates):
        target = None  # a record or a setting: its row is written by the command
    elif isinstance(command, Command):
        ids = sorted({command.target_id, *command.also_locks()})
        locked = session.scalars(select(Member).where(Member.id.in_(ids)).order_by(Member.id).with_for_update()).all()
        target = next((m for m in locked if m.id == command.target_id), None)
    else:
        # FOR NO KEY UPDATE: rows that merely reference the target (an audit event naming
        # a user as its actor) need not wait for this lock, so two commands on two users
        # that each name the other as actor cannot deadlock.
        target = session.scalars(
            select(User).where(User.id == command.target_id).with_for_update(key_share=True)
        ).one_or_none()
    prior = session.get(ProcessedCommand, op_id)
    if prior is not None:
        if prior.digest != command.digest():
            raise OpIdReused(f"op_id {op_id} was already used for a different change")
        first = CommandResult.model_validate(prior.result)
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
        result = _run(session, command, target, actor)
    else:
        assert isinstance(command, UserCommand) and isinstance(target, User)
        result = _run_on_user(session, command, target, actor)
    session.add(
        ProcessedCommand(
            op_id=op_id,
            kind=command.kind,
            digest=command.digest(),
            entity=command.target_type,
            entity_id=result.member_id if result.member_id is not None
            else result.entity_id if result.entity_id is not None else command.target_id,
            actor_user_id=actor.user_id,
            result=result.model_dump(mode="json"),
        )
    )
    return result


def _audit(session: Session, command: BaseCommand, actor: Actor, details: dict[str, Any],
           entity_id: int | str | None = None) -> None:
    record(
        session,
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


def _run(session: Session, command: Command, member: Member, actor: Actor) -> CommandResult:
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
    try:
        command.check_in(session, member)
        if command.apply_can_reject:
            with session.begin_nested():
                details = command.apply(session, member, actor)
        else:
            details = command.apply(session, member, actor)
    except Rejected as exc:
        return CommandResult(op_id=op_id, status=Status.REJECTED, member_version=member.version,
                             reason=exc.reason, fields=exc.fields)
    new_version = member.version + 1
    if not command.never_conflicts:
        stamp = [new_version, command.origin]
        member.field_versions = {**member.field_versions, **{f: stamp for f in fields}}
    session.flush()  # the version column moves member.version to new_version
    _audit(session, command, actor, {"member_no": member.member_no, **details})
    return CommandResult(op_id=op_id, status=Status.APPLIED, member_version=member.version)
