"""Delivery: the Maildir default, SMTP with STARTTLS and login, retries with backoff."""

from __future__ import annotations

import mailbox
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme
from sqlalchemy.orm import Session

from desktop_care.models import MailState
from tests.server.conftest import (
    PASSWORD,
    make_member,
    make_portal_user,
    settled_mail,
    staff_headers,
    unique,
)
from tests.support.portal import Browser
from tests.support.servers import DatabaseFactory, LiveServer, start_server
from tests.support.smtp import SmtpSink, start_smtp


def _maildir_message(directory: Path, to: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if directory.exists():
            for message in mailbox.Maildir(str(directory), create=False):
                if to in str(message["To"]):
                    body = message.get_payload()[0].get_payload(decode=True)
                    return body.decode()
        time.sleep(0.05)  # polling the Maildir for a condition, with a deadline
    raise AssertionError(f"no message to {to} in {directory}")


def test_without_smtp_mail_goes_to_the_maildir_and_its_link_works(server: LiveServer, db: Session) -> None:
    member = make_member(db, "Maud", "Dir", email=f"{unique('md')}@example.org")
    user = make_portal_user(db, member, email=f"{unique('maud')}@example.org", display_name="Maud")
    headers = staff_headers(server, db)
    answer = requests.post(f"{server.api}/members/{member.id}/users/{user.id}/password-reset", headers=headers,
                           timeout=10)
    assert answer.status_code == 200
    text = _maildir_message(server.data_dir / "mail", user.email)
    link = re.search(r"http://\S+/portal/reset-password\?token=\S+", text)
    assert link is not None
    browser = Browser(server.url)
    assert browser.get(link.group(0)).title == "Choose a new password"
    done = browser.submit("/portal/reset-password", password="maildir passphrase", repeat="maildir passphrase")
    assert done.flash.startswith("Your password was changed")
    assert Browser(server.url).sign_in(user.username, "maildir passphrase").title == "My account"
    assert Browser(server.url).sign_in(user.username, PASSWORD).status == 401


@pytest.fixture(scope="module")
def tls_smtp(tmp_path_factory) -> Iterator[tuple[SmtpSink, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    sink, controller = start_smtp(tls_context=server_context, username="mailer", password="s3cret pass")
    yield sink, ca_file
    controller.stop()


def test_smtp_with_starttls_and_login_password_from_the_environment(
    databases: DatabaseFactory, tls_smtp: tuple[SmtpSink, Path], tmp_path: Path
) -> None:
    sink, ca_file = tls_smtp
    srv = start_server(databases.create("sqlite"), tmp_path, "--smtp-url",
                       f"smtp+starttls://mailer@127.0.0.1:{sink.port}",
                       env={"SSL_CERT_FILE": str(ca_file), "DESKTOP_CARE_SMTP_PASSWORD": "s3cret pass"})
    try:
        with Session(srv.engine(), expire_on_commit=False) as db:
            member = make_member(db, "Tess", "Tls", email=f"{unique('t')}@example.org")
            user = make_portal_user(db, member, email=f"{unique('tess')}@example.org", display_name="Tess")
            headers = staff_headers(srv, db)
            assert requests.post(f"{srv.api}/members/{member.id}/users/{user.id}/password-reset", headers=headers,
                                 timeout=10).status_code == 200
            mail = sink.to(user.email, "Reset")
            assert "/portal/reset-password?token=" in mail.text
            assert sink.logins == ["mailer"]
    finally:
        srv.stop()


@pytest.mark.expect_log("desktop_care.server.mail.sender", r"attempt 1 failed \(SMTPDataError: \(451")
def test_a_temporary_failure_is_retried_and_recorded(mail_server: LiveServer, mail_db: Session, smtp: SmtpSink) -> None:
    member = make_member(mail_db, "Rhett", "Ry", email=f"{unique('r')}@example.org")
    user = make_portal_user(mail_db, member, email=f"{unique('rhett')}@example.org", display_name="Rhett")
    headers = staff_headers(mail_server, mail_db)
    smtp.refuse_next = 1
    assert requests.post(f"{mail_server.api}/members/{member.id}/users/{user.id}/password-reset", headers=headers,
                         timeout=10).status_code == 200
    smtp.to(user.email, "Reset")
    row = settled_mail(mail_db, user_id=user.id)
    assert (row.state, row.attempts) == (MailState.SENT, 2)
    assert "451" in row.last_error  # the failed attempt stays on record
    listed = requests.get(f"{mail_server.api}/members/{member.id}/mail", headers=headers, timeout=10).json()
    assert (listed["items"][0]["state"], listed["items"][0]["attempts"]) == ("sent", 2)


def test_a_bad_smtp_url_stops_the_server_with_a_message(tmp_path: Path, databases: DatabaseFactory) -> None:
    with pytest.raises(RuntimeError, match="--smtp-url: must start with smtp://"):
        start_server(databases.create("sqlite"), tmp_path, "--smtp-url", "http://mail.example.org")
