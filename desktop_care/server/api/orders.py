"""``GET /members/{member_id}/orders``: a member's orders, for the console's Orders tab.
Marking an order exported is the ``mark_order_exported`` command (``POST /commands``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from desktop_care.models import Member
from desktop_care.models.orders import orders_visible_to
from desktop_care.schemas import ErrorDetail, OrderLineOut, OrderList, OrderOut

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, NotFound

router = APIRouter(prefix="/members", tags=["orders"], responses=ERROR_RESPONSES)
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member"}}


@router.get("/{member_id}/orders", operation_id="getMemberOrders", response_model=OrderList, responses=_NOT_FOUND)
def member_orders(member_id: MemberId, session: SessionDep, staff: CurrentStaff) -> OrderList:
    """Every order the member is the order contact for or a registrant on, newest first."""
    if session.get(Member, member_id) is None:
        raise NotFound(f"no member with id {member_id}")
    orders = orders_visible_to(session, member_id)
    names = {m.id: m.display_name for m in session.scalars(
        select(Member).where(Member.id.in_({o.contact_member_id for o in orders})))} if orders else {}
    items = [OrderOut(
        id=o.id, order_no=o.order_no, created_at=o.created_at, description=o.description, currency=o.currency,
        amount_cents=o.amount_cents, state=o.state.value, contact_member_id=o.contact_member_id,
        contact_name=names.get(o.contact_member_id, ""), is_contact=o.contact_member_id == member_id,
        exported=o.exported, exported_at=o.exported_at, exported_by=o.exported_by,
        invoice_no=o.invoice.invoice_no if o.invoice else None,
        lines=[OrderLineOut(description=line.description, quantity=line.quantity, unit_cents=line.unit_cents,
                            amount_cents=line.amount_cents) for line in o.lines],
    ) for o in orders]
    return OrderList(items=items, total=len(items))
