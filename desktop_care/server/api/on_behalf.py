"""Acting on behalf of a member (online only; docs/decisions/0017-acting-on-behalf.md):

- ``POST /members/{id}/on-behalf``: a one-time token (seconds, single use) that the
  portal's ``GET /portal/on-behalf?token=`` exchanges for an on-behalf session;
- ``GET /on-behalf/{session_id}``, ``POST /on-behalf/{session_id}/end``: the console
  watches and ends its session (view closed, Sign in as yourself);
- ``GET``/``PUT /settings/on-behalf``: whether the member is told by e-mail (Society
  Admin; audited).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from desktop_care.commands import ActOnBehalf, role_permits
from desktop_care.models import Member, OnBehalfSession, UserRole, record
from desktop_care.models.on_behalf import (
    NOTIFY_ON_BEHALF,
    ON_BEHALF_SESSION_LIFETIME,
    set_setting,
    setting,
)
from desktop_care.schemas import (
    ErrorDetail,
    OnBehalfEndIn,
    OnBehalfIn,
    OnBehalfOut,
    OnBehalfSettings,
    OnBehalfState,
)

from .. import on_behalf
from ..deps import ClientAddress, CurrentSession, CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, Forbidden, InvalidInput, NotFound

router = APIRouter(tags=["on-behalf"], responses=ERROR_RESPONSES)

SessionId = Annotated[str, Path(min_length=1, max_length=36, description="The on-behalf session's id")]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member or session"}}


@router.post("/members/{member_id}/on-behalf", operation_id="actOnBehalf", response_model=OnBehalfOut,
             status_code=status.HTTP_201_CREATED, responses=_NOT_FOUND)
def act_on_behalf(member_id: MemberId, body: OnBehalfIn, current: CurrentSession, session: SessionDep,
                  client: ClientAddress) -> OnBehalfOut:
    """A one-time token to open the portal as the member, for ``reason`` (audited as
    ``on_behalf.start``). 403 with the reason for a merged-away, closed or revoked
    account, or a staff user."""
    reason = ActOnBehalf.refusal(current.user.role)
    if reason is not None:
        raise Forbidden(reason)
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    try:
        granted = on_behalf.grant(session, current, member, body.reason, user_id=body.user_id,
                                  client_address=client)
    except on_behalf.Refused as exc:
        session.rollback()
        if exc.field:
            raise InvalidInput(exc.field, exc.reason) from None
        raise Forbidden(exc.reason) from None
    session.commit()
    row = granted.row
    return OnBehalfOut(
        session_id=row.id, token=granted.token, url=f"/portal/on-behalf?token={granted.token}",
        token_expires_at=row.token_expires_at, time_limit_seconds=int(ON_BEHALF_SESSION_LIFETIME.total_seconds()),
        member_id=member.id, member_no=member.member_no, member_name=member.display_name,
        staff_name=current.user.display_name or current.user.username,
    )


def _own(session: SessionDep, session_id: SessionId, staff_id: int) -> OnBehalfSession:
    row = session.get(OnBehalfSession, session_id)
    if row is None or row.staff_user_id != staff_id:
        raise NotFound(f"no on-behalf session {session_id} of yours")
    return row


def _state(row: OnBehalfSession) -> OnBehalfState:
    return OnBehalfState(session_id=row.id, member_id=row.member_id, staff_user_id=row.staff_user_id,
                         reason=row.reason, live=row.live(), exchanged_at=row.exchanged_at,
                         expires_at=row.expires_at, ended_at=row.ended_at, end_reason=row.end_reason)


@router.get("/on-behalf/{session_id}", operation_id="getOnBehalf", response_model=OnBehalfState,
            responses=_NOT_FOUND)
def on_behalf_state(session_id: SessionId, staff: CurrentStaff, session: SessionDep) -> OnBehalfState:
    """One of your on-behalf sessions: open or ended, and why."""
    return _state(_own(session, session_id, staff.id))


@router.post("/on-behalf/{session_id}/end", operation_id="endOnBehalf", response_model=OnBehalfState,
             responses=_NOT_FOUND)
def end_on_behalf(session_id: SessionId, body: OnBehalfEndIn, staff: CurrentStaff, session: SessionDep,
                  client: ClientAddress) -> OnBehalfState:
    """End one of your on-behalf sessions now (the console closed its view); ending an
    ended session changes nothing."""
    row = _own(session, session_id, staff.id)
    on_behalf.end(session, row, body.why, client_address=client)
    session.commit()
    return _state(row)


@router.get("/settings/on-behalf", operation_id="getOnBehalfSettings", response_model=OnBehalfSettings)
def get_settings(staff: CurrentStaff, session: SessionDep) -> OnBehalfSettings:
    """Whether members are told by e-mail when staff act on their behalf."""
    return OnBehalfSettings(notify_member=bool(setting(session, NOTIFY_ON_BEHALF)))


@router.put("/settings/on-behalf", operation_id="setOnBehalfSettings", response_model=OnBehalfSettings)
def put_settings(body: OnBehalfSettings, staff: CurrentStaff, session: SessionDep,
                 client: ClientAddress) -> OnBehalfSettings:
    """Turn the member's e-mail on or off (Society Admin only; audited as ``settings.changed``)."""
    if not role_permits(staff.role, UserRole.SOCIETY_ADMIN):
        raise Forbidden("only a Society Admin may change this setting")
    before = set_setting(session, NOTIFY_ON_BEHALF, body.notify_member, changed_by=staff.username)
    record(session, actor_user_id=staff.id, actor_name=staff.username, action="settings.changed",
           entity_type="setting", entity_id=NOTIFY_ON_BEHALF, client_address=client,
           details={"key": NOTIFY_ON_BEHALF, "before": before, "after": body.notify_member})
    session.commit()
    return OnBehalfSettings(notify_member=body.notify_member)
