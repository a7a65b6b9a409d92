"""Contact us in headless Chromium, as a member uses it: write to us (an empty form
first: the messages under the fields), the conversation with a staff reply and never
a note, a reply of their own, and the same pages in a narrow window.

Each page is saved as a PNG (under ``DESKTOP_CARE_SCREENSHOTS`` when set, else in the
test's temporary directory) to be looked at."""

from __future__ import annotations

import uuid
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import Actor, AddNote, Reply, execute
from desktop_care.models import Ticket
from tests.server.conftest import PASSWORD, make_member, make_portal_user, unique
from tests.server.test_portal_orders_browser import browser, shots  # noqa: F401 (fixtures)
from tests.support.browser import Chromium, heading_is
from tests.support.servers import LiveServer


def test_a_member_contacts_us_in_the_browser(sqlite_server: LiveServer, browser: Chromium, shots: Path) -> None:
    server = sqlite_server
    with Session(server.engine(), expire_on_commit=False) as db:
        email = f"{unique('ivy')}@example.org"
        member = make_member(db, "Ivy", "Lumen", email=email)
        user = make_portal_user(db, member, email=email, display_name="Ivy Lumen")
    browser.open(f"{server.url}/portal/sign-in")
    browser.type("#username", user.username)
    browser.type("#password", PASSWORD)
    browser.click("button[type=submit].primary", heading_is("My account"))

    browser.click('nav a[href="/portal/contact"]', heading_is("Contact us"))
    assert "No conversations yet" in browser.text("main")
    browser.click("#send-message", new_page=True)
    assert browser.text("#topic-error") == "Choose what your message is about."
    assert browser.text("#message-error") == "Must not be empty."
    browser.screenshot(shots / "portal-contact-errors.png")

    Select(browser.driver.find_element(By.CSS_SELECTOR, "#topic")).select_by_visible_text("My membership")
    browser.type("#subject", "Membership card")
    browser.type("#message", "My card has my old surname.\nCould you send a new one?")
    browser.click("#send-message", heading_is("Membership card"))
    assert "Thank you: your message was sent." in browser.text(".flash")
    assert "Received" in browser.text("#ticket-state")

    with Session(server.engine(), expire_on_commit=False) as db:
        ticket = db.scalar(select(Ticket).where(Ticket.member_id == member.id))
        assert ticket is not None and ticket.queue == "membership"
        staff = Actor(user_id=None, username="care.desk")
        uid = uuid.UUID(ticket.uid)
        secret = unique("NOTE-")
        for command in (AddNote(member_id=member.id, ticket=uid, body=f"Check the marriage certificate {secret}"),
                        Reply(member_id=member.id, ticket=uid, body="A new card is on its way.")):
            assert execute(db, command, staff).status == "applied"
        db.commit()
    browser.open(f"{server.url}/portal/contact/{ticket.id}")
    thread = browser.text("#thread")
    assert "A new card is on its way." in thread and "Customer care" in thread and secret not in thread
    browser.type("#message", "Thank you!")
    browser.click("#send-reply", "document.querySelector('.flash') !== null")
    assert "Thank you!" in browser.text("#thread")
    browser.screenshot(shots / "portal-contact-thread.png", full_page=True)
    browser.open(f"{server.url}/portal/contact")
    assert "Membership card" in browser.text("#conversations")
    browser.screenshot(shots / "portal-contact.png", full_page=True)

    browser.resize(390, 844)
    for path, name in (("/portal/contact", "portal-contact-narrow.png"),
                       (f"/portal/contact/{ticket.id}", "portal-contact-thread-narrow.png")):
        browser.open(f"{server.url}{path}")
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        browser.screenshot(shots / name, full_page=True)
