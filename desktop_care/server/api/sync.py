"""Offline workstations: ``GET /sync/changes`` (the change feed) and
``POST /sync/commands`` (run queued commands, each once). The protocol is described
for client writers in ``docs/sync-protocol.md``; the design in
``docs/decisions/0003-offline-sync.md``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy import BigInteger, literal, select
from sqlalchemy.orm import Session, selectinload

from desktop_care.command_schemas import CommandBatch, CommandBatchResult
from desktop_care.commands import Command, CommandResult, OpIdReused, ProvisionalMember
from desktop_care.commands.runner import check_target, error_field, kind_message
from desktop_care.models import Member
from desktop_care.models.base import MAX_SEQ
from desktop_care.models.sync import ProcessedCommand, SyncChange, feed_epoch, latest_sequence
from desktop_care.schemas import FeedChange, FeedPage, MemberRecord

from ..deps import ClientAddress, CurrentStaff, SessionDep, Sessions, staff_actor
from ..errors import ERROR_RESPONSES, FieldsInvalid, plain_message
from ..transactions import run_batch, transaction

MAX_FEED_LIMIT = 5000
#: ``after``: where a page of the feed starts (``GET /sync/changes`` and its compact form).
FeedCursor = Annotated[int, Query(ge=0, le=MAX_SEQ, description="The `cursor` of the previous page; 0 for everything")]
MAX_BATCH = 200




class CommandRoute(APIRoute):
    """Validation errors name fields as people do: ``commands.2.delta`` rather than
    pydantic's ``body.commands.2.adjust_points.delta``; an unknown kind is ``commands.2.kind``
    (also for ``POST /commands``: ``command.delta``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise _invalid(exc.errors()) from None

        return handle


def _invalid(errors: Sequence[Any]) -> FieldsInvalid:
    fields: dict[str, str] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if loc and loc[0] in ("body", "query"):
            loc = loc[1:]
        name = "body" if error["type"] == "json_invalid" else error_field(loc, error["type"]) or "body"
        fields.setdefault(name, _message(error))
    return FieldsInvalid(fields)


def _message(error: Any) -> str:
    special = kind_message(error)
    if special is not None:
        return special
    if error["type"] == "too_short" and error["loc"][-1] == "commands":
        return "must hold at least one command"
    if error["type"] == "too_long" and error["loc"][-1] == "commands":
        return f"must hold at most {MAX_BATCH} commands"
    message = plain_message(error)
    return message.removeprefix("value error, ")


router = APIRouter(prefix="/sync", tags=["sync"], responses=ERROR_RESPONSES, route_class=CommandRoute)




def member_record(member: Member) -> MemberRecord:
    return MemberRecord.model_validate(member)


@router.get("/changes", operation_id="getChanges", response_model=FeedPage)
def changes(
    sessions: Sessions,
    staff: CurrentStaff,
    after: FeedCursor = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_LIMIT, description="Most changes to return")] = 1000,
) -> FeedPage:
    """Entities changed after ``after``, in sequence order, each with its current state
    (one entry per entity: its latest change). Repeat with ``cursor`` while ``has_more``."""
    with transaction(sessions, write=False) as session:
        rows = list(
            session.scalars(
                # The cursor as a 64-bit value whatever the column's width (no overflow).
                select(SyncChange)
                .where(SyncChange.seq > literal(after, BigInteger))
                .order_by(SyncChange.seq)
                .limit(limit + 1)
            )
        )
        has_more = len(rows) > limit
        rows = rows[:limit]
        member_ids = [row.entity_id for row in rows if row.entity == "member" and not row.deleted]
        members = {
            member.id: member
            for member in session.scalars(
                select(Member).where(Member.id.in_(member_ids)).options(selectinload(Member.addresses))
            )
        } if member_ids else {}
        feed = []
        for row in rows:
            # Only members are replicated so far; a row without its entity is a tombstone.
            member = members.get(row.entity_id) if row.entity == "member" else None
            feed.append(
                FeedChange(
                    seq=row.seq,
                    entity=row.entity,
                    id=row.entity_id,
                    deleted=member is None,
                    member=member_record(member) if member is not None else None,
                )
            )
        latest, epoch = latest_sequence(session), feed_epoch(session)
    return FeedPage(changes=feed, cursor=rows[-1].seq if rows else after, has_more=has_more, latest=latest,
                    epoch=epoch)


def _check_op_ids(session: Session, commands: list[Command]) -> list[str]:
    """Refuse the whole batch, before running any of it, if an op_id comes with a
    payload other than the one it was first seen with (earlier or in this batch), or a
    command names a provisional member id other than its registration (``AddMember``).
    Returns the commands' digests."""
    fields: dict[str, str] = {}
    seen: dict[str, str] = {}
    digests = [c.digest() for c in commands]
    rows = session.execute(select(ProcessedCommand.op_id, ProcessedCommand.digest)
                           .where(ProcessedCommand.op_id.in_(sorted({str(c.op_id) for c in commands}))))
    stored = {op_id: digest for op_id, digest in rows}
    for index, command in enumerate(commands):
        try:
            check_target(command)
        except ProvisionalMember as exc:
            fields[f"commands.{index}.member_id"] = str(exc)
        op_id, digest = str(command.op_id), digests[index]
        first = seen.setdefault(op_id, stored.get(op_id, digest))
        if first != digest:
            fields[f"commands.{index}.op_id"] = f"{op_id} was already used for a different change"
    if fields:
        raise FieldsInvalid(fields)
    return digests


@router.post("/commands", operation_id="runCommands", response_model=CommandBatchResult)
def run_commands(
    batch: CommandBatch,
    session: SessionDep,
    sessions: Sessions,
    staff: CurrentStaff,
    client: ClientAddress,
) -> CommandBatchResult:
    """Run the commands in order, each at most once (by ``op_id``) and each its own
    outcome: one result per command, in the same order. The batch runs in one
    transaction with a savepoint per command (docs/decisions/0039)."""
    commands: list[Command] = list(batch.commands)
    digests = _check_op_ids(session, commands)
    session.close()  # its read is done: the batch's write transaction is its own
    actor = staff_actor(staff, client)
    results: list[CommandResult] = []
    try:
        run_batch(sessions, commands, actor, digests, results)
    except OpIdReused as exc:
        # Only when another request stored this op_id after the batch was checked:
        # the commands before this one have run (a resend answers them `duplicate`).
        raise FieldsInvalid({f"commands.{len(results)}.op_id": str(exc)}) from None
    return CommandBatchResult(results=results)
