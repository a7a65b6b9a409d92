"""My courses in the real QtWebEngine view while staff act on a member's behalf: the
registration listed, Pick another date, the surname typed, Transfer registration, and
the change audited with the staff member and the on-behalf session. The other pages
of the family (More info, My e-learning, a module, My waiting list, the certificate
check) are loaded too; ``DESKTOP_CARE_TEST_SHOTS=/dir`` keeps their PNGs."""

from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import select

from desktop_care.models import AuditEvent, LineIn, Member, place_order, utcnow
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
)
from desktop_care.ui.main_window import MainWindow
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, server_session, unique
from tests.ui.test_on_behalf_view import details_of, js, member, navigate, open_view, painted, window  # noqa: F401


def test_staff_on_behalf_open_my_courses_and_transfer_a_registration(
        qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer, screenshot) -> None:
    with server_session(sqlite_server) as db:
        person = db.get(Member, member.id)
        assert person is not None
        now = utcnow().replace(second=0, microsecond=0)
        course = Course(code=unique("JB")[:20], title="Judging basics", summary="Two days in the ring.",
                        description="Taught in small groups.", price_cents=9500, cutoff_hours=48)
        dates = [CourseSession(course=course, starts_at=now + dt.timedelta(days=d),
                               ends_at=now + dt.timedelta(days=d, hours=7), venue=f"Hall {d}, Malvern", capacity=8)
                 for d in (-40, 12, 33)]
        db.add_all([course, *dates])
        db.flush()
        order = place_order(db, person, [LineIn("Judging basics", 9500)], registrants=[person])
        done = Registration(session_id=dates[0].id, registrant_member_id=person.id, contact_member_id=person.id,
                            order_id=order.id, price_cents=9500, state=RegistrationState.COMPLETED)
        booked = Registration(session_id=dates[1].id, registrant_member_id=person.id, contact_member_id=person.id,
                              order_id=order.id, price_cents=9500, state=RegistrationState.REGISTERED)
        module = ElearningModule(code=unique("EL")[:20], title="Herd book essentials", summary="What it records.",
                                 sections=[{"title": "What it is", "body": "The register of the breed."},
                                           {"title": "Registering", "body": "Sire and dam by number."}])
        db.add_all([done, booked, module])
        db.flush()
        db.add(Certificate(registration_id=done.id, code="CERT-QTWE-2345-6789", issued_by="Course office"))
        enrolment = ElearningEnrolment(module_id=module.id, member_id=person.id, sections_done=1)
        wait = WaitingListEntry(session_id=dates[2].id, member_id=person.id, position=1, state=WaitState.OFFERED,
                                offered_at=now, offer_expires_at=now + dt.timedelta(hours=48))
        db.add_all([enrolment, wait])
        db.commit()
        booked_id, later_id, enrolment_id, wait_id = booked.id, dates[2].id, enrolment.id, wait.id

    def look(name: str) -> None:
        # Web content paints a little after it loads (QT.md): only for the PNG, never for an assert.
        if os.environ.get("DESKTOP_CARE_TEST_SHOTS"):
            qtbot.wait(700)
            screenshot(view, name)

    view = open_view(qtbot, details_of(qtbot, window, member.id), reason="Member asked to move their course date")
    view.resize(1280, 800)
    navigate(qtbot, view, "location.href = '/portal/courses'")
    assert js(qtbot, view, f"!!document.getElementById('registration-{booked_id}')")
    painted(qtbot, view)
    js(qtbot, view, f"document.getElementById('more-{booked_id}').click(); 1")  # the ••• menu opens, no script
    look("portal-my-courses")
    navigate(qtbot, view, f"document.getElementById('transfer-{booked_id}').click()")
    assert js(qtbot, view, "location.pathname") == f"/portal/courses/{booked_id}/transfer"
    js(qtbot, view, f"document.getElementById('session-{later_id}').checked = true; "
                    f"document.getElementById('surname').value = {member.last_name.lower()!r}; 1")
    painted(qtbot, view)
    look("portal-pick-another-date")
    navigate(qtbot, view, "document.getElementById('transfer-registration').click()")
    assert "Your registration was transferred" in js(qtbot, view, "document.getElementById('notice').innerText")
    painted(qtbot, view)
    look("portal-course-info")

    with server_session(sqlite_server) as db:
        old = db.get(Registration, booked_id)
        new = db.scalar(select(Registration).where(Registration.transferred_from_id == booked_id))
        assert old is not None and old.state == RegistrationState.TRANSFERRED
        assert new is not None and new.session_id == later_id
        audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "course.transfer_registration",
                                                   AuditEvent.entity_id == str(member.id)))
        assert audit is not None and audit.actor_user_id == window.session.staff.id
        assert audit.impersonation_id is not None
        new_id = new.id

    for path, name, element in (
            (f"/portal/courses/{new_id}/cancel", "portal-cancel-registration", "cancel-registration"),
            ("/portal/courses?tab=completed", "portal-my-courses-completed", "tab-completed"),
            ("/portal/elearning", "portal-my-elearning", f"access-{enrolment_id}"),
            (f"/portal/elearning/{enrolment_id}", "portal-module", "mark-done"),
            ("/portal/waiting-list", "portal-my-waiting-list", f"remove-{wait_id}"),
            ("/portal/certificates/verify?code=CERT-QTWE-2345-6789", "portal-certificate-check", "certificate-valid")):
        navigate(qtbot, view, f"location.href = {path!r}")
        assert js(qtbot, view, f"!!document.getElementById({element!r})"), path
        painted(qtbot, view)
        look(name)
