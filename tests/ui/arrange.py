"""Arranging data on the real server for client and UI tests.

Staff accounts are made with the server's own CLI (``create-admin``); members are
written straight into the server's database with the shared entities (the search index
follows them on flush). Every helper makes unique names, so tests sharing one server
never see each other's members.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.models import (
    Address,
    AddressKind,
    Member,
    MemberStatus,
    PointsType,
    TxnStatus,
    User,
    UserRole,
    UserState,
    add_points,
    post_transaction,
)
from desktop_care.sync.api_client import ApiClient
from tests.support.servers import REPO, LiveServer

_member_numbers = itertools.count(70_000_000 + secrets.randbelow(1_000_000) * 10)
_staff_accounts: dict[str, StaffAccount] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def server_session(server: LiveServer) -> Session:
    """A session on the server's database (its triggers put what a test arranges in
    the change feed, so workstations pull it)."""
    factory = _factories.get(server.database_url)
    if factory is None:
        factory = sessionmaker(server.engine())
        _factories[server.database_url] = factory
    return factory()


@dataclass(frozen=True)
class StaffAccount:
    username: str
    password: str


def server_cli(server: LiveServer, *args: str, stdin: str = "") -> str:
    """Run ``python -m desktop_care.server ARGS`` on the server's database."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "desktop_care.server", *args, "--database-url", server.database_url],
        capture_output=True, text=True, env=env, cwd=str(Path(server.log_path).parent), timeout=120, input=stdin,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def staff_account(server: LiveServer) -> StaffAccount:
    """A Society Admin on ``server`` (one per database, made once: by the database, not
    the URL, since a later server may be given the port of a stopped one)."""
    account = _staff_accounts.get(server.database_url)
    if account is None:
        account = StaffAccount(f"care-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
        server_cli(server, "create-admin", f"--username={account.username}", "--password-stdin",
                   stdin=f"{account.password}\n")
        _staff_accounts[server.database_url] = account
    return account


def signed_in_client(server: LiveServer) -> ApiClient:
    account = staff_account(server)
    client = ApiClient(server.url)
    client.login(account.username, account.password)
    return client


def add_members(server: LiveServer, last_name: str, count: int, **fields: object) -> list[int]:
    """``count`` members called "<First> <last_name>"; returns their ids in id order."""
    with server_session(server) as session:
        members = []
        for i in range(count):
            number = next(_member_numbers)
            members.append(Member(
                member_no=str(number),
                logon_id=f"{last_name.lower()}{number}",
                first_name=f"Ann{i:03d}",
                last_name=last_name,
                email=f"ann{i:03d}.{last_name.lower()}@example.org",
                phone=f"+44 20 7946 {i:04d}",
                **fields,
            ))
        session.add_all(members)
        session.commit()
        return [m.id for m in members]


@dataclass(frozen=True)
class FullMember:
    id: int
    member_no: str
    logon_id: str
    last_name: str


def add_full_member(server: LiveServer, last_name: str) -> FullMember:
    """A member with an address, points, a balance, pending charges and portal users."""
    number = next(_member_numbers)
    with server_session(server) as session:
        member = Member(
            member_no=str(number), logon_id=f"logon-{number}", title="Dr", first_name="Edith",
            last_name=last_name, email=f"edith.{last_name.lower()}@example.org", phone="+44 131 496 0000",
            email_opt_in=True, status=MemberStatus.ENROLLED,
            last_login_at=dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC),
            addresses=[Address(kind=AddressKind.HOME, line1="12 Heather Row", city="Kelso",
                               region="Scottish Borders", postcode="TD5 7AB", country="GB")],
        )
        session.add(member)
        session.flush()
        add_points(session, member, 1250, PointsType.BASE, "joining bonus")
        post_transaction(session, member, 4200, "Annual subscription")
        post_transaction(session, member, 1500, "Herd book entry", status=TxnStatus.PENDING)
        post_transaction(session, member, 1500, "Transfer fee", status=TxnStatus.PENDING)
        session.add_all([
            User(username=f"edith{number}", email=member.email, display_name="Edith " + last_name,
                 role=UserRole.FULL, state=UserState.ACTIVE, member_id=member.id),
            User(username=f"helper{number}", email=f"helper{number}@example.org", display_name="Farm Helper",
                 role=UserRole.STANDARD, state=UserState.DISABLED, member_id=member.id),
        ])
        session.commit()
        return FullMember(member.id, member.member_no, member.logon_id, last_name)


def shot(widget: Any, name: str) -> None:
    """Keep a PNG of ``widget`` as ``name``.png when ``DESKTOP_CARE_SHOTS`` names a folder
    (to look at every screen a test reaches)."""
    where = os.environ.get("DESKTOP_CARE_SHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(where) / f"{name}.png"))


def unique(word: str) -> str:
    """A surname no other test uses: ``"Quill"`` → ``"Quillxkqz"`` (letters only)."""
    return word + "".join(secrets.choice("bcdfghjklmnpqrstvwxz") for _ in range(5))


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def staff(sqlite_server: LiveServer) -> StaffAccount:
    return staff_account(sqlite_server)


@pytest.fixture
def staff_client(sqlite_server: LiveServer) -> ApiClient:
    return signed_in_client(sqlite_server)


@pytest.fixture
def make_members(sqlite_server: LiveServer) -> Callable[..., list[int]]:
    return lambda last_name, count, **fields: add_members(sqlite_server, last_name, count, **fields)
