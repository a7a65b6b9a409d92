"""The animal pages in headless Chromium, as a member uses them: My animals, an
animal's page with its pedigree, history and owners, Register an animal (a refusal
under its field, then the registration), Transfer with its confirmation, Transfers,
and a narrow window.

Each page is saved as a PNG (under ``DESKTOP_CARE_SCREENSHOTS`` when set, else in the
test's temporary directory) to be looked at."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy.orm import Session

from desktop_care.models import utcnow
from desktop_care.models.animals import AnimalTransfer, Sex, TransferState, transfer_expiry
from tests.server.conftest import make_member, make_portal_user, unique
from tests.server.test_animals import _breed, _foundation, _years_ago
from tests.server.test_portal_orders_browser import _sign_in, browser, shots  # noqa: F401 (fixtures)
from tests.support.browser import Chromium, heading_is
from tests.support.servers import LiveServer


def test_a_member_registers_and_transfers_an_animal_in_the_browser(sqlite_server: LiveServer, browser: Chromium,
                                                                    shots: Path) -> None:
    server = sqlite_server
    with Session(server.engine(), expire_on_commit=False) as db:
        breed = _breed(db, "Hereford")
        email = f"{unique('ada')}@example.org"
        ada = make_member(db, "Ada", "Fairweather", email=email)
        user = make_portal_user(db, ada, email=email, display_name="Ada Fairweather")
        neighbour = make_member(db, "Ned", "Hollins", email=f"{unique('ned')}@example.org")
        bull = _foundation(db, breed, ada, Sex.MALE, _years_ago(7), "Moor Samson")
        cow = _foundation(db, breed, ada, Sex.FEMALE, _years_ago(6), "Glen Clover")
        _foundation(db, breed, ada, Sex.FEMALE, _years_ago(4), "Vale Heather")
        theirs = _foundation(db, breed, neighbour, Sex.MALE, _years_ago(3), "Ridge Duke")
        now = utcnow()
        db.add(AnimalTransfer(animal_id=theirs.id, from_member_id=neighbour.id, to_member_id=ada.id,
                              state=TransferState.PENDING, created_at=now, expires_at=transfer_expiry(now)))
        db.commit()

    _sign_in(browser, server, user.username)
    browser.open(f"{server.url}/portal/animals")
    browser.wait_for(heading_is("My animals"))
    assert "An animal is offered to you" in browser.text("#incoming-notice")
    assert browser.text("#animals tbody tr:first-child td:nth-child(2)") == "Vale Heather"
    browser.screenshot(shots / "animals-list.png")

    browser.click("#register-animal", heading_is("Register an animal"))
    browser.type("#name", "Hill Bramble")
    Select(browser.driver.find_element(By.CSS_SELECTOR, "#breed")).select_by_visible_text(breed.name)
    browser.click("input[name=sex][value=female]")
    born = (dt.date.today() - dt.timedelta(days=200)).isoformat()
    browser.script(f"document.querySelector('#born').value = '{born}'")  # a date picker's value, as chosen
    browser.type("#sire", cow.reg_no.lower())  # the wrong one: Clover is a cow
    browser.type("#dam", cow.reg_no)
    browser.submit_and_wait("#submit-register", "Register an animal")
    assert browser.text("#sire-error") == f"Glen Clover ({cow.reg_no}) is registered as female: the sire must be male."
    assert browser.value("#name") == "Hill Bramble" and browser.value("#born") == born
    browser.screenshot(shots / "animal-register-refused.png", full_page=True)
    browser.type("#sire", bull.reg_no)
    browser.submit_and_wait("#submit-register", "Hill Bramble")
    reg_no = browser.text("#reg-no")
    assert reg_no.startswith(f"{breed.code}-{utcnow().year}-") and "The animal is registered." in browser.text("#done")
    browser.screenshot(shots / "animal-detail.png", full_page=True)

    browser.click("#transfer-animal", heading_is("Transfer Hill Bramble"))
    browser.type("#to_member", neighbour.member_no)
    browser.submit_and_wait("#continue-transfer", "Transfer Hill Bramble")
    assert browser.text("#recipient") == "Ned Hollins"
    browser.screenshot(shots / "animal-transfer-confirm.png")
    browser.submit_and_wait("#confirm-transfer-button", "Hill Bramble")
    assert "Offered to Ned Hollins" in browser.text("#pending-offer")

    browser.open(f"{server.url}/portal/transfers")
    browser.wait_for(heading_is("Transfers"))
    assert "Ridge Duke" in browser.text("#incoming") and "Hill Bramble" in browser.text("#outgoing")
    browser.screenshot(shots / "animal-transfers.png", full_page=True)

    browser.open(f"{server.url}/portal/animals/{reg_no}/edit")
    browser.wait_for(heading_is("Maintain Hill Bramble"))
    browser.script("document.querySelector('#born').value = '" + (dt.date.today() - dt.timedelta(days=190)).isoformat()
                   + "'")
    browser.submit_and_wait("#save-animal", "Maintain Hill Bramble")
    assert browser.text("#reason-error") == "Say why the date of birth is corrected (at least 3 characters)."
    browser.screenshot(shots / "animal-edit-refused.png", full_page=True)

    browser.resize(420, 860)
    browser.open(f"{server.url}/portal/animals/{reg_no}")
    browser.wait_for(heading_is("Hill Bramble"))
    # Narrow: the table rows stack, and nothing runs past the window's edge.
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    browser.screenshot(shots / "animal-detail-narrow.png", full_page=True)
    browser.open(f"{server.url}/portal/animals")
    browser.wait_for(heading_is("My animals"))
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    browser.screenshot(shots / "animals-list-narrow.png", full_page=True)
