"""``POST /sync/commands`` runs a batch in one transaction (docs/decisions/0039), on
SQLite and PostgreSQL: the hot kinds (points, contact edits without addresses) take the
direct path beside commands on the ORM path, and each still has its own outcome, runs
once, is audited with the real actor, reaches the change feed and the member search;
a server that dies half-way through a batch has applied none of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import Actor, AddressIn, Command, CommandResult, SetEmailPreference, UpdateContact
from desktop_care.models import AuditEvent, PointsEntry
from desktop_care.models.sync import ProcessedCommand
from desktop_care.server import transactions
from desktop_care.server.transactions import CRASH_ENV, CRASH_EXIT_CODE
from tests.support.servers import LiveServer, start_server

from .conftest import Staff, unique
from .test_sync_commands import fresh, member_with_points, points, push, results, signed_in
from .test_sync_feed import page


def found(server: LiveServer, auth: dict[str, str], q: str) -> list[int]:
    response = requests.get(f"{server.api}/members", params={"q": q}, headers=auth, timeout=10)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_direct_and_orm_commands_interleaved_on_one_member_each_keep_their_outcome(
    server: LiveServer, db: Session, make_staff: Callable[..., Staff]
) -> None:
    pusher = make_staff()
    auth = signed_in(server, pusher)
    member = member_with_points(db, 100, email="mixed@example.org", phone="01234 567890")
    other = member_with_points(db, 5)
    base = member.version
    cursor = page(server, auth, 0, 1).latest
    new_last, new_postcode = unique("Batchname"), "EH1 1YZ"
    batch: list[Command] = [
        points(member, 25),                                                        # direct
        UpdateContact(member_id=member.id, base_version=base, origin="ws-a", first_name="Early"),  # direct
        UpdateContact(member_id=member.id, base_version=base, origin="ws-a",       # ORM: an address
                      home_address=AddressIn(line1="1 New Road", city="Edinburgh", postcode=new_postcode)),
        UpdateContact(member_id=member.id, base_version=base, origin="ws-a", last_name=new_last),  # direct
        points(other, -6, "more than the balance"),                                # direct, rejected
        SetEmailPreference(member_id=member.id, base_version=base, origin="ws-a", newsletters=True),  # ORM
        UpdateContact(member_id=member.id, base_version=base, origin="ws-b", last_name="Stale"),  # conflict
        points(member, -20, "wrong booking"),                                      # direct
        UpdateContact(member_id=member.id, base_version=base, origin="ws-a", phone="+44 20 7946 0999"),
    ]
    first = results(push(server, auth, *batch))
    assert [r["status"] for r in first] == ["applied", "applied", "applied", "applied", "rejected", "applied",
                                            "conflict", "applied", "applied"]
    assert first[4]["fields"] == {"delta": "more than the balance"}
    assert first[6]["server_values"] == {"last_name": new_last}
    assert [r["member_version"] for r in first if r["status"] == "applied"] == [base + n for n in range(1, 8)]

    now = fresh(db, member)
    assert (now.points_balance, now.first_name, now.last_name, now.phone, now.email_newsletters) == (
        105, "Early", new_last, "+442079460999", True)
    assert now.version == base + 7
    assert now.field_versions["last_name"] == [base + 4, "ws-a"]
    assert now.field_versions["address.home"] == [base + 3, "ws-a"]
    assert fresh(db, other).points_balance == 5
    ledger = db.scalars(select(PointsEntry.delta).where(PointsEntry.member_id == member.id).order_by(PointsEntry.id))
    assert list(ledger) == [100, 25, -20]

    # Audited in the order they ran, each with the staff member who pushed it.
    audits = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "member",
                                                 AuditEvent.entity_id == str(member.id)).order_by(AuditEvent.id)).all()
    applied = [c for c, r in zip(batch, first, strict=True) if r["status"] == "applied"]
    assert [(a.action, a.details["op_id"]) for a in audits] == [(c.action, str(c.op_id)) for c in applied]
    assert {(a.actor_user_id, a.actor_name) for a in audits} == {(pusher.id, pusher.username)}
    assert audits[3].details["after"] == {"last_name": new_last}

    # The search finds the new name and the new postcode (the ORM command wrote it
    # between two direct edits), and no longer the old phone.
    assert found(server, auth, new_last) == [member.id]
    assert member.id in found(server, auth, f"{new_last} {new_postcode}")
    assert member.id not in found(server, auth, "01234 567890")

    # The change feed has the member once, as it is now.
    changes = page(server, auth, cursor).changes
    mine = [c for c in changes if c.id == member.id]
    assert len(mine) == 1 and mine[0].member is not None
    assert (mine[0].member.last_name, mine[0].member.points_balance, mine[0].member.version) == (
        new_last, 105, base + 7)

    # Resent: every one a duplicate of its first outcome, nothing applied twice.
    again = results(push(server, auth, *batch))
    assert [(r["status"], r["original_status"]) for r in again] == [("duplicate", r["status"]) for r in first]
    assert fresh(db, member).version == base + 7
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "member", AuditEvent.entity_id == str(member.id))) == len(applied)


def test_the_same_op_id_twice_in_one_batch_runs_once(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    member = member_with_points(db, 0)
    once = points(member, 7)
    edit = UpdateContact(member_id=member.id, base_version=member.version, first_name="Twice")
    out = results(push(server, auth, once, edit, once, edit))
    assert [(r["status"], r["original_status"]) for r in out] == [
        ("applied", None), ("applied", None), ("duplicate", "applied"), ("duplicate", "applied")]
    now = fresh(db, member)
    assert (now.points_balance, now.first_name) == (7, "Twice")
    assert db.scalar(select(func.count()).select_from(ProcessedCommand).where(
        ProcessedCommand.op_id.in_([str(once.op_id), str(edit.op_id)]))) == 2


@pytest.fixture
def crashing_server(server: LiveServer, tmp_path: Path) -> Iterator[LiveServer]:
    """A second server process on the same database, set to die half-way through the
    transaction of the next batch pushed to it."""
    crashing = start_server(server.database_url, tmp_path, env={CRASH_ENV: "push.mid_batch"})
    yield crashing
    crashing.stop()


def test_a_server_that_dies_mid_batch_applied_none_of_it_and_the_resend_applies_it_once(
    server: LiveServer, crashing_server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    member = member_with_points(db, 50, email="crash@example.org")
    batch: list[Command] = [points(member, n) for n in range(1, 6)]
    batch += [UpdateContact(member_id=member.id, base_version=member.version, first_name="Crashed"),
              SetEmailPreference(member_id=member.id, base_version=member.version, offers=True)]
    with pytest.raises(requests.ConnectionError):
        push(crashing_server, auth, *batch)
    assert crashing_server.process.wait(timeout=30) == CRASH_EXIT_CODE
    op_ids = [str(c.op_id) for c in batch]
    before = fresh(db, member)
    assert (before.points_balance, before.first_name, before.email_offers) == (50, "Sync", False)
    assert db.scalar(select(func.count()).select_from(ProcessedCommand)
                     .where(ProcessedCommand.op_id.in_(op_ids))) == 0
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "member", AuditEvent.entity_id == str(member.id))) == 0

    # The workstation never heard an answer: it sends the batch again, to the server
    # that is up, and once more.
    assert [r["status"] for r in results(push(server, auth, *batch))] == ["applied"] * 7
    assert {r["status"] for r in results(push(server, auth, *batch))} == {"duplicate"}
    after = fresh(db, member)
    assert (after.points_balance, after.first_name, after.email_offers) == (65, "Crashed", True)
    assert db.scalar(select(func.count()).select_from(PointsEntry).where(PointsEntry.member_id == member.id)) == 6
    assert found(server, auth, "Crashed")


def test_a_batch_that_runs_past_its_time_commits_and_goes_on_in_a_new_transaction(
    server: LiveServer, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock bound: with no time at all allowed, every command commits on its own,
    and the outcomes are what one transaction would have given."""
    monkeypatch.setattr(transactions, "BATCH_SECONDS", 0.0)
    member = member_with_points(db, 10)
    batch: list[Command] = [
        points(member, 1),
        points(member, -100, "too many"),
        UpdateContact(member_id=member.id, base_version=member.version, first_name="Chunked"),
        points(member, 2),
    ]
    sessions = sessionmaker(server.engine())
    commits: list[int] = []
    event.listen(sessions, "after_commit", lambda session: commits.append(1))
    out: list[CommandResult] = []
    transactions.run_batch(sessions, batch, Actor(user_id=None, username="chunk-test"),
                           [c.digest() for c in batch], out)
    assert [r.status.value for r in out] == ["applied", "rejected", "applied", "applied"]
    assert len(commits) == len(batch)
    now = fresh(db, member)
    assert (now.points_balance, now.first_name) == (13, "Chunked")
