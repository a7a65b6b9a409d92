"""Demo data: consistent, deterministic, searchable (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from desktop_care.models import (
    Base,
    EntryKind,
    Member,
    MemberSearch,
    MemberStatus,
    Ticket,
    TicketEntry,
    TicketState,
    User,
    UserCredential,
    UserRole,
)
from desktop_care.models.search import search_members
from desktop_care.models.ticket_search import TicketView, search_tickets
from desktop_care.server import demo
from desktop_care.server.accounts import DEMO_ADMIN
from desktop_care.server.db import make_engine, upgrade
from desktop_care.server.demo import seed_demo
from desktop_care.server.security import verify_password
from tests.support.servers import DatabaseFactory

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def seeded(databases: DatabaseFactory, backend: str) -> Engine:
    engine = make_engine(databases.create(backend))
    upgrade(engine)
    report = seed_demo(engine, 400, seed=7, now=NOW, staff_password="demo-password", batch_size=150)
    assert (report.members, report.staff[0]) == (400, DEMO_ADMIN)
    return engine


def test_members_are_numbered_in_sequence_with_a_realistic_mix(seeded: Engine) -> None:
    with Session(seeded) as session:
        numbers = session.scalars(select(Member.member_no).order_by(Member.id)).all()
        # Every 250th carries a legacy society's ID with a letter, as imported members do.
        assert numbers == [f"M{12_000_000 + i}" if i % 250 == 0 else str(1_000_000 + i) for i in range(1, 401)]
        statuses = dict(session.execute(select(Member.status, func.count()).group_by(Member.status)).all())
        assert statuses[MemberStatus.ENROLLED] > 250
        assert {MemberStatus.ACTIVE, MemberStatus.INACTIVE} <= statuses.keys()
        names = session.scalars(select(Member.last_name)).all()
        assert any(not name.isascii() for name in names), "some names are accented"
        assert session.scalar(select(func.count()).where(Member.pending_count > 0)) > 0
        assert session.scalar(select(func.count()).where(Member.last_login_at.is_not(None))) > 0


def test_summaries_equal_the_ledgers(seeded: Engine) -> None:
    with seeded.connect() as connection:
        mismatches = connection.execute(
            text(
                """
                SELECT m.id FROM member m
                LEFT JOIN (SELECT member_id, sum(delta) AS points FROM points_entry GROUP BY member_id) p
                    ON p.member_id = m.id
                LEFT JOIN (
                    SELECT member_id,
                        sum(CASE WHEN status = 'settled' THEN amount_cents ELSE 0 END) AS balance,
                        sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending_count,
                        sum(CASE WHEN status = 'pending' THEN amount_cents ELSE 0 END) AS pending_cents
                    FROM account_txn GROUP BY member_id
                ) t ON t.member_id = m.id
                WHERE m.points_balance != coalesce(p.points, 0)
                   OR m.account_balance_cents != coalesce(t.balance, 0)
                   OR m.pending_count != coalesce(t.pending_count, 0)
                   OR m.pending_cents != coalesce(t.pending_cents, 0)
                """
            )
        ).all()
    assert mismatches == []


def test_every_searchable_member_has_a_search_row(seeded: Engine) -> None:
    with Session(seeded) as session:
        searchable = session.scalar(select(func.count()).where(Member.status != MemberStatus.MERGED))
        assert session.scalar(select(func.count()).select_from(MemberSearch)) == searchable
        merged = session.scalars(select(Member).where(Member.status == MemberStatus.MERGED)).all()
        assert all(m.merged_into_id is not None and m.merged_into_id < m.id for m in merged)

        member = session.scalars(select(Member).where(Member.status == MemberStatus.ENROLLED).limit(1)).one()
        page = search_members(session, f"{member.first_name} {member.last_name}")
        assert member.id in [m.id for m in page.rows]
        assert search_members(session, member.member_no).rows[0].id == member.id
        legacy = session.scalars(select(Member).where(Member.member_no == "M12000250")).one()
        if legacy.status != MemberStatus.MERGED:  # merged members are not searchable
            for typed in ("M12000250", "m12000250", "M120002"):
                assert search_members(session, typed).rows[0].id == legacy.id, typed


def test_users_staff_and_non_members(seeded: Engine) -> None:
    with Session(seeded) as session:
        roles = dict(session.execute(select(User.role, func.count()).group_by(User.role)).all())
        assert roles[UserRole.SOCIETY_ADMIN] == 1
        assert roles[UserRole.SOCIETY_STAFF] == 3
        assert roles[UserRole.NON_MEMBER] == 4
        assert roles[UserRole.FULL] > 200 and roles[UserRole.STANDARD] > 10
        admin = session.scalars(select(User).where(User.username == DEMO_ADMIN)).one()
        assert admin.display_name == "Demo Admin"
        credential = session.get(UserCredential, admin.id)
        assert credential is not None and verify_password(credential.password_hash, "demo-password")
        # A member's last login is the latest of its portal users'.
        latest = session.execute(
            select(Member.last_login_at, func.max(User.last_login_at))
            .join(User, User.member_id == Member.id)
            .group_by(Member.id, Member.last_login_at)
        ).all()
        assert all(member_login == user_login for member_login, user_login in latest if member_login)


def test_the_same_seed_gives_the_same_data(databases: DatabaseFactory) -> None:
    def members(seed: int) -> list[tuple[object, ...]]:
        engine = make_engine(databases.create("sqlite"))
        upgrade(engine)
        seed_demo(engine, 60, seed=seed, now=NOW)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM member ORDER BY id")).all()
            rows += connection.execute(text("SELECT * FROM account_txn ORDER BY id")).all()
        engine.dispose()
        return [tuple(row) for row in rows]

    assert members(3) == members(3)
    assert members(3) != members(4)


def test_seeding_again_adds_members_after_the_existing_ones(databases: DatabaseFactory) -> None:
    engine = make_engine(databases.create("sqlite"))
    upgrade(engine)
    first = seed_demo(engine, 20, seed=1, now=NOW)
    second = seed_demo(engine, 10, seed=2, now=NOW)
    assert (first.staff != [], second.staff) == (True, [])
    with Session(engine) as session:
        assert session.scalar(select(func.max(Member.member_no))) == "1000030"
        assert session.scalar(select(func.count()).select_from(Member)) == 30
    engine.dispose()


def test_the_loader_writes_every_column_of_its_tables() -> None:
    """A column added to a model must be given a demo value too."""
    written = {
        "member": demo.MEMBER_COLUMNS,
        "address": demo.ADDRESS_COLUMNS,
        "member_search": demo.SEARCH_COLUMNS,
        "app_user": demo.USER_COLUMNS,
        "points_entry": demo.POINTS_COLUMNS,
        "account_txn": demo.TXN_COLUMNS,
    }
    for table, columns in written.items():
        assert sorted(columns) == sorted(Base.metadata.tables[table].c.keys()), table


def test_demo_tickets_fill_the_queues(seeded: Engine) -> None:
    with Session(seeded) as session:
        tickets = session.scalars(select(Ticket)).all()
        assert len(tickets) >= 10
        assert {t.queue for t in tickets} == {"general", "membership", "billing", "portal"}
        assert any(t.assignee_id is None for t in tickets) and any(t.assignee_id for t in tickets)
        assert {TicketState.NEW, TicketState.OPEN} <= {t.state for t in tickets}
        assert session.scalar(select(func.count()).select_from(TicketEntry)) > len(tickets)
        # Opened up to nine days before NOW: some are past due, as in a real desk.
        assert search_tickets(session, view=TicketView.OVERDUE, now=NOW).rows


def test_demo_tickets_show_portal_messages_and_a_merge(seeded: Engine) -> None:
    with Session(seeded) as session:
        kinds = set(session.scalars(select(TicketEntry.kind)))
        assert EntryKind.MESSAGE in kinds
        merged = session.scalars(select(Ticket).where(Ticket.state == TicketState.MERGED)).all()
        assert len(merged) == 1 and merged[0].merged_into_id is not None
        survivor = session.get(Ticket, merged[0].merged_into_id)
        assert survivor is not None and survivor.member_id == merged[0].member_id
