"""Acting on behalf of a member, through HTTP as the console and its web view do: the
one-time token, the on-behalf portal session and its banner, every refusal, the audit,
the member's e-mail from the real SMTP server, and every way the session ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from desktop_care.models import (
    AuditEvent,
    Member,
    MemberStatus,
    OnBehalfSession,
    PortalSession,
    UserRole,
    UserState,
    utcnow,
)
from desktop_care.server.accounts import create_staff
from tests.server.conftest import PASSWORD, login, make_member, make_portal_user, unique
from tests.support.portal import Browser, Page
from tests.support.servers import LiveServer
from tests.support.smtp import SmtpSink


class Console:
    """A signed-in staff member, as the console talks to the API."""

    def __init__(self, server: LiveServer, db: Session, role: UserRole = UserRole.SOCIETY_STAFF,
                 name: str = "Sam Support") -> None:
        self.user = create_staff(db, unique("staff."), PASSWORD, role=role, display_name=name, actor="test")
        db.commit()
        self.server = server
        self.token = login(server, self.user.username, PASSWORD).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def act(self, member_id: int, reason: str = "Member phoned: cannot update the address",
            **extra: object) -> requests.Response:
        return requests.post(f"{self.server.api}/members/{member_id}/on-behalf", headers=self.headers,
                             json={"reason": reason, **extra}, timeout=10)

    def open(self, member_id: int, reason: str = "Member phoned: cannot update the address") -> tuple[Browser, Page, str]:
        """Act on behalf and load the token's URL in a fresh browser (the web view)."""
        answer = self.act(member_id, reason)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        browser = Browser(self.server.url)
        return browser, browser.get(body["url"]), body["session_id"]

    def end(self, session_id: str, why: str = "view_closed") -> requests.Response:
        return requests.post(f"{self.server.api}/on-behalf/{session_id}/end", headers=self.headers,
                             json={"why": why}, timeout=10)

    def state(self, session_id: str) -> dict[str, object]:
        answer = requests.get(f"{self.server.api}/on-behalf/{session_id}", headers=self.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def _member(db: Session, **fields: object) -> tuple[Member, object]:
    member = make_member(db, "Mary", "Quant", email=f"{unique('mq')}@example.org",
                         status=fields.pop("status", MemberStatus.ENROLLED))
    user = make_portal_user(db, member, email=member.email, display_name="Mary Quant", **fields)
    return member, user


def _audit(db: Session, member: Member, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "member",
                                                    AuditEvent.entity_id == str(member.id),
                                                    AuditEvent.action == action).order_by(AuditEvent.id)))


def _banner(page: Page) -> str:
    start = page.text.find('id="on-behalf-banner"')
    assert start >= 0, "no on-behalf banner on the page"
    return " ".join(page.text[start:page.text.find("</p>", start)].replace("<strong>", "").replace("</strong>", "")
                    .split())


def test_act_on_behalf_opens_the_portal_with_a_banner_once(server: LiveServer, db: Session) -> None:
    member, user = _member(db)
    own = Browser(server.url)
    assert own.sign_in(user.username, PASSWORD).title == "My account"  # the member, elsewhere
    console = Console(server, db)
    answer = console.act(member.id)
    assert answer.status_code == 201
    body = answer.json()
    assert body["url"] == f"/portal/on-behalf?token={body['token']}" and body["time_limit_seconds"] == 1800
    expires = dt.datetime.fromisoformat(body["token_expires_at"])
    assert dt.timedelta(seconds=1) < expires - utcnow() <= dt.timedelta(seconds=30)
    # Stored hashed: the token itself is nowhere in the database.
    db.expire_all()
    row = db.get(OnBehalfSession, body["session_id"])
    assert row is not None and body["token"] not in row.token_hash and len(row.token_hash) == 64

    view = Browser(server.url)
    page = view.get(body["url"])
    assert page.url.endswith("/portal/account") and page.title == "My account"
    assert "Sam Support acting on behalf of Mary Quant" in _banner(page)
    assert 'id="sign-in-as-yourself"' in page.text and 'id="on-behalf-sign-out"' in page.text
    for path in ("/portal/profile", "/portal/password"):
        assert "acting on behalf of" in _banner(view.get(path))
    # The token works once.
    again = Browser(server.url).get(body["url"])
    assert again.status == 410 and "Act on behalf" in again.text
    # The member's own session is untouched; theirs shows no banner.
    mine = own.get("/portal/account")
    assert mine.title == "My account" and 'id="on-behalf-banner"' not in mine.text

    start, = _audit(db, member, "on_behalf.start")
    assert start.actor_user_id == console.user.id and start.impersonation_id == body["session_id"]
    assert start.details["reason"] == "Member phoned: cannot update the address"
    history = requests.get(f"{server.api}/members/{member.id}/history", headers=console.headers, timeout=10).json()
    assert any(e["action"] == "on_behalf.start" and e["impersonation_id"] == body["session_id"]
               for e in history["items"])


