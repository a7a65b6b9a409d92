"""Merge and Undo merge run by ``execute`` on a real database of each backend: what
moves, every refusal with its reason, invariant 2 after both, and an undo that restores
the exact prior state (compared as full snapshots of both members and every moved row)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Session

from desktop_care.commands import Actor, MergeMembers, Status, UndoMerge, execute
from desktop_care.commands.merge import merge_plan, merges_of
from desktop_care.models import (
    AccountTransaction,
    Animal,
    AnimalOwner,
    Base,
    Breed,
    Member,
    MemberStatus,
    MergeRecord,
    PointsEntry,
    PointsType,
    Sex,
    Ticket,
    TicketPriority,
    TxnStatus,
    User,
    UserRole,
    add_points,
    member_reference,
    post_transaction,
    uncovered_references,
    utcnow,
)
from desktop_care.models.animals import format_reg_no
from desktop_care.models.ledger import ledger_totals
from desktop_care.models.merge import unregister
from tests.models.conftest import make_member

ACTOR = Actor(user_id=None, username="tester")


def member_with(session: Session, first: str, *, email: str = "", points: int = 0, settled: int = 0,
                pending: int = 0, users: int = 0, postcodes: tuple[str, ...] = ("AB1 2CD",),
                status: MemberStatus = MemberStatus.ENROLLED) -> Member:
    member = make_member(session, first, "Dupe", email=email, postcodes=postcodes, status=status)
    if points:
        add_points(session, member, points, PointsType.BASE, "seed")
    if settled:
        post_transaction(session, member, settled, "subscription")
    if pending:
        post_transaction(session, member, pending, "in flight", status=TxnStatus.PENDING)
    for n in range(users):
        session.add(User(username=f"u{member.id}-{n}", role=UserRole.STANDARD, member_id=member.id))
    session.flush()
    return member


def merge(session: Session, merged: Member, survivor: Member, **extra: Any) -> MergeMembers:
    return MergeMembers(member_id=merged.id, base_version=merged.version, into_member_id=survivor.id,
                        into_base_version=survivor.version, confirm_member_no=survivor.member_no, **extra)


def state(session: Session, *members: Member) -> dict[str, Any]:
    """Everything about these members: columns, addresses, ledger rows, users."""
    session.flush()
    session.expire_all()
    out: dict[str, Any] = {}
    for member in members:
        m = session.get(Member, member.id)
        assert m is not None
        columns = {c.key: getattr(m, c.key) for c in Member.__table__.columns
                   if c.key not in ("version", "updated_at", "field_versions")}
        out[str(member.id)] = {
            "columns": columns,
            "addresses": sorted((a.id, a.kind.value, a.line1, a.postcode) for a in m.addresses),
            "points": sorted(session.scalars(select(PointsEntry.id).where(PointsEntry.member_id == m.id))),
            "txns": sorted(session.scalars(select(AccountTransaction.id).where(AccountTransaction.member_id == m.id))),
            "users": sorted(session.scalars(select(User.id).where(User.member_id == m.id))),
            "tickets": sorted(session.scalars(select(Ticket.id).where(Ticket.member_id == m.id))),
            "animals": sorted(session.scalars(select(Animal.reg_no).where(Animal.owner_member_id == m.id))),
            "animal_owners": sorted(session.scalars(select(AnimalOwner.id).where(AnimalOwner.member_id == m.id))),
        }
    return out


def balanced(session: Session, member: Member) -> bool:
    """Invariant 2: the summary columns equal the ledgers."""
    session.refresh(member)
    points, settled, count, cents = ledger_totals(session, member.id)
    return (member.points_balance, member.account_balance_cents, member.pending_count, member.pending_cents) == (
        points, settled, count, cents)


def test_every_table_that_points_at_a_member_is_moved_by_the_merge() -> None:
    assert uncovered_references(Base.metadata) == []


def test_a_merge_moves_everything_and_undo_restores_the_exact_prior_state(session: Session) -> None:
    merged = member_with(session, "Anna", email="anna@example.org", points=300, settled=1200, users=2,
                         postcodes=("AA1 1AA", "PO1 1ST"))
    survivor = member_with(session, "Anne", email="", points=50, settled=-200, users=1, pending=700,
                           postcodes=("BB2 2BB",))
    ticket = Ticket(uid=str(uuid.uuid4()), member_id=merged.id, subject="Card lost", created_at=utcnow(),
                    updated_at=utcnow())
    ticket.set_priority(TicketPriority.NORMAL)
    session.add(ticket)
    breed = Breed(code="MRG", name=f"Merge test {uuid.uuid4().hex[:8]}", sire_min_months=12, dam_min_months=18)
    session.add(breed)
    session.flush()
    seq = int(uuid.uuid4().int % 90000) + 1
    animal = Animal(reg_no=format_reg_no("MRG", 2026, seq), breed_id=breed.id, reg_year=2026, reg_seq=seq,
                    name="Bramble", sex=Sex.FEMALE, born=dt.date(2024, 3, 1), owner_member_id=merged.id,
                    registered_at=utcnow())
    session.add(animal)
    session.flush()
    session.add(AnimalOwner(animal_id=animal.id, member_id=merged.id, since=utcnow()))
    session.flush()
    before = state(session, merged, survivor)
    plan = merge_plan(session, merged, survivor)
    assert plan.refusals == [] and not plan.emails_differ
    assert {m.key: m.count for m in plan.moves} == {
        "account_txn.member_id": 1, "address.member_id": 2, "app_user.member_id": 2, "points_entry.member_id": 1,
        "mail_message.member_id": 0, "user_token.member_id": 0, "on_behalf_session.member_id": 0,
        "order_registrant.member_id": 0, "payment.member_id": 0, "sales_order.contact_member_id": 0,
        "ticket.member_id": 1, "refund.member_id": 0, "course_registration.registrant_member_id": 0,
        "course_registration.contact_member_id": 0, "elearning_enrolment.member_id": 0,
        "waiting_list_entry.member_id": 0, "animal.owner_member_id": 1, "animal_owner.member_id": 1,
        "animal_event.member_id": 0, "animal_transfer.from_member_id": 0, "animal_transfer.to_member_id": 0}
    email_row = next(r for r in plan.fields if r.field == "email")
    assert (email_row.default, email_row.choosable) == ("merged", True)  # the survivor's is empty

    result = execute(session, merge(session, merged, survivor, choices={"first_name": "merged",
                                                                         "address.home": "merged"}), ACTOR)
    assert result.status is Status.APPLIED, result.reason
    after = state(session, merged, survivor)
    gone, kept = after[str(merged.id)], after[str(survivor.id)]
    assert gone["columns"]["status"] is MemberStatus.MERGED and gone["columns"]["merged_into_id"] == survivor.id
    assert gone["points"] == gone["txns"] == gone["users"] == gone["addresses"] == []  # nothing points at it
    assert gone["animals"] == [] and kept["animals"] == [animal.reg_no]  # the animal follows its owner
    assert kept["columns"]["first_name"] == "Anna" and kept["columns"]["email"] == "anna@example.org"
    assert kept["columns"]["points_balance"] == 350 and kept["columns"]["account_balance_cents"] == 1000
    assert sorted(p for p, *_ in [(a[3],) for a in kept["addresses"]]) == ["AA1 1AA", "PO1 1ST"]
    assert len(kept["users"]) == 3 and len(kept["points"]) == 2
    assert balanced(session, survivor) and balanced(session, merged)

    [info] = merges_of(session, merged.id)
    assert info.undo_refusal is None and merges_of(session, survivor.id) == [info]
    undo = execute(session, UndoMerge(member_id=merged.id, merge_id=info.id, survivor_id=survivor.id), ACTOR)
    assert undo.status is Status.APPLIED, undo.reason
    assert state(session, merged, survivor) == before
    assert balanced(session, survivor) and balanced(session, merged)
    again = execute(session, UndoMerge(member_id=merged.id, merge_id=info.id, survivor_id=survivor.id), ACTOR)
    assert again.status is Status.REJECTED and "already undone" in again.reason


def test_refusals_each_say_why(session: Session) -> None:
    one = member_with(session, "One", email="one@example.org")
    other = member_with(session, "Other", email="other@example.org")
    closed = member_with(session, "Closed", status=MemberStatus.INACTIVE)
    waiting = member_with(session, "Waiting", pending=500)
    staff_member = member_with(session, "Staffer")
    session.add(User(username=f"staff-{staff_member.id}", role=UserRole.SOCIETY_STAFF, member_id=staff_member.id))
    gone = member_with(session, "Gone")
    assert execute(session, merge(session, gone, one), ACTOR).status is Status.APPLIED

    def refused(merged: Member, survivor: Member, **extra: Any) -> str:
        session.refresh(merged)
        session.refresh(survivor)
        result = execute(session, merge(session, merged, survivor, **extra), ACTOR)
        assert result.status is Status.REJECTED
        return result.reason

    def name(m: Member) -> str:
        return f"{m.display_name} ({m.member_no})"

    assert refused(other, closed) == (f"The surviving member must be enrolled; {name(closed)} is "
                                      "inactive (un-enrolled).")
    assert refused(gone, other).startswith(f"{name(gone)} was already merged away")
    assert refused(other, gone).startswith(f"{name(gone)} was already merged away")
    assert refused(staff_member, other) == (f"{name(staff_member)} belongs to a staff account; "
                                            "staff accounts are never merged.")
    assert refused(waiting, other) == f"{name(waiting)} has 1 pending transaction: merge once they have settled."
    assert refused(one, other) == ("the e-mail addresses differ (one@example.org and other@example.org): "
                                   "confirm that both belong to the same person")
    wrong = execute(session, merge(session, one, other, confirm_different_emails=True).model_copy(
        update={"confirm_member_no": "123"}), ACTOR)
    assert wrong.status is Status.REJECTED and wrong.fields == {"confirm_member_no": f"type {other.member_no}"}
    stale = merge(session, one, other, confirm_different_emails=True).model_copy(
        update={"base_version": one.version - 1})
    result = execute(session, stale, ACTOR)
    assert result.status is Status.REJECTED and result.reason == (
        f"{name(one)} was changed since you reviewed the merge: review it again.")
    with pytest.raises(ValueError, match="cannot be merged into itself"):
        merge(session, one, one)
    assert merge_plan(session, one, one).refusals == ["A member cannot be merged into itself."]


def test_undo_is_refused_once_either_member_changed_or_after_the_window(session: Session) -> None:
    merged, survivor = member_with(session, "Late", points=10), member_with(session, "Later")
    assert execute(session, merge(session, merged, survivor), ACTOR).status is Status.APPLIED
    [info] = merges_of(session, survivor.id)
    session.refresh(survivor)
    add_points(session, survivor, 5, PointsType.BONUS, "after the merge")
    session.flush()
    refusal = merges_of(session, survivor.id)[0].undo_refusal
    assert refusal is not None and refusal.startswith(f"{survivor.display_name} ({survivor.member_no}) has changed "
                                                      "since the merge")
    assert refusal.endswith("undoing it now would lose that change.")
    undo = execute(session, UndoMerge(member_id=merged.id, merge_id=info.id, survivor_id=survivor.id), ACTOR)
    assert undo.status is Status.REJECTED and undo.reason == refusal

    old, keeper = member_with(session, "Old"), member_with(session, "Keeper")
    assert execute(session, merge(session, old, keeper), ACTOR).status is Status.APPLIED
    record = session.scalars(select(MergeRecord).where(MergeRecord.merged_id == old.id)).one()
    record.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    session.flush()
    assert "merges can be undone for 30 days only" in (merges_of(session, old.id)[0].undo_refusal or "")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(-500, 500).filter(bool), max_size=6), st.lists(st.integers(-500, 500).filter(bool),
       max_size=6), st.lists(st.integers(-9_000, 9_000), max_size=4), st.integers(0, 3))
def test_merge_conserves_rows_and_sums_and_undo_restores(session: Session, points_a: list[int], points_b: list[int],
                                                         txns_a: list[int], users_a: int) -> None:
    merged = member_with(session, "Prop", users=users_a)
    survivor = member_with(session, "Erty")
    for member, deltas in ((merged, points_a), (survivor, points_b)):
        for delta in deltas:
            add_points(session, member, delta, PointsType.CORRECTION, "prop")
    for amount in txns_a:
        post_transaction(session, merged, amount, "prop")
    session.flush()
    before = state(session, merged, survivor)
    rows_before = sum(len(v[k]) for v in before.values() for k in ("points", "txns", "users", "addresses"))
    assert execute(session, merge(session, merged, survivor), ACTOR).status is Status.APPLIED
    after = state(session, merged, survivor)
    kept = after[str(survivor.id)]
    assert kept["columns"]["points_balance"] == sum(points_a) + sum(points_b)
    assert kept["columns"]["account_balance_cents"] == sum(txns_a)
    # Rows conserved: only the merged member's same-kind (home) address is replaced.
    assert sum(len(v[k]) for v in after.values() for k in ("points", "txns", "users", "addresses")) == rows_before - 1
    assert not any(after[str(merged.id)][k] for k in ("points", "txns", "users", "addresses"))
    assert balanced(session, survivor)
    [info] = merges_of(session, merged.id)
    assert execute(session, UndoMerge(member_id=merged.id, merge_id=info.id, survivor_id=survivor.id),
                   ACTOR).status is Status.APPLIED
    assert state(session, merged, survivor) == before


def test_a_collision_aborts_the_whole_merge_with_the_reason(session: Session) -> None:
    """A feature's table whose rows may exist once per member: both members have the
    same code, so moving them would break its unique constraint."""
    metadata = MetaData()
    badges = Table("merge_test_badge", metadata, Column("id", Integer, primary_key=True),
                   Column("member_id", Integer, nullable=False), Column("code", String(10), nullable=False),
                   UniqueConstraint("member_id", "code"),
                   # Temporary: SQLite commits DDL at once, and the database is shared by
                   # the process's tests (the schema check among them) after this one.
                   prefixes=["TEMPORARY"])
    metadata.create_all(session.connection())
    reference = member_reference(badges, "member_id", "badges")
    try:
        merged, survivor = member_with(session, "Col", points=40), member_with(session, "Lision")
        session.execute(badges.insert(), [{"member_id": merged.id, "code": "gold"},
                                          {"member_id": survivor.id, "code": "gold"}])
        assert {m.key: m.count for m in merge_plan(session, merged, survivor).moves}["merge_test_badge.member_id"] == 1
        result = execute(session, merge(session, merged, survivor), ACTOR)
    finally:
        unregister(reference)
    assert result.status is Status.REJECTED
    assert result.reason.startswith("the merge would break a uniqueness rule, so nothing was merged")
    session.expire_all()
    merged, survivor = session.get(Member, merged.id), session.get(Member, survivor.id)
    assert merged is not None and survivor is not None
    assert (merged.status, merged.points_balance, survivor.points_balance) == (MemberStatus.ENROLLED, 40, 0)
    assert session.scalars(select(MergeRecord).where(MergeRecord.merged_id == merged.id)).all() == []
    assert session.scalars(select(PointsEntry.member_id).where(PointsEntry.member_id == merged.id)).all() == [merged.id]
    assert [a.postcode for a in merged.addresses] == ["AB1 2CD"]
