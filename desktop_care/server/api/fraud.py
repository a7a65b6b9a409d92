"""Fraud stop: ``GET /fraud-blocks`` (the blocks, filtered, with their "would have
blocked" counts) and ``GET /members/{member_id}/fraud-stop`` (what a FRAUD-STOP on the
member, or on one of its orders, would block). Blocking and lifting are commands
(``POST /commands``: ``add_fraud_block``, ``lift_fraud_block``); see
:mod:`desktop_care.commands.fraud`."""

from __future__ import annotations

import enum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from desktop_care.models import Member, OnBehalfSession, Order, Payment, PortalSession, User, utcnow
from desktop_care.models.base import MAX_ID
from desktop_care.models.fraud import (
    BlockKind,
    BlockSort,
    BlockState,
    FraudBlock,
    Probe,
    active_block_ids,
    ip_network,
)
from desktop_care.models.keyset import sorted_page
from desktop_care.models.search import InvalidCursor
from desktop_care.schemas import ErrorDetail, FraudBlockOut, FraudBlockPage, FraudStopCandidate, FraudStopOut

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, InvalidInput, NotFound
from .members import MAX_QUERY_LENGTH

router = APIRouter(tags=["fraud"], responses=ERROR_RESPONSES)

MAX_LIMIT = 200


class StateFilter(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    LIFTED = "lifted"
    ALL = "all"


def block_out(block: FraudBlock) -> FraudBlockOut:
    return FraudBlockOut.model_validate({
        **{c: getattr(block, c) for c in FraudBlockOut.model_fields if c != "state"},
        "state": block.state(utcnow())})


@router.get("/fraud-blocks", operation_id="listFraudBlocks", response_model=FraudBlockPage)
def list_blocks(
    session: SessionDep,
    staff: CurrentStaff,
    q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH,
                            description="Part of the value, note, source or who made it; or an IP address "
                                        "(finds the blocks it lies in)")] = "",
    kind: Annotated[BlockKind | None, Query(description="Only this kind")] = None,
    state: Annotated[StateFilter, Query(description="`active` (default), `expired`, `lifted` or `all`")] = (
        StateFilter.ACTIVE),
    sort: Annotated[BlockSort, Query(description="Column to sort by; a leading `-` sorts descending (ties by "
                                                 "block number)")] = BlockSort.CREATED_DESC,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> FraudBlockPage:
    """Blocks, newest first or by ``sort``, one keyset page at a time."""
    now = utcnow()
    query = select(FraudBlock.id)
    if kind is not None:
        query = query.where(FraudBlock.kind == kind)
    if state == StateFilter.ACTIVE:
        query = query.where(FraudBlock.lifted_at.is_(None),
                            or_(FraudBlock.expires_at.is_(None), FraudBlock.expires_at > now))
    elif state == StateFilter.EXPIRED:
        query = query.where(FraudBlock.lifted_at.is_(None), FraudBlock.expires_at <= now)
    elif state == StateFilter.LIFTED:
        query = query.where(FraudBlock.lifted_at.is_not(None))
    text = q.strip()
    if text:
        probe = Probe.ip(text)
        pattern = f"%{text.lower()}%"
        found = [FraudBlock.match_key.in_(probe.keys)] if probe.keys else []
        query = query.where(or_(*found, func.lower(FraudBlock.value).like(pattern),
                                func.lower(FraudBlock.note).like(pattern), func.lower(FraudBlock.source).like(pattern),
                                func.lower(FraudBlock.created_by).like(pattern)))
    try:
        page_ids, next_cursor = sorted_page(session, query, sort.key, sort, cursor, limit)
    except InvalidCursor as exc:
        raise InvalidInput("cursor", str(exc)) from None
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    blocks = {b.id: b for b in session.scalars(select(FraudBlock).where(FraudBlock.id.in_(page_ids)))}
    return FraudBlockPage(items=[block_out(blocks[i]) for i in page_ids], total=total, next_cursor=next_cursor)


def last_sign_in(session: Session, member_id: int) -> PortalSession | None:
    """The member's users' latest portal sign-in of their own (staff acting on behalf
    sign in from their own desks: those sessions are not the member's)."""
    on_behalf = select(OnBehalfSession.portal_session_id).where(OnBehalfSession.portal_session_id.is_not(None))
    return session.scalar(
        select(PortalSession).join(User, User.id == PortalSession.user_id)
        .where(User.member_id == member_id, PortalSession.client_address != "", PortalSession.id.not_in(on_behalf))
        .order_by(PortalSession.created_at.desc(), PortalSession.id.desc()).limit(1))


def _blocked_by(session: Session, probe: Probe) -> int | None:
    ids = active_block_ids(session, probe, utcnow())
    return ids[0] if ids else None


@router.get("/members/{member_id}/fraud-stop", operation_id="getFraudStop", response_model=FraudStopOut,
            responses={404: {"model": ErrorDetail, "description": "No such member, or no such order of it"}})
def fraud_stop(
    member_id: MemberId,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    order_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="A FRAUD-STOP on this order of the member")
                        ] = None,
) -> FraudStopOut:
    """What a FRAUD-STOP on the member (or on one of its orders) would block: its last
    portal sign-in address (a /32 or /128), the cards of its payments (newest first) and
    its e-mail address, each with the block already holding it, if any."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    source = f"FRAUD-STOP on member {member.member_no}"
    payments = select(Payment).where(Payment.member_id == member.id)
    if order_id is not None:
        order = session.get(Order, order_id)
        paid_by_member = session.scalar(select(func.count()).select_from(
            payments.where(Payment.order_id == order_id).subquery()))
        if order is None or (order.contact_member_id != member.id and not paid_by_member):
            raise NotFound(f"member {member.member_no} has no order {order_id}")
        payments = payments.where(Payment.order_id == order_id)
        source += f", order {order.order_no}"
    candidates: list[FraudStopCandidate] = []
    signed_in = last_sign_in(session, member.id)
    if signed_in is not None:
        try:
            network = ip_network(signed_in.client_address)
        except ValueError:
            network = None
        if network is not None:
            candidates.append(FraudStopCandidate(
                kind=BlockKind.IP, value=str(network),
                seen=f"last portal sign-in, {signed_in.created_at:%d %b %Y %H:%M} UTC",
                blocked_by=_blocked_by(session, Probe.ip(str(network.network_address)))))
    card_of = getattr(request.app.state.payment_provider, "card", None)
    seen_cards: set[str] = set()
    for payment in session.scalars(payments.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(20)):
        card = card_of(payment.checkout_id) if card_of is not None else None
        if card is None or card.fingerprint in seen_cards:
            continue
        seen_cards.add(card.fingerprint)
        candidates.append(FraudStopCandidate(
            kind=BlockKind.CARD, value=card.fingerprint, card_brand=card.brand, card_bin=card.bin,
            card_last4=card.last4, seen=f"payment of {payment.created_at:%d %b %Y}",
            blocked_by=_blocked_by(session, Probe.card(card.fingerprint))))
    if member.email:
        candidates.append(FraudStopCandidate(kind=BlockKind.EMAIL, value=member.email.lower(),
                                             seen="the member's e-mail address",
                                             blocked_by=_blocked_by(session, Probe.email(member.email))))
    return FraudStopOut(member_id=member.id, member_no=member.member_no, source=source, candidates=candidates)


__all__ = ["BlockState", "StateFilter", "block_out", "last_sign_in", "router"]
