"""Commands on courses, e-learning and waiting lists (issue 9).

- **Transfer registration** / **Cancel registration**: by the registrant (the portal,
  or staff acting on their behalf), confirmed by typing the registrant's surname, only
  where the course's policy allows it and before its cut-off. The registrant gets an
  e-mail, the order contact (when someone else) a notification. A cancelled paid
  registration records its refund due; staff manage the refund itself.
- **Accept offer** / **Remove from waiting list** (the member), **Offer a place**
  (staff), **Expire offer** (the server's sweep, :func:`sweep_waiting_lists`): an offer
  that is declined, removed or expires passes the place to the next waiting entry.
- **Advance e-learning**: mark the next section of a module done.

All are online only: places and offers are decided by the server at the moment they
happen (docs/decisions/0020-courses-and-waiting-lists.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar, Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import EmailCategory, LineIn, Member, Order, OrderState, UserRole, queue_mail, utcnow
from ..models.courses import (
    OFFER_HOURS,
    Course,
    CourseSession,
    ElearningEnrolment,
    Registration,
    RegistrationState,
    WaitingListEntry,
    WaitState,
    change_refusal,
    expired_offers,
    free_places,
    make_offer,
    pass_place_on,
)
from ..models.ledger import money
from ..models.orders import place_order
from ..models.search import normalize
from .base import Actor, Rejected
from .orders import _OnlineCommand
from .registry import register
from .runner import CommandResult, execute


def _when(at: dt.datetime) -> str:
    return f"{at:%A %d %B %Y, %H:%M} UTC"


def _registration(session: Session, member: Member, registration_id: int) -> Registration:
    registration = session.get(Registration, registration_id)
    if registration is None or registration.registrant_member_id != member.id:
        raise Rejected(f"member {member.member_no} has no registration {registration_id}",
                       {"registration_id": "no such registration"})
    return registration


def _check_surname(member: Member, surname: str) -> None:
    if not surname.strip():
        raise Rejected("type your surname to confirm", {"surname": "Type your surname to confirm."})
    if normalize(surname) != normalize(member.last_name):
        raise Rejected("the surname does not match the registrant's",
                       {"surname": "That is not the registrant's surname. Type it as it is on the account."})


def _mail_change(session: Session, registration: Registration, registrant: Member, actor: Actor, change: str,
                 context: dict[str, Any]) -> list[str]:
    """The registrant's e-mail and, when someone else booked, the order contact's notice."""
    sent = []
    base = {"change": change, "registrant": registrant.display_name, **context}
    mails = [("registration_changed", registrant, registrant.display_name)]
    contact = session.get(Member, registration.contact_member_id)
    if contact is not None and contact.id != registrant.id:
        mails.append(("registration_notice", contact, contact.display_name))
    for template, who, name in mails:
        if not who.email:
            continue
        mail = queue_mail(session, template=template, category=EmailCategory.SERVICE, to_address=who.email,
                          to_name=name, member=who, context={"name": name, **base}, actor_user_id=actor.user_id,
                          actor_name=actor.username, impersonation_id=actor.impersonation_id,
                          client_address=actor.client_address)
        if mail is not None:
            sent.append(who.email)
    return sent


def _session_facts(course_session: CourseSession) -> dict[str, str]:
    return {"course": course_session.course.title, "code": course_session.course.code,
            "starts": _when(course_session.starts_at), "where": course_session.where}


@register
class TransferRegistration(_OnlineCommand):
    """Move the registrant's registration to another session of the same course."""

    kind: Literal["transfer_registration"] = "transfer_registration"
    registration_id: int = Field(gt=0, le=2**31 - 1)
    session_id: int = Field(gt=0, le=2**31 - 1)
    surname: str = Field(max_length=100)

    action: ClassVar[str] = "course.transfer_registration"
    label: ClassVar[str] = "Transfer a course registration"

    def check_in(self, session: Session, member: Member) -> None:
        registration = _registration(session, member, self.registration_id)
        refusal = change_refusal(registration, "transfer", utcnow())
        if refusal is not None:
            raise Rejected(refusal, {"registration_id": refusal})
        # The session row is locked: two changes cannot both take its last free place.
        target = session.get(CourseSession, self.session_id, with_for_update=True)
        if target is None or target.course_id != registration.session.course_id:
            raise Rejected("pick another date of the same course", {"session_id": "Pick one of the dates listed."})
        if target.id == registration.session_id:
            raise Rejected("that is the date you are registered for", {"session_id": "Pick another date."})
        if utcnow() >= target.cutoff():
            raise Rejected("registrations for that date have closed", {"session_id": "That date has closed."})
        if free_places(session, target) <= 0:
            raise Rejected("that date is full", {"session_id": "That date has no free places any more."})
        _check_surname(member, self.surname)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        old = _registration(session, member, self.registration_id)
        target = session.get(CourseSession, self.session_id)
        assert target is not None
        now = utcnow()
        old.state, old.changed_at = RegistrationState.TRANSFERRED, now
        new = Registration(session_id=target.id, registrant_member_id=old.registrant_member_id,
                           contact_member_id=old.contact_member_id, order_id=old.order_id, price_cents=old.price_cents,
                           state=RegistrationState.REGISTERED, registered_at=now, transferred_from_id=old.id,
                           refund_due_cents=0)
        session.add(new)
        session.flush()
        before = _session_facts(old.session)
        after = _session_facts(target)
        sent = _mail_change(session, new, member, actor, "transferred",
                            {**after, "from_starts": before["starts"], "from_where": before["where"]})
        return {"registration_id": new.id, "from_registration_id": old.id, "course": after["course"],
                "before": {"session_id": old.session_id, "starts": before["starts"]},
                "after": {"session_id": target.id, "starts": after["starts"]}, "mailed": sent}