def test_changes_on_behalf_are_audited_with_staff_member_and_session(server: LiveServer, db: Session) -> None:
    member, _ = _member(db)
    console = Console(server, db)
    view, _page, session_id = console.open(member.id)
    view.get("/portal/profile")
    saved = view.fill("/portal/profile", phone="07911 123456", city="Bristol", line1="1 Harbour Way",
                        postcode="bs1 4dj")
    assert saved.url.endswith("/portal/profile") and saved.flash == "Your profile was updated."
    # The console sees it at once.
    detail = requests.get(f"{server.api}/members/{member.id}", headers=console.headers, timeout=10).json()
    assert detail["phone"] == "+447911123456"
    assert any(a["city"] == "Bristol" and a["postcode"] == "BS1 4DJ" for a in detail["addresses"])
    edit, = _audit(db, member, "member.update_contact")
    assert edit.actor_user_id == console.user.id and edit.actor_name == console.user.username
    assert edit.impersonation_id == session_id
    history = requests.get(f"{server.api}/members/{member.id}/history", headers=console.headers, timeout=10).json()
    shown = next(e for e in history["items"] if e["action"] == "member.update_contact")
    assert shown["actor_username"] == console.user.username and shown["impersonation_id"] == session_id


def test_email_and_password_cannot_be_changed_on_behalf(server: LiveServer, db: Session) -> None:
    member, user = _member(db)
    console = Console(server, db)
    view, _, session_id = console.open(member.id)
    view.get("/portal/profile")
    refused = view.fill("/portal/profile", email="someone.else@example.org", first_name="Maria")
    assert refused.status == 403
    assert "cannot change the member's e-mail address while acting on their behalf" in refused.form_error
    assert refused.errors["email"] == "Only the member can change their e-mail address."
    db.expire_all()
    fresh = db.get(Member, member.id)
    assert fresh is not None and fresh.email == member.email and fresh.first_name == "Mary"  # nothing applied
    password = view.get("/portal/password")
    assert password.status == 403 and "Reset password" in password.form_error
    assert 'name="current_password"' not in password.text
    posted = view.http.post(f"{server.url}/portal/password", timeout=10,
                            data={**password.hidden, "current_password": PASSWORD, "password": "x" * 12,
                                  "repeat": "x" * 12})
    assert posted.status_code == 403
    attempts = [e.details["attempted"] for e in _audit(db, member, "on_behalf.refused")]
    assert attempts == ["change the e-mail address", "change the password"]
    assert all(e.impersonation_id == session_id for e in _audit(db, member, "on_behalf.refused"))
    assert Browser(server.url).sign_in(user.username, PASSWORD).title == "My account"  # password unchanged


@pytest.mark.parametrize("case", ["merged", "deactivated", "revoked", "staff user", "blank reason", "unknown"])
def test_who_may_not_be_acted_for_is_refused_plainly(server: LiveServer, db: Session, case: str) -> None:
    console = Console(server, db)
    member, _user = _member(db, **({"state": UserState.REVOKED} if case == "revoked" else {}))
    extra: dict[str, object] = {}
    reason = "Helping on the phone"
    if case == "merged":
        survivor = make_member(db, "Mary", "Survivor")
        db.execute(update(Member).where(Member.id == member.id)
                   .values(status=MemberStatus.MERGED, merged_into_id=survivor.id))
        db.commit()
    elif case == "deactivated":
        db.execute(update(Member).where(Member.id == member.id).values(status=MemberStatus.DEACTIVATED))
        db.commit()
    elif case == "staff user":
        extra["user_id"] = Console(server, db, name="Other Staff").user.id
    elif case == "blank reason":
        reason = "   "
    answer = console.act(member.id if case != "unknown" else 2**31 - 1, reason, **extra)
    expected = {
        "merged": (403, "was merged into another account"),
        "deactivated": (403, "cannot use the portal: this account is on hold"),
        "revoked": (403, "access to the portal was revoked for this account"),
        "staff user": (403, "staff cannot act on behalf of a staff account"),
        "blank reason": (422, "give the reason"),
        "unknown": (404, "no member with id"),
    }[case]
    assert answer.status_code == expected[0] and expected[1] in answer.json()["detail"], answer.text
    if case == "blank reason":
        assert answer.json()["fields"] == {"reason": "give the reason for acting on the member's behalf"}
    assert not _audit(db, member, "on_behalf.start")


