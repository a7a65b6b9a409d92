"""The Animals tab of a member's details against the real server: the member's animals
with their pedigree in the tooltip, the transfers waiting both ways, and a plain
message when the server cannot be reached. Set ``DESKTOP_CARE_SHOTS=/some/dir`` to
keep its PNG."""

from __future__ import annotations

import datetime as dt

from desktop_care.models import Member, utcnow
from desktop_care.models.animals import AnimalTransfer, Sex, TransferState, transfer_expiry
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.animals import AnimalsTab
from tests.server.test_animals import _breed, _foundation
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, add_full_member, server_session, shot, unique
from tests.ui.test_editing import member, opened, window  # noqa: F401 (fixtures)


def test_animals_tab_lists_the_herd_and_the_transfers_waiting(qtbot, window: MainWindow, member: FullMember,
                                                              sqlite_server: LiveServer) -> None:
    buyer = add_full_member(sqlite_server, unique("Hollins"))
    with server_session(sqlite_server) as db:
        owner = db.get(Member, member.id)
        other = db.get(Member, buyer.id)
        assert owner is not None and other is not None
        breed = _breed(db, "Dexter")
        bull = _foundation(db, breed, owner, Sex.MALE, dt.date(2018, 4, 2), "Moor Samson")
        cow = _foundation(db, breed, owner, Sex.FEMALE, dt.date(2019, 5, 3), "Glen Clover")
        calf = _foundation(db, breed, owner, Sex.FEMALE, dt.date(2024, 6, 4), "Hill Bramble")
        calf.sire_id, calf.dam_id = bull.id, cow.id
        theirs = _foundation(db, breed, other, Sex.MALE, dt.date(2022, 1, 5), "Ridge Duke")
        now = utcnow()
        for animal, giver, taker in ((calf, owner, other), (theirs, other, owner)):
            db.add(AnimalTransfer(animal_id=animal.id, from_member_id=giver.id, to_member_id=taker.id,
                                  state=TransferState.PENDING, created_at=now, expires_at=transfer_expiry(now)))
        db.commit()
        calf_no, bull_no, theirs_no, buyer_name = calf.reg_no, bull.reg_no, theirs.reg_no, other.display_name
        breed_name = breed.name

    details = opened(qtbot, window, member.id)
    details.show_tab("Animals")
    tab = details.animals_tab
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    assert tab.rows()[0] == [calf_no, "Hill Bramble", breed_name, "Female", "04 Jun 2024", "Registered"]
    assert [r[1] for r in tab.rows()] == ["Hill Bramble", "Glen Clover", "Moor Samson"]  # youngest first
    assert tab.count_label.text() == "3 animals"
    tip = tab.table.item(0, 0).toolTip()
    assert f"Sire: Moor Samson ({bull_no})" in tip and "Dam: Glen Clover" in tip
    expires = f"{transfer_expiry(now):%d %b %Y}"
    assert sorted(tab.transfer_rows()) == sorted([
        [calf_no, "Hill Bramble", "This member", f"{buyer_name} ({buyer.member_no})", f"{now:%d %b %Y}", expires],
        [theirs_no, "Ridge Duke", f"{buyer_name} ({buyer.member_no})", "This member", f"{now:%d %b %Y}", expires],
    ])
    assert tab.transfers_table.isVisible() and tab.hint.isVisible()
    # Any animal by its number: the neighbour's, typed in small letters.
    tab.lookup_edit.setText(theirs_no.lower())
    tab.look_up()
    qtbot.waitUntil(lambda: not tab.looking_up, timeout=10_000)
    assert tab.lookup_result.text().startswith(f"{theirs_no} · Ridge Duke · {breed_name} male, born 05 Jan 2022")
    assert f"owner {buyer_name} ({buyer.member_no})" in tab.lookup_result.text()
    details.resize(900, 640)
    shot(details, "animals-tab")
    tab.lookup_edit.setText(theirs_no[:-1] + ("A" if theirs_no[-1] != "A" else "B"))
    tab.look_up()
    qtbot.waitUntil(lambda: not tab.looking_up, timeout=10_000)
    assert "its last character does not match" in tab.lookup_result.text()


def test_animals_tab_says_plainly_when_the_server_cannot_be_reached(qtbot) -> None:
    unreachable = ApiClient("http://127.0.0.1:9", retries=0)  # nothing listens on the discard port
    tab = AnimalsTab(unreachable, 1)
    qtbot.addWidget(tab)
    tab.show()
    tab.ensure_loaded()
    qtbot.waitUntil(lambda: not tab.loading and tab.state.isVisible(), timeout=15_000)
    assert tab.state.title.text() == "The animals could not be loaded."
    assert "can't be reached" in tab.state.body.text() and tab.state.retry_button.isVisible()
    assert tab.rows() == [] and not tab.transfers_table.isVisible()
    shot(tab, "animals-tab-offline")
