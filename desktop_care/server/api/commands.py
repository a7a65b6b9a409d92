"""``POST /commands``: run one command at once (online-only kinds such as a password
reset or a revocation, and queueable kinds when the workstation is online and wants
the answer now). The same ``execute`` as ``POST /sync/commands``: once per op_id,
role-checked, audited with the token's user."""

from __future__ import annotations

from fastapi import APIRouter, Request

from desktop_care.command_schemas import CommandRequest
from desktop_care.commands import CommandResult, NotPermitted, OpIdReused, ProvisionalMember

from ..deps import ClientAddress, CurrentStaff, Sessions, staff_actor
from ..errors import ERROR_RESPONSES, Forbidden, InvalidInput
from ..transactions import run_command
from .sync import CommandRoute

router = APIRouter(prefix="/commands", tags=["commands"], responses=ERROR_RESPONSES, route_class=CommandRoute)


@router.post("", operation_id="runCommand", response_model=CommandResult)
def run_one(
    request: Request,
    body: CommandRequest,
    sessions: Sessions,
    staff: CurrentStaff,
    client: ClientAddress,
) -> CommandResult:
    """Run ``command`` now and answer its result (``applied``, ``duplicate``,
    ``conflict`` or ``rejected`` with the reason). 403 when the signed-in role may not
    run this kind; nothing is stored then."""
    try:
        result = run_command(sessions, body.command, staff_actor(staff, client))
    except NotPermitted as exc:
        raise Forbidden(exc.reason) from None
    except OpIdReused as exc:
        raise InvalidInput("command.op_id", str(exc)) from None
    except ProvisionalMember as exc:
        raise InvalidInput("command.member_id", str(exc)) from None
    # What must happen once the command has committed (a card refund reaches the provider).
    after = getattr(request.app.state, "after_command", None)
    if after is not None:
        after(body.command, result)
    return result
