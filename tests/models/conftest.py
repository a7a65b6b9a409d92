"""A migrated database of each backend, and a session per test that is rolled back
afterwards, so tests see only the rows they make."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from desktop_care.models import Address, AddressKind, Member, MemberStatus
from desktop_care.server.db import make_engine, upgrade
from tests.support.servers import DatabaseFactory, Kept

_numbers = itertools.count(1)


def _migrated(database_url: str) -> Engine:
    engine = make_engine(database_url)
    upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def engine(kept: Kept, databases: DatabaseFactory, backend: str) -> Engine:
    """A migrated database of ``backend``, made once per test process."""
    return kept.get(("models-engine", backend), lambda: _migrated(databases.create(backend)), Engine.dispose)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="rollback_only")
        try:
            yield session
        finally:
            session.close()
            if transaction.is_active:  # a failed flush has already rolled it back
                transaction.rollback()


def make_member(
    session: Session,
    first_name: str = "Test",
    last_name: str = "Member",
    *,
    email: str = "",
    phone: str = "",
    postcodes: Sequence[str] = (),
    member_no: str | None = None,
    status: MemberStatus = MemberStatus.ENROLLED,
) -> Member:
    """A member (flushed, so its search row is written) with one address per postcode."""
    number = next(_numbers)
    member = Member(
        member_no=member_no or f"9{number:07d}",
        logon_id=f"test-logon-{number}",
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        status=status,
        addresses=[
            Address(kind=AddressKind.HOME if i == 0 else AddressKind.POSTAL, line1="1 High Street", postcode=p)
            for i, p in enumerate(postcodes)
        ],
    )
    session.add(member)
    session.flush()
    return member
