"""Fraud stop over HTTP: each kind of block is enforced at each entry point (Add a
customer, accepting an invitation in the portal, opening a checkout, the provider
charging a card), the buyer is refused in generic words and the staff log says which
block stopped what; blocks expire, can be lifted (Society Admin), and bad input is a
422 naming the field.

Blocks stay on the shared server, so each test blocks values of its own: its own
e-mail domain, and an address of its own in 127.0.0.0/8 that its requests come from
(every loopback address reaches the server on Linux)."""

from __future__ import annotations

import datetime as dt
import html
import ipaddress
import random
import uuid
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import (
    AuditEvent,
    LineIn,
    Member,
    Order,
    Payment,
    TokenPurpose,
    User,
    UserRole,
    UserState,
    place_order,
    utcnow,
)
from desktop_care.models.fraud import FraudBlock, Probe, active_block_ids
from desktop_care.models.payments import CheckoutState
from desktop_care.models.tokens import issue_link
from desktop_care.server.fraud import GENERIC_REFUSAL, GENERIC_TITLE
from tests.server.conftest import PASSWORD, make_member, make_portal_user, staff_headers, unique
from tests.support.portal import Browser
from tests.support.servers import LiveServer


class _FromAddress(HTTPAdapter):
    """Connect from this loopback address (the server sees it as the client)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def _address() -> str:
    return f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(2, 250)}"


def _from(session: requests.Session, address: str) -> requests.Session:
    session.mount("http://", _FromAddress(address))
    return session


def _command(server: LiveServer, headers: dict[str, str], command: dict[str, Any],
             address: str = "127.0.0.1") -> requests.Response:
    http = _from(requests.Session(), address)
    return http.post(f"{server.api}/commands", json={"command": {"op_id": str(uuid.uuid4()), **command}},
                     headers=headers, timeout=30)


def _block(server: LiveServer, headers: dict[str, str], kind: str, value: str, **more: Any) -> int:
    if kind == "ip":
        more.setdefault("expires_at", (utcnow() + dt.timedelta(days=30)).isoformat())
    answer = _command(server, headers, {"kind": "add_fraud_block", "block_kind": kind, "value": value,
                                        "reason_code": "stolen_card", "note": "seen in a chargeback", **more})
    assert answer.status_code == 200 and answer.json()["status"] == "applied", answer.text
    block_id = answer.json()["entity_id"]
    assert isinstance(block_id, int)
    return block_id


def _refusals(db: Session, block_id: int) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "fraud.refused",
                                                   AuditEvent.entity_type == "fraud_block",
                                                   AuditEvent.entity_id == str(block_id))))


def _listed(server: LiveServer, headers: dict[str, str], block_id: int, **query: str) -> dict[str, Any]:
    page = requests.get(f"{server.api}/fraud-blocks", params={"state": "all", **query}, headers=headers, timeout=10)
    assert page.status_code == 200, page.text
    found = [b for b in page.json()["items"] if b["id"] == block_id]
    assert found, f"block {block_id} not listed"
    return found[0]


def _assert_generic(text: str) -> None:
    text = html.unescape(text)
    assert GENERIC_TITLE in text and GENERIC_REFUSAL in text
    lowered = text.lower()
    assert "block" not in lowered and "fraud" not in lowered


# ---------------------------------------------------------------------- each kind at each door


ENTRIES = [
    ("ip", "add_member"), ("email", "add_member"),
    ("ip", "invitation"), ("email", "invitation"),
    ("ip", "checkout"), ("email", "checkout"),
    ("card", "payment"),
]


@pytest.mark.parametrize(("kind", "entry"), ENTRIES, ids=[f"{k}-at-{e}" for k, e in ENTRIES])
def test_each_kind_of_block_is_enforced_at_each_entry_point(server: LiveServer, db: Session, kind: str,
                                                            entry: str) -> None:
    staff = staff_headers(server, db)
    address = _address()
    domain = f"{unique('fraud')}.example"
    email = f"ann@{domain}"
    # Ranges and domains: a /24 blocks the address, a domain its subdomains.
    ip_value = address.rsplit(".", 1)[0] + ".0/24"
    email_value = domain if entry != "invitation" else email
    if entry == "checkout" and kind == "email":
        email = f"ann@mail.{domain}"

    if entry == "add_member":
        block_id = _block(server, staff, kind, ip_value if kind == "ip" else email_value)
        answer = _command(server, staff, {
            "kind": "add_member", "member_id": -1, "first_name": "Ann", "last_name": "Fraud", "email": email,
            "home_address": {"line1": "1 Kelso Road", "city": "Kelso", "postcode": "TD5 7AB", "country": "GB"}},
            address=address)
        result = answer.json()
        assert answer.status_code == 200 and result["status"] == "rejected", answer.text
        # Staff are told which block (they are not the buyer).
        assert f"fraud block #{block_id}" in result["reason"]
        assert result["fields"] == {"email" if kind == "email" else "client_address": "blocked by fraud stop"}
        assert db.scalar(select(Member).where(Member.email == email)) is None
        attempt = "open an account"
    elif entry == "invitation":
        member = make_member(db, "Ann", "Invited", email=email)
        user = make_portal_user(db, member, email=email, state=UserState.INVITED)
        link = issue_link(db, user.id, TokenPurpose.INVITATION, member_id=member.id, created_by_user_id=None)
        db.commit()
        block_id = _block(server, staff, kind, ip_value if kind == "ip" else email_value)
        browser = Browser(server.url, _from(requests.Session(), address))
        assert browser.get(f"/portal/invitation?token={link.token}").status == 200
        refused = browser.submit("/portal/invitation", name="Ann Invited", password="a new long password 1",
                                 repeat="a new long password 1")
        assert refused.status == 403
        _assert_generic(refused.text)
        db.expire_all()
        assert db.get(User, user.id).state == UserState.INVITED  # type: ignore[union-attr]
        attempt = "open an account"
    else:
        member = make_member(db, "Ann", "Buyer", email=email)
        user = make_portal_user(db, member, email=email, display_name="Ann Buyer")
        order = place_order(db, db.get(Member, member.id), [LineIn("Herd book entry", 4500)])  # type: ignore[arg-type]
        db.commit()
        db.expire_all()
        first = place_order(db, db.get(Member, member.id), [LineIn("Show entry", 1200)])  # type: ignore[arg-type]
        db.commit()
        browser = Browser(server.url, _from(requests.Session(), address))
        browser.sign_in(user.username, PASSWORD)
        if entry == "checkout":
            block_id = _block(server, staff, kind, ip_value if kind == "ip" else email_value)
            browser.get(f"/portal/orders/{order.id}/pay")
            refused = browser.submit(f"/portal/orders/{order.id}/pay")
            assert refused.status == 403 and "/test-provider/" not in refused.url
            _assert_generic(refused.text)
            assert db.scalar(select(Payment).where(Payment.order_id == order.id)) is None
        else:
            # The card: paid once, then blocked from the FRAUD-STOP on that order, then refused.
            browser.get(f"/portal/orders/{first.id}/pay")
            hosted = browser.submit(f"/portal/orders/{first.id}/pay")
            assert "Test card" in hosted.text
            paid = browser.submit(f"{hosted.url}/pay", card="visa_debit")
            assert "Thank you for your payment" in paid.text, paid.text
            stop = requests.get(f"{server.api}/members/{member.id}/fraud-stop", params={"order_id": first.id},
                                headers=staff, timeout=10).json()
            card = next(c for c in stop["candidates"] if c["kind"] == "card")
            assert (card["card_brand"], card["card_bin"], card["card_last4"]) == ("visa", "400005", "5556")
            assert "5566" not in card["value"]  # a fingerprint, not the number
            ip = next(c for c in stop["candidates"] if c["kind"] == "ip")
            assert ip["value"] == f"{address}/32" and "last portal sign-in" in ip["seen"]
            block_id = _block(server, staff, "card", card["value"], card_brand="visa", card_bin="400005",
                              card_last4="5556", source=stop["source"])
            try:
                browser.get(f"/portal/orders/{order.id}/pay")
                hosted = browser.submit(f"/portal/orders/{order.id}/pay")
                declined = browser.submit(f"{hosted.url}/pay", card="visa_debit")
                assert "Your payment was declined" in declined.text
                assert "block" not in declined.text.lower() and "fraud" not in declined.text.lower()
                db.expire_all()
                assert db.get(Order, order.id).state.value == "unpaid"  # type: ignore[union-attr]
                states = set(db.scalars(select(Payment.state).where(Payment.order_id == order.id)))
                assert states == {CheckoutState.DECLINED}
            finally:
                lifted = _command(server, staff_headers(server, db, UserRole.SOCIETY_ADMIN),
                                  {"kind": "lift_fraud_block", "block_id": block_id, "reason": "end of the test"})
                assert lifted.json()["status"] == "applied", lifted.text
        attempt = "make a purchase"

    refusals = _refusals(db, block_id)
    assert len(refusals) == 1, "one line in the staff log"
    details = refusals[0].details
    assert details["attempt"] == attempt and details["block_kind"] == kind
    assert details["matched"].startswith(kind)
    if kind == "ip":
        assert details["matched"] == f"ip {address}" and refusals[0].client_address == address
    assert _listed(server, staff, block_id)["would_have_blocked"] == 1


# ---------------------------------------------------------------------- expiry, lift, search


def test_a_block_holds_until_it_expires_and_the_page_filters_by_state(server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    address = _address()
    soon = utcnow() + dt.timedelta(hours=2)
    block_id = _block(server, staff, "ip", address, expires_at=soon.isoformat())
    probe = Probe.ip(address)
    assert active_block_ids(db, probe, utcnow()) == [block_id]
    assert active_block_ids(db, probe, soon - dt.timedelta(seconds=1)) == [block_id]
    assert active_block_ids(db, probe, soon) == []  # expired: the check lets it through
    # The page: found by the address it blocks (also inside a range), by kind and state.
    assert _listed(server, staff, block_id, q=address, kind="ip", state="active")["state"] == "active"
    db.execute(FraudBlock.__table__.update().where(FraudBlock.id == block_id)
               .values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    db.commit()
    assert _listed(server, staff, block_id, q=address, state="expired")["state"] == "expired"
    active = requests.get(f"{server.api}/fraud-blocks", params={"q": address, "state": "active"}, headers=staff,
                          timeout=10).json()
    assert block_id not in [b["id"] for b in active["items"]]
    # Now expired, the same address can be blocked again.
    assert _block(server, staff, "ip", address) != block_id


def test_lifting_is_for_a_society_admin_with_a_reason_and_lets_the_buyer_through(
        server: LiveServer, db: Session) -> None:
    staff = staff_headers(server, db)
    admin = staff_headers(server, db, UserRole.SOCIETY_ADMIN)
    address = _address()
    block_id = _block(server, staff, "ip", address)
    again = _command(server, staff, {"kind": "add_fraud_block", "block_kind": "ip", "value": address,
                                     "reason_code": "abuse", "expires_at": (utcnow() + dt.timedelta(days=1)).isoformat()})
    assert again.json()["status"] == "rejected" and again.json()["fields"] == {
        "value": f"already blocked by block #{block_id}"}
    lift = {"kind": "lift_fraud_block", "block_id": block_id, "reason": "a shared office address, checked"}
    refused = _command(server, staff, lift)
    assert refused.status_code == 403 and "Society Admin" in refused.text
    no_reason = _command(server, admin, {**lift, "reason": " "})
    assert no_reason.status_code == 422 and "command.reason" in no_reason.json()["fields"]
    lifted = _command(server, admin, lift)
    assert lifted.status_code == 200 and lifted.json()["status"] == "applied"
    twice = _command(server, admin, lift)
    assert twice.json()["status"] == "rejected" and "lifted already" in twice.json()["reason"]
    listed = _listed(server, staff, block_id, state="lifted")
    assert listed["state"] == "lifted" and listed["lift_reason"] == "a shared office address, checked"
    db.expire_all()
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "fraud.lift",
                                               AuditEvent.entity_id == str(block_id)))
    assert audit is not None and audit.actor_name.startswith("staff.")
    assert audit.details["reason"] == "a shared office address, checked"
    # The buyer at that address opens a checkout again.
    email = f"{unique('lifted')}@example.org"
    member = make_member(db, "Ann", "Lifted", email=email)
    user = make_portal_user(db, member, email=email)
    order = place_order(db, db.get(Member, member.id), [LineIn("Herd book entry", 4500)])  # type: ignore[arg-type]
    db.commit()
    browser = Browser(server.url, _from(requests.Session(), address))
    browser.sign_in(user.username, PASSWORD)
    browser.get(f"/portal/orders/{order.id}/pay")
    assert "/test-provider/checkout/" in browser.submit(f"/portal/orders/{order.id}/pay").url


# ---------------------------------------------------------------------- bad input


BAD = [
    ({"block_kind": "ip", "value": "203.0.113.0/33"}, "command.value", "not an IP address or CIDR range"),
    ({"block_kind": "ip", "value": "203.0.113.7/24"}, "command.value", "did you mean 203.0.113.0/24"),
    ({"block_kind": "ip", "value": "203.0.113.7", "expires_at": None}, "command.expires_at", "is required"),
    ({"block_kind": "ip", "value": "0.0.0.0/0"}, "command.value", "is too broad"),
    ({"block_kind": "ip", "value": "127.0.0.0/16"}, "command.value", "holds this computer's own address"),
    ({"block_kind": "ip", "value": "::1"}, "command.value", "holds this computer's own address"),
    ({"block_kind": "ip", "value": "2001:db8::/32", "expires_at": "2020-01-01T00:00:00Z"}, "command.expires_at",
     "must be in the future"),
    ({"block_kind": "card", "value": "4242 4242 4242 4242"}, "command.value", "looks like a card number"),
    ({"block_kind": "card", "value": "fp_abcdef123456", "note": "card was 4000-0566-5566-5556"}, "command.note",
     "looks like a card number"),
    ({"block_kind": "card", "value": "fp_abcdef123456", "card_bin": "42"}, "command.card_bin", "first 6 or 8"),
    ({"block_kind": "email", "value": "not an address@"}, "command.value", "is not an e-mail address"),
    ({"block_kind": "email", "value": "-bad-.example"}, "command.value", "is not a domain"),
    ({"block_kind": "email", "value": "x@example.org", "reason_code": "because"}, "command.reason_code", ""),
]


@pytest.mark.parametrize(("fields", "field", "words"), BAD, ids=[f"{b[0]['block_kind']}-{b[1]}-{i}"
                                                                  for i, b in enumerate(BAD)])
def test_bad_blocks_are_422_naming_the_field(server: LiveServer, db: Session, fields: dict[str, Any], field: str,
                                             words: str) -> None:
    staff = staff_headers(server, db)
    command = {"kind": "add_fraud_block", "reason_code": "other",
               "expires_at": (utcnow() + dt.timedelta(days=1)).isoformat(), **fields}
    answer = _command(server, staff, {k: v for k, v in command.items() if v is not None})
    assert answer.status_code == 422, answer.text
    problems = answer.json()["fields"]
    assert field in problems and words in problems[field], problems
    assert "4242" not in answer.text.replace("4242 4242 4242 4242", "")  # never echoed beyond the input itself


# ---------------------------------------------------------------------- the check itself


def test_the_ip_check_matches_exactly_its_networks_and_sees_every_change_at_once(
        server: LiveServer, db: Session) -> None:
    """IPv4 and IPv6 ranges to their last address and not one beyond, single addresses,
    IPv4-mapped IPv6, expiry and lifting; the blocks are added through the server and
    checked on another connection (as another server worker would): no cache to wait for."""
    staff = staff_headers(server, db)
    admin = staff_headers(server, db, UserRole.SOCIETY_ADMIN)
    rng = random.Random()
    v4 = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
    v6 = f"2001:db8:{rng.randint(0, 0xffff):x}"

    def blocked(address: str, now: dt.datetime | None = None) -> list[int]:
        db.rollback()  # a fresh snapshot, as a new request would have
        return active_block_ids(db, Probe.ip(address), now or utcnow())

    assert blocked(f"{v4}.7") == [] and blocked(f"{v6}::1") == []
    soon = utcnow() + dt.timedelta(hours=1)
    net4 = _block(server, staff, "ip", f"{v4}.0/24")
    net6 = _block(server, staff, "ip", f"{v6}::/48", expires_at=soon.isoformat())
    one4 = _block(server, staff, "ip", f"{v4}.7")
    assert blocked(f"{v4}.0") == blocked(f"{v4}.255") == [net4]
    assert blocked(f"{v4}.7") == [net4, one4] == blocked(f"::ffff:{v4}.7")
    below, above = ipaddress.IPv4Address(f"{v4}.0") - 1, ipaddress.IPv4Address(f"{v4}.255") + 1
    assert blocked(str(below)) == blocked(str(above)) == []
    first6 = ipaddress.IPv6Address(f"{v6}::")
    last6 = ipaddress.IPv6Address(f"{v6}:ffff:ffff:ffff:ffff:ffff")
    assert blocked(str(first6)) == blocked(str(last6)) == blocked(f"{v6}:1::42%eth0") == [net6]
    assert blocked(str(first6 - 1)) == blocked(str(last6 + 1)) == []
    assert blocked(f"{v6}::1", soon - dt.timedelta(seconds=1)) == [net6]
    assert blocked(f"{v6}::1", soon) == []  # expired
    assert blocked("not an address") == []
    lifted = _command(server, admin, {"kind": "lift_fraud_block", "block_id": one4, "reason": "a test address"})
    assert lifted.json()["status"] == "applied", lifted.text
    assert blocked(f"{v4}.7") == [net4]
