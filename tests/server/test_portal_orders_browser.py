"""The orders and payment pages in headless Chromium, as a member uses them: sign in,
My orders, an order, Email invoice and Got it, Pay through the test provider, a
declined card, an exported order, a narrow window, renew and pay, invite a user.

Each page is saved as a PNG (under ``DESKTOP_CARE_SCREENSHOTS`` when set, else in the
test's temporary directory) to be looked at."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from desktop_care.models import LineIn, Member, UserRole, place_order, utcnow
from tests.server.conftest import PASSWORD, make_member, make_portal_user, unique
from tests.support.browser import Chromium, heading_is
from tests.support.servers import LiveServer


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("DESKTOP_CARE_SCREENSHOTS") or tmp_path / "shots")


@pytest.fixture
def browser() -> Iterator[Chromium]:
    chromium = Chromium()
    yield chromium
    chromium.close()


def _sign_in(browser: Chromium, server: LiveServer, username: str) -> None:
    browser.open(f"{server.url}/portal/sign-in")
    browser.type("#username", username)
    browser.type("#password", PASSWORD)
    browser.click("button[type=submit].primary", "document.querySelector('h1') && !location.pathname.endsWith('sign-in')")


def test_a_member_pays_an_order_in_the_browser(sqlite_server: LiveServer, browser: Chromium, shots: Path) -> None:
    server = sqlite_server
    with Session(server.engine(), expire_on_commit=False) as db:
        email = f"{unique('rose')}@example.org"
        rose = make_member(db, "Rose", "Thornton", email=email)
        user = make_portal_user(db, rose, role=UserRole.FULL, email=email, display_name="Rose Thornton")
        friend = make_member(db, "Hal", "Whitcombe", email=f"{unique('hal')}@example.org")
        member = db.get(Member, rose.id)
        assert member is not None
        pay_me = place_order(db, member, [LineIn("Herd book registration: Bramble", 2500),
                                          LineIn("Transfer of ownership", 1500, 2)], registrants=[member])
        declined = place_order(db, member, [LineIn("Show entry fee", 3200)])
        exported = place_order(db, member, [LineIn("Annual membership 2025", 6000)])
        exported.exported, exported.exported_at, exported.exported_by = True, utcnow(), "Test Staff"
        friend_row = db.get(Member, friend.id)
        assert friend_row is not None
        place_order(db, friend_row, [LineIn("Course: Judging basics", 9500)], registrants=[member])
        db.commit()
        ids = {"pay": pay_me.id, "declined": declined.id, "exported": exported.id}
        order_no = pay_me.order_no

    _sign_in(browser, server, user.username)
    browser.screenshot(shots / "portal-account.png")
    browser.click("a[href='/portal/orders']", heading_is("My orders"))
    browser.screenshot(shots / "portal-orders.png")
    listing = browser.text("main")  # what is visible: nothing cut off
    assert order_no in listing and "Hal Whitcombe" in listing and "Exported" in listing, listing

    browser.click(f"a[href='/portal/orders/{ids['pay']}']", heading_is(f"Order {order_no}"))
    assert "£55.00" in browser.text("#order-total")
    browser.screenshot(shots / "portal-order.png")
    browser.click("#email-invoice", "document.querySelector('#invoice-sent') !== null")
    assert "Invoice sent" in browser.text("#invoice-sent")
    browser.screenshot(shots / "portal-invoice-sent.png")
    browser.click("#got-it", "document.querySelector('#invoice-sent') === null")

    browser.click("#pay", heading_is("Pay for this order"))
    assert browser.text("#pay-amount") == "£55.00"
    browser.screenshot(shots / "portal-pay.png")
    browser.click("#confirm-pay", heading_is("Pay £55.00"))
    assert "/test-provider/checkout/" in browser.url
    browser.screenshot(shots / "provider-checkout.png")
    browser.click("#pay", heading_is("Thank you for your payment"))
    browser.screenshot(shots / "portal-paid.png")
    deadline = time.monotonic() + 15
    while "Paid" not in browser.text("#order-state"):  # the settlement webhook arrives by itself
        assert time.monotonic() < deadline, browser.text("main")
        browser.open(f"{server.url}/portal/orders/{ids['pay']}")
    assert "This order is paid." in browser.text("#pay-section")

    browser.open(f"{server.url}/portal/orders/{ids['declined']}")
    browser.click("#pay", heading_is("Pay for this order"))
    browser.click("#confirm-pay", "location.pathname.startsWith('/test-provider/')")
    browser.click("#decline", heading_is("Your payment was declined"))
    browser.screenshot(shots / "portal-declined.png")

    browser.open(f"{server.url}/portal/orders/{ids['exported']}")
    assert "exported to our accounting system" in browser.text("#pay-refusal")
    assert browser.evaluate("document.querySelector('#pay') === null")
    browser.screenshot(shots / "portal-order-exported.png")

    browser.click("a[href='/portal/users/invite']", heading_is("Invite a user"))
    browser.click("#send-invite", "document.querySelector('.error') !== null")
    assert "Enter the person's name." in browser.text("main")
    browser.screenshot(shots / "portal-invite-errors.png")

    browser.resize(390, 844)
    browser.open(f"{server.url}/portal/orders")
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    browser.screenshot(shots / "portal-orders-narrow.png", full_page=True)
    browser.open(f"{server.url}/portal/orders/{ids['pay']}")
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    browser.screenshot(shots / "portal-order-narrow.png", full_page=True)


def test_a_blocked_member_renews_and_pays_in_the_browser(sqlite_server: LiveServer, browser: Chromium,
                                                        shots: Path) -> None:
    server = sqlite_server
    with Session(server.engine(), expire_on_commit=False) as db:
        email = f"{unique('owen')}@example.org"
        owen = make_member(db, "Owen", "Marsh", email=email, blocked_for_balance=True,
                           blocked_reason="Membership 2026 unpaid")
        user = make_portal_user(db, owen, role=UserRole.STANDARD, email=email, display_name="Owen Marsh")
    _sign_in(browser, server, user.username)
    browser.wait_for(heading_is("Renew your membership"))
    assert "Membership 2026 unpaid" in browser.text("#blocked")
    assert browser.evaluate("document.querySelectorAll('nav.menu a').length") == 1
    browser.screenshot(shots / "portal-renew.png")
    browser.click("#renew-pay", heading_is("Pay £45.00"))
    browser.click("#pay", heading_is("Thank you for your payment"))
    deadline = time.monotonic() + 15
    while True:  # the block lifts when the payment is recorded
        browser.open(f"{server.url}/portal/orders")
        if browser.evaluate(heading_is("My orders")):
            break
        assert time.monotonic() < deadline, browser.text("main")
    assert "Membership renewal" in browser.text("main")
