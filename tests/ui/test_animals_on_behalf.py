"""A registrar registers a calf for a member while acting on their behalf, in the real
QtWebEngine view against the real server: the portal's form, a refusal under its
field, the registration, the audit naming staff, member and on-behalf session, and
the console's Animals tab showing the new animal."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from desktop_care.models import AuditEvent, Member
from desktop_care.models.animals import Animal, AnimalEvent, Sex
from desktop_care.ui.main_window import MainWindow
from tests.server.test_animals import _breed, _foundation
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, server_session
from tests.ui.test_on_behalf_view import FORM_ERROR, details_of, js, member, navigate, open_view, painted, window  # noqa: F401


def test_a_registrar_registers_an_animal_on_behalf(qtbot, window: MainWindow, member: FullMember,
                                                    sqlite_server: LiveServer, screenshot) -> None:
    with server_session(sqlite_server) as db:
        owner = db.get(Member, member.id)
        assert owner is not None
        breed = _breed(db, "Highland")
        bull = _foundation(db, breed, owner, Sex.MALE, dt.date(2017, 3, 1), "Glen Magnus")
        cow = _foundation(db, breed, owner, Sex.FEMALE, dt.date(2018, 4, 1), "Moor Flora")
        bull_no, cow_no, code, breed_name = bull.reg_no, cow.reg_no, breed.code, breed.name

    details = details_of(qtbot, window, member.id)
    view = open_view(qtbot, details, reason="Member phoned to register a calf")
    navigate(qtbot, view, "document.querySelector('a[href=\"/portal/animals/new\"]').click()")
    assert js(qtbot, view, "document.querySelector('h1').innerText") == "Register an animal"
    fill = (f"document.getElementById('name').value = 'Vale Bonnie';"
            f"document.getElementById('breed').value = '{code}';"
            "document.querySelector('input[name=sex][value=female]').checked = true;"
            "document.getElementById('born').value = '2025-05-20';"
            f"document.getElementById('sire').value = '{cow_no}';"
            f"document.getElementById('dam').value = '{cow_no}';")
    navigate(qtbot, view, fill + "document.getElementById('submit-register').click()", ok=False)  # 400
    assert js(qtbot, view, "document.getElementById('sire-error').innerText") == (
        f"Moor Flora ({cow_no}) is registered as female: the sire must be male.")
    assert js(qtbot, view, "document.getElementById('on-behalf-banner') !== null") is True
    painted(qtbot, view, FORM_ERROR)
    screenshot(view, "on-behalf-animal-refused")

    navigate(qtbot, view, f"document.getElementById('sire').value = '{bull_no}';"
                          "document.getElementById('submit-register').click()")
    assert js(qtbot, view, "document.querySelector('h1').innerText") == "Vale Bonnie"
    reg_no = js(qtbot, view, "document.getElementById('reg-no').innerText")
    assert reg_no.startswith(f"{code}-")
    screenshot(view, "on-behalf-animal-registered")

    with server_session(sqlite_server) as db:
        animal = db.scalar(select(Animal).where(Animal.reg_no == reg_no))
        assert animal is not None and animal.owner_member_id == member.id and animal.sire_id is not None
        audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "animal.registered",
                                                   AuditEvent.entity_id == str(member.id)))
        assert audit is not None and audit.actor_user_id == window.session.staff.id
        assert audit.impersonation_id == view.session_id
        event = db.scalar(select(AnimalEvent).where(AnimalEvent.animal_id == animal.id))
        assert event is not None and event.impersonation_id == view.session_id

    details.show_tab("Animals")
    tab = details.animals_tab
    qtbot.waitUntil(lambda: tab.loaded and any(r[0] == reg_no for r in tab.rows()), timeout=20_000)
    assert next(r for r in tab.rows() if r[0] == reg_no)[1:4] == ["Vale Bonnie", breed_name, "Female"]
