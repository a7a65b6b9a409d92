"""The member portal's foundation: sign-in and who may not, CSRF, cookies, headers."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from desktop_care.models import MemberStatus, UserRole, UserState
from tests.server.conftest import PASSWORD, make_member, make_portal_user, unique
from tests.support.portal import Browser
from tests.support.servers import LiveServer
from tests.support.tls import TlsFiles


def _user(db: Session, **fields: object):
    member = make_member(db, "Mary", "Quant", email=f"{unique('mq')}@example.org",
                         status=fields.pop("member_status", MemberStatus.ENROLLED))
    return member, make_portal_user(db, member, email=f"{unique('u')}@example.org", display_name="Mary Quant",
                                    **fields)


def test_sign_in_shows_my_account_and_sign_out_ends_the_session(server: LiveServer, db: Session) -> None:
    member, user = _user(db)
    browser = Browser(server.url)
    assert browser.get("/portal/").url.endswith("/portal/sign-in")
    page = browser.sign_in(user.username.upper(), PASSWORD)
    assert page.url.endswith("/portal/account") and page.title == "My account"
    assert "Mary Quant" in page.text and member.member_no in page.text
    cookie = next(c for c in browser.http.cookies if c.name == "dc_portal")
    assert cookie.path == "/portal" and cookie.has_nonstandard_attr("HttpOnly")
    raw = page.response.history[0].headers["set-cookie"]
    assert "HttpOnly" in raw and "SameSite=lax" in raw and "Secure" not in raw  # plain HTTP here
    out = browser.submit("/portal/sign-out")
    assert out.url.endswith("/portal/sign-in") and out.flash == "You are signed out."
    # The old cookie no longer opens the account.
    stale = requests.get(f"{server.url}/portal/account", cookies={"dc_portal": cookie.value or ""}, timeout=10,
                         allow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"] == "/portal/sign-in"


def test_every_portal_page_sends_a_strict_content_security_policy(server: LiveServer) -> None:
    for path in ("/portal/sign-in", "/portal/forgot-password", "/portal/reset-password?token=x",
                 "/portal/invitation?token=x", "/portal/static/portal.css"):
        response = requests.get(server.url + path, timeout=10)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy and "'unsafe-inline'" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "<script" not in response.text and " style=" not in response.text, path


def test_forms_without_the_csrf_token_are_refused(server: LiveServer, db: Session) -> None:
    _, user = _user(db)
    browser = Browser(server.url)
    browser.get("/portal/sign-in")
    forged = browser.http.post(f"{server.url}/portal/sign-in", data={"username": user.username, "password": PASSWORD},
                               timeout=10)
    assert forged.status_code == 400 and "This form has expired" in forged.text
    other = requests.post(f"{server.url}/portal/sign-in", timeout=10,
                          data={"username": user.username, "password": PASSWORD, "csrf_token": "x" * 43})
    assert other.status_code == 400
    assert browser.sign_in(user.username, PASSWORD).title == "My account"


def test_sign_in_errors_say_what_is_wrong(server: LiveServer, db: Session) -> None:
    _, user = _user(db)
    browser = Browser(server.url)
    browser.get("/portal/sign-in")
    empty = browser.submit("/portal/sign-in", username="", password="")
    assert empty.status == 400
    assert empty.errors == {"username": "Enter your username.", "password": "Enter your password."}
    wrong = browser.submit("/portal/sign-in", username=user.username, password="not the password")
    assert wrong.status == 401 and wrong.form_error == "Wrong username or password."
    assert 'value="' + user.username + '"' in wrong.text  # the username stays in the field


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"state": UserState.REVOKED}, "Access for this account has been revoked; it must be invited again."),
     ({"state": UserState.DISABLED}, "This account is disabled; staff can enable it."),
     ({"state": UserState.INVITED}, "This account is not activated yet; accept the invitation first."),
     ({"member_status": MemberStatus.DEACTIVATED}, "This account is on hold; please contact us to reactivate it."),
     ({"member_status": MemberStatus.INACTIVE}, "This membership is closed (un-enrolled)."),
     ({"role": UserRole.NON_MEMBER}, "This is not a member portal account.")],
)
def test_users_who_may_not_sign_in_are_told_why(server: LiveServer, db: Session, fields: dict[str, object],
                                                message: str) -> None:
    _, user = _user(db, **fields)
    page = Browser(server.url).sign_in(user.username, PASSWORD)
    assert page.status == 403 and message in page.form_error
    assert page.title == "Sign in"


def test_staff_cannot_sign_in_to_the_portal(server: LiveServer, make_staff) -> None:
    staff = make_staff()
    page = Browser(server.url).sign_in(staff.username, staff.password)
    assert page.status == 403 and page.form_error == "Staff accounts sign in to the Desktop Care console, not the member portal."


def test_forgot_password_answers_the_same_for_unknown_accounts(server: LiveServer, db: Session) -> None:
    _, user = _user(db)
    known, unknown = Browser(server.url), Browser(server.url)
    for browser, name in ((known, user.email), (unknown, "nobody@example.org")):
        browser.get("/portal/forgot-password")
        page = browser.submit("/portal/forgot-password", username=name)
        assert page.title == "Check your e-mail"
    assert known.last is not None and unknown.last is not None
    assert known.last.text == unknown.last.text
    blank = Browser(server.url)
    blank.get("/portal/forgot-password")
    assert blank.submit("/portal/forgot-password", username=" ").errors == {
        "username": "Enter your username or e-mail address."}


def test_over_tls_the_cookies_are_secure(tls_server: LiveServer, tls_files: TlsFiles) -> None:
    """Served over HTTPS (``serve --tls-cert``), every cookie the portal sets is Secure."""
    engine = create_engine(tls_server.database_url)
    with Session(engine, expire_on_commit=False) as tls_db:
        _, user = _user(tls_db)
    engine.dispose()
    browser = Browser(tls_server.url)
    browser.http.verify = str(tls_files.ca)
    browser.http.trust_env = False  # REQUESTS_CA_BUNDLE would take the place of the test CA
    page = browser.sign_in(user.username, PASSWORD)
    assert page.title == "My account"
    set_cookies = [r.headers["set-cookie"] for r in (*page.response.history, page.response)
                   if "set-cookie" in r.headers]
    assert any("dc_portal=" in header for header in set_cookies)
    assert set_cookies and all("Secure" in header for header in set_cookies)
    browser.http.close()
