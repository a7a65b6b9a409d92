"""Merges: ``GET /members/{member_id}/merge-plan?into=ID`` (what merging one member
into another would do, or why it is refused) and ``GET /members/{member_id}/merges``
(the merges a member took part in, each with whether it can be undone now). The merge
and its undo themselves are commands (``merge_members``, ``undo_merge``) run through
``POST /commands``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import selectinload

from desktop_care.commands.merge import MergeInfo, MergePlan, merge_plan, merges_of
from desktop_care.models import Member
from desktop_care.models.base import MAX_ID
from desktop_care.schemas import ErrorDetail

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, NotFound

router = APIRouter(prefix="/members", tags=["merges"], responses=ERROR_RESPONSES)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member"}}


def _member(session: SessionDep, member_id: int) -> Member:
    member = session.get(Member, member_id, options=[selectinload(Member.addresses)])
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    return member


@router.get("/{member_id}/merge-plan", operation_id="getMergePlan", response_model=MergePlan, responses=_NOT_FOUND)
def plan(
    member_id: MemberId,
    session: SessionDep,
    staff: CurrentStaff,
    into: Annotated[int, Query(ge=1, le=MAX_ID, description="The member that survives")],
) -> MergePlan:
    """Both members side by side, what would move, and every reason the merge is
    refused (``refusals``; empty when it may go ahead)."""
    return merge_plan(session, _member(session, member_id), _member(session, into))


@router.get("/{member_id}/merges", operation_id="getMerges", response_model=list[MergeInfo], responses=_NOT_FOUND)
def merges(member_id: MemberId, session: SessionDep, staff: CurrentStaff) -> list[MergeInfo]:
    """The merges this member took part in (merged away or survivor), newest first,
    each with ``undo_refusal`` (null when it can be undone now)."""
    _member(session, member_id)
    return merges_of(session, member_id)
