"""Demo courses, registrations, certificates, e-learning and waiting lists (issue 9).

The first new demo member who is enrolled and has a Full portal user is the
**showcase**: every section of My courses, My e-learning and My waiting list is filled
for them (docs/server.md, "Demo data"). Others get a few registrations and waiting-list
places, so staff see them on members' Courses tabs too.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import LineIn, Member, MemberStatus, OrderState, TxnKind, User, UserRole, post_transaction
from desktop_care.models.courses import (
    CODE_ALPHABET,
    Certificate,
    Course,
    CourseSession,
    ElearningEnrolment,
    ElearningModule,
    Registration,
    RegistrationState,
    WaitingListEntry,
    WaitState,
)
from desktop_care.models.orders import place_order

_COURSES = (
    # code, title, summary, price, transfer, cancel, cut-off hours, online
    ("JB-101", "Judging basics", "Two days on how a breed class is judged, with practice in the ring.", 9500,
     True, True, 48, False),
    ("HC-120", "Animal health and care", "Everyday care, the signs of illness, and when to call the vet.", 6000,
     True, True, 24, True),
    ("RS-200", "Registrar's toolkit", "Herd book rules, transfers and corrections for society registrars.", 12000,
     True, False, 72, False),
    ("SH-150", "Showing and handling", "Preparing an animal for the show ring, and handling it there.", 7500,
     False, True, 48, False),
    ("BP-300", "Breeding programmes", "Planning matings with pedigrees, DNA profiles and estimated breeding values.",
     15000, False, False, 96, True),
)  # fmt: skip
_VENUES = ("Three Counties Showground, Malvern", "Royal Highland Centre, Edinburgh", "Stoneleigh Park, Coventry")
_DESCRIPTION = (
    "The course is taught by experienced judges and registrars of the society, in small groups.\n\n"
    "Bring warm clothes for the practical sessions. Lunch and refreshments are included; tell us of any "
    "dietary needs when you book.\n\nA certificate of completion is issued to everyone who attends the whole course."
)
_MODULES = (
    ("EL-10", "Herd book essentials", "What the herd book records, and how registrations and transfers work.", (
        ("What the herd book is", "The herd book is the society's register of every animal of the breed: its "
         "name, registration number, sex, date of birth, sire and dam, and its owners over its life.\n\n"
         "A registration number is given once and never reused."),
        ("Registering an animal", "A breeder registers a calf or lamb with its sire and dam by their registration "
         "numbers. The society checks that the sire is a registered male and the dam a registered female, old "
         "enough at the birth."),
        ("Transfers of ownership", "When an animal is sold, the seller transfers it to the buyer by member ID; "
         "the buyer accepts the transfer in their portal. The ownership history is kept."),
        ("Corrections", "A wrong sex or date of birth is corrected with a reason, and the correction is kept in "
         "the animal's history for anyone to see."),
    )),
    ("EL-20", "Biosecurity on the farm", "Keeping disease out: visitors, new stock, cleaning and records.", (
        ("Why biosecurity matters", "Most disease arrives with new animals, people and vehicles. A few habits "
         "keep most of it out."),
        ("Bringing in new stock", "Isolate new animals for at least three weeks, and test them before they join "
         "the herd."),
        ("Visitors and vehicles", "Give visitors clean boots or overshoes, and keep vehicles out of the yards "
         "where you can."),
    )),
    ("EL-30", "Show ring etiquette", "How to behave in the ring, towards the judge and the other exhibitors.", (
        ("Before the class", "Arrive early, know your class number, and have your animal clean and calm."),
        ("In the ring", "Follow the steward, keep your animal set up, and never talk to the judge about your "
         "animal's breeding."),
        ("After the judging", "Accept the placings with good grace; the judge's comments are there to help."),
    )),
)  # fmt: skip


def _sessions(session: Session, rng: random.Random, now: dt.datetime) -> list[tuple[Course, list[CourseSession]]]:
    out = []
    for code, title, summary, price, transfer, cancel, cutoff, online in _COURSES:
        course = Course(code=code, title=title, summary=summary, description=_DESCRIPTION, price_cents=price,
                        transfer_allowed=transfer, cancellation_allowed=cancel, cutoff_hours=cutoff)
        session.add(course)
        dates = []
        # Two past sessions, three to come.
        for offset in (-120, -40, 21, 45, 80):
            start = (now + dt.timedelta(days=offset + rng.randint(0, 5))).replace(hour=9, minute=30)
            venue = "Live video class (the link comes by e-mail)" if online else rng.choice(_VENUES)
            dates.append(CourseSession(course=course, starts_at=start, ends_at=start.replace(hour=16, minute=30),
                                       online=online, venue=venue, capacity=rng.choice((8, 10, 12))))
        session.add_all(dates)
        out.append((course, dates))
    session.flush()
    return out


def _register(session: Session, rng: random.Random, course: Course, course_session: CourseSession,
              registrant: Member, contact: Member, now: dt.datetime, *, paid: bool,
              state: RegistrationState) -> Registration:
    at = min(now, course_session.starts_at) - dt.timedelta(days=30)
    order = place_order(session, contact, [LineIn(f"{course.title}, {course_session.starts_at:%d %b %Y}",
                                                  course.price_cents)],
                        registrants=[registrant], description=f"Course: {course.title}", at=at)
    if paid:
        post_transaction(session, contact, -order.amount_cents, f"Card payment for order {order.order_no}",
                         at=at + dt.timedelta(days=1), kind=TxnKind.PAYMENT, order_id=order.id)
        order.state, order.paid_at = OrderState.PAID, at + dt.timedelta(days=1)
    registration = Registration(session_id=course_session.id, registrant_member_id=registrant.id,
                                contact_member_id=contact.id, order_id=order.id, price_cents=course.price_cents,
                                state=state, registered_at=at, refund_due_cents=0)
    session.add(registration)
    session.flush()
    if state == RegistrationState.COMPLETED:
        session.add(Certificate(registration_id=registration.id, code=_code(session, rng),
                                issued_at=course_session.ends_at + dt.timedelta(days=2), issued_by="Course office"))
    return registration


def _code(session: Session, rng: random.Random) -> str:
    """A certificate code from the seed's generator (the same seed, the same codes)."""
    while True:
        code = "CERT-" + "-".join("".join(rng.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
        if session.scalar(select(Certificate.id).where(Certificate.code == code)) is None:
            return code


def _wait(session: Session, course_session: CourseSession, member: Member, position: int, now: dt.datetime,
          *, offer_hours: int | None = None) -> WaitingListEntry:
    entry = WaitingListEntry(session_id=course_session.id, member_id=member.id, position=position,
                             state=WaitState.WAITING, joined_at=now - dt.timedelta(days=10 - position),
                             offer_hours=48)
    if offer_hours is not None:
        entry.state, entry.offered_at = WaitState.OFFERED, now - dt.timedelta(hours=12)
        entry.offer_expires_at = entry.offered_at + dt.timedelta(hours=offer_hours)
        entry.offer_hours = offer_hours
    session.add(entry)
    return entry


def seed_courses(session: Session, rng: random.Random, now: dt.datetime, first_member_id: int) -> Member | None:
    """Courses, e-learning modules and the demo members' registrations; returns the
    showcase member (None when there are too few new members, or a seed before made
    the courses already)."""
    if session.scalar(select(Course.id).limit(1)) is not None:
        return None
    members = list(session.scalars(select(Member).where(
        Member.id >= first_member_id, Member.status == MemberStatus.ENROLLED).order_by(Member.id).limit(80)))
    with_users = set(session.scalars(select(User.member_id).where(
        User.member_id.in_([m.id for m in members]), User.role == UserRole.FULL)))
    showcase = next((m for m in members if m.id in with_users and m.email), None)
    if showcase is None or len(members) < 6:
        return None
    others = [m for m in members if m.id != showcase.id]
    courses = _sessions(session, rng, now)
    modules = []
    for code, title, summary, sections in _MODULES:
        module = ElearningModule(code=code, title=title, summary=summary,
                                 sections=[{"title": t, "body": b} for t, b in sections])
        session.add(module)
        modules.append(module)
    session.flush()
    (jb, jb_dates), (hc, hc_dates), (rs, rs_dates), (sh, sh_dates), (bp, bp_dates) = courses
    booker = others[0]
    done = RegistrationState.COMPLETED
    booked = RegistrationState.REGISTERED
    # The showcase: two completed with certificates, four to come (paid and transferable,
    # unpaid, booked by someone else, a policy without changes).
    _register(session, rng, jb, jb_dates[0], showcase, showcase, now, paid=True, state=done)
    _register(session, rng, hc, hc_dates[1], showcase, showcase, now, paid=True, state=done)
    _register(session, rng, rs, rs_dates[2], showcase, showcase, now, paid=True, state=booked)
    _register(session, rng, hc, hc_dates[3], showcase, showcase, now, paid=False, state=booked)
    _register(session, rng, sh, sh_dates[2], showcase, booker, now, paid=True, state=booked)
    _register(session, rng, bp, bp_dates[3], showcase, showcase, now, paid=True, state=booked)
    # Showcase's e-learning: one half done, one completed.
    session.add(ElearningEnrolment(module_id=modules[0].id, member_id=showcase.id, enrolled_at=now - dt.timedelta(days=9),
                                   sections_done=2))
    session.add(ElearningEnrolment(module_id=modules[2].id, member_id=showcase.id,
                                   enrolled_at=now - dt.timedelta(days=60), sections_done=3,
                                   completed_at=now - dt.timedelta(days=50)))
    # Full sessions with waiting lists: the showcase holds an open offer on one and waits on another.
    full = jb_dates[2]
    fill = others[1:1 + full.capacity]
    for person in fill[:-1]:
        _register(session, rng, jb, full, person, person, now, paid=rng.random() < 0.7, state=booked)
    _wait(session, full, showcase, 1, now, offer_hours=48)
    for position, person in enumerate(others[20:23], start=2):
        _wait(session, full, person, position, now)
    second = sh_dates[3]
    for person in others[30:30 + second.capacity]:
        _register(session, rng, sh, second, person, person, now, paid=True, state=booked)
    for position, person in enumerate((*others[40:42], showcase), start=1):
        _wait(session, second, person, position, now)
    # The others: a registration or two each, some completed, some e-learning.
    for person in others[45:]:
        course, dates = rng.choice(courses)
        past = rng.random() < 0.4
        date = rng.choice(dates[:2] if past else dates[2:])
        _register(session, rng, course, date, person, person, now, paid=past or rng.random() < 0.6,
                  state=done if past else booked)
        if rng.random() < 0.5:
            module = rng.choice(modules)
            steps = rng.randint(0, len(module.sections))
            session.add(ElearningEnrolment(module_id=module.id, member_id=person.id, sections_done=steps,
                                           enrolled_at=now - dt.timedelta(days=rng.randint(5, 90)),
                                           completed_at=now - dt.timedelta(days=2)
                                           if steps == len(module.sections) else None))
    session.flush()
    # Charges and payments moved the contacts' balances: a stamp of our own, not the
    # clock's, so the same seed gives the same rows (as the demo orders do).
    touched = sorted({r.contact_member_id for r in session.scalars(select(Registration))})
    for index, member_id in enumerate(touched):
        member = session.get(Member, member_id)
        if member is not None:
            member.updated_at = now + dt.timedelta(microseconds=index + 1)
    session.flush()
    return showcase
