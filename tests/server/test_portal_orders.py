"""My orders, order details, Email invoice, Pay through the test provider (success,
decline, cancel, expiry), webhooks late, twice and out of order, the exported rule,
renew-and-pay for a member blocked for payment, and inviting users from the portal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import (
    AccountTransaction,
    AuditEvent,
    CheckoutState,
    LineIn,
    Member,
    Order,
    OrderState,
    Payment,
    TxnStatus,
    User,
    UserRole,
    place_order,
)
from desktop_care.models.ledger import ledger_totals
from desktop_care.models.payments import TestProviderKey
from desktop_care.server.payments.test_provider import SIGNATURE_HEADER, sign
from tests.server.conftest import (
    PASSWORD,
    make_member,
    make_portal_user,
    staff_headers,
    unique,
)
from tests.support.portal import Browser, Page
from tests.support.servers import LiveServer
from tests.support.smtp import SmtpSink


@dataclass
class Account:
    member: Member
    user: User
    email: str


def _account(db: Session, first: str, last: str, role: UserRole = UserRole.FULL, **member: object) -> Account:
    email = f"{unique(first.lower())}@example.org"
    m = make_member(db, first, last, email=email, **member)
    user = make_portal_user(db, m, role=role, email=email, display_name=f"{first} {last}")
    return Account(m, user, email)


def _order(db: Session, contact: Member, *registrants: Member, cents: int = 4500, text: str = "Herd book entry") -> Order:
    contact = db.get(Member, contact.id)  # type: ignore[assignment]
    order = place_order(db, contact, [LineIn(text, cents), LineIn("Postage", 350)], registrants=list(registrants))
    db.commit()
    return order


def _signed_in(server: LiveServer, account: Account) -> Browser:
    browser = Browser(server.url)
    browser.sign_in(account.user.username, PASSWORD)
    return browser


def _until(db: Session, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        db.expire_all()
        if check():
            return
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)  # polling the database for a condition, with a deadline


def _balanced(db: Session, member_id: int) -> tuple[int, int, int]:
    db.expire_all()
    member = db.get(Member, member_id)
    assert member is not None
    _, settled, count, pending = ledger_totals(db, member_id)
    assert (member.account_balance_cents, member.pending_count, member.pending_cents) == (settled, count, pending)
    return settled, count, pending


def _to_provider(browser: Browser, order: Order) -> Page:
    confirm = browser.get(f"/portal/orders/{order.id}/pay")
    assert confirm.status == 200 and "£48.50" in confirm.text
    hosted = browser.submit(f"/portal/orders/{order.id}/pay")
    assert "/test-provider/checkout/cs_test_" in hosted.url and hosted.title == "Pay £48.50", hosted.text
    return hosted


def _checkout_id(page: Page) -> str:
    return page.url.rsplit("/", 1)[1]


def test_my_orders_lists_orders_as_contact_and_registrant_and_no_others(server: LiveServer, db: Session) -> None:
    ann, bob, eve = _account(db, "Ann", "Archer"), _account(db, "Bob", "Baker"), _account(db, "Eve", "Evans")
    own = _order(db, ann.member, text="Herd book entry")
    for_ann = _order(db, bob.member, ann.member, text="Show entry: Bramble")
    other = _order(db, eve.member, text="Private order")
    browser = _signed_in(server, ann)
    page = browser.get("/portal/orders")
    assert page.title == "My orders"
    assert own.order_no in page.text and for_ann.order_no in page.text and other.order_no not in page.text
    assert "Bob Baker" in page.text and "You" in page.text
    detail = browser.get(f"/portal/orders/{for_ann.id}")
    assert detail.title == f"Order {for_ann.order_no}" and "Show entry: Bramble" in detail.text
    assert "Only the order contact, Bob Baker, can pay this order." in detail.text
    assert browser.get(f"/portal/orders/{for_ann.id}/pay").status == 403
    refused = browser.get(f"/portal/orders/{other.id}")
    assert refused.status == 404 and "no such order among yours" in refused.text
    assert browser.get("/portal/orders/999999999").status == 404
    anonymous = requests.get(f"{server.url}/portal/orders", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/portal/sign-in"


def test_email_invoice_sends_it_and_says_so_with_got_it(mail_server: LiveServer, mail_db: Session,
                                                         smtp: SmtpSink) -> None:
    ann = _account(mail_db, "Ann", "Invoice")
    order = _order(mail_db, ann.member)
    browser = _signed_in(mail_server, ann)
    browser.get(f"/portal/orders/{order.id}")
    forged = browser.http.post(f"{mail_server.url}/portal/orders/{order.id}/email-invoice", data={}, timeout=10)
    assert forged.status_code == 400 and "This form has expired" in forged.text
    browser.get(f"/portal/orders/{order.id}")
    sent = browser.submit(f"/portal/orders/{order.id}/email-invoice")
    assert sent.url.endswith(f"/portal/orders/{order.id}?sent=1")
    assert 'role="alertdialog"' in sent.text and "Invoice sent" in sent.text and ann.email in sent.text
    assert f'href="/portal/orders/{order.id}" id="got-it"' in sent.text
    assert "<script" not in sent.text
    mail = smtp.to(ann.email, f"Invoice INV-{100000 + order.id}")
    assert order.order_no in mail.text and "£48.50" in mail.text and "Postage" in mail.text
    assert f"/portal/orders/{order.id}" in mail.text  # unpaid: a link to pay
    assert "Got it" not in browser.get(f"/portal/orders/{order.id}").text
    audit = mail_db.scalars(select(AuditEvent).where(AuditEvent.action == "order.email_invoice",
                                                     AuditEvent.entity_id == str(ann.member.id))).all()
    assert len(audit) == 1 and audit[0].actor_name == ann.user.username


def test_pay_succeeds_and_settles_through_the_webhooks(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Payer")
    order = _order(db, ann.member)
    assert _balanced(db, ann.member.id) == (4850, 0, 0)
    browser = _signed_in(server, ann)
    hosted = _to_provider(browser, order)
    done = browser.submit(f"/test-provider/checkout/{_checkout_id(hosted)}/pay")
    assert f"/portal/orders/{order.id}/payment?checkout=" in done.url
    assert done.title == "Thank you for your payment" and "£48.50" in done.text

    def settled() -> bool:
        row = db.get(Order, order.id)
        return row is not None and row.state == OrderState.PAID

    _until(db, settled)
    assert _balanced(db, ann.member.id) == (0, 0, 0)
    txns = db.scalars(select(AccountTransaction).where(AccountTransaction.order_id == order.id)).all()
    assert sorted(t.amount_cents for t in txns) == [-4850, 4850]
    detail = browser.get(f"/portal/orders/{order.id}")
    assert "This order is paid." in detail.text and 'id="pay"' not in detail.text
    assert browser.get(f"/portal/orders/{order.id}/pay").status == 409
    recorded = db.scalars(select(AuditEvent).where(AuditEvent.action == "order.payment_recorded",
                                                   AuditEvent.entity_id == str(ann.member.id))).all()
    assert recorded and {e.actor_name for e in recorded} == {"payment provider (test)"}
    assert "payment settled" in {e.details["effect"] for e in recorded}


def test_pay_refuses_a_forged_form_and_orders_of_others(server: LiveServer, db: Session) -> None:
    ann, eve = _account(db, "Ann", "Forged"), _account(db, "Eve", "Other")
    order, theirs = _order(db, ann.member), _order(db, eve.member)
    browser = _signed_in(server, ann)
    browser.get(f"/portal/orders/{order.id}/pay")
    forged = browser.http.post(f"{server.url}/portal/orders/{order.id}/pay", data={"csrf_token": "x" * 43},
                               timeout=10, allow_redirects=False)
    assert forged.status_code == 400 and "This form has expired" in forged.text
    browser.get(f"/portal/orders/{order.id}/pay")
    assert browser.submit(f"/portal/orders/{theirs.id}/pay").status == 404
    db.expire_all()
    assert db.scalar(select(Payment.id).where(Payment.order_id.in_((order.id, theirs.id)))) is None
    assert browser.get(f"/portal/orders/{order.id}/payment?checkout=cs_nothing").status == 404
    # Paying twice from two tabs: the checkout still open is used again.
    first, second = _to_provider(browser, order), _to_provider(browser, order)
    assert _checkout_id(first) == _checkout_id(second)


def test_decline_takes_nothing_and_lets_the_member_try_again(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Decline")
    order = _order(db, ann.member)
    browser = _signed_in(server, ann)
    hosted = _to_provider(browser, order)
    result = browser.submit(f"/test-provider/checkout/{_checkout_id(hosted)}/decline")
    assert result.title == "Your payment was declined" and "nothing was taken" in result.text
    assert _balanced(db, ann.member.id) == (4850, 0, 0)
    again = _to_provider(browser, order)  # a new checkout: the declined one is finished
    assert _checkout_id(again) != _checkout_id(hosted)


def test_cancel_returns_to_the_portal_and_closes_the_checkout(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Cancel")
    order = _order(db, ann.member)
    browser = _signed_in(server, ann)
    hosted = _to_provider(browser, order)
    checkout = _checkout_id(hosted)
    result = browser.submit(f"/test-provider/checkout/{checkout}/cancel")
    assert result.title == "You cancelled the payment" and "still to be paid" in result.text
    db.expire_all()
    assert db.scalar(select(Payment.state).where(Payment.checkout_id == checkout)) == CheckoutState.CANCELLED
    closed = browser.get(f"/test-provider/checkout/{checkout}")
    assert closed.status == 410 and "expired" in closed.text  # it can no longer be paid
    assert _balanced(db, ann.member.id) == (4850, 0, 0)


def test_an_expired_checkout_cannot_be_paid(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Expiry")
    order = _order(db, ann.member)
    browser = _signed_in(server, ann)
    hosted = _to_provider(browser, order)
    checkout = _checkout_id(hosted)
    assert requests.post(f"{server.url}/test-provider/checkout/{checkout}/expire", timeout=10).json() == {
        "expired": True}
    late = browser.submit(f"/test-provider/checkout/{checkout}/pay")  # the page was still open
    assert late.status == 410 and "This checkout has expired" in late.text

    def expired() -> bool:
        return db.scalar(select(Payment.state).where(Payment.checkout_id == checkout)) == CheckoutState.EXPIRED

    _until(db, expired)  # the expired event arrived by webhook
    assert _balanced(db, ann.member.id) == (4850, 0, 0)
    assert "Pay" in browser.get(f"/portal/orders/{order.id}").text


def _events(server: LiveServer, checkout: str) -> list[dict[str, object]]:
    answer = requests.get(f"{server.url}/test-provider/checkout/{checkout}/events", timeout=10)
    events: list[dict[str, object]] = answer.json()
    return events


def _post(server: LiveServer, body: str, signature: str) -> requests.Response:
    return requests.post(f"{server.url}/payments/webhooks/test", data=body.encode(), timeout=10,
                         headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"})


def _paid_quietly(server: LiveServer, db: Session, last: str) -> tuple[Account, Order, Browser, str]:
    """A member who paid an order on the provider's page with its webhooks held back and
    never came back to the portal: (account, order, browser, checkout id)."""
    account = _account(db, "Ann", last)
    order = _order(db, account.member)
    browser = _signed_in(server, account)
    hosted = _to_provider(browser, order)
    checkout = _checkout_id(hosted)
    answer = browser.http.post(f"{server.url}/test-provider/checkout/{checkout}/pay", timeout=10,
                               data={**hosted.hidden, "deliver": "hold"}, allow_redirects=False)
    assert answer.status_code == 303
    return account, order, browser, checkout


def test_webhooks_late_twice_and_out_of_order_apply_once(server: LiveServer, db: Session) -> None:
    ann, order, browser, checkout = _paid_quietly(server, db, "Webhooks")
    assert _balanced(db, ann.member.id) == (4850, 0, 0)  # nothing heard yet
    completed, succeeded = _events(server, checkout)
    assert (completed["type"], succeeded["type"]) == ("checkout.session.completed",
                                                      "checkout.session.async_payment_succeeded")
    # The later event first: the payment is recorded settled at once.
    first = _post(server, str(succeeded["body"]), str(succeeded["signature"]))
    assert first.status_code == 200 and first.json()["result"] == "applied"
    assert _balanced(db, ann.member.id) == (0, 0, 0)
    # The earlier one, late: it moves nothing back to pending.
    assert _post(server, str(completed["body"]), str(completed["signature"])).json()["result"] == "applied"
    assert _balanced(db, ann.member.id) == (0, 0, 0)
    # Both again: duplicates.
    for event in (succeeded, completed):
        again = _post(server, str(event["body"]), str(event["signature"]))
        assert again.status_code == 200 and again.json()["result"] == "duplicate"
    # The return page, after all that, reads the session: still one payment.
    back = browser.get(f"/portal/orders/{order.id}/payment?checkout={checkout}")
    assert back.title == "Thank you for your payment"
    txns = db.scalars(select(AccountTransaction).where(AccountTransaction.reference == checkout)).all()
    assert len(txns) == 1 and txns[0].status == TxnStatus.SETTLED and txns[0].amount_cents == -4850
    db.expire_all()
    assert db.get(Order, order.id).state == OrderState.PAID  # type: ignore[union-attr]


def test_completed_then_settled_goes_pending_then_settled(server: LiveServer, db: Session) -> None:
    ann, order, browser, checkout = _paid_quietly(server, db, "Pending")
    completed, succeeded = _events(server, checkout)
    _post(server, str(completed["body"]), str(completed["signature"]))
    assert _balanced(db, ann.member.id) == (4850, 1, -4850)  # the payment pending
    assert "being settled" in browser.get(f"/portal/orders/{order.id}").text
    _post(server, str(succeeded["body"]), str(succeeded["signature"]))
    assert _balanced(db, ann.member.id) == (0, 0, 0)


def test_webhooks_with_a_bad_or_stale_signature_are_refused(server: LiveServer, db: Session) -> None:
    ann, _, _, checkout = _paid_quietly(server, db, "Forger")
    completed, _ = _events(server, checkout)
    body = str(completed["body"])
    assert _post(server, body, "t=1,v1=00").status_code == 400
    assert _post(server, body, "").status_code == 400
    tampered = json.loads(body)
    tampered["id"] = "evt_forged"
    assert _post(server, json.dumps(tampered), str(completed["signature"])).status_code == 400
    wrong = sign("wrong-secret", body.encode(), int(time.time()))
    assert _post(server, body, wrong).status_code == 400
    assert requests.post(f"{server.url}/payments/webhooks/other", data=b"{}", timeout=10).status_code == 404
    # A well-signed event about a checkout that is not ours is acknowledged and ignored.
    foreign = json.loads(body)
    foreign["id"], foreign["data"]["object"]["id"] = "evt_foreign", "cs_not_ours"
    raw = json.dumps(foreign)
    key = db.get(TestProviderKey, 1)
    assert key is not None
    ignored = _post(server, raw, sign(key.secret, raw.encode(), int(time.time())))
    assert ignored.status_code == 200 and ignored.json()["result"].startswith("ignored")
    stale = sign(key.secret, body.encode(), int(time.time()) - 600)
    assert _post(server, body, stale).status_code == 400  # a replay of an old request
    assert _balanced(db, ann.member.id) == (4850, 0, 0)


def test_an_exported_order_cannot_be_paid_and_the_page_says_why(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Exported")
    order = _order(db, ann.member)
    headers = staff_headers(server, db)
    command = {"kind": "mark_order_exported", "member_id": ann.member.id, "order_id": order.id, "exported": True}
    answer = requests.post(f"{server.api}/commands", json={"command": command}, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "applied", answer.text
    browser = _signed_in(server, ann)
    detail = browser.get(f"/portal/orders/{order.id}")
    assert "exported to our accounting system" in detail.text and 'id="pay"' not in detail.text
    refused = browser.get(f"/portal/orders/{order.id}/pay")
    assert refused.status == 409 and "can no longer be paid here" in refused.text
    browser.get(f"/portal/orders/{order.id}")
    posted = browser.submit(f"/portal/orders/{order.id}/pay")
    assert posted.status == 409 and "/test-provider/" not in posted.url
    again = requests.post(f"{server.api}/commands", json={"command": command}, headers=headers, timeout=10)
    assert again.json()["status"] == "rejected" and "already exported" in again.json()["reason"]
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "order.mark_exported",
                                               AuditEvent.entity_id == str(ann.member.id)))
    assert audit is not None and audit.actor_name.startswith("staff.")
    unmark = {**command, "exported": False}
    assert requests.post(f"{server.api}/commands", json={"command": unmark}, headers=headers,
                         timeout=10).json()["status"] == "applied"
    assert 'id="pay"' in browser.get(f"/portal/orders/{order.id}").text
    listed = requests.get(f"{server.api}/members/{ann.member.id}/orders", headers=headers, timeout=10).json()
    assert listed["total"] == 1 and listed["items"][0]["order_no"] == order.order_no
    assert listed["items"][0]["exported"] is False and listed["items"][0]["amount_cents"] == 4850


def test_payments_cannot_be_recorded_or_opened_by_staff(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Staffpay")
    order = _order(db, ann.member)
    headers = staff_headers(server, db, UserRole.SOCIETY_ADMIN)
    command = {"kind": "record_payment", "member_id": ann.member.id, "order_id": order.id,
               "checkout_id": "cs_x", "outcome": "settled"}
    answer = requests.post(f"{server.api}/commands", json={"command": command}, headers=headers, timeout=10)
    assert answer.status_code == 403


def test_a_member_blocked_for_payment_sees_only_renew_and_pay_until_paid(server: LiveServer, db: Session) -> None:
    ann = _account(db, "Ann", "Blocked", blocked_for_balance=True, blocked_reason="Membership lapsed")
    browser = _signed_in(server, ann)
    assert browser.last is not None and browser.last.url.endswith("/portal/renew")
    assert "Membership lapsed" in browser.last.text and "£45.00" in browser.last.text
    for path in ("/portal/account", "/portal/orders", "/portal/users/invite"):
        assert browser.get(path).url.endswith("/portal/renew"), path
    hosted = browser.submit("/portal/renew")
    assert hosted.title == "Pay £45.00"
    done = browser.submit(f"/test-provider/checkout/{_checkout_id(hosted)}/pay")
    assert done.title == "Thank you for your payment"

    def unblocked() -> bool:
        member = db.get(Member, ann.member.id)
        return member is not None and not member.blocked_for_balance

    _until(db, unblocked)
    assert browser.get("/portal/orders").title == "My orders"
    assert _balanced(db, ann.member.id) == (0, 0, 0)


def test_full_users_invite_and_standard_users_are_refused(mail_server: LiveServer, mail_db: Session,
                                                          smtp: SmtpSink) -> None:
    full = _account(mail_db, "Fay", "Full")
    standard = make_portal_user(mail_db, full.member, role=UserRole.STANDARD, email=f"{unique('s')}@example.org",
                                display_name="Stan Standard")
    browser = Browser(mail_server.url)
    browser.sign_in(standard.username, PASSWORD)
    refused = browser.get("/portal/users/invite")
    assert refused.status == 403 and "Only Full users can invite" in refused.text
    assert "Invite a user" not in browser.get("/portal/orders").text  # not in the menu either
    forged = browser.http.post(f"{mail_server.url}/portal/users/invite", timeout=10,
                               data={"name": "X", "email": "x@example.org", "role": "full"})
    assert forged.status_code == 403
    browser = _signed_in(mail_server, full)
    form = browser.get("/portal/users/invite")
    assert form.title == "Invite a user"
    bad = browser.submit("/portal/users/invite", name="", email="not-an-address", role="owner")
    assert bad.status == 400 and set(bad.errors) == {"name", "email", "role"}
    invitee = f"{unique('new')}@example.org"
    sent = browser.submit("/portal/users/invite", name="Nia New", email=invitee, role="standard")
    assert sent.title == "Invitation sent" and invitee in sent.text
    mail = smtp.to(invitee)
    assert "/portal/invitation?token=" in mail.text
    browser.get("/portal/users/invite")
    twice = browser.submit("/portal/users/invite", name="Nia New", email=invitee, role="standard")
    assert twice.status == 409 and "already invited" in twice.errors["email"]
