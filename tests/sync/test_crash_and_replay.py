"""Killing the workstation at points of a sync, and replaying commands: no change is
lost, none is applied twice, and the cursor never runs ahead of the data."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import AdjustPoints, Status, UpdateContact
from desktop_care.models.sync import SyncChange
from desktop_care.sync import LocalStore
from desktop_care.sync.local_store import CRASH_ENV, CRASH_EXIT_CODE
from tests.support.servers import REPO
from tests.sync.workstations import GOODWILL, applied_op_ids, members_on_server, server_member, workstation
from tests.ui.arrange import unique

CRASH_POINTS = ["push.before_request", "push.after_response", "pull.mid_page", "pull.after_store"]


def run_client(server, store_path, token: str, crash_at: str | None, page_size: int = 2) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DESKTOP_CARE_TOKEN=token, PYTHONPATH=str(REPO))
    env.pop(CRASH_ENV, None)
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "tests.sync.crash_runner", str(store_path), server.url, str(page_size)],
        capture_output=True, text=True, env=env, cwd=str(REPO), timeout=60,
    )


def feed_seqs(server, member_ids: list[int]) -> dict[int, int]:
    with Session(server.engine()) as session:
        rows = session.execute(
            select(SyncChange.entity_id, SyncChange.seq).where(
                SyncChange.entity == "member", SyncChange.entity_id.in_(member_ids)
            )
        )
        return {entity_id: seq for entity_id, seq in rows}


def assert_cursor_consistent(server, store: LocalStore, member_ids: list[int]) -> None:
    """Every member the cursor says was pulled is in the store, as the feed had it."""
    cursor = store.cursor()
    for member_id, seq in feed_seqs(server, member_ids).items():
        if seq <= cursor:
            assert store.member_detail(member_id) is not None, f"cursor {cursor} passed member {member_id} (seq {seq})"


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_client_restarts_without_losing_or_repeating_a_change(sqlite_server, tmp_path, crash_at):
    server = sqlite_server
    ws = workstation(server, tmp_path / "ws.sqlite3")
    last = unique("Crash")
    ids = members_on_server(server, last, 2)
    assert ws.sync()
    start = server_member(server, ids[0]).points_balance
    version = server_member(server, ids[1]).version
    deltas = [5, 7, -3, 11]
    commands = [AdjustPoints(member_id=ids[0], delta=d, points_type=GOODWILL, reason=f"crash {i}") for i, d in enumerate(deltas)]
    commands.append(UpdateContact(member_id=ids[1], base_version=version, phone="+44 131 496 0777"))
    for command in commands:
        ws.store.enqueue(command, ws.author)
    # Work for the pull too: members added elsewhere (several pages of 2).
    later = members_on_server(server, last, 5)
    token = ws.client.token
    assert token is not None
    ws.close()

    crashed = run_client(server, tmp_path / "ws.sqlite3", token, crash_at)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stdout + crashed.stderr

    after_crash = LocalStore(tmp_path / "ws.sqlite3")
    assert_cursor_consistent(server, after_crash, ids + later)
    op_ids = {str(c.op_id) for c in commands}
    # Nothing typed is lost: every command is still queued or already on the server.
    queued = {str(c.op_id) for c in after_crash.queued(100)}
    assert queued | applied_op_ids(server, op_ids) == op_ids
    after_crash.close()

    restarted = run_client(server, tmp_path / "ws.sqlite3", token, None)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr

    store = LocalStore(tmp_path / "ws.sqlite3")
    assert store.pending_count() == 0 and store.issues() == []
    assert applied_op_ids(server, op_ids) == op_ids
    assert server_member(server, ids[0]).points_balance == start + sum(deltas)  # each once
    assert server_member(server, ids[1]).phone == "+441314960777"
    assert [m.id for m in store.search(last, limit=50).items] == ids + later
    detail = store.member_detail(ids[0])
    assert detail is not None and detail.points_balance == start + sum(deltas)
    assert_cursor_consistent(server, store, ids + later)
    store.close()


def test_replaying_commands_after_a_restart_applies_them_once(server, tmp_path):
    ws = workstation(server, tmp_path / "ws.sqlite3")
    (member_id,) = members_on_server(server, unique("Replay"), 1)
    assert ws.sync()
    start = server_member(server, member_id).points_balance
    deltas = [30, -10, 4]
    commands = [AdjustPoints(member_id=member_id, delta=d, points_type=GOODWILL, reason="replayed") for d in deltas]
    for command in commands:
        ws.store.enqueue(command, ws.author)
    queued = ws.store.queued(10)
    # The server runs them, but the answer is lost (the app dies before recording it).
    first = ws.client.push(queued)
    assert [r.status for r in first] == [Status.APPLIED] * 3
    ws.close()

    again = workstation(server, tmp_path / "ws.sqlite3")  # the app restarts
    assert again.store.pending_count() == 3
    for _ in range(3):  # replayed 2-5 times in all
        results = again.client.push(queued)
        assert [(r.status, r.original_status) for r in results] == [(Status.DUPLICATE, Status.APPLIED)] * 3
    assert again.sync()
    assert again.store.pending_count() == 0 and again.store.issues() == []
    acknowledged = applied_op_ids(server, {str(c.op_id) for c in queued})
    assert len(acknowledged) == 3
    assert server_member(server, member_id).points_balance == start + sum(deltas)
    detail = again.store.member_detail(member_id)
    assert detail is not None and detail.points_balance == start + sum(deltas) and detail.pending_changes == []
    again.close()


@pytest.mark.parametrize("killed", ["pull.after_store", "pull.mid_index_build"])
def test_first_sync_killed_between_pages_resumes_and_builds_the_search_index(sqlite_server, tmp_path, killed):
    """A first sync defers the indexes to its end (docs/decisions/0033, 0043): one killed
    after its first page, or after its last page with one index of many built, resumes
    where it stopped, and then finds every member by name, with the index equal to the
    rows and every index of a fresh replica there."""
    server = sqlite_server
    last = unique("Firstsync")
    ids = members_on_server(server, last, 3)
    token = workstation(server, tmp_path / "login.sqlite3").client.token
    assert token is not None
    path = tmp_path / "ws.sqlite3"

    crashed = run_client(server, path, token, killed, page_size=2)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stdout + crashed.stderr
    store = LocalStore(path)
    stopped_at = store.cursor()
    assert stopped_at > 0  # the first page and its cursor were stored
    store.close()

    restarted = run_client(server, path, token, None, page_size=500)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    store = LocalStore(path)
    if killed == "pull.after_store":
        assert store.cursor() > stopped_at
    assert [m.id for m in store.search(last, limit=50).items] == ids
    assert [m.id for m in store.search(last[:-2].lower(), limit=50).items][-3:] == ids  # a substring: the FTS
    with store.engine.begin() as conn:
        members = conn.exec_driver_sql("SELECT count(*) FROM member_search").scalar_one()
        indexed = conn.exec_driver_sql("SELECT count(*) FROM member_fts").scalar_one()
        assert members == indexed == conn.exec_driver_sql("SELECT count(*) FROM member").scalar_one()
        conn.exec_driver_sql("INSERT INTO member_fts (member_fts, rank) VALUES ('integrity-check', 1)")
        triggers = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'member_search'").scalar_one()
        assert triggers == 3  # later changes feed the index again
        indexes = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars())
    store.close()
    fresh = LocalStore(tmp_path / "fresh.sqlite3")
    with fresh.engine.begin() as conn:
        assert indexes == set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars())
    fresh.close()
