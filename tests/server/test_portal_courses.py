"""My courses, My e-learning and My waiting list in the portal, and the console's
``GET /members/{id}/courses``: every rule and refusal, the surname confirmation, the
mail, certificates read back from their PDF and checked by the public page, and the
waiting-list cascade with time passed in (never slept)."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass

import pypdf
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands.courses import sweep_waiting_lists
from desktop_care.models import AuditEvent, LineIn, Member, Order, OrderState, User, UserRole, place_order, utcnow
from desktop_care.models.courses import (
    Certificate,
    Course,
    CourseSession,
    ElearningEnrolment,
    ElearningModule,
    Registration,
    RegistrationState,
    WaitingListEntry,
    WaitState,
    new_certificate_code,
)
from tests.server.conftest import PASSWORD, make_member, make_portal_user, staff_headers, unique
from tests.support.portal import Browser
from tests.support.servers import LiveServer
from tests.support.smtp import SmtpSink


@dataclass
class Account:
    member: Member
    user: User
    email: str


def _account(db: Session, first: str, last: str) -> Account:
    email = f"{unique(first.lower())}@example.org"
    m = make_member(db, first, last, email=email)
    user = make_portal_user(db, m, role=UserRole.FULL, email=email, display_name=f"{first} {last}")
    return Account(m, user, email)


def _browser(server: LiveServer, account: Account) -> Browser:
    browser = Browser(server.url)
    assert browser.sign_in(account.user.username, PASSWORD).status == 200
    return browser


def _course(db: Session, *, starts_in: tuple[float, ...] = (10, 20, 30), capacity: int = 5, transfer: bool = True,
            cancel: bool = True, cutoff: int = 48, price: int = 9500) -> tuple[Course, list[CourseSession]]:
    course = Course(code=unique("C")[:20], title=f"Judging basics {uuid.uuid4().hex[:4]}", summary="Two days in the ring.",
                    description="Taught in small groups.\n\nLunch included.", price_cents=price,
                    transfer_allowed=transfer, cancellation_allowed=cancel, cutoff_hours=cutoff)
    db.add(course)
    now = utcnow().replace(microsecond=0)
    sessions = [CourseSession(course=course, starts_at=now + dt.timedelta(days=d),
                              ends_at=now + dt.timedelta(days=d, hours=7), online=False,
                              venue=f"Hall {i + 1}, Malvern", capacity=capacity) for i, d in enumerate(starts_in)]
    db.add_all(sessions)
    db.commit()
    return course, sessions


def _register(db: Session, course_session: CourseSession, registrant: Member, contact: Member | None = None, *,
              paid: bool = False, state: RegistrationState = RegistrationState.REGISTERED) -> Registration:
    contact = contact or registrant
    payer = db.get(Member, contact.id)
    assert payer is not None
    order = place_order(db, payer, [LineIn("Course place", course_session.course.price_cents)],
                        registrants=[registrant])
    if paid:
        order.state = OrderState.PAID
    registration = Registration(session_id=course_session.id, registrant_member_id=registrant.id,
                                contact_member_id=contact.id, order_id=order.id,
                                price_cents=course_session.course.price_cents, state=state)
    db.add(registration)
    db.commit()
    return registration


def _fill(db: Session, course_session: CourseSession, count: int) -> None:
    for i in range(count):
        _register(db, course_session, make_member(db, "Filler", f"Person{i}"))


# ---------------------------------------------------------------------- my courses


def test_my_courses_tabs_more_info_and_a_certificate_the_public_page_verifies(server: LiveServer, db: Session) -> None:
    ann, eve = _account(db, "Ann", "Archer"), _account(db, "Eve", "Evans")
    course, (first, second, _) = _course(db, starts_in=(-30, 12, 40))
    done = _register(db, first, ann.member, paid=True, state=RegistrationState.COMPLETED)
    plain_done = _register(db, first, eve.member, paid=True, state=RegistrationState.COMPLETED)
    upcoming = _register(db, second, ann.member, paid=True)
    certificate = Certificate(registration_id=done.id, code=new_certificate_code(), issued_by="Course office")
    db.add(certificate)
    db.commit()

    browser = _browser(server, ann)
    current = browser.get("/portal/courses")
    assert current.title == "My courses" and f'id="registration-{upcoming.id}"' in current.text
    assert f'id="registration-{done.id}"' not in current.text and 'aria-current="page">Current' in current.text
    assert f'id="transfer-{upcoming.id}"' in current.text and f'id="cancel-{upcoming.id}"' in current.text
    completed = browser.get("/portal/courses?tab=completed")
    assert f'id="registration-{done.id}"' in completed.text and f'id="certificate-{done.id}"' in completed.text
    info = browser.get(f"/portal/courses/{upcoming.id}")
    assert info.title == course.title and "Lunch included." in info.text
    assert "Transfers to another date and cancellations are possible until 48 hours before the start." in info.text

    pdf = browser.http.get(f"{server.url}/portal/courses/{done.id}/certificate", timeout=10)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert certificate.code in text and "Ann Archer" in text and course.title in text
    assert f"/portal/certificates/verify?code={certificate.code}" in text
    # No certificate issued: no button, no PDF.
    assert browser.get(f"/portal/courses/{upcoming.id}/certificate").status == 404

    # The public check needs no sign-in, and takes the code as people type it.
    typed = certificate.code.lower().replace("-", " ")
    check = requests.get(f"{server.url}/portal/certificates/verify", params={"code": typed}, timeout=10)
    assert check.status_code == 200 and "This certificate is valid" in check.text and "Ann Archer" in check.text
    wrong = requests.get(f"{server.url}/portal/certificates/verify", params={"code": "CERT-AAAA-BBBB-CCCC"},
                         timeout=10)
    assert wrong.status_code == 404 and "No certificate has this code" in wrong.text

    # Someone else's registration is not there at all.
    assert browser.get(f"/portal/courses/{plain_done.id}").status == 404
    assert browser.get(f"/portal/courses/{plain_done.id}/certificate").status == 404


def test_invoice_and_pay_only_for_the_billing_contact(mail_server: LiveServer, mail_db: Session,
                                                     smtp: SmtpSink) -> None:
    db = mail_db
    ann, bob = _account(db, "Ann", "Archer"), _account(db, "Bob", "Baker")
    _, (first, *_) = _course(db)
    booked = _register(db, first, ann.member, bob.member)  # Bob booked and pays; unpaid
    order = db.get(Order, booked.order_id)
    assert order is not None

    as_ann = _browser(mail_server, ann)
    page = as_ann.get("/portal/courses")
    assert f'id="invoice-{booked.id}"' not in page.text and f'id="pay-{booked.id}"' not in page.text
    assert "Bob Baker" in page.text
    refused = as_ann.submit(f"/portal/courses/{booked.id}/invoice")
    assert refused.status == 403 and "Only the billing contact, Bob Baker, can get the invoice" in refused.text

    as_bob = _browser(mail_server, bob)
    page = as_bob.get("/portal/courses")
    assert f'id="invoice-{booked.id}"' in page.text and f'href="/portal/orders/{order.id}/pay"' in page.text
    forged = as_bob.http.post(f"{mail_server.url}/portal/courses/{booked.id}/invoice", data={}, timeout=10)
    assert forged.status_code == 400 and "This form has expired" in forged.text
    as_bob.get("/portal/courses")
    sent = as_bob.submit(f"/portal/courses/{booked.id}/invoice")
    assert sent.status == 200 and "We have sent the invoice to your e-mail address." in sent.text
    mail = smtp.to(bob.email, f"Invoice INV-{100000 + order.id}")
    assert order.order_no in mail.text
    # Pay goes to the orders' own Pay flow, which confirms the amount.
    confirm = as_bob.get(f"/portal/orders/{order.id}/pay")
    assert confirm.status == 200 and "£95.00" in confirm.text


# ---------------------------------------------------------------------- transfer and cancel


def test_transfer_needs_the_surname_and_mails_registrant_and_order_contact(mail_server: LiveServer, mail_db: Session,
                                                                         smtp: SmtpSink) -> None:
    db = mail_db
    ann, bob = _account(db, "Ann", "Ärcher"), _account(db, "Bob", "Baker")
    course, (first, full, later, closing) = _course(db, starts_in=(10, 20, 30, 1.5), capacity=2)
    _fill(db, full, 2)
    registration = _register(db, first, ann.member, bob.member)
    browser = _browser(mail_server, ann)
    form = browser.get(f"/portal/courses/{registration.id}/transfer")
    assert form.title == "Pick another date"
    # Only other dates with free places, before their own cut-off.
    assert f'id="session-{later.id}"' in form.text
    assert f'id="session-{full.id}"' not in form.text and f'id="session-{closing.id}"' not in form.text
    assert f'id="session-{first.id}"' not in form.text

    wrong = browser.submit(f"/portal/courses/{registration.id}/transfer", session_id=str(later.id), surname="Baker")
    assert wrong.status == 409 and "That is not the registrant's surname" in wrong.errors["surname"]
    empty = browser.submit(f"/portal/courses/{registration.id}/transfer", session_id=str(later.id), surname=" ")
    assert empty.status == 400 and empty.errors["surname"] == "Type your surname to confirm."
    none = browser.submit(f"/portal/courses/{registration.id}/transfer", surname="Archer")
    assert none.errors["session_id"] == "Pick one of the dates listed."
    to_full = browser.submit(f"/portal/courses/{registration.id}/transfer", session_id=str(full.id), surname="archer")
    assert to_full.errors["session_id"] == "That date has no free places any more."
    db.expire_all()
    assert db.get(Registration, registration.id).state == RegistrationState.REGISTERED  # type: ignore[union-attr]

    # Case and accents do not matter: "archer" confirms "Ärcher".
    done = browser.submit(f"/portal/courses/{registration.id}/transfer", session_id=str(later.id), surname="archer")
    assert done.status == 200 and "Your registration was transferred" in done.text
    db.expire_all()
    old = db.get(Registration, registration.id)
    new = db.scalar(select(Registration).where(Registration.transferred_from_id == registration.id))
    assert old is not None and new is not None
    assert (old.state, new.state, new.session_id, new.order_id) == (
        RegistrationState.TRANSFERRED, RegistrationState.REGISTERED, later.id, registration.order_id)
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "course.transfer_registration",
                                               AuditEvent.entity_id == str(ann.member.id)))
    assert audit is not None and audit.actor_user_id == ann.user.id
    to_ann = smtp.to(ann.email, f"Your registration for {course.title} was transferred")
    assert f"{later.starts_at:%d %B %Y}" in to_ann.text and f"{first.starts_at:%d %B %Y}" in to_ann.text
    to_bob = smtp.to(bob.email, f"Ann Ärcher's registration for {course.title} was transferred")
    assert "As the order contact" in to_bob.text
    # The old registration is closed: it cannot move again.
    again = browser.get(f"/portal/courses/{registration.id}/transfer")
    assert again.status == 409 and "This registration is transferred" in again.text


def test_cancel_policy_cut_off_and_the_refund_due_staff_see(mail_server: LiveServer, mail_db: Session,
                                                           smtp: SmtpSink) -> None:
    db = mail_db
    ann = _account(db, "Ann", "Archer")
    _, (no_cancel,) = _course(db, starts_in=(10,), cancel=False, transfer=False)
    _, (too_late,) = _course(db, starts_in=(1,), cutoff=48)
    course, (paid_session,) = _course(db, starts_in=(10,), price=9500)
    refused_policy = _register(db, no_cancel, ann.member)
    refused_late = _register(db, too_late, ann.member)
    paid = _register(db, paid_session, ann.member, paid=True)
    browser = _browser(mail_server, ann)

    page = browser.get(f"/portal/courses/{refused_policy.id}/cancel")
    assert page.status == 409 and "does not allow cancellations. Please contact us." in page.text
    page = browser.get(f"/portal/courses/{refused_policy.id}/transfer")
    assert "does not allow transfers to another date" in page.text
    page = browser.get(f"/portal/courses/{refused_late.id}/cancel")
    cutoff = too_late.starts_at - dt.timedelta(hours=48)
    assert page.status == 409 and f"Changes to this registration closed on {cutoff:%d %B %Y at %H:%M} UTC" in page.text
    listing = browser.get("/portal/courses")
    assert f'id="more-{refused_policy.id}"' not in listing.text and f'id="more-{refused_late.id}"' not in listing.text
    # The refusal holds at the form too (a stale page posting anyway).
    browser.get(f"/portal/courses/{paid.id}/cancel")
    late = browser.submit(f"/portal/courses/{refused_late.id}/cancel", surname="Archer")
    assert late.status == 409 and "Changes to this registration closed" in late.form_error

    form = browser.get(f"/portal/courses/{paid.id}/cancel")
    wrong = browser.submit(f"/portal/courses/{paid.id}/cancel", surname="Smith")
    assert wrong.status == 409 and "That is not the registrant's surname" in wrong.errors["surname"]
    assert form.title == "Cancel registration"
    done = browser.submit(f"/portal/courses/{paid.id}/cancel", surname="ARCHER")
    assert done.status == 200 and "Your registration was cancelled" in done.text
    assert "A refund of £95.00 is due" in done.text
    mail = smtp.to(ann.email, f"Your registration for {course.title} was cancelled")
    assert "A refund of £95.00 is due" in mail.text

    courses = requests.get(f"{mail_server.api}/members/{ann.member.id}/courses",
                           headers=staff_headers(mail_server, db), timeout=10)
    assert courses.status_code == 200
    rows = {r["id"]: r for r in courses.json()["registrations"]}
    assert rows[paid.id]["state"] == "cancelled" and rows[paid.id]["refund_due_cents"] == 9500
    assert rows[refused_late.id]["refund_due_cents"] == 0


# ---------------------------------------------------------------------- waiting list


def _wait(db: Session, course_session: CourseSession, member: Member, position: int) -> WaitingListEntry:
    entry = WaitingListEntry(session_id=course_session.id, member_id=member.id, position=position)
    db.add(entry)
    db.commit()
    return entry


def _offer(server: LiveServer, headers: dict[str, str], member: Member, entry: WaitingListEntry,
           hours: int = 48) -> requests.Response:
    command = {"kind": "offer_place", "member_id": member.id, "entry_id": entry.id, "hours": hours}
    return requests.post(f"{server.api}/commands", json={"command": command}, headers=headers, timeout=10)


def _state(db: Session, entry: WaitingListEntry) -> WaitState:
    db.expire_all()
    found = db.get(WaitingListEntry, entry.id)
    assert found is not None
    return found.state


def test_waiting_list_offer_accept_remove_and_the_cascade_in_controlled_time(server: LiveServer,
                                                                            db: Session) -> None:
    ann, bea, cal = _account(db, "Ann", "Archer"), _account(db, "Bea", "Brown"), _account(db, "Cal", "Cole")
    course, (full,) = _course(db, starts_in=(20,), capacity=2)
    _fill(db, full, 1)
    a, b, c = _wait(db, full, ann.member, 1), _wait(db, full, bea.member, 2), _wait(db, full, cal.member, 3)
    staff = staff_headers(server, db)

    as_ann = _browser(server, ann)
    page = as_ann.get("/portal/waiting-list")
    assert "Number 1 in the queue" in page.text and f'id="accept-{a.id}"' not in page.text
    assert as_ann.submit(f"/portal/waiting-list/{a.id}/accept").status == 409  # nothing offered yet

    offered = _offer(server, staff, ann.member, a, hours=24)
    assert offered.status_code == 200 and offered.json()["status"] == "applied", offered.text
    # One free place, now held by Ann's offer: none left for Bea.
    full_now = _offer(server, staff, bea.member, b).json()
    assert full_now["status"] == "rejected" and full_now["reason"] == "the session has no free place to offer"
    page = as_ann.get("/portal/waiting-list")
    assert f'id="accept-{a.id}"' in page.text and f'id="expires-{a.id}"' in page.text
    # The server's sweep is no staff action.
    expire = {"kind": "expire_offer", "member_id": ann.member.id, "entry_id": a.id, "at": utcnow().isoformat()}
    assert requests.post(f"{server.api}/commands", json={"command": expire}, headers=staff, timeout=10).status_code == 403

    # Remove me while offered: declined, and the place passes to Bea at once.
    as_ann.get("/portal/waiting-list")
    removed = as_ann.submit(f"/portal/waiting-list/{a.id}/remove")
    assert removed.status == 200 and "You were removed from the waiting list." in removed.text
    assert (_state(db, a), _state(db, b), _state(db, c)) == (WaitState.DECLINED, WaitState.OFFERED, WaitState.WAITING)
    b_row = db.get(WaitingListEntry, b.id)
    assert b_row is not None and b_row.offer_hours == 24 and b_row.offer_expires_at is not None
    expires = b_row.offer_expires_at

    # Time passes (passed in, not slept): a sweep before the expiry changes nothing...
    assert sweep_waiting_lists(db, expires - dt.timedelta(minutes=1), session_ids=(full.id,)) == []
    # ...and one after it expires Bea's offer and offers the place to Cal, for 24 hours from then.
    later = expires + dt.timedelta(minutes=5)
    done = sweep_waiting_lists(db, later, session_ids=(full.id,))
    assert [r.status.value for r in done] == ["applied"]
    assert (_state(db, b), _state(db, c)) == (WaitState.EXPIRED, WaitState.OFFERED)
    c_row = db.get(WaitingListEntry, c.id)
    assert c_row is not None and c_row.offer_expires_at == later + dt.timedelta(hours=24)
    assert sweep_waiting_lists(db, later, session_ids=(full.id,)) == []  # applied once

    as_bea = _browser(server, bea)
    page = as_bea.get("/portal/waiting-list")
    assert "Expired" in page.text and f'id="accept-{b.id}"' not in page.text
    late = as_bea.submit(f"/portal/waiting-list/{b.id}/accept")
    assert late.status == 409 and "This offer expired on" in late.text and "passed to the next person" in late.text

    as_cal = _browser(server, cal)
    as_cal.get("/portal/waiting-list")
    taken = as_cal.submit(f"/portal/waiting-list/{c.id}/accept")
    assert taken.status == 200 and taken.title == course.title and "Registered" in taken.text
    db.expire_all()
    registration = db.scalar(select(Registration).where(Registration.registrant_member_id == cal.member.id))
    assert registration is not None and registration.session_id == full.id and _state(db, c) == WaitState.ACCEPTED
    assert 'id="pay"' in taken.text  # the new order waits to be paid by Cal
    assert requests.get(f"{server.api}/members/{cal.member.id}/courses", headers=staff,
                        timeout=10).json()["waiting"][0]["state"] == "accepted"


def test_an_expired_offer_passes_on_lazily_when_the_list_is_read(server: LiveServer, db: Session) -> None:
    ann, bea = _account(db, "Ann", "Archer"), _account(db, "Bea", "Brown")
    _, (full,) = _course(db, starts_in=(20,), capacity=1)
    a, b = _wait(db, full, ann.member, 1), _wait(db, full, bea.member, 2)
    assert _offer(server, staff_headers(server, db), ann.member, a).json()["status"] == "applied"
    row = db.get(WaitingListEntry, a.id)
    assert row is not None
    row.offer_expires_at = utcnow() - dt.timedelta(minutes=1)  # the offer's time ran out
    db.commit()
    page = _browser(server, bea).get("/portal/waiting-list")
    assert f'id="accept-{b.id}"' in page.text and _state(db, a) == WaitState.EXPIRED
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "course.offer_expired",
                                               AuditEvent.entity_id == str(ann.member.id)))
    assert audit is not None and audit.actor_name == "server"


# ---------------------------------------------------------------------- e-learning


def test_elearning_module_page_advances_in_order_to_completed(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Archer")
    module = ElearningModule(code=unique("EL")[:20], title="Herd book essentials", summary="What it records.",
                             sections=[{"title": "What it is", "body": "The register of the breed."},
                                       {"title": "Registering", "body": "Sire and dam by number."},
                                       {"title": "Transfers", "body": "By member ID."}])
    db.add(module)
    db.flush()
    enrolment = ElearningEnrolment(module_id=module.id, member_id=ann.member.id)
    db.add(enrolment)
    db.commit()
    browser = _browser(server, ann)
    listing = browser.get("/portal/elearning")
    assert f'id="access-{enrolment.id}"' in listing.text and "0 of 3 sections" in listing.text
    first = browser.get(f"/portal/elearning/{enrolment.id}")
    assert first.title == "Herd book essentials" and "The register of the breed." in first.text
    second = browser.submit(f"/portal/elearning/{enrolment.id}/progress", section="1")
    assert "Sire and dam by number." in second.text and "1 of 3 done" in second.text
    skipped = browser.submit(f"/portal/elearning/{enrolment.id}/progress", section="3")
    assert skipped.status == 409 and "Finish section 2 first." in skipped.text
    browser.get(f"/portal/elearning/{enrolment.id}?section=2")
    browser.submit(f"/portal/elearning/{enrolment.id}/progress", section="2")
    finished = browser.submit(f"/portal/elearning/{enrolment.id}/progress", section="3")
    assert "You completed this module" in finished.text
    assert f'id="enrolment-{enrolment.id}"' in browser.get("/portal/elearning?tab=completed").text
    assert f'id="enrolment-{enrolment.id}"' not in browser.get("/portal/elearning").text
    other = _account(db, "Eve", "Evans")
    assert _browser(server, other).get(f"/portal/elearning/{enrolment.id}").status == 404


def test_member_courses_api_needs_staff_and_a_member(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    assert requests.get(f"{server.api}/members/999999999/courses", headers=headers, timeout=10).status_code == 404
    assert requests.get(f"{server.api}/members/1/courses", timeout=10).status_code == 401
    nobody = make_member(db, "Nia", "None")
    empty = requests.get(f"{server.api}/members/{nobody.id}/courses", headers=headers, timeout=10).json()
    assert empty == {"registrations": [], "waiting": [], "elearning": []}