def refund_due(session: Session, registration: Registration) -> int:
    """What a cancellation of ``registration`` owes back: its price if its order was paid."""
    order = session.get(Order, registration.order_id) if registration.order_id is not None else None
    if order is not None and order.state in (OrderState.PAID, OrderState.PAYMENT_PENDING):
        return registration.price_cents
    return 0


@register
class CancelRegistration(_OnlineCommand):
    """Cancel the registrant's registration (a refund due is recorded for staff)."""

    kind: Literal["cancel_registration"] = "cancel_registration"
    registration_id: int = Field(gt=0, le=2**31 - 1)
    surname: str = Field(max_length=100)

    action: ClassVar[str] = "course.cancel_registration"
    label: ClassVar[str] = "Cancel a course registration"

    def check_in(self, session: Session, member: Member) -> None:
        registration = _registration(session, member, self.registration_id)
        refusal = change_refusal(registration, "cancel", utcnow())
        if refusal is not None:
            raise Rejected(refusal, {"registration_id": refusal})
        _check_surname(member, self.surname)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        registration = _registration(session, member, self.registration_id)
        registration.state, registration.changed_at = RegistrationState.CANCELLED, utcnow()
        registration.refund_due_cents = refund_due(session, registration)
        course = registration.session.course
        facts = _session_facts(registration.session)
        refund = money(registration.refund_due_cents, course.currency) if registration.refund_due_cents else ""
        sent = _mail_change(session, registration, member, actor, "cancelled", {**facts, "refund": refund})
        return {"registration_id": registration.id, "course": facts["course"], "starts": facts["starts"],
                "refund_due": refund, "mailed": sent}


# ---------------------------------------------------------------------- waiting list


def _entry(session: Session, member: Member, entry_id: int) -> WaitingListEntry:
    entry = session.get(WaitingListEntry, entry_id, with_for_update=True)
    if entry is None or entry.member_id != member.id:
        raise Rejected(f"member {member.member_no} has no waiting-list place {entry_id}",
                       {"entry_id": "no such waiting-list place"})
    return entry


def _mail_offer(session: Session, entry: WaitingListEntry, actor: Actor) -> None:
    who = session.get(Member, entry.member_id)
    if who is None or not who.email or entry.offer_expires_at is None:
        return
    queue_mail(session, template="waiting_offer", category=EmailCategory.SERVICE, to_address=who.email,
               to_name=who.display_name, member=who,
               context={"name": who.display_name, **_session_facts(entry.session),
                        "expires": _when(entry.offer_expires_at)},
               actor_user_id=actor.user_id, actor_name=actor.username, impersonation_id=actor.impersonation_id,
               client_address=actor.client_address)


def _pass_on(session: Session, entry: WaitingListEntry, now: dt.datetime, actor: Actor) -> str | None:
    following = pass_place_on(session, entry, now)
    if following is None:
        return None
    _mail_offer(session, following, actor)
    nxt = session.get(Member, following.member_id)
    return nxt.member_no if nxt is not None else str(following.member_id)


