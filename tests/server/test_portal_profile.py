"""My profile and Change password, as a member uses them (HTTP through the real
server; the confirmation e-mail from the real SMTP server)."""

from __future__ import annotations

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import AuditEvent, Member, User
from tests.server.conftest import (
    PASSWORD,
    make_member,
    make_portal_user,
    staff_headers,
    unique,
)
from tests.support.portal import Browser
from tests.support.servers import LiveServer
from tests.support.smtp import SmtpSink


def _signed_in(server: LiveServer, db: Session) -> tuple[Member, User, Browser]:
    member = make_member(db, "Mary", "Quant", ["SW1A 1AA"], email=f"{unique('mq')}@example.org", phone="+442079460000")
    member.addresses[0].city = "London"
    db.commit()
    user = make_portal_user(db, member, email=member.email, display_name="Mary Quant")
    browser = Browser(server.url)
    assert browser.sign_in(user.username, PASSWORD).title == "My account"
    return member, user, browser


def test_the_menu_leads_to_every_page(server: LiveServer, db: Session) -> None:
    _, _, browser = _signed_in(server, db)
    page = browser.get("/portal/account")
    for href, title in (("/portal/profile", "My profile"), ("/portal/password", "Change password")):
        assert f'href="{href}"' in page.text
        assert browser.get(href).title == title
    assert browser.last is not None and 'aria-current="page">Change password' in browser.last.text


def test_profile_changes_reach_the_console_at_once(server: LiveServer, db: Session) -> None:
    member, user, browser = _signed_in(server, db)
    page = browser.get("/portal/profile")
    assert page.inputs["first_name"] == "Mary" and page.inputs["phone"] == "020 7946 0000"
    assert page.inputs["postcode"] == "SW1A 1AA"
    headers = staff_headers(server, db)
    cursor = requests.get(f"{server.api}/sync/changes", params={"after": 0, "limit": 1}, headers=headers,
                          timeout=10).json()
    saved = browser.fill("/portal/profile", first_name="  Maria ", email="Maria.Quant@Example.org",
                         line1="2 New Street", city="Leeds", postcode="ls1 4ap")
    assert saved.flash == "Your profile was updated." and saved.inputs["first_name"] == "Maria"
    detail = requests.get(f"{server.api}/members/{member.id}", headers=headers, timeout=10).json()
    assert detail["first_name"] == "Maria" and detail["email"] == "Maria.Quant@example.org"
    assert detail["phone"] == "+442079460000"  # untouched
    assert any(a["postcode"] == "LS1 4AP" and a["city"] == "Leeds" for a in detail["addresses"])
    # In the change feed: a workstation pulling after the cursor it had gets the member.
    feed = requests.get(f"{server.api}/sync/changes", params={"after": cursor["latest"], "limit": 1000},
                        headers=headers, timeout=10).json()
    assert any(c["entity"] == "member" and c["id"] == member.id and c["member"]["first_name"] == "Maria"
               for c in feed["changes"])
    db.expire_all()
    edit = db.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(member.id),
                                               AuditEvent.action == "member.update_contact")).one()
    assert edit.actor_user_id == user.id and edit.impersonation_id is None


def test_profile_errors_show_under_their_fields(server: LiveServer, db: Session) -> None:
    member, _, browser = _signed_in(server, db)
    browser.get("/portal/profile")
    bad = browser.fill("/portal/profile", first_name=" ", email="not-an-address", postcode="XYZ", phone="12")
    assert bad.status == 400 and bad.form_error == "Please correct the fields marked below."
    assert set(bad.errors) == {"first_name", "email", "postcode", "phone"}
    assert bad.errors["first_name"] == "May not be blank."
    assert "valid e-mail address" in bad.errors["email"]
    assert bad.inputs["email"] == "not-an-address"  # what was typed stays
    db.expire_all()
    fresh = db.get(Member, member.id)
    assert fresh is not None and fresh.first_name == "Mary"  # nothing half-applied
    same = browser.get("/portal/profile")
    again = browser.fill("/portal/profile")
    assert again.text.count("Nothing was changed.") == 1 and same.status == 200, (again.errors, again.form_error)
    forged = browser.http.post(f"{server.url}/portal/profile", data={**same.inputs, "version": "1"}, timeout=10)
    assert forged.status_code == 400 and "This form has expired" in forged.text


def test_an_edit_made_meanwhile_in_the_console_is_not_overwritten(server: LiveServer, db: Session) -> None:
    member, _, browser = _signed_in(server, db)
    browser.get("/portal/profile")
    headers = staff_headers(server, db)
    console = requests.post(f"{server.api}/commands", headers=headers, timeout=10, json={"command": {
        "kind": "update_contact", "member_id": member.id, "base_version": member.version, "last_name": "Console"}})
    assert console.json()["status"] == "applied", console.text
    clash = browser.fill("/portal/profile", last_name="Portal")
    assert clash.status == 409 and "Someone else changed these details" in clash.form_error
    db.expire_all()
    fresh = db.get(Member, member.id)
    assert fresh is not None and fresh.last_name == "Console"


def test_change_password_ends_other_sessions_and_confirms_by_email(mail_server: LiveServer, mail_db: Session,
                                                                   smtp: SmtpSink) -> None:
    member, user, browser = _signed_in(mail_server, mail_db)
    elsewhere = Browser(mail_server.url)
    assert elsewhere.sign_in(user.username, PASSWORD).title == "My account"
    browser.get("/portal/password")
    wrong = browser.submit("/portal/password", current_password="nope", password="n3w password!",
                           repeat="n3w password!")
    assert wrong.status == 400 and wrong.errors == {"current_password": "This is not your current password."}
    short = browser.submit("/portal/password", current_password=PASSWORD, password="short", repeat="short")
    assert short.errors == {"password": "Use at least 8 characters."}
    differ = browser.submit("/portal/password", current_password=PASSWORD, password="n3w password!",
                            repeat="other one!")
    assert differ.errors == {"repeat": "The two passwords are not the same."}
    done = browser.submit("/portal/password", current_password=PASSWORD, password="n3w password!",
                          repeat="n3w password!")
    assert done.url.endswith("/portal/account") and "Your password was changed" in done.flash
    assert browser.get("/portal/profile").title == "My profile"  # this session stays
    assert elsewhere.get("/portal/account").url.endswith("/portal/sign-in")  # the other one ended
    confirm = smtp.to(user.email, "password was changed")
    assert user.username in confirm.text
    assert Browser(mail_server.url).sign_in(user.username, "n3w password!").title == "My account"
    mail_db.expire_all()
    actions = [e.action for e in mail_db.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(member.id),
                                                                          AuditEvent.entity_type == "member"))]
    assert "portal.password_changed" in actions and "portal.password_change_failed" in actions
