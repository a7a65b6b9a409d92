"""``GET /members/{member_id}/courses``: a member's course registrations, waiting-list
places and e-learning, for the console's Courses tab. Offers past their expiry are swept
first (so the list shows where each place went). Offering a place is the
``offer_place`` command (``POST /commands``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from desktop_care.commands.courses import sweep_for_member, waiting_position
from desktop_care.models import Member, Order
from desktop_care.models.courses import (
    ElearningEnrolment,
    Registration,
    WaitingListEntry,
    WaitState,
    free_places,
)
from desktop_care.schemas import CourseRegistrationOut, EnrolmentOut, ErrorDetail, MemberCourses, WaitingEntryOut

from ..deps import CurrentStaff, MemberId, SessionDep
from ..errors import ERROR_RESPONSES, NotFound

router = APIRouter(prefix="/members", tags=["courses"], responses=ERROR_RESPONSES)
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member"}}


@router.get("/{member_id}/courses", operation_id="getMemberCourses", response_model=MemberCourses,
            responses=_NOT_FOUND)
def member_courses(member_id: MemberId, session: SessionDep, staff: CurrentStaff) -> MemberCourses:
    """Every registration the member attends or booked (soonest first, transfers
    included), their waiting-list places and their e-learning."""
    if session.get(Member, member_id) is None:
        raise NotFound(f"no member with id {member_id}")
    sweep_for_member(session, member_id)
    registrations = list(session.scalars(select(Registration).where(
        (Registration.registrant_member_id == member_id) | (Registration.contact_member_id == member_id))
        .order_by(Registration.id)))
    registrations.sort(key=lambda r: (r.session.starts_at, r.id))
    people = {r.registrant_member_id for r in registrations} | {r.contact_member_id for r in registrations}
    names = {m.id: m.display_name for m in session.scalars(select(Member).where(Member.id.in_(people)))} \
        if people else {}
    order_ids = {r.order_id for r in registrations if r.order_id is not None}
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))} if order_ids else {}
    items = []
    for r in registrations:
        course = r.session.course
        order = orders.get(r.order_id) if r.order_id is not None else None
        items.append(CourseRegistrationOut(
            id=r.id, course_code=course.code, course_title=course.title, session_id=r.session_id,
            starts_at=r.session.starts_at, ends_at=r.session.ends_at, where=r.session.where, state=r.state.value,
            registrant_member_id=r.registrant_member_id, registrant_name=names.get(r.registrant_member_id, ""),
            contact_member_id=r.contact_member_id, contact_name=names.get(r.contact_member_id, ""),
            is_registrant=r.registrant_member_id == member_id, order_no=order.order_no if order else None,
            order_state=order.state.value if order else None, currency=course.currency, price_cents=r.price_cents,
            refund_due_cents=r.refund_due_cents,
            certificate_code=r.certificate.code if r.certificate is not None else None))
    waiting = [WaitingEntryOut(
        id=w.id, course_code=w.session.course.code, course_title=w.session.course.title, session_id=w.session_id,
        starts_at=w.session.starts_at, state=w.state.value,
        queue_position=waiting_position(session, w) if w.state == WaitState.WAITING else None,
        offer_expires_at=w.offer_expires_at, free_places=free_places(session, w.session),
    ) for w in session.scalars(select(WaitingListEntry).where(WaitingListEntry.member_id == member_id)
                               .order_by(WaitingListEntry.joined_at.desc(), WaitingListEntry.id.desc()))]
    elearning = [EnrolmentOut(
        id=e.id, module_code=e.module.code, module_title=e.module.title, sections_done=e.sections_done,
        sections_total=e.total, enrolled_at=e.enrolled_at, completed_at=e.completed_at,
    ) for e in session.scalars(select(ElearningEnrolment).where(ElearningEnrolment.member_id == member_id)
                               .order_by(ElearningEnrolment.enrolled_at.desc(), ElearningEnrolment.id.desc()))]
    return MemberCourses(registrations=items, waiting=waiting, elearning=elearning)
