"""Users: ``GET /users``, the Society Users page's list of every user of the system."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from desktop_care.models import UserRole, utcnow
from desktop_care.models.search import InvalidCursor
from desktop_care.models.user_search import MAX_LIMIT, StateFilter, UserRow, UserSort, search_users
from desktop_care.schemas import UserListItem, UserPage

from ..deps import CurrentStaff, SessionDep
from ..errors import ERROR_RESPONSES, InvalidInput
from .members import MAX_QUERY_LENGTH, PageSize

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)


def user_item(row: UserRow, now: dt.datetime) -> UserListItem:
    user = row.user
    return UserListItem(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        state=user.state,
        last_login_at=user.last_login_at,
        failed_sign_ins=row.failed_sign_ins,
        locked_until=row.locked_until(now),
        member_id=user.member_id,
        member_no=row.member_no,
        created_at=user.created_at,
        version=user.version,
    )


@router.get("", operation_id="listUsers", response_model=UserPage)
def list_users(
    session: SessionDep,
    staff: CurrentStaff,
    q: Annotated[
        str,
        Query(max_length=MAX_QUERY_LENGTH, description="Words found in username, name, e-mail or member ID"),
    ] = "",
    role: Annotated[list[UserRole] | None, Query(description="Any of these roles (repeat the parameter)")] = None,
    state: Annotated[
        list[StateFilter] | None,
        Query(description="Any of these states; `locked`: sign-in throttled right now"),
    ] = None,
    limit: Annotated[PageSize, Query(description="Page size", json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
    sort: Annotated[
        UserSort | None,
        Query(description="Column to sort by; a leading `-` sorts descending (ties by id). Without it: by id"),
    ] = None,
) -> UserPage:
    """Every user (portal users of members, non-member users, staff), in id order or
    by ``sort``, one page at a time. Society Admin and Society Staff alike."""
    now = utcnow()
    try:
        page = search_users(
            session, q, roles=frozenset(role or ()), states=frozenset(state or ()), limit=limit, cursor=cursor,
            sort=sort, now=now,
        )
    except InvalidCursor as exc:
        raise InvalidInput("cursor", str(exc)) from None
    return UserPage(
        items=[user_item(row, now) for row in page.rows],
        total=page.total,
        total_exact=page.total_exact,
        next_cursor=page.next_cursor,
    )