@register
class OfferPlace(_OnlineCommand):
    """Staff offer a free place on a session to a waiting member, open for ``hours``."""

    kind: Literal["offer_place"] = "offer_place"
    entry_id: int = Field(gt=0, le=2**31 - 1)
    hours: int = Field(default=OFFER_HOURS, ge=1, le=24 * 14)

    action: ClassVar[str] = "course.offer_place"
    label: ClassVar[str] = "Offer a waiting-list place"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_STAFF

    def check_in(self, session: Session, member: Member) -> None:
        entry = _entry(session, member, self.entry_id)
        if entry.state != WaitState.WAITING:
            raise Rejected(f"this waiting-list place is {entry.state.label.lower()}, not waiting",
                           {"entry_id": "not waiting"})
        course_session = session.get(CourseSession, entry.session_id, with_for_update=True)
        if course_session is None or free_places(session, course_session) <= 0:
            raise Rejected("the session has no free place to offer", {"entry_id": "the session is full"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        entry = _entry(session, member, self.entry_id)
        make_offer(entry, utcnow(), self.hours)
        _mail_offer(session, entry, actor)
        assert entry.offer_expires_at is not None
        return {"entry_id": entry.id, "course": entry.session.course.title, "hours": self.hours,
                "expires": entry.offer_expires_at.isoformat()}


@register
class AcceptOffer(_OnlineCommand):
    """The member takes the place offered: a registration, and an order to pay for it."""

    kind: Literal["accept_offer"] = "accept_offer"
    entry_id: int = Field(gt=0, le=2**31 - 1)

    action: ClassVar[str] = "course.accept_offer"
    label: ClassVar[str] = "Accept a waiting-list place"

    def check_in(self, session: Session, member: Member) -> None:
        entry = _entry(session, member, self.entry_id)
        expired = entry.state == WaitState.EXPIRED or (
            entry.state == WaitState.OFFERED and entry.offer_expires_at is not None
            and utcnow() >= entry.offer_expires_at)
        if expired and entry.offer_expires_at is not None:
            raise Rejected(f"this offer expired on {entry.offer_expires_at:%d %B %Y at %H:%M} UTC and passed to "
                           "the next person waiting", {"entry_id": "the offer expired"})
        if entry.state != WaitState.OFFERED:
            raise Rejected("no place is offered to you on this waiting list", {"entry_id": "no offer"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        entry = _entry(session, member, self.entry_id)
        course: Course = entry.session.course
        now = utcnow()
        order = place_order(session, member, [LineIn(f"{course.title}, {entry.session.starts_at:%d %b %Y}",
                                                     course.price_cents)],
                            registrants=[member], description=course.title) if course.price_cents > 0 else None
        registration = Registration(session_id=entry.session_id, registrant_member_id=member.id,
                                    contact_member_id=member.id, order_id=order.id if order else None,
                                    price_cents=course.price_cents, state=RegistrationState.REGISTERED,
                                    registered_at=now, refund_due_cents=0)
        session.add(registration)
        session.flush()
        entry.state, entry.resolved_at, entry.registration_id = WaitState.ACCEPTED, now, registration.id
        return {"entry_id": entry.id, "registration_id": registration.id, "course": course.title,
                "order_no": order.order_no if order else None}


@register
class LeaveWaitingList(_OnlineCommand):
    """"Remove me": the member leaves the waiting list (an open offer is declined and
    passes to the next person)."""

    kind: Literal["leave_waiting_list"] = "leave_waiting_list"
    entry_id: int = Field(gt=0, le=2**31 - 1)

    action: ClassVar[str] = "course.leave_waiting_list"
    label: ClassVar[str] = "Leave a waiting list"

    def check_in(self, session: Session, member: Member) -> None:
        entry = _entry(session, member, self.entry_id)
        if entry.state not in (WaitState.WAITING, WaitState.OFFERED):
            raise Rejected(f"this waiting-list place is already {entry.state.label.lower()}",
                           {"entry_id": "not on the list any more"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        entry = _entry(session, member, self.entry_id)
        now = utcnow()
        had_offer = entry.state == WaitState.OFFERED
        entry.state = WaitState.DECLINED if had_offer else WaitState.REMOVED
        entry.resolved_at = now
        passed = _pass_on(session, entry, now, actor) if had_offer else None
        return {"entry_id": entry.id, "course": entry.session.course.title, "state": entry.state.value,
                "offered_to": passed}


#: Names op ids of the sweep: one expiry of one offer is one op, however many sweeps see it.
EXPIRY_NAMESPACE = uuid.UUID("0c7d1f0e-2a55-4d5e-93a1-5f0e6c1d2b16")


@register
class ExpireOffer(_OnlineCommand):
    """An offer past its expiry at ``at`` ends, and the place passes on (the server's
    sweep only: no signed-in role may run it)."""

    kind: Literal["expire_offer"] = "expire_offer"
    entry_id: int = Field(gt=0, le=2**31 - 1)
    at: dt.datetime

    action: ClassVar[str] = "course.offer_expired"
    label: ClassVar[str] = "Expire a waiting-list offer"

    @classmethod
    def permits(cls, role: UserRole | None) -> bool:
        return role is None

    @classmethod
    def refusal(cls, role: UserRole | None) -> str | None:
        return None if role is None else "Expire a waiting-list offer: only the server does this"

    def check_in(self, session: Session, member: Member) -> None:
        entry = _entry(session, member, self.entry_id)
        if entry.state != WaitState.OFFERED or entry.offer_expires_at is None or self.at < entry.offer_expires_at:
            raise Rejected("this offer is not open past its expiry", {"entry_id": "no expired offer"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        entry = _entry(session, member, self.entry_id)
        expired_at = entry.offer_expires_at
        entry.state, entry.resolved_at = WaitState.EXPIRED, self.at
        passed = _pass_on(session, entry, self.at, actor)
        return {"entry_id": entry.id, "course": entry.session.course.title,
                "expired_at": expired_at.isoformat() if expired_at else None, "offered_to": passed}


SERVER = Actor(user_id=None, username="server")


def sweep_waiting_lists(session: Session, now: dt.datetime | None = None, *, member_id: int | None = None,
                        session_ids: tuple[int, ...] = ()) -> list[CommandResult]:
    """Expire every offer open past its expiry at ``now`` (one :class:`ExpireOffer`
    each, through ``execute``) and pass each place on; loops until none is left, since
    a place passed on may itself be past expiry at ``now`` only if ``now`` is later than
    its new window. Commits each expiry. ``member_id`` / ``session_ids`` narrow it to
    the lists a page is about to show."""
    now = now or utcnow()
    results = []
    for _ in range(1000):  # bounded: each round ends at least one offer
        due = expired_offers(session, now, member_id=member_id, session_ids=session_ids)
        if not due:
            break
        for entry in due:
            assert entry.offered_at is not None
            op_id = uuid.uuid5(EXPIRY_NAMESPACE, f"{entry.id}:{entry.offered_at.isoformat()}")
            result = execute(session, ExpireOffer(op_id=op_id, member_id=entry.member_id, entry_id=entry.id, at=now),
                             SERVER)
            session.commit()
            results.append(result)
        member_id = None  # a place passed on may belong to anyone on those lists
        session_ids = tuple({e.session_id for e in due})
    return results


def sweep_for_member(session: Session, member_id: int, now: dt.datetime | None = None) -> list[CommandResult]:
    """:func:`sweep_waiting_lists` over every list ``member_id`` is on (another person's
    expired offer there may have passed the place to them)."""
    ids = tuple(session.scalars(select(WaitingListEntry.session_id).where(
        WaitingListEntry.member_id == member_id, WaitingListEntry.state.in_((WaitState.WAITING, WaitState.OFFERED)))
        .distinct()))
    return sweep_waiting_lists(session, now, session_ids=ids) if ids else []


# ---------------------------------------------------------------------- e-learning


@register
class AdvanceElearning(_OnlineCommand):
    """Mark section ``section`` (1-based) of an e-learning module done: the next one
    after those done (sections are taken in order); the last one completes it."""

    kind: Literal["advance_elearning"] = "advance_elearning"
    enrolment_id: int = Field(gt=0, le=2**31 - 1)
    section: int = Field(ge=1, le=1000)

    action: ClassVar[str] = "elearning.advance"
    label: ClassVar[str] = "Record e-learning progress"

    def _enrolment(self, session: Session, member: Member) -> ElearningEnrolment:
        enrolment = session.get(ElearningEnrolment, self.enrolment_id)
        if enrolment is None or enrolment.member_id != member.id:
            raise Rejected(f"member {member.member_no} has no e-learning enrolment {self.enrolment_id}",
                           {"enrolment_id": "no such enrolment"})
        return enrolment

    def check_in(self, session: Session, member: Member) -> None:
        enrolment = self._enrolment(session, member)
        if enrolment.completed_at is not None:
            raise Rejected("this module is already completed", {"section": "already completed"})
        if self.section > enrolment.total:
            raise Rejected(f"the module has {enrolment.total} sections", {"section": "no such section"})
        if self.section != enrolment.sections_done + 1:
            raise Rejected(f"finish section {enrolment.sections_done + 1} first",
                           {"section": "sections are taken in order"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        enrolment = self._enrolment(session, member)
        before = enrolment.sections_done
        enrolment.sections_done = self.section
        if enrolment.sections_done >= enrolment.total:
            enrolment.completed_at = utcnow()
        return {"enrolment_id": enrolment.id, "module": enrolment.module.title,
                "before": {"sections_done": before}, "after": {"sections_done": enrolment.sections_done},
                "completed": enrolment.completed_at is not None}


def waiting_position(session: Session, entry: WaitingListEntry) -> int:
    """1 for the first person still waiting on the entry's session, and so on."""
    ahead = session.scalars(select(WaitingListEntry.id).where(
        WaitingListEntry.session_id == entry.session_id, WaitingListEntry.state == WaitState.WAITING,
        WaitingListEntry.position < entry.position)).all()
    return len(ahead) + 1
