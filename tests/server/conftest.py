"""Helpers for API tests: arrange rows in the real server's database, sign in over HTTP."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import Address, MailMessage, MailState, Member, User, UserCredential, UserRole
from desktop_care.server.accounts import create_staff
from desktop_care.server.security import hash_password
from tests.support.servers import Kept, LiveServer, start_server
from tests.support.smtp import SmtpSink, start_smtp

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test uses (the server and its database are shared)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def db(server: LiveServer) -> Iterator[Session]:
    """A session on the server's database; what a test commits, the server sees."""
    with Session(server.engine(), expire_on_commit=False) as session:
        yield session


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    password: str


@pytest.fixture
def make_staff(db: Session) -> Callable[..., Staff]:
    def make(role: UserRole = UserRole.SOCIETY_STAFF, password: str = PASSWORD) -> Staff:
        user = create_staff(db, unique("staff."), password, role=role, display_name="Test Staff", actor="test")
        db.commit()
        return Staff(user.id, user.username, password)

    return make


@pytest.fixture
def staff_token(server: LiveServer, make_staff: Callable[..., Staff]) -> str:
    staff = make_staff()
    return login(server, staff.username, staff.password).json()["access_token"]


@pytest.fixture
def auth(staff_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff_token}"}


def login(server: LiveServer, username: str, password: str) -> requests.Response:
    return requests.post(f"{server.api}/auth/login", json={"username": username, "password": password}, timeout=10)


def make_portal_user(db: Session, member: Member | None, role: UserRole = UserRole.FULL, **fields: object) -> User:
    user = User(username=unique("portal."), role=role, member_id=member.id if member else None, **fields)
    db.add(user)
    db.flush()
    db.add(UserCredential(user_id=user.id, password_hash=hash_password(PASSWORD)))
    db.commit()
    return user


def make_member(
    db: Session, first_name: str, last_name: str, postcodes: Sequence[str] = (), **fields: object
) -> Member:
    number = next(_numbers)
    member = Member(
        member_no=fields.pop("member_no", None) or f"8{uuid.uuid4().int % 10**9:09d}",
        logon_id=unique(f"logon{number}."),
        first_name=first_name,
        last_name=last_name,
        addresses=[Address(line1=f"{i + 1} Test Lane", postcode=p) for i, p in enumerate(postcodes)],
        **fields,
    )
    db.add(member)
    db.commit()
    return member


# ---------------------------------------------------------------------- mail


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback, keeping what it receives."""
    sink, controller = start_smtp()
    yield sink
    controller.stop()


@pytest.fixture(scope="session")
def mail_server(kept: Kept, databases, backend, smtp: SmtpSink, tmp_path_factory) -> LiveServer:
    """The real server delivering its mail to ``smtp`` (retries after 0.3 s)."""
    return kept.get(
        ("mail-server", backend),
        lambda: start_server(databases.create(backend), tmp_path_factory.mktemp(f"mail-server-{backend}"),
                             "--smtp-url", f"smtp://127.0.0.1:{smtp.port}", "--mail-retry-seconds", "0.3"),
        LiveServer.stop,
    )


@pytest.fixture
def mail_db(mail_server: LiveServer) -> Iterator[Session]:
    with Session(mail_server.engine(), expire_on_commit=False) as session:
        yield session


def staff_headers(server: LiveServer, db: Session, role: UserRole = UserRole.SOCIETY_STAFF) -> dict[str, str]:
    """Signed in as a new staff member of ``role``: the Authorization header."""
    user = create_staff(db, unique("staff."), PASSWORD, role=role, display_name="Test Staff", actor="test")
    db.commit()
    token = login(server, user.username, PASSWORD).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def settled_mail(db: Session, timeout: float = 20.0, **where: object) -> MailMessage:
    """The message matching ``where`` (column=value) once its delivery is over."""
    deadline = time.monotonic() + timeout
    while True:
        db.expire_all()
        row = db.scalar(select(MailMessage).filter_by(**where).order_by(MailMessage.id.desc()).limit(1))
        if row is not None and row.state in (MailState.SENT, MailState.FAILED):
            return row
        assert time.monotonic() < deadline, f"still {row.state if row else 'not queued'} after {timeout}s"
        time.sleep(0.05)  # polling the database for a condition, with a deadline
