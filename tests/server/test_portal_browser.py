"""My profile and Change password in headless Chromium, as a member uses them: typing
into the fields and pressing the buttons, at 1280×800 and in a narrow window. Set
``DESKTOP_CARE_SHOTS`` to a folder to keep a screenshot of every page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from desktop_care.models import Member, User
from tests.server.conftest import PASSWORD, make_member, make_portal_user, unique
from tests.support.browser import Chromium
from tests.support.servers import LiveServer

SHOTS = os.environ.get("DESKTOP_CARE_SHOTS")


def shot(browser: Chromium, name: str) -> None:
    if SHOTS:
        browser.screenshot(Path(SHOTS) / f"portal-{name}.png")


@pytest.fixture
def member(sqlite_server: LiveServer) -> tuple[Member, User]:
    with Session(sqlite_server.engine(), expire_on_commit=False) as db:
        member = make_member(db, "Mary", "Quant", ["SW1A 1AA"], email=f"{unique('mq')}@example.org",
                             phone="+442079460000")
        member.addresses[0].city = "London"
        db.commit()
        return member, make_portal_user(db, member, email=member.email, display_name="Mary Quant")


@pytest.fixture
def browser() -> Iterator[Chromium]:
    chromium = Chromium()
    yield chromium
    chromium.close()


def sign_in(browser: Chromium, server: LiveServer, user: User) -> None:
    browser.open(f"{server.url}/portal/sign-in")
    shot(browser, "sign-in")
    browser.type("#username", user.username)
    browser.type("#password", PASSWORD)
    browser.submit_and_wait("button[type=submit]", "My account")
    shot(browser, "my-account")


def test_a_member_updates_their_profile(sqlite_server: LiveServer, member: tuple[Member, User],
                                        browser: Chromium) -> None:
    _, user = member
    sign_in(browser, sqlite_server, user)
    browser.click("nav.menu a[href='/portal/profile']")
    assert browser.text("h1") == "My profile"
    assert browser.value("#first_name") == "Mary" and browser.value("#phone") == "020 7946 0000"
    shot(browser, "my-profile")
    browser.type("#first_name", "")
    browser.type("#postcode", "not a postcode")
    browser.submit_and_wait("#update-profile", "My profile")
    assert browser.text(".form-error") == "Please correct the fields marked below."
    assert browser.text("#first_name-error") == "Must not be empty."
    assert browser.has("#postcode-error")
    shot(browser, "my-profile-errors")
    browser.type("#first_name", "Maria")
    browser.type("#postcode", "e1 6an")
    browser.type("#city", "London")
    browser.submit_and_wait("#update-profile", "My profile")
    assert browser.text(".flash") == "Your profile was updated."
    assert browser.value("#first_name") == "Maria" and browser.value("#postcode") == "E1 6AN"
    shot(browser, "my-profile-saved")


def test_a_member_changes_their_password(sqlite_server: LiveServer, member: tuple[Member, User],
                                         browser: Chromium) -> None:
    _, user = member
    sign_in(browser, sqlite_server, user)
    browser.click("nav.menu a[href='/portal/password']")
    assert browser.text("h1") == "Change password"
    shot(browser, "change-password")
    browser.type("#current_password", "wrong")
    browser.type("#password", "a new long password")
    browser.type("#repeat", "a new long password")
    browser.submit_and_wait("#change-password", "Change password")
    assert browser.text("#current_password-error") == "This is not your current password."
    shot(browser, "change-password-errors")
    browser.type("#current_password", PASSWORD)
    browser.type("#password", "a new long password")
    browser.type("#repeat", "a new long password")
    browser.submit_and_wait("#change-password", "My account")
    assert browser.text(".flash").startswith("Your password was changed.")
    shot(browser, "password-changed")


def test_the_pages_read_well_in_a_narrow_window(sqlite_server: LiveServer, member: tuple[Member, User],
                                                browser: Chromium) -> None:
    _, user = member
    sign_in(browser, sqlite_server, user)
    browser.resize(420, 800)
    for path, name in (("/portal/profile", "narrow-profile"), ("/portal/password", "narrow-password")):
        browser.open(f"{sqlite_server.url}{path}")
        # The menu becomes a row above the page; nothing is wider than the window.
        assert browser.script("return getComputedStyle(document.querySelector('nav.menu')).display") == "flex"
        assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth") is True
        shot(browser, name)
