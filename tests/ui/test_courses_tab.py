"""The Courses tab of a member's details against the real server: registrations (with
the certificate and the refund due on a cancelled paid one), waiting-list places with
Offer a place, and e-learning progress. Set ``DESKTOP_CARE_SHOTS=/some/dir`` to keep
its PNG."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from desktop_care.models import AuditEvent, LineIn, Member, OrderState, place_order, utcnow
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
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.courses import CoursesTab
from desktop_care.ui.qt import Qt
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, server_session, shot, unique
from tests.ui.test_editing import member, opened, window  # noqa: F401 (fixtures)


def test_courses_tab_shows_registrations_refund_waiting_list_and_offers_a_place(
        qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer) -> None:
    with server_session(sqlite_server) as db:
        person = db.get(Member, member.id)
        assert person is not None
        now = utcnow()
        course = Course(code=unique("JB")[:20], title="Judging basics", price_cents=9500, cutoff_hours=48)
        past, coming, full = (CourseSession(course=course, starts_at=now + dt.timedelta(days=d),
                                            ends_at=now + dt.timedelta(days=d, hours=7), venue="Malvern",
                                            capacity=c) for d, c in ((-30, 10), (14, 10), (40, 1)))
        db.add_all([course, past, coming, full])
        db.flush()
        order = place_order(db, person, [LineIn("Judging basics", 9500)], registrants=[person])
        order.state = OrderState.PAID
        completed = Registration(session_id=past.id, registrant_member_id=person.id, contact_member_id=person.id,
                                 order_id=order.id, price_cents=9500, state=RegistrationState.COMPLETED)
        cancelled = Registration(session_id=coming.id, registrant_member_id=person.id, contact_member_id=person.id,
                                 order_id=order.id, price_cents=9500, state=RegistrationState.CANCELLED,
                                 refund_due_cents=9500)
        db.add_all([completed, cancelled])
        db.flush()
        db.add(Certificate(registration_id=completed.id, code="CERT-TEST-2345-6789"))
        entry = WaitingListEntry(session_id=full.id, member_id=person.id, position=1)
        module = ElearningModule(code=unique("EL")[:20], title="Herd book essentials",
                                 sections=[{"title": "One", "body": "."}, {"title": "Two", "body": "."}])
        db.add_all([entry, module])
        db.flush()
        db.add(ElearningEnrolment(module_id=module.id, member_id=person.id, sections_done=1))
        db.commit()
        entry_id = entry.id

    details = opened(qtbot, window, member.id)
    details.show_tab("Courses")
    tab = details.courses_tab
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    regs = tab.rows(tab.registrations)
    assert regs[0][0].startswith("Judging basics") and regs[0][2:4] == ["Completed", "CERT-TEST-2345-6789"]
    assert regs[1][2] == "Cancelled" and regs[1][5] == "Refund due: £95.00"
    assert tab.rows(tab.elearning)[0][1] == "1 of 2"
    assert tab.rows(tab.waiting)[0][2:4] == ["Waiting", "1"]
    assert not tab.offer_button.isEnabled() and "Select a waiting-list place" in tab.offer_button.toolTip()
    tab.select_entry(entry_id)
    assert tab.offer_button.isEnabled()
    shot(details, "courses-tab")
    qtbot.mouseClick(tab.offer_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.loaded and tab.rows(tab.waiting)[0][2] == "Place offered", timeout=10_000)
    assert tab.rows(tab.waiting)[0][4] != "" and tab.rows(tab.waiting)[0][5] == "0"
    tab.select_entry(entry_id)
    assert not tab.offer_button.isEnabled() and "not waiting" in tab.offer_button.toolTip()
    with server_session(sqlite_server) as db:
        found = db.get(WaitingListEntry, entry_id)
        assert found is not None and found.state == WaitState.OFFERED
        audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "course.offer_place",
                                                   AuditEvent.entity_id == str(member.id)))
        assert audit is not None and audit.actor_name == window.session.staff.username


def test_courses_tab_says_it_needs_the_server_when_it_cannot_be_reached(qtbot) -> None:
    # A real client of a server that does not answer (nothing listens on port 9).
    client = ApiClient("http://127.0.0.1:9", "no-token", retries=0)
    tab = CoursesTab(client, 42)
    qtbot.addWidget(tab)
    tab.ensure_loaded()
    qtbot.waitUntil(lambda: not tab.loading and tab.state.retry_button.isVisibleTo(tab), timeout=15_000)
    assert tab.state.title.text() == "The courses could not be loaded."
    assert "can't be reached" in tab.state.body.text() or "reach" in tab.state.body.text()
