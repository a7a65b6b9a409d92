"""Members: ``GET /members`` (search) and ``GET /members/{member_id}`` (details)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from desktop_care.models import AccountTransaction, Member, TxnStatus, User, UserRole, UserState, utcnow
from desktop_care.models.search import MAX_LIMIT, InvalidCursor, search_members
from desktop_care.models.search_sort import MemberSort
from desktop_care.models.tokens import pending_invitation
from desktop_care.models.user_search import UserRow, user_rows
from desktop_care.schemas import (
    AddressOut,
    ErrorDetail,
    MemberDetail,
    MemberPage,
    MemberSummary,
    PortalUserOut,
    TransactionOut,
)

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, InvalidInput, NotFound

router = APIRouter(prefix="/members", tags=["members"], responses=ERROR_RESPONSES)

MAX_QUERY_LENGTH = 200
_PAGE_SIZE_MESSAGE = f"must be a whole number between 1 and {MAX_LIMIT}"


def _page_size(value: object) -> int:
    """Page sizes outside 1..MAX_LIMIT, or not numbers, get one plain message."""
    try:
        number = int(str(value), 10)
    except ValueError:
        raise PydanticCustomError("page_size", _PAGE_SIZE_MESSAGE) from None
    if not 1 <= number <= MAX_LIMIT:
        raise PydanticCustomError("page_size", _PAGE_SIZE_MESSAGE)
    return number


PageSize = Annotated[int, BeforeValidator(_page_size)]


def _common_fields(member: Member) -> dict[str, Any]:
    """What a search result and the details both say about a member."""
    return {
        "id": member.id,
        "member_no": member.member_no,
        "name": member.display_name,
        "email": member.email,
        "phone": member.phone,
        "status": member.status,
        "points_balance": member.points_balance,
        "account_balance_cents": member.account_balance_cents,
        "pending_count": member.pending_count,
        "pending_cents": member.pending_cents,
        "last_login_at": member.last_login_at,
        "blocked_for_balance": member.blocked_for_balance,
    }


def portal_user_out(session: Session, user: User, row: UserRow | None = None) -> PortalUserOut:
    """A portal user (with their sign-in throttle when ``row`` has it); an invited one
    with until when their invitation link works."""
    out = PortalUserOut.model_validate(user)
    if row is not None:
        out = out.model_copy(update={"failed_sign_ins": row.failed_sign_ins, "locked_until": row.locked_until(utcnow())})
    if user.state != UserState.INVITED:
        return out
    link = pending_invitation(session, user.id)
    return out.model_copy(update={"invitation_expires_at": link.expires_at if link is not None else None})


def member_summary(member: Member) -> MemberSummary:
    home = member.home_address
    return MemberSummary(**_common_fields(member), postcode=home.postcode if home is not None else "")


@router.get("", operation_id="searchMembers", response_model=MemberPage)
def search(
    session: SessionDep,
    staff: CurrentStaff,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_LENGTH,
            description="Member ID (exact or prefix), or words found in name, email, phone or postcode",
        ),
    ] = "",
    limit: Annotated[
        PageSize, Query(description="Page size", json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})
    ] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
    sort: Annotated[
        MemberSort | None,
        Query(description="Column to sort by; a leading `-` sorts descending (ties by member). "
                          "Without it, by member with an exact member ID first"),
    ] = None,
) -> Response:
    """Find members, one page at a time: by member, or sorted by a column."""
    try:
        page = search_members(session, q, limit, cursor, sort=sort)
    except InvalidCursor as exc:
        raise InvalidInput("cursor", str(exc)) from None
    body = MemberPage(
        items=[member_summary(member) for member in page.rows],
        total=page.total,
        total_exact=page.total_exact,
        next_cursor=page.next_cursor,
    )
    # Built and validated once, serialised by pydantic straight to JSON bytes: returned
    # as a model, FastAPI would dump it, validate it again against response_model and
    # encode it in Python (decision 0027).
    return Response(body.model_dump_json(), media_type="application/json")


@router.get(
    "/{member_id}",
    operation_id="getMember",
    response_model=MemberDetail,
    responses={404: {"model": ErrorDetail, "description": "No such member"}},
)
def member_detail(member_id: MemberId, session: SessionDep, staff: CurrentStaff) -> MemberDetail:
    """One member with addresses, the portal users of the account and pending transactions."""
    member = session.get(Member, member_id, options=[selectinload(Member.addresses)])
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    users = user_rows(session, (User.member_id == member.id) & User.role.in_([UserRole.FULL, UserRole.STANDARD]))
    pending = session.scalars(
        select(AccountTransaction)
        .where(AccountTransaction.member_id == member.id, AccountTransaction.status == TxnStatus.PENDING)
        .order_by(AccountTransaction.created_at, AccountTransaction.id)
    )
    return MemberDetail(
        **_common_fields(member),
        logon_id=member.logon_id,
        title=member.title,
        first_name=member.first_name,
        last_name=member.last_name,
        email_newsletters=member.email_newsletters,
        email_offers=member.email_offers,
        email_event_reminders=member.email_event_reminders,
        blocked_reason=member.blocked_reason,
        blocked_at=member.blocked_at,
        blocked_by=member.blocked_by,
        merged_into_id=member.merged_into_id,
        status_before_hold=member.status_before_hold,
        created_at=member.created_at,
        updated_at=member.updated_at,
        version=member.version,
        addresses=[AddressOut.model_validate(address) for address in member.addresses],
        users=[portal_user_out(session, row.user, row) for row in users],
        pending_transactions=[TransactionOut.model_validate(txn) for txn in pending],
    )
