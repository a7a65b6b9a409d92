"""The entities' own rules: immutable logon ID, ledger invariant, append-only audit,
optimistic versions."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from desktop_care.models import (
    AuditEvent,
    AuditLogIsAppendOnly,
    ImmutableFieldError,
    PointsType,
    TxnStatus,
    add_points,
    post_transaction,
    record,
)
from desktop_care.models.ledger import ledger_totals

from .conftest import make_member


def test_logon_id_cannot_change(session: Session) -> None:
    member = make_member(session)
    original = member.logon_id
    with pytest.raises(ImmutableFieldError, match="never changes"):
        member.logon_id = "someone-else"
    member.logon_id = original  # setting the same value is not a change
    session.flush()
    assert session.scalar(select(type(member).logon_id).where(type(member).id == member.id)) == original


def test_summary_columns_equal_the_ledgers(session: Session) -> None:
    member = make_member(session)
    add_points(session, member, 500, PointsType.BASE, "joining")
    add_points(session, member, -200, PointsType.REDEMPTION, "show entry")
    post_transaction(session, member, 4500, "Annual membership")
    post_transaction(session, member, -4500, "Payment")
    post_transaction(session, member, 1500, "Registration", TxnStatus.PENDING)
    post_transaction(session, member, 2500, "Transfer", TxnStatus.PENDING)
    session.flush()

    assert (member.points_balance, member.account_balance_cents, member.pending_count, member.pending_cents) == (
        300,
        0,
        2,
        4000,
    )
    assert ledger_totals(session, member.id) == (300, 0, 2, 4000)


@pytest.mark.parametrize("change", ["update", "delete"])
def test_audit_events_cannot_be_changed_or_deleted(session: Session, change: str) -> None:
    event = record(session, actor_user_id=None, actor_name="tester", action="member.viewed", entity_id=1)
    session.flush()
    if change == "update":
        event.action = "something.else"
    else:
        session.delete(event)
    with pytest.raises(AuditLogIsAppendOnly):
        session.flush()


def test_audit_events_keep_the_actor(session: Session) -> None:
    record(
        session, actor_user_id=None, actor_name="registrar", action="member.updated", entity_type="member", entity_id=7
    )
    session.flush()
    stored = session.scalars(select(AuditEvent).where(AuditEvent.actor_name == "registrar")).one()
    assert (stored.action, stored.entity_type, stored.entity_id) == ("member.updated", "member", "7")
    assert stored.at.tzinfo is not None


def test_every_update_increments_the_version(session: Session) -> None:
    member = make_member(session)
    assert member.version == 1
    member.email = "first@example.com"
    session.flush()
    assert member.version == 2
    member.phone = "07700 900001"
    session.flush()
    assert member.version == 3


def test_a_stale_version_is_refused(session: Session) -> None:
    member = make_member(session)
    # Someone else saves the member meanwhile.
    table = type(member).__table__
    session.connection().execute(update(table).where(table.c.id == member.id).values(version=member.version + 1))
    member.email = "late@example.com"
    with pytest.raises(StaleDataError):
        session.flush()
