"""Courses, their sessions and registrations, certificates, e-learning and waiting lists
(the Arlo customer portal's "My courses", "My elearning" and "My waiting list").

A **course** carries its registration policy: whether a registrant may transfer to
another session, whether they may cancel, and a cut-off (hours before the session
starts) after which neither is possible. A **session** is one date of a course (start,
end, a venue or online, a capacity). A **registration** is one registrant on one session,
booked by an order contact (the billing contact, who may be someone else) and paid by a
sales order. A transfer closes the registration as *transferred* and opens a new one on
the other session (``transferred_from_id``), so the history stays; a cancellation of a
paid registration records the refund due, which staff manage.

A **waiting list** entry holds a member's place in the queue of a full session. Staff
offer a free place to an entry; the offer expires (``offer_expires_at``); a declined,
removed or expired offer passes the place to the next waiting entry at once
(:func:`pass_place_on`). Expiry is evaluated lazily, by :func:`expired_offers` read
with a ``now`` (the portal and the console sweep before they show a list), so time is
always passed in (docs/decisions/0020-courses-and-waiting-lists.md).
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .ledger import ACCOUNT_CURRENCY, _enum
from .merge import member_reference

#: How long a waiting-list offer stays open unless staff choose otherwise.
OFFER_HOURS = 48
#: Certificate codes: groups of this alphabet (no 0/O, 1/I/L, which people misread).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class RegistrationState(enum.StrEnum):
    REGISTERED = "registered"
    #: Moved to another session (a new registration holds the place there).
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class WaitState(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return {"offered": "Place offered"}.get(self.value, self.value.capitalize())


#: Waiting-list states still in the queue.
OPEN_WAIT_STATES = (WaitState.WAITING, WaitState.OFFERED)


class Course(Base):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: What people quote ("FA-101").
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default=ACCOUNT_CURRENCY)
    # The registration policy.
    transfer_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    cancellation_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Transfers and cancellations close this many hours before a session starts.
    cutoff_hours: Mapped[int] = mapped_column(Integer, default=48)

    sessions: Mapped[list[CourseSession]] = relationship(back_populates="course", order_by="CourseSession.starts_at")


class CourseSession(Base):
    __tablename__ = "course_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The venue's name and address, or the online meeting's description.
    venue: Mapped[str] = mapped_column(String(200), default="")
    capacity: Mapped[int] = mapped_column(Integer)

    course: Mapped[Course] = relationship(back_populates="sessions")

    @property
    def where(self) -> str:
        return f"Online · {self.venue}" if self.online and self.venue else ("Online" if self.online else self.venue)

    def cutoff(self) -> dt.datetime:
        return self.starts_at - dt.timedelta(hours=self.course.cutoff_hours)


class Registration(Base):
    __tablename__ = "course_registration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_session.id"), index=True)
    #: Who attends.
    registrant_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    #: Who booked and pays (the billing contact); may be the registrant.
    contact_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"), default=None, index=True)
    #: What this place cost (minor units of the course's currency).
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[RegistrationState] = mapped_column(_enum(RegistrationState), default=RegistrationState.REGISTERED)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: The registration this one replaced by a transfer.
    transferred_from_id: Mapped[int | None] = mapped_column(ForeignKey("course_registration.id"), default=None)
    #: A cancelled paid registration: what staff owe back (they manage the refund).
    refund_due_cents: Mapped[int] = mapped_column(Integer, default=0)

    session: Mapped[CourseSession] = relationship()
    certificate: Mapped[Certificate | None] = relationship(back_populates="registration", uselist=False)


class Certificate(Base):
    __tablename__ = "course_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("course_registration.id"), unique=True)
    #: "CERT-7KQ4-M2XP-9HRT": printed on the PDF, verified by the public page.
    code: Mapped[str] = mapped_column(String(24), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(120), default="")

    registration: Mapped[Registration] = relationship(back_populates="certificate")


class ElearningModule(Base):
    __tablename__ = "elearning_module"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: [{"title": ..., "body": ...}, ...]: the module's sections, in order.
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ElearningEnrolment(Base):
    __tablename__ = "elearning_enrolment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("elearning_module.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Sections finished, from the first (progress is sections_done / len(sections)).
    sections_done: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    module: Mapped[ElearningModule] = relationship()

    @property
    def total(self) -> int:
        return len(self.module.sections)

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.sections_done / self.total)


class WaitingListEntry(Base):
    __tablename__ = "waiting_list_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_session.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    #: Order in the session's queue (lowest first; never reused).
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[WaitState] = mapped_column(_enum(WaitState), default=WaitState.WAITING)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    offered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    offer_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: How long an offer to this entry's successors stays open (the first offer's window).
    offer_hours: Mapped[int] = mapped_column(Integer, default=OFFER_HOURS)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: The registration an accepted offer made.
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("course_registration.id"), default=None)

    session: Mapped[CourseSession] = relationship()

    __table_args__ = (Index("ix_waiting_list_session_position", "session_id", "position"),)


member_reference("course_registration", "registrant_member_id", "course registrations")
member_reference("course_registration", "contact_member_id", "course registrations (as order contact)")
member_reference("elearning_enrolment", "member_id", "e-learning enrolments")
member_reference("waiting_list_entry", "member_id", "waiting-list places")


# ---------------------------------------------------------------------- rules


def new_certificate_code() -> str:
    """A fresh random code, "CERT-" and three groups of four (about 59 bits)."""
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
    return "CERT-" + "-".join(groups)


def normal_code(text: str) -> str:
    """A code as typed ("cert 7kq4m2xp9hrt", spaces, missing dashes) in its printed form."""
    raw = "".join(c for c in text.upper() if c.isalnum())
    raw = raw.removeprefix("CERT")
    if len(raw) != 12:
        return text.strip().upper()
    return "CERT-" + "-".join(raw[i:i + 4] for i in (0, 4, 8))


def places_taken(session: Session, session_id: int) -> int:
    """Registered places plus open offers (an offer holds its place)."""
    registered = session.scalar(select(func.count()).select_from(Registration).where(
        Registration.session_id == session_id,
        Registration.state.in_((RegistrationState.REGISTERED, RegistrationState.COMPLETED)))) or 0
    offered = session.scalar(select(func.count()).select_from(WaitingListEntry).where(
        WaitingListEntry.session_id == session_id, WaitingListEntry.state == WaitState.OFFERED)) or 0
    return int(registered) + int(offered)


def free_places(session: Session, course_session: CourseSession) -> int:
    return max(0, course_session.capacity - places_taken(session, course_session.id))


def change_refusal(registration: Registration, change: str, now: dt.datetime) -> str | None:
    """Why ``registration`` cannot be transferred (``change="transfer"``) or cancelled
    now, in plain words; None if it can."""
    course_session = registration.session
    course = course_session.course
    if registration.state != RegistrationState.REGISTERED:
        return f"This registration is {registration.state.label.lower()}, so it cannot be changed."
    if change == "transfer" and not course.transfer_allowed:
        return f"{course.title} does not allow transfers to another date. Please contact us."
    if change == "cancel" and not course.cancellation_allowed:
        return f"{course.title} does not allow cancellations. Please contact us."
    cutoff = course_session.cutoff()
    if now >= cutoff:
        return (f"Changes to this registration closed on {cutoff:%d %B %Y at %H:%M} UTC, "
                f"{course.cutoff_hours} hours before the course starts. Please contact us.")
    return None


def transfer_targets(session: Session, registration: Registration, now: dt.datetime) -> list[CourseSession]:
    """The other sessions of the course a registration may move to: not past their own
    cut-off, with a free place."""
    course = registration.session.course
    out = []
    for other in session.scalars(select(CourseSession).where(
            CourseSession.course_id == course.id, CourseSession.id != registration.session_id)
            .order_by(CourseSession.starts_at)):
        if now < other.cutoff() and free_places(session, other) > 0:
            out.append(other)
    return out


def next_waiting(session: Session, session_id: int) -> WaitingListEntry | None:
    return session.scalar(select(WaitingListEntry).where(
        WaitingListEntry.session_id == session_id, WaitingListEntry.state == WaitState.WAITING)
        .order_by(WaitingListEntry.position, WaitingListEntry.id).limit(1).with_for_update())


def make_offer(entry: WaitingListEntry, now: dt.datetime, hours: int) -> None:
    entry.state = WaitState.OFFERED
    entry.offered_at = now
    entry.offer_hours = hours
    entry.offer_expires_at = now + dt.timedelta(hours=hours)


def pass_place_on(session: Session, entry: WaitingListEntry, now: dt.datetime) -> WaitingListEntry | None:
    """``entry``'s offer ended (declined, removed, expired): offer the place to the next
    waiting entry of the session, for the same number of hours, from ``now``. Returns
    the entry offered (None when nobody waits)."""
    following = next_waiting(session, entry.session_id)
    if following is None:
        return None
    make_offer(following, now, entry.offer_hours)
    return following


def expired_offers(session: Session, now: dt.datetime, *, member_id: int | None = None,
                   session_ids: tuple[int, ...] = ()) -> list[WaitingListEntry]:
    """Offers open past their expiry at ``now`` (the sweep expires each of them)."""
    query = select(WaitingListEntry).where(WaitingListEntry.state == WaitState.OFFERED,
                                           WaitingListEntry.offer_expires_at <= now)
    if member_id is not None:
        query = query.where(WaitingListEntry.member_id == member_id)
    if session_ids:
        query = query.where(WaitingListEntry.session_id.in_(session_ids))
    return list(session.scalars(query.order_by(WaitingListEntry.offer_expires_at, WaitingListEntry.id)))


def registrations_of(session: Session, member_id: int) -> list[Registration]:
    """Every registration ``member_id`` attends or booked, soonest session first
    (transferred ones left out: their successor shows)."""
    return list(session.scalars(
        select(Registration).join(CourseSession, Registration.session_id == CourseSession.id)
        .where((Registration.registrant_member_id == member_id) | (Registration.contact_member_id == member_id),
               Registration.state != RegistrationState.TRANSFERRED)
        .order_by(CourseSession.starts_at, Registration.id)))


def next_position(session: Session, session_id: int) -> int:
    top = session.scalar(select(func.max(WaitingListEntry.position)).where(WaitingListEntry.session_id == session_id))
    return int(top or 0) + 1
