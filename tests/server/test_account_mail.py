"""Reset password and invitations, end to end: the API (each role, each bad input),
the mail as a real SMTP server receives it, and its links followed through the real
portal pages."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import (
    AuditEvent,
    EmailCategory,
    MailMessage,
    MailState,
    Member,
    PortalSession,
    User,
    UserRole,
    UserState,
    queue_mail,
)
from desktop_care.models.tokens import UserToken, digest
from tests.server.conftest import (
    PASSWORD,
    login,
    make_member,
    make_portal_user,
    settled_mail,
    staff_headers,
    unique,
)
from tests.support.portal import Browser
from tests.support.servers import LiveServer
from tests.support.smtp import SmtpSink

NEW_PASSWORD = "a brand new passphrase"


def _member_with_user(db: Session, **user_fields: object) -> tuple[Member, User]:
    member = make_member(db, "Harriet", "Vane", ["OX1 2AB"], email=f"{unique('hv')}@example.org")
    email = user_fields.pop("email", f"{unique('user')}@example.org")
    user = make_portal_user(db, member, email=email, display_name="Harriet Vane", **user_fields)
    return member, user


def _reset(server: LiveServer, headers: dict[str, str], member_id: int, user_id: int, **body: object) -> requests.Response:
    return requests.post(f"{server.api}/members/{member_id}/users/{user_id}/password-reset", headers=headers,
                         json=body or None, timeout=15)


def _link(received_text: str, path: str) -> str:
    found = re.search(rf"https?://\S+/portal/{path}\?token=[\w-]+", received_text)
    assert found, f"no /portal/{path} link in:\n{received_text}"
    return found.group(0)


# ---------------------------------------------------------------------- reset password


def test_reset_mail_link_sets_a_new_password_ends_sessions_and_confirms(
    mail_server: LiveServer, mail_db: Session, smtp: SmtpSink
) -> None:
    member, user = _member_with_user(mail_db)
    other_browser = Browser(mail_server.url)
    assert other_browser.sign_in(user.username, PASSWORD).title == "My account"
    headers = staff_headers(mail_server, mail_db)

    answer = _reset(mail_server, headers, member.id, user.id)
    assert answer.status_code == 200, answer.text
    assert answer.json()["to"] == user.email
    assert "sent to" in answer.json()["message"]

    mail = smtp.to(user.email, "Reset your")
    assert mail.subject == "Reset your desktop_care password"
    assert "Hello Harriet Vane" in mail.text and user.username in mail.text and "60 minutes" in mail.text
    link = _link(mail.text, "reset-password")
    assert link.startswith(mail_server.url)
    assert link in mail.html.replace("&amp;", "&")
    # Only the digest of the token is stored; the token itself is blanked once sent.
    token = link.split("token=")[1]
    mail_db.expire_all()
    assert mail_db.scalar(select(UserToken).where(UserToken.token_hash == digest(token))) is not None
    sent = settled_mail(mail_db, message_id=str(mail.message["Message-ID"]))
    assert sent.state == MailState.SENT and sent.context["token"] == ""

    browser = Browser(mail_server.url)
    form = browser.get(link)
    assert form.status == 200 and form.title == "Choose a new password"
    short = browser.submit("/portal/reset-password", password="short", repeat="short")
    assert short.status == 400 and short.errors == {"password": "Use at least 8 characters."}
    mismatch = browser.submit("/portal/reset-password", password=NEW_PASSWORD, repeat=NEW_PASSWORD + "x")
    assert mismatch.errors == {"repeat": "The two passwords are not the same."}
    done = browser.submit("/portal/reset-password", password=NEW_PASSWORD, repeat=NEW_PASSWORD)
    assert done.url.endswith("/portal/sign-in") and done.flash.startswith("Your password was changed")

    # The other browser's session has ended; the old password no longer works.
    assert other_browser.get("/portal/account").url.endswith("/portal/sign-in")
    assert Browser(mail_server.url).sign_in(user.username, PASSWORD).form_error == "Wrong username or password."
    signed_in = Browser(mail_server.url).sign_in(user.username, NEW_PASSWORD)
    assert signed_in.title == "My account" and "Harriet Vane" in signed_in.text

    confirmation = smtp.to(user.email, "password was changed")
    assert "every other" in confirmation.text and f"{mail_server.url}/portal/sign-in" in confirmation.text
    # Single use: the link is dead now.
    again = Browser(mail_server.url).get(link)
    assert again.status == 410 and again.title == "This link no longer works"


def test_a_newer_reset_cancels_the_older_link(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink) -> None:
    member, user = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db, UserRole.SOCIETY_ADMIN)
    assert _reset(mail_server, headers, member.id, user.id).status_code == 200
    first = _link(smtp.to(user.email, "Reset").text, "reset-password")
    assert _reset(mail_server, headers, member.id, user.id).status_code == 200
    second = _link(smtp.wait_for(lambda m: user.email in m.rcpt_tos and first not in m.text).text, "reset-password")
    assert Browser(mail_server.url).get(first).status == 410
    assert Browser(mail_server.url).get(second).status == 200


def test_resets_are_rate_limited_per_member(mail_server: LiveServer, mail_db: Session) -> None:
    member, user = _member_with_user(mail_db)
    second_user = make_portal_user(mail_db, member, email=f"{unique('u2')}@example.org")
    headers = staff_headers(mail_server, mail_db)
    for target in (user, second_user, user):
        assert _reset(mail_server, headers, member.id, target.id).status_code == 200
    limited = _reset(mail_server, headers, member.id, second_user.id)
    assert limited.status_code == 429
    assert limited.json()["detail"].startswith("at most 3 password resets per member account in an hour")
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600


def test_reset_is_idempotent_by_op_id(mail_server: LiveServer, mail_db: Session) -> None:
    member, user = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db)
    op_id = str(uuid.uuid4())
    first = _reset(mail_server, headers, member.id, user.id, op_id=op_id)
    again = _reset(mail_server, headers, member.id, user.id, op_id=op_id)
    assert (first.json()["status"], again.json()["status"]) == ("applied", "duplicate")
    mail_db.expire_all()
    assert len(list(mail_db.scalars(select(UserToken).where(UserToken.user_id == user.id)))) == 1


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [("unknown member", 404, None), ("user of another member", 404, None), ("invited user", 422, "user_id"),
     ("disabled user", 422, "user_id"), ("no e-mail", 422, "user_id"), ("staff user", 404, None)],
)
def test_reset_refuses_bad_targets(mail_server: LiveServer, mail_db: Session, case: str, status: int,
                                   field: str | None) -> None:
    member, user = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db)
    member_id, user_id = member.id, user.id
    if case == "unknown member":
        member_id = 987654321
    elif case == "user of another member":
        user_id = _member_with_user(mail_db)[1].id
    elif case == "staff user":
        user_id = mail_db.scalar(select(User.id).where(User.role == UserRole.SOCIETY_STAFF).limit(1))
    else:
        changes = {"invited user": {"state": UserState.INVITED}, "disabled user": {"state": UserState.DISABLED},
                   "no e-mail": {"email": ""}}[case]
        for key, value in changes.items():
            setattr(user, key, value)
        mail_db.commit()
    answer = _reset(mail_server, headers, member_id, user_id)
    assert answer.status_code == status, answer.text
    if field:
        assert field in answer.json()["fields"]
    mail_db.expire_all()
    assert mail_db.scalar(select(UserToken).where(UserToken.user_id == user_id)) is None


def test_account_actions_need_a_staff_token_not_a_portal_cookie(mail_server: LiveServer, mail_db: Session) -> None:
    member, user = _member_with_user(mail_db)
    browser = Browser(mail_server.url)
    browser.sign_in(user.username, PASSWORD)
    cookie = browser.http.cookies.get("dc_portal", path="/portal")
    assert cookie
    urls = [("post", f"/members/{member.id}/users/{user.id}/password-reset"),
            ("post", f"/members/{member.id}/invitations"), ("get", f"/members/{member.id}/mail"),
            ("post", "/staff/invitations")]
    for method, path in urls:
        bare = requests.request(method, mail_server.api + path, json={}, timeout=10)
        with_cookie = requests.request(method, mail_server.api + path, json={}, timeout=10,
                                       cookies={"dc_portal": cookie})
        as_bearer = requests.request(method, mail_server.api + path, json={}, timeout=10,
                                     headers={"Authorization": f"Bearer {cookie}"})
        assert (bare.status_code, with_cookie.status_code, as_bearer.status_code) == (401, 401, 401), path
    # The server keeps only the cookie's digest.
    mail_db.expire_all()
    assert mail_db.scalar(select(PortalSession).where(PortalSession.token_hash == digest(cookie))) is not None
    assert mail_db.scalar(select(PortalSession).where(PortalSession.token_hash == cookie)) is None


# ---------------------------------------------------------------------- invitations


def _invite(server: LiveServer, headers: dict[str, str], member_id: int, **body: object) -> requests.Response:
    return requests.post(f"{server.api}/members/{member_id}/invitations", headers=headers, json=body, timeout=15)


def test_invitation_mail_link_lets_the_person_choose_a_password_and_sign_in(
    mail_server: LiveServer, mail_db: Session, smtp: SmtpSink
) -> None:
    member, _ = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db)
    email = f"{unique('peter')}@Example.org"
    answer = _invite(mail_server, headers, member.id, email=email, display_name="  Peter   Wimsey ", role="standard")
    assert answer.status_code == 201, answer.text
    invited = answer.json()["user"]
    assert (invited["state"], invited["role"], invited["display_name"]) == ("invited", "standard", "Peter Wimsey")
    assert invited["invitation_expires_at"]
    detail = requests.get(f"{mail_server.api}/members/{member.id}", headers=headers, timeout=10).json()
    assert [u["state"] for u in detail["users"] if u["id"] == invited["id"]] == ["invited"]

    mail = smtp.to(invited["email"], "You are invited")
    assert mail.subject == "You are invited to the desktop_care account of Harriet Vane"
    assert "as a Standard user" in mail.text and "7 days" in mail.text and invited["username"] in mail.text
    link = _link(mail.text, "invitation")

    # Not yet accepted: no sign-in.
    refused = Browser(mail_server.url).sign_in(invited["username"], NEW_PASSWORD)
    assert refused.status == 401

    browser = Browser(mail_server.url)
    form = browser.get(link)
    assert form.title == "Accept your invitation" and "Harriet Vane" in form.text
    blank = browser.submit("/portal/invitation", name=" ", password=NEW_PASSWORD, repeat=NEW_PASSWORD)
    assert blank.status == 400 and blank.errors == {"name": "Enter your name."}
    welcome = browser.submit("/portal/invitation", name="Lord Peter", password=NEW_PASSWORD, repeat=NEW_PASSWORD)
    assert welcome.url.endswith("/portal/account") and welcome.flash == "Welcome! Your account is ready."
    assert "Harriet Vane" in welcome.text and "Standard user" in welcome.text
    assert Browser(mail_server.url).get(link).status == 410
    assert Browser(mail_server.url).sign_in(invited["username"], NEW_PASSWORD).title == "My account"
    mail_db.expire_all()
    assert mail_db.get(User, invited["id"]).state == UserState.ACTIVE  # type: ignore[union-attr]


def test_resend_replaces_the_link_and_cancel_kills_it(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink) -> None:
    member, _ = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db)
    email = f"{unique('bunter')}@example.org"
    user_id = _invite(mail_server, headers, member.id, email=email, display_name="Bunter", role="full").json()["user"]["id"]
    first = _link(smtp.to(email).text, "invitation")
    resent = requests.post(f"{mail_server.api}/members/{member.id}/invitations/{user_id}/resend", headers=headers,
                           timeout=10)
    assert resent.status_code == 200 and resent.json()["message"] == f"The invitation was sent again to {email}."
    second = _link(smtp.wait_for(lambda m: email in m.rcpt_tos and first not in m.text).text, "invitation")
    assert Browser(mail_server.url).get(first).status == 410
    assert Browser(mail_server.url).get(second).status == 200

    cancelled = requests.delete(f"{mail_server.api}/members/{member.id}/invitations/{user_id}", headers=headers,
                                timeout=10)
    assert cancelled.status_code == 200 and cancelled.json()["user"]["state"] == "revoked"
    assert Browser(mail_server.url).get(second).status == 410
    again = requests.delete(f"{mail_server.api}/members/{member.id}/invitations/{user_id}", headers=headers, timeout=10)
    assert again.status_code == 422 and again.json()["fields"] == {"user_id": "no pending invitation"}
    # A cancelled invitation can be made again.
    assert _invite(mail_server, headers, member.id, email=email, display_name="Bunter", role="full").status_code == 201


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [({"email": "not-an-address", "display_name": "X", "role": "full"}, "email", "is not a valid e-mail address"),
     ({"email": "a@example.org", "display_name": "", "role": "full"}, "display_name", "must not be empty"),
     ({"email": "a@example.org", "display_name": "X", "role": "society_admin"}, "role", "must be one of"),
     ({"email": "a@example.org", "role": "full"}, "display_name", "is required")],
)
def test_invitation_bad_input_names_the_field(mail_server: LiveServer, mail_db: Session, body: dict[str, str],
                                              field: str, message: str) -> None:
    member, _ = _member_with_user(mail_db)
    answer = _invite(mail_server, staff_headers(mail_server, mail_db), member.id, **body)
    assert answer.status_code == 422
    assert answer.json()["fields"][field].startswith(message), answer.json()


def test_inviting_an_existing_user_says_so(mail_server: LiveServer, mail_db: Session) -> None:
    member, user = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db)
    taken = _invite(mail_server, headers, member.id, email=user.email, display_name="X", role="full")
    assert taken.status_code == 422 and taken.json()["fields"]["email"].endswith("is already a user")
    email = f"{unique('twice')}@example.org"
    assert _invite(mail_server, headers, member.id, email=email, display_name="X", role="full").status_code == 201
    twice = _invite(mail_server, headers, member.id, email=email, display_name="X", role="full")
    assert twice.json()["fields"]["email"] == f"{email} is already invited; re-send the invitation instead"


# ---------------------------------------------------------------------- staff invitations


def test_staff_invitation_society_admin_only(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink) -> None:
    body = {"email": f"{unique('clerk')}@example.org", "display_name": "Miss Climpson", "role": "society_staff"}
    as_staff = requests.post(f"{mail_server.api}/staff/invitations", json=body, timeout=10,
                             headers=staff_headers(mail_server, mail_db, UserRole.SOCIETY_STAFF))
    assert as_staff.status_code == 403 and as_staff.json()["detail"] == "only a Society Admin can invite staff"
    admin = staff_headers(mail_server, mail_db, UserRole.SOCIETY_ADMIN)
    bad = requests.post(f"{mail_server.api}/staff/invitations", json={**body, "role": "full"}, headers=admin, timeout=10)
    assert bad.status_code == 422 and "role" in bad.json()["fields"]
    answer = requests.post(f"{mail_server.api}/staff/invitations", json=body, headers=admin, timeout=10)
    assert answer.status_code == 201, answer.text
    mail = smtp.to(body["email"], "You are invited")
    assert mail.subject == "You are invited to desktop_care as Society Staff"
    browser = Browser(mail_server.url)
    browser.get(_link(mail.text, "invitation"))
    ready = browser.submit("/portal/invitation", name="Miss Climpson", password=NEW_PASSWORD, repeat=NEW_PASSWORD)
    assert ready.title == "Your account is ready" and "desktop_care app" in ready.text
    assert login(mail_server, body["email"], NEW_PASSWORD).status_code == 200
    # Staff do not sign in to the member portal.
    assert Browser(mail_server.url).sign_in(body["email"], NEW_PASSWORD).status == 403


# ---------------------------------------------------------------------- mail listing and preferences


def test_member_mail_is_listed_paged_and_audited(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink) -> None:
    member, user = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db)
    for _ in range(3):
        _invite(mail_server, headers, member.id, email=f"{unique('p')}@example.org", display_name="P", role="full")
    assert _reset(mail_server, headers, member.id, user.id).status_code == 200
    smtp.to(user.email, "Reset")
    page1 = requests.get(f"{mail_server.api}/members/{member.id}/mail?limit=3", headers=headers, timeout=10).json()
    assert page1["total"] == 4 and len(page1["items"]) == 3 and page1["next_cursor"]
    newest = page1["items"][0]
    assert (newest["template"], newest["to"], newest["subject"]) == (
        "password_reset", user.email, "Reset your desktop_care password")
    assert newest["state"] in ("queued", "sending", "sent")
    page2 = requests.get(f"{mail_server.api}/members/{member.id}/mail?limit=3&cursor={page1['next_cursor']}",
                         headers=headers, timeout=10).json()
    assert [m["template"] for m in page2["items"]] == ["invitation"] and page2["next_cursor"] is None
    bad = requests.get(f"{mail_server.api}/members/{member.id}/mail?cursor=x", headers=headers, timeout=10)
    assert bad.status_code == 422 and "cursor" in bad.json()["fields"]
    mail_db.expire_all()
    queued = list(mail_db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.queued",
                                                           AuditEvent.entity_id == str(member.id))))
    assert len(queued) == 4
    assert {"template", "to", "message_id"} <= set(queued[-1].details)


def test_opted_out_members_get_no_mail_of_that_category(mail_server: LiveServer, mail_db: Session,
                                                        smtp: SmtpSink) -> None:
    opted_in = make_member(mail_db, "Ann", "In", email=f"{unique('in')}@example.org", email_event_reminders=True)
    opted_out = make_member(mail_db, "Otto", "Out", email=f"{unique('out')}@example.org", email_newsletters=True,
                            email_event_reminders=False)
    context = {"name": "you", "event": "the spring show", "date": "1 May"}
    for member in (opted_in, opted_out):
        queue_mail(mail_db, template="event_reminder", category=EmailCategory.EVENT_REMINDERS,
                   to_address=member.email, member=member, context=context)
    # Service mail is always sent, whatever the choices.
    queue_mail(mail_db, template="event_reminder", category=EmailCategory.SERVICE, to_address=opted_out.email,
               member=opted_out, context={**context, "event": "a service notice"})
    mail_db.commit()
    assert "the spring show" in smtp.to(opted_in.email, "Reminder").text
    assert "a service notice" in smtp.to(opted_out.email, "Reminder").text
    mail_db.expire_all()
    rows = list(mail_db.scalars(select(MailMessage).where(MailMessage.member_id == opted_out.id)))
    assert [row.category for row in rows] == [EmailCategory.SERVICE]
    assert smtp.count_to(opted_out.email) == 1


def test_account_commands_also_run_through_post_commands(mail_server: LiveServer, mail_db: Session,
                                                         smtp: SmtpSink) -> None:
    """The registry's one path: the same command, the same rules, the same mail."""
    member, user = _member_with_user(mail_db)
    headers = staff_headers(mail_server, mail_db)
    command = {"kind": "reset_password", "member_id": member.id, "user_id": user.id}
    answer = requests.post(f"{mail_server.api}/commands", json={"command": command}, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "applied", answer.text
    assert "/portal/reset-password?token=" in smtp.to(user.email, "Reset").text
    wrong = {"kind": "resend_invitation", "member_id": member.id, "user_id": user.id}
    refused = requests.post(f"{mail_server.api}/commands", json={"command": wrong}, headers=headers, timeout=10)
    assert refused.json()["status"] == "rejected" and refused.json()["fields"] == {"user_id": "no pending invitation"}
    # Online-only kinds are never accepted into an offline outbox's batch.
    batch = requests.post(f"{mail_server.api}/sync/commands", json={"commands": [command]}, headers=headers, timeout=10)
    assert batch.status_code == 422 and "commands.0.kind" in batch.json()["fields"]
