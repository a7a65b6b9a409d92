"""A member's activity, newest first, one page at a time:
``GET /members/{member_id}/points`` (the points ledger) and
``GET /members/{member_id}/history`` (the audit log of the account).

Pages are keyset pages (``next_cursor``), so a line added while someone reads never
shows twice or pushes another off a page; ``total`` counts the whole (filtered) list.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from desktop_care.models import AuditEvent, Member, PointsEntry, User
from desktop_care.schemas import ErrorDetail, HistoryEvent, HistoryPage, PointsEntryOut, PointsPage

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, InvalidInput, NotFound

router = APIRouter(prefix="/members", tags=["members"], responses=ERROR_RESPONSES)

MAX_PAGE = 200
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member"}}
_BAD_CURSOR = "is not a cursor from a previous page"

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")]


def _encode(at: dt.datetime, row_id: int) -> str:
    raw = json.dumps([at.astimezone(dt.UTC).isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(cursor: str) -> tuple[dt.datetime, int]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = dt.datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInput("cursor", _BAD_CURSOR) from exc
    if type(row_id) is not int or moment.tzinfo is None:
        raise InvalidInput("cursor", _BAD_CURSOR)
    return moment, row_id


def _member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    return member


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get("/{member_id}/points", operation_id="getMemberPoints", response_model=PointsPage,
            responses=_NOT_FOUND)
def points(member_id: MemberId, session: SessionDep, staff: CurrentStaff, limit: Limit = 50,
           cursor: Cursor = None) -> PointsPage:
    """The member's points ledger, newest first: when, who, type, amount, reason."""
    _member(session, member_id)
    actor = aliased(User)
    where = [PointsEntry.member_id == member_id]
    total = session.scalar(select(func.count()).select_from(PointsEntry).where(*where)) or 0
    if cursor is not None:
        at, row_id = _decode(cursor)
        where.append(or_(PointsEntry.created_at < at, and_(PointsEntry.created_at == at, PointsEntry.id < row_id)))
    rows = session.execute(
        select(PointsEntry, actor.display_name, actor.username)
        .outerjoin(actor, actor.id == PointsEntry.actor_user_id)
        .where(*where)
        .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc())
        .limit(limit + 1)
    ).all()
    items = [
        PointsEntryOut(id=entry.id, at=entry.created_at, delta=entry.delta, points_type=entry.points_type,
                       reason=entry.reason, actor_name=(name or username or "System"))
        for entry, name, username in rows[:limit]
    ]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return PointsPage(items=items, total=total,
                      next_cursor=_encode(last.created_at, last.id) if last is not None else None)


def _about_member(session: Session, member_id: int) -> Any:
    """Audit events about the member: its own, and those of its portal users."""
    user_ids = [str(i) for i in session.scalars(select(User.id).where(User.member_id == member_id))]
    own = and_(AuditEvent.entity_type == "member", AuditEvent.entity_id == str(member_id))
    if not user_ids:
        return own
    return or_(own, and_(AuditEvent.entity_type == "user", AuditEvent.entity_id.in_(user_ids)))


@router.get("/{member_id}/history", operation_id="getMemberHistory", response_model=HistoryPage,
            responses=_NOT_FOUND)
def history(
    member_id: MemberId,
    session: SessionDep,
    staff: CurrentStaff,
    action: Annotated[list[str] | None, Query(
        max_length=20, description="Only these actions (repeat: `action=a&action=b`); a value "
        "ending in `.` matches every action it starts (`mail.`)")] = None,
    q: Annotated[str, Query(max_length=200, description="Text found in who or what changed")] = "",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> HistoryPage:
    """Every audited action on the account, newest first: who (the real staff member),
    when, from which workstation, and what changed (before and after)."""
    _member(session, member_id)
    actor = aliased(User)
    where = [_about_member(session, member_id)]
    if action:
        if any(not name or len(name) > 60 for name in action):
            raise InvalidInput("action", "must be action names of at most 60 characters")
        exact = [name for name in action if not name.endswith(".")]
        prefixes = [AuditEvent.action.startswith(name, autoescape=True) for name in action if name.endswith(".")]
        where.append(or_(AuditEvent.action.in_(exact), *prefixes))
    text = " ".join(q.split())
    if text:
        pattern = _like(text)
        where.append(or_(
            AuditEvent.actor_name.ilike(pattern, escape="\\"),
            actor.display_name.ilike(pattern, escape="\\"),
            AuditEvent.action.ilike(pattern, escape="\\"),
            cast(AuditEvent.details, Text).ilike(pattern, escape="\\"),
        ))
    base = select(AuditEvent.id).outerjoin(actor, actor.id == AuditEvent.actor_user_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    if cursor is not None:
        _, row_id = _decode(cursor)
        where.append(AuditEvent.id < row_id)
    rows = session.execute(
        select(AuditEvent, actor.display_name)
        .outerjoin(actor, actor.id == AuditEvent.actor_user_id)
        .where(*where)
        .order_by(AuditEvent.id.desc())
        .limit(limit + 1)
    ).all()
    items = [
        HistoryEvent(id=event.id, at=event.at, action=event.action,
                     actor_name=name or event.actor_name, actor_username=event.actor_name,
                     origin=event.origin, client_address=event.client_address,
                     impersonation_id=event.impersonation_id, details=event.details or {})
        for event, name in rows[:limit]
    ]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return HistoryPage(items=items, total=total, next_cursor=_encode(last.at, last.id) if last is not None else None)
