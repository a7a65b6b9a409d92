"""A member registered on a workstation while the server is out of reach: a
provisional member, pending in search and details, with changes queued to it; on
reconnect the server registers it once, and the workstation re-keys it and everything
queued to it (real server, real SQLite and PostgreSQL, a killed client)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    AddMember,
    AddressIn,
    AdjustPoints,
    CommandResult,
    Status,
    UpdateContact,
)
from desktop_care.models import Member
from desktop_care.schemas import DuplicateCheckIn
from desktop_care.sync import LocalStore
from desktop_care.sync.local_store import CRASH_EXIT_CODE, Author
from desktop_care.sync.syncer import MembersRekeyed
from tests.support.servers import LiveServer, free_port
from tests.sync.test_crash_and_replay import run_client
from tests.sync.workstations import GOODWILL, members_on_server, workstation
from tests.ui.arrange import unique


def _registration(last: str) -> AddMember:
    return AddMember(first_name="Mary", last_name=last, email=f"{last.lower()}@example.org", phone="01573 224111",
                     home_address=AddressIn(line1="2 Abbey Row", city="Kelso", postcode="TD5 7AB"))


def _server_members(server: LiveServer, last: str) -> list[Member]:
    with Session(server.engine(), expire_on_commit=False) as session:
        return list(session.scalars(select(Member).where(Member.last_name == last)))


def _offline(ws) -> tuple[str, str]:
    """Point the workstation at a port nobody listens on; returns the real addresses."""
    real = ws.client.base_url, ws.client.api_url
    dead = f"http://127.0.0.1:{free_port()}"
    ws.client.base_url, ws.client.api_url = dead, f"{dead}/api/v1"
    return real


def _queue_offline_work(ws, last: str) -> int:
    """Register a member, then edit them and give them points, all offline."""
    queued = ws.store.enqueue(_registration(last), ws.author)
    provisional = queued.member_id
    assert provisional < 0
    detail = ws.store.member_detail(provisional)
    assert detail is not None and detail.member_no == f"PENDING-{-provisional}"
    assert detail.pending_changes == [f"Add a customer (Mary {last})"]
    ws.store.enqueue(UpdateContact(member_id=provisional, base_version=detail.version, phone="+44 131 496 0777",
                                   title="Dr"), ws.author)
    ws.store.enqueue(AdjustPoints(member_id=provisional, delta=250, points_type=GOODWILL, reason="welcome"),
                     ws.author)
    return provisional


def test_offline_registration_then_changes_reach_the_server_once_and_follow_the_member(server, tmp_path) -> None:
    ws = workstation(server, tmp_path / "ws.sqlite3")
    try:
        last = unique("Offline")
        (neighbour,) = members_on_server(server, last, 1)  # same last name, another first name
        assert ws.sync()
        real = _offline(ws)
        provisional = _queue_offline_work(ws, last)
        assert not ws.sync()  # out of reach: everything stays queued

        # Shown at once, pending, in search and details, with the changes laid over.
        found = {item.id: item for item in ws.store.search(last).items}
        assert set(found) == {neighbour, provisional}
        assert found[provisional].member_no == f"PENDING-{-provisional}" and found[provisional].pending_changes == 3
        detail = ws.store.member_detail(provisional)
        assert detail is not None and (detail.title, detail.phone, detail.points_balance) == ("Dr", "+441314960777", 250)
        # The local duplicate check sees the pending member too.
        same = ws.store.likely_duplicates(DuplicateCheckIn(email=f"{last.upper()}@example.org"))
        assert [(d.member.id, d.reasons) for d in same.items] == [(provisional, ["same_email"])]

        ws.client.base_url, ws.client.api_url = real
        assert ws.sync()

        (member,) = [m for m in _server_members(server, last) if m.id != neighbour]
        assert (member.title, member.phone, member.points_balance) == ("Dr", "+441314960777", 250)
        assert member.member_no == str(1_000_000 + member.id)
        assert ws.store.pending_count() == 0 and ws.store.issues() == []
        assert ws.store.member_detail(provisional) is None
        detail = ws.store.member_detail(member.id)
        assert detail is not None and detail.member_no == member.member_no and detail.pending_changes == []
        assert (detail.logon_id, detail.points_balance) == (member.logon_id, 250)
        assert [e.ids for e in ws.events.of(MembersRekeyed)] == [{provisional: member.id}]
        assert {item.id for item in ws.store.search(last).items} == {neighbour, member.id}
    finally:
        ws.close()


def test_killed_after_the_server_registered_the_member_the_retry_creates_nobody_twice(server, tmp_path) -> None:
    path = tmp_path / "ws.sqlite3"
    ws = workstation(server, path)
    last = unique("Killed")
    assert ws.sync()
    provisional = _queue_offline_work(ws, last)
    token = ws.client.token
    assert token is not None
    ws.close()

    # The push reaches the server, which commits the registration; the app dies before
    # it records the answer.
    crashed = run_client(server, path, token, "push.after_response")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stdout + crashed.stderr
    assert len(_server_members(server, last)) == 1
    reopened = LocalStore(path)
    assert reopened.pending_count() == 3 and reopened.member_detail(provisional) is not None
    reopened.close()

    again = run_client(server, path, token, None)
    assert again.returncode == 0, again.stdout + again.stderr
    (member,) = _server_members(server, last)  # the retry answered "duplicate": the same member
    assert (member.title, member.phone, member.points_balance) == ("Dr", "+441314960777", 250)
    store = LocalStore(path)
    try:
        assert store.pending_count() == 0 and store.issues() == []
        assert store.member_detail(provisional) is None
        detail = store.member_detail(member.id)
        assert detail is not None and detail.member_no == member.member_no and detail.points_balance == 250
    finally:
        store.close()


def test_a_pulled_directory_reset_keeps_the_pending_member(sqlite_server, tmp_path) -> None:
    ws = workstation(sqlite_server, tmp_path / "ws.sqlite3")
    try:
        last = unique("Reset")
        provisional = _queue_offline_work(ws, last)
        ws.store.forget_directory()  # the server's database was replaced: pull from 0
        detail = ws.store.member_detail(provisional)
        assert detail is not None and (detail.last_name, detail.points_balance) == (last, 250)
        assert [item.id for item in ws.store.search(last).items] == [provisional]
    finally:
        ws.close()


def test_two_registrations_get_distinct_provisional_ids(sqlite_server, tmp_path) -> None:
    ws = workstation(sqlite_server, tmp_path / "ws.sqlite3")
    try:
        ids = [ws.store.enqueue(_registration(unique("Two")), ws.author).member_id for _ in range(2)]
        assert ids == [-1, -2]
        assert ws.sync()
        assert ws.store.pending_count() == 0 and all(ws.store.member_detail(i) is None for i in ids)
    finally:
        ws.close()


def test_a_refused_registration_keeps_its_changes_until_someone_decides(tmp_path) -> None:
    """The server's answer "rejected" (as any refusal comes back): the registration is a
    Sync issue, the changes queued to the member wait (never sent under a provisional
    id); Keep mine sends it again as the same member; Take theirs drops the member and
    turns the waiting changes into Sync issues, so nothing disappears silently."""
    store = LocalStore(tmp_path / "ws.sqlite3")
    author = Author(1, "ada")
    try:
        last = unique("Refused")
        registration = store.enqueue(_registration(last), author)
        provisional = registration.member_id
        store.enqueue(AdjustPoints(member_id=provisional, delta=5, points_type=GOODWILL, reason="welcome"), author)
        refused = CommandResult(op_id=str(registration.op_id), status=Status.REJECTED, reason="refused for the test")
        store.record_results([refused])
        (issue,) = store.issues()
        assert issue.kind == "add_member" and store.queued(author_id=author.user_id) == []
        assert store.pending_count() == 1 and store.member_detail(provisional) is not None

        again = store.resolve_issue(issue.id, "keep_mine", author=author)
        assert again is not None and again.member_id == provisional
        assert [c.kind for c in store.queued(author_id=author.user_id)] == ["add_member"]
        store.record_results([CommandResult(op_id=str(again.op_id), status=Status.REJECTED, reason="again")])
        (issue,) = store.issues()
        store.resolve_issue(issue.id, "take_theirs")
        assert store.member_detail(provisional) is None and store.pending_count() == 0
        (dropped,) = store.issues()
        assert dropped.kind == "adjust_points" and "registration was dropped" in dropped.reason
    finally:
        store.close()
