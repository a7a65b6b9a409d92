"""Change status, merge and undo over HTTP against the real server (SQLite and
PostgreSQL): the effects the server enforces, every refusal with its message, offline
conflicts on ``status``, two merges racing for one member, an undo that restores both
members exactly, and the change feed carrying both members' new states."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    AdjustPoints,
    ChangeStatus,
    MergeMembers,
    UndoMerge,
    UpdateContact,
)
from desktop_care.models import (
    Member,
    MemberStatus,
    PointsType,
    StatusAction,
    User,
    UserRole,
    add_points,
    post_transaction,
    sign_in_refusal,
)
from desktop_care.models.ledger import TxnStatus, ledger_totals
from tests.support.servers import LiveServer

from .conftest import make_member, make_portal_user, unique
from .test_sync_commands import fresh, push, results

A = StatusAction


def status(member: Member, action: StatusAction, **extra: Any) -> ChangeStatus:
    return ChangeStatus(member_id=member.id, base_version=member.version, status_action=action,
                        reason="asked by phone", **extra)


def run(server: LiveServer, auth: dict[str, str], command: Any) -> dict[str, Any]:
    response = requests.post(f"{server.api}/commands", json={"command": command.payload()}, headers=auth, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def rich_member(db: Session, first: str, email: str = "", *, points: int = 100, cents: int = 2500) -> Member:
    member = make_member(db, first, unique("Twin"), postcodes=["TW1 1NN"], email=email, email_opt_in=bool(email))
    add_points(db, member, points, PointsType.BASE, "opening")
    post_transaction(db, member, cents, "subscription")
    db.commit()
    make_portal_user(db, member)
    return member


def merge(db: Session, merged: Member, survivor: Member, **extra: Any) -> MergeMembers:
    merged, survivor = fresh(db, merged), fresh(db, survivor)
    return MergeMembers(member_id=merged.id, base_version=merged.version, into_member_id=survivor.id,
                        into_base_version=survivor.version, confirm_member_no=survivor.member_no, **extra)


def test_status_changes_and_their_effects(server: LiveServer, db: Session, auth: dict[str, str]) -> None:
    member = make_member(db, "Stat", unique("Us"), email="stat@example.org", email_opt_in=True)
    assert [r["status"] for r in results(push(server, auth, status(member, A.DEACTIVATE)))] == ["applied"]
    held = fresh(db, member)
    assert (held.status, held.status_before_hold, held.email_opt_in) == (MemberStatus.DEACTIVATED,
                                                                        MemberStatus.ENROLLED, True)
    assert sign_in_refusal(held) == "this account is on hold; please contact us to reactivate it"
    add = AdjustPoints(member_id=member.id, delta=10, points_type=PointsType.BONUS, reason="while on hold")
    remove = AdjustPoints(member_id=member.id, delta=-1, points_type=PointsType.CORRECTION, reason="fix")
    out = results(push(server, auth, add, remove, status(held, A.UNENROLL), status(held, A.ENROLL)))
    assert [r["status"] for r in out] == ["rejected", "rejected", "rejected", "rejected"]
    assert out[0]["reason"] == f"member {member.member_no} is inactive (deactivated, on hold): no points can be added"
    assert out[1]["reason"] == "the balance is 0 points: removing 1 would make it negative"  # removing is allowed
    assert out[2]["reason"] == (f"member {member.member_no}: Un-enroll is not possible: the account is deactivated, "
                                "and Reactivate is the only valid action")
    assert out[2]["fields"] == {"status_action": out[2]["reason"].split(": ", 1)[1]}

    assert results(push(server, auth, status(held, A.REACTIVATE)))[0]["status"] == "applied"
    back = fresh(db, member)
    assert (back.status, back.status_before_hold, back.email_opt_in) == (MemberStatus.ENROLLED, None, True)
    assert results(push(server, auth, status(back, A.UNENROLL)))[0]["status"] == "applied"
    closed = fresh(db, member)
    assert (closed.status, closed.email_opt_in) == (MemberStatus.INACTIVE, False)
    assert sign_in_refusal(closed) == "this membership is closed (un-enrolled)"
    refused = results(push(server, auth, add.model_copy(update={"op_id": uuid.uuid4()})))[0]
    assert refused["reason"] == f"member {member.member_no} is inactive (un-enrolled): no points can be added"
    assert results(push(server, auth, status(closed, A.ENROLL)))[0]["status"] == "applied"
    assert fresh(db, member).status is MemberStatus.ENROLLED and sign_in_refusal(fresh(db, member)) is None


def test_a_status_changed_meanwhile_elsewhere_is_a_conflict(server: LiveServer, db: Session,
                                                           auth: dict[str, str]) -> None:
    member = make_member(db, "Two", unique("Desks"))
    first = status(member, A.DEACTIVATE, origin="ws-a")
    second = status(member, A.UNENROLL, origin="ws-b")  # typed offline on another desk, same version
    out = results(push(server, auth, first, second))
    assert [r["status"] for r in out] == ["applied", "conflict"]
    assert out[1]["reason"] == "changed by someone else since: status, status_before_hold"
    assert out[1]["server_values"] == {"status": "deactivated", "status_before_hold": "enrolled"}


def test_merge_refusals_over_the_api(server: LiveServer, db: Session, auth: dict[str, str]) -> None:
    one = rich_member(db, "One", "one@example.org")
    two = rich_member(db, "Two", "two@example.org")
    waiting = rich_member(db, "Waiting")
    post_transaction(db, fresh(db, waiting), 990, "card payment", status=TxnStatus.PENDING)
    db.commit()
    staffer = rich_member(db, "Staffer")
    db.add(User(username=unique("staffer."), role=UserRole.SOCIETY_STAFF, member_id=staffer.id))
    deactivated = make_member(db, "Held", unique("Member"), status=MemberStatus.DEACTIVATED)
    db.commit()

    def name(m: Member) -> str:
        return f"{m.first_name} {m.last_name} ({m.member_no})"

    assert run(server, auth, merge(db, one, two))["reason"] == (
        "the e-mail addresses differ (one@example.org and two@example.org): confirm that both belong to the "
        "same person")
    assert run(server, auth, merge(db, one, deactivated))["reason"] == (
        f"The surviving member must be enrolled; {name(deactivated)} is inactive (deactivated, on hold).")
    assert run(server, auth, merge(db, staffer, two))["reason"] == (
        f"{name(staffer)} belongs to a staff account; staff accounts are never merged.")
    assert run(server, auth, merge(db, waiting, two))["reason"] == (
        f"{name(waiting)} has 1 pending transaction: merge once they have settled.")
    typo = merge(db, one, two, confirm_different_emails=True).model_copy(update={"confirm_member_no": "1"})
    assert run(server, auth, typo)["fields"] == {"confirm_member_no": f"type {two.member_no}"}
    itself = {**merge(db, one, two).payload(), "into_member_id": one.id}
    response = requests.post(f"{server.api}/commands", json={"command": itself}, headers=auth, timeout=30)
    assert response.status_code == 422 and "cannot be merged into itself" in response.text
    queued = push(server, auth, merge(db, one, two))
    assert queued.status_code == 422 and "unknown kind 'merge_members'" in queued.text  # never queued offline

    plan = requests.get(f"{server.api}/members/{one.id}/merge-plan", params={"into": two.id}, headers=auth, timeout=30)
    assert plan.status_code == 200 and plan.json()["emails_differ"] is True and plan.json()["refusals"] == []
    missing = requests.get(f"{server.api}/members/{one.id}/merge-plan", params={"into": 987654321}, headers=auth,
                           timeout=30)
    assert missing.status_code == 404 and missing.json()["detail"] == "no member with id 987654321"


def _detail(server: LiveServer, auth: dict[str, str], member_id: int) -> dict[str, Any]:
    body = requests.get(f"{server.api}/members/{member_id}", headers=auth, timeout=30).json()
    for volatile in ("version", "updated_at"):
        body.pop(volatile)
    return dict(body)


def test_merge_then_undo_restores_both_members_exactly(server: LiveServer, db: Session, auth: dict[str, str]) -> None:
    merged = rich_member(db, "Gone", "same@example.org", points=300, cents=1200)
    survivor = rich_member(db, "Kept", "same@example.org", points=50, cents=-200)
    before = {m.id: _detail(server, auth, m.id) for m in (merged, survivor)}
    cursor = requests.get(f"{server.api}/sync/changes", params={"after": 0, "limit": 1}, headers=auth,
                          timeout=30).json()["latest"]

    result = run(server, auth, merge(db, merged, survivor, choices={"first_name": "merged"}))
    assert result["status"] == "applied", result
    gone, kept = _detail(server, auth, merged.id), _detail(server, auth, survivor.id)
    assert (gone["status"], gone["merged_into_id"], gone["users"], gone["addresses"]) == (
        "merged", survivor.id, [], [])
    assert (kept["first_name"], kept["points_balance"], kept["account_balance_cents"]) == ("Gone", 350, 1000)
    assert len(kept["users"]) == 2
    for member in (merged, survivor):  # invariant 2
        now = fresh(db, member)
        assert (now.points_balance, now.account_balance_cents) == ledger_totals(db, member.id)[:2]
    feed = requests.get(f"{server.api}/sync/changes", params={"after": cursor}, headers=auth, timeout=30).json()
    states = {c["id"]: c["member"]["status"] for c in feed["changes"] if c["entity"] == "member"}
    assert states == {merged.id: "merged", survivor.id: "enrolled"}

    [info] = requests.get(f"{server.api}/members/{survivor.id}/merges", headers=auth, timeout=30).json()
    assert info["undo_refusal"] is None and info["merged"]["id"] == merged.id
    undo = run(server, auth, UndoMerge(member_id=merged.id, merge_id=info["id"], survivor_id=survivor.id))
    assert undo["status"] == "applied", undo
    assert {m.id: _detail(server, auth, m.id) for m in (merged, survivor)} == before
    [after] = requests.get(f"{server.api}/members/{merged.id}/merges", headers=auth, timeout=30).json()
    assert after["undo_refusal"].startswith("This merge was already undone on")


def test_two_merges_of_one_member_at_once_one_wins(server: LiveServer, db: Session, auth: dict[str, str]) -> None:
    contested = rich_member(db, "Contested")
    first, second = rich_member(db, "First"), rich_member(db, "Second")
    commands = [merge(db, contested, first), merge(db, contested, second)]
    answers: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def send(command: MergeMembers) -> None:
        start.wait()
        answers.append(run(server, auth, command))

    threads = [threading.Thread(target=send, args=(c,)) for c in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a["status"] for a in answers) == ["applied", "rejected"]
    loser = next(a for a in answers if a["status"] == "rejected")
    assert "was already merged away" in loser["reason"]
    gone = fresh(db, contested)
    assert gone.status is MemberStatus.MERGED and gone.merged_into_id in (first.id, second.id)
    totals = sorted(fresh(db, m).points_balance for m in (first, second))
    assert totals == [100, 200]
    assert db.scalar(select(Member.points_balance).where(Member.id == contested.id)) == 0


def test_a_merge_racing_offline_edits_of_either_member(server: LiveServer, db: Session, auth: dict[str, str]) -> None:
    """Edits typed offline before the merge and pushed after it: on the merged-away
    member they are refused with the reason; on the survivor, a field the merge wrote is
    a conflict (never silently overwritten), and other fields apply."""
    merged = rich_member(db, "Racer", "racer@example.org")
    survivor = rich_member(db, "Keeper")  # no e-mail: the merged member's is the default
    seen_merged, seen_survivor = fresh(db, merged).version, fresh(db, survivor).version
    offline = [
        UpdateContact(member_id=merged.id, base_version=seen_merged, origin="laptop", phone="+44 20 7946 0001"),
        UpdateContact(member_id=survivor.id, base_version=seen_survivor, origin="laptop", email="keeper@example.org"),
        UpdateContact(member_id=survivor.id, base_version=seen_survivor, origin="laptop", phone="+44 20 7946 0002"),
    ]
    assert run(server, auth, merge(db, merged, survivor))["status"] == "applied"
    out = results(push(server, auth, *offline))
    assert [r["status"] for r in out] == ["rejected", "conflict", "applied"]
    assert out[0]["reason"] == f"member {merged.member_no} was merged into another account"
    assert out[1]["server_values"] == {"email": "racer@example.org"}
    kept = fresh(db, survivor)
    assert (kept.email, kept.phone) == ("racer@example.org", "+442079460002")  # phones are kept in E.164


def test_opting_in_offline_after_an_unenroll_elsewhere_is_a_conflict(server: LiveServer, db: Session,
                                                                     auth: dict[str, str]) -> None:
    """Un-enroll turns every e-mail category off; a newsletter opt-in typed offline on
    the version before must not silently turn one back on for an un-enrolled member."""
    from desktop_care.commands import SetEmailPreference

    member = make_member(db, "Mail", unique("Choice"), email=f"{unique('mc')}@example.org", email_opt_in=True)
    unenroll = status(member, A.UNENROLL, origin="ws-a")
    opt_in = SetEmailPreference(member_id=member.id, base_version=member.version, newsletters=True, origin="ws-b")
    out = results(push(server, auth, unenroll, opt_in))
    assert [r["status"] for r in out] == ["applied", "conflict"]
    assert "email_newsletters" in out[1]["reason"]
    db.expire_all()
    assert fresh(db, member).email_newsletters is False
