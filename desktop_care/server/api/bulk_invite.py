"""Bulk invite (online only, Society Staff and Society Admin): ``POST
/bulk-invitations/dry-run`` reads a CSV file and says, row by row, what inviting would
do; ``POST /bulk-invitations/run`` invites one chunk of those rows, in one transaction,
each row whole or not at all. The client sends the chunks one after the other (its
progress bar moves with each answer; Cancel stops between two chunks). See
docs/decisions/0015-bulk-invite-in-chunks.md."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter

from desktop_care.command_schemas import (
    BulkFileIn,
    BulkPlanOut,
    BulkRowPlanOut,
    BulkRowResultOut,
    BulkRunIn,
    BulkRunOut,
)
from desktop_care.commands import NotPermitted
from desktop_care.commands.bulk_invite import (
    UNREADABLE,
    BulkInvite,
    CsvFileError,
    CsvRow,
    apply_rows,
    plan,
    read_csv,
)

from ..deps import ClientAddress, CurrentStaff, SessionDep, Sessions, staff_actor
from ..errors import ERROR_RESPONSES, Forbidden, InvalidInput
from ..transactions import transaction

router = APIRouter(prefix="/bulk-invitations", tags=["bulk invite"], responses=ERROR_RESPONSES)


def _check_role(staff_role: object) -> None:
    reason = BulkInvite.refusal(staff_role)  # type: ignore[arg-type]  # a UserRole
    if reason is not None:
        raise Forbidden(reason)


@router.post("/dry-run", operation_id="bulkInviteDryRun", response_model=BulkPlanOut)
def dry_run(body: BulkFileIn, session: SessionDep, staff: CurrentStaff) -> BulkPlanOut:
    """Read the CSV file (UTF-8 with or without BOM, UTF-16 or Windows-1252; comma,
    semicolon, tab or vertical bar) and check every row against the database now:
    nothing is written. A file that cannot be read as a whole is a 422 naming
    `content_base64`; a bad row is a row with `action` "error" and its reason."""
    _check_role(staff.role)
    try:
        data = base64.b64decode(body.content_base64, validate=True)
        parsed = read_csv(data)
    except (binascii.Error, ValueError) as exc:
        reason = exc.reason if isinstance(exc, CsvFileError) else "The content is not base64."
        raise InvalidInput("content_base64", f"{UNREADABLE}{reason}") from None
    plans = plan(session, parsed.rows)
    rows = [
        BulkRowPlanOut(row=p.row, member_id=p.member_id, member_name=p.member_name, email=p.email, role=p.role,
                       name=p.name, action="invite" if p.will_invite else "error", error=p.error, message=p.message)
        for p in plans
    ]
    to_invite = sum(1 for p in plans if p.will_invite)
    return BulkPlanOut(filename=body.filename, encoding=parsed.encoding, delimiter=parsed.delimiter_name,
                       columns=parsed.columns, total=len(rows), to_invite=to_invite, errors=len(rows) - to_invite,
                       rows=rows)


@router.post("/run", operation_id="bulkInviteRun", response_model=BulkRunOut)
def run(body: BulkRunIn, session: SessionDep, sessions: Sessions, staff: CurrentStaff,
        client: ClientAddress) -> BulkRunOut:
    """Invite these rows (at most 500), in one transaction, each row in a savepoint of
    its own: a bad row is reported and skipped, never stops the others. Each row's op
    id comes from its member and e-mail, so sending the same rows again (a retry, or
    the same file run twice) invites nobody twice: those rows come back
    `already_done`."""
    _check_role(staff.role)
    actor = staff_actor(staff, client)
    session.rollback()  # end this request's read: the chunk runs in its own write transaction
    rows = [CsvRow(r.row, r.member_id.strip(), r.email.strip(), r.role.strip(), " ".join(r.name.split()))
            for r in body.rows]
    try:
        with transaction(sessions, write=True) as chunk:
            outcomes = apply_rows(chunk, rows, actor)
    except NotPermitted as exc:  # pragma: no cover  (checked above)
        raise Forbidden(exc.reason) from None
    return BulkRunOut(results=[
        BulkRowResultOut(row=o.row, member_id=o.member_id, email=o.email, outcome=o.outcome, error=o.error,
                         message=o.message)
        for o in outcomes
    ])