def test_a_token_works_only_for_seconds(server: LiveServer, db: Session) -> None:
    member, _ = _member(db)
    console = Console(server, db)
    body = console.act(member.id).json()
    db.execute(update(OnBehalfSession).where(OnBehalfSession.id == body["session_id"])
               .values(token_expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.commit()
    late = Browser(server.url).get(body["url"])
    assert late.status == 410 and late.title == "This link no longer works"
    assert Browser(server.url).get("/portal/on-behalf?token=nonsense").status == 410


def test_sign_in_as_yourself_ends_the_session_on_the_server(server: LiveServer, db: Session) -> None:
    member, _ = _member(db)
    console = Console(server, db)
    view, _page, session_id = console.open(member.id)
    cookie = view.http.cookies.get("dc_portal", path="/portal")
    done = view.submit("/portal/on-behalf/end", then="yourself")
    assert done.url.endswith("/portal/on-behalf/ended?then=yourself")
    assert "has ended on the server" in done.text and 'id="on-behalf-banner"' not in done.text
    stale = requests.get(f"{server.url}/portal/account", cookies={"dc_portal": cookie or ""}, timeout=10,
                         allow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"] == "/portal/sign-in"
    state = console.state(session_id)
    assert state["live"] is False and state["end_reason"] == "sign_in_as_yourself"
    end, = _audit(db, member, "on_behalf.end")
    assert end.details["why"] == "sign_in_as_yourself" and end.actor_user_id == console.user.id


@pytest.mark.parametrize("how", ["view_closed", "staff_signed_out", "time_limit", "sign_out"])
def test_every_other_way_the_session_ends(server: LiveServer, db: Session, how: str) -> None:
    member, _ = _member(db)
    console = Console(server, db)
    view, _, session_id = console.open(member.id)
    if how == "view_closed":
        assert console.end(session_id).status_code == 200
    elif how == "staff_signed_out":
        assert requests.post(f"{server.api}/auth/logout", headers=console.headers, timeout=10).status_code == 204
    elif how == "time_limit":
        db.execute(update(OnBehalfSession).where(OnBehalfSession.id == session_id)
                   .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        db.commit()
    else:
        assert view.submit("/portal/on-behalf/end", then="sign_out").url.endswith("ended?then=sign_out")
    after = view.get("/portal/account")
    assert after.url.endswith("/portal/sign-in") and 'id="on-behalf-banner"' not in after.text
    end, = _audit(db, member, "on_behalf.end")
    assert end.details["why"] == how and end.impersonation_id == session_id
    db.expire_all()
    row = db.get(OnBehalfSession, session_id)
    assert row is not None and row.portal_session_id is not None
    portal = db.get(PortalSession, row.portal_session_id)
    assert portal is not None and portal.ended_at is not None


def test_the_console_ends_only_its_own_sessions(server: LiveServer, db: Session) -> None:
    member, _ = _member(db)
    console, other = Console(server, db), Console(server, db, name="Other")
    _, _, session_id = console.open(member.id)
    assert other.end(session_id).status_code == 404
    assert console.state(session_id)["live"] is True
    bad = console.end(session_id, "because")
    assert bad.status_code == 422 and "why" in bad.json()["fields"]


# ---------------------------------------------------------------------- mail and the setting


@pytest.fixture
def admin(mail_server: LiveServer, mail_db: Session) -> Iterator[Console]:
    console = Console(mail_server, mail_db, UserRole.SOCIETY_ADMIN, name="Ada Admin")
    yield console
    requests.put(f"{mail_server.api}/settings/on-behalf", headers=console.headers, json={"notify_member": True},
                 timeout=10)


def test_the_member_is_told_by_email_with_the_reason(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink,
                                                     admin: Console) -> None:
    member, _ = _member(mail_db)
    admin.open(member.id, "Renewal questions on the phone")
    notice = smtp.to(member.email, "staff accessed your account")
    assert "Ada Admin" in notice.text and "Renewal questions on the phone" in notice.text
    assert "Ada Admin" in notice.html


def test_a_society_admin_can_turn_the_notice_off(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink,
                                                 admin: Console) -> None:
    staff = Console(mail_server, mail_db)
    url = f"{mail_server.api}/settings/on-behalf"
    refused = requests.put(url, headers=staff.headers, json={"notify_member": False}, timeout=10)
    assert refused.status_code == 403 and "Society Admin" in refused.json()["detail"]
    assert requests.put(url, headers=admin.headers, json={"notify_member": "no"}, timeout=10).status_code == 422
    off = requests.put(url, headers=admin.headers, json={"notify_member": False}, timeout=10)
    assert off.status_code == 200 and off.json() == {"notify_member": False}
    assert requests.get(url, headers=staff.headers, timeout=10).json() == {"notify_member": False}
    mail_db.expire_all()
    changed = mail_db.scalars(select(AuditEvent).where(AuditEvent.action == "settings.changed")
                              .order_by(AuditEvent.id.desc())).first()
    assert changed is not None and changed.actor_user_id == admin.user.id
    assert changed.details["before"] is True and changed.details["after"] is False
    member, _ = _member(mail_db)
    staff.open(member.id)
    assert not _audit(mail_db, member, "mail.queued")
    assert smtp.count_to(member.email) == 0
