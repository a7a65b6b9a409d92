"""The server unreachable, silent, failing or refusing the session: the queue stays,
the syncer backs off more and more, and it stops promptly when told."""

from __future__ import annotations

import time

import pytest

from desktop_care import config
from desktop_care.commands import AdjustPoints
from desktop_care.sync.api_client import ApiClient, TimedOut
from desktop_care.sync.syncer import SessionExpired, SyncStatus
from tests.support.servers import start_server
from tests.sync.test_api_client import Listener
from tests.sync.workstations import GOODWILL, members_on_server, server_member, wait_for, workstation
from tests.ui.arrange import signed_in_client, unique

QUICK = config.Timeouts(connect=0.5, read=0.3)
BACKOFF = {"backoff_start": 0.05, "backoff_max": 0.4, "interval": 60.0}


def offline_statuses(events) -> list[SyncStatus]:
    return [s for s in events.statuses() if not s.online and not s.syncing]


def assert_backs_off(events, pending: int) -> None:
    statuses = wait_for(lambda: len(offline_statuses(events)) >= 4 and offline_statuses(events), what="4 failed rounds")
    delays = [s.next_retry_in for s in statuses[:4]]
    assert all(d is not None for d in delays)
    assert delays == sorted(delays) and delays[3] > delays[0] * 4, delays  # doubling, with jitter
    assert all(s.pending == pending and s.last_error for s in statuses)


def queue_points(ws, member_id: int, n: int) -> None:
    for i in range(n):
        ws.store.enqueue(AdjustPoints(member_id=member_id, delta=i + 1, points_type=GOODWILL, reason="offline"), ws.author)


def test_server_stopped_mid_sync_then_back_nothing_lost_nothing_twice(databases, tmp_path):
    (tmp_path / "srv").mkdir()
    server = start_server(databases.create("sqlite"), tmp_path / "srv")
    ws = workstation(server, tmp_path / "ws.sqlite3", batch_size=1, **BACKOFF)
    try:
        (member_id,) = members_on_server(server, unique("Down"), 1)
        assert ws.sync()
        start = server_member(server, member_id).points_balance
        queue_points(ws, member_id, 60)
        ws.syncer.start()
        wait_for(lambda: ws.store.pending_count() < 58, what="the push under way")
        server.stop()  # mid-sync: the syncer is pushing one command at a time
        statuses = wait_for(lambda: len(offline_statuses(ws.events)) >= 4 and offline_statuses(ws.events))
        left = ws.store.pending_count()
        assert 0 < left < 60
        assert_backs_off(ws.events, pending=left)
        assert ws.store.pending_count() == left and statuses[0].last_error

        # The server comes back (at a new address: the harness picks free ports).
        server = start_server(server.database_url, tmp_path / "srv")
        ws.client.base_url, ws.client.api_url = server.url, server.api
        ws.syncer.nudge()
        wait_for(lambda: ws.store.pending_count() == 0, what="the queue to drain")
        wait_for(lambda: ws.events.statuses()[-1].online and not ws.events.statuses()[-1].syncing, what="online")
        assert ws.store.issues() == []
        assert server_member(server, member_id).points_balance == start + sum(range(1, 61))  # each once
        detail = wait_for(lambda: (d := ws.store.member_detail(member_id)) and d.pending_changes == [] and d)
        assert detail.points_balance == start + sum(range(1, 61))
    finally:
        ws.close()
        server.stop()


@pytest.mark.parametrize("reply", [None, b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"],
                         ids=["never-answers", "answers-500"])
def test_a_silent_or_failing_server_keeps_the_queue_and_backs_off(sqlite_server, tmp_path, reply):
    ws = workstation(sqlite_server, tmp_path / "ws.sqlite3")
    (member_id,) = members_on_server(sqlite_server, unique("Silent"), 1)
    assert ws.sync()
    ws.close()
    listener = Listener(reply)
    client = ApiClient(listener.url, "token", timeouts=QUICK, retries=0)
    bad = workstation(sqlite_server, tmp_path / "ws.sqlite3", client=client, **BACKOFF)
    try:
        queue_points(bad, member_id, 2)
        bad.syncer.start()
        assert_backs_off(bad.events, pending=2)
        assert bad.store.pending_count() == 2
        assert bad.store.member_detail(member_id).pending_changes  # still shown as pending
        started = time.monotonic()
        bad.syncer.stop()
        assert time.monotonic() - started < 1.5 and not bad.syncer.running
    finally:
        bad.close()
        listener.close()


def test_an_expired_session_asks_to_sign_in_again_and_keeps_the_queue(sqlite_server, tmp_path):
    ws = workstation(sqlite_server, tmp_path / "ws.sqlite3")
    (member_id,) = members_on_server(sqlite_server, unique("Expired"), 1)
    assert ws.sync()
    queue_points(ws, member_id, 1)
    ws.client.token = "not-a-valid-token"
    assert not ws.sync()
    assert ws.events.of(SessionExpired)
    assert ws.store.pending_count() == 1
    ws.client.token = signed_in_client(sqlite_server).token  # signed in again
    assert ws.sync() and ws.store.pending_count() == 0
    ws.close()


def test_stop_is_prompt_while_a_request_hangs(sqlite_server, tmp_path):
    listener = Listener(None)
    client = ApiClient(listener.url, "token", timeouts=config.Timeouts(connect=1.0, read=30.0), retries=0)
    ws = workstation(sqlite_server, tmp_path / "ws.sqlite3", client=client, autostart=True)
    try:
        wait_for(lambda: listener.connections >= 1, what="a request under way")
        started = time.monotonic()
        ws.syncer.stop(timeout=0.5)
        assert time.monotonic() - started < 1.0
    finally:
        ws.close()
        listener.close()


def test_push_is_sent_again_after_a_time_out_unlike_other_posts():
    listener = Listener(None)  # accepts, never answers
    client = ApiClient(listener.url, "token", timeouts=config.Timeouts(connect=0.5, read=0.2), retries=2, backoff=0.01)
    try:
        command = AdjustPoints(member_id=1, delta=1, points_type=GOODWILL, reason="retried")
        with pytest.raises(TimedOut):
            client.push([command])
        assert listener.connections == 3  # safe: the server runs an op_id once
        with pytest.raises(TimedOut):
            client.login("someone", "secret")
        assert listener.connections == 4  # a sign-in is never sent twice
    finally:
        client.close()
        listener.close()
