"""Demo data fills every section of courses, e-learning and waiting lists for one easy
member to find (the first enrolled demo member with a portal user)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models.courses import ElearningEnrolment, Registration, RegistrationState, WaitingListEntry, WaitState
from desktop_care.server.db import make_engine, upgrade
from desktop_care.server.demo import seed_demo
from tests.support.servers import DatabaseFactory


def test_the_demo_showcase_member_has_every_course_section_filled(databases: DatabaseFactory, backend: str) -> None:
    engine = make_engine(databases.create(backend))
    upgrade(engine)
    now = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    seed_demo(engine, 60, seed=3, now=now)
    with Session(engine) as session:
        first = session.scalar(select(Registration).order_by(Registration.id))
        assert first is not None
        showcase = first.registrant_member_id
        mine = list(session.scalars(select(Registration).where(Registration.registrant_member_id == showcase)))
        states = [r.state for r in mine]
        assert states.count(RegistrationState.COMPLETED) == 2 and states.count(RegistrationState.REGISTERED) == 4
        assert all(r.certificate is not None for r in mine if r.state == RegistrationState.COMPLETED)
        assert any(r.contact_member_id != showcase for r in mine)  # booked by someone else
        assert any(not r.session.course.transfer_allowed for r in mine)
        learning = list(session.scalars(select(ElearningEnrolment).where(ElearningEnrolment.member_id == showcase)))
        assert {e.completed_at is None for e in learning} == {True, False}
        waits = {w.state for w in session.scalars(select(WaitingListEntry).where(
            WaitingListEntry.member_id == showcase))}
        assert waits == {WaitState.OFFERED, WaitState.WAITING}
    engine.dispose()
