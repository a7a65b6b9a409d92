"""Every write reaches the change feed, whoever makes it (SQLite and PostgreSQL).

The writers here are plain SQL on a plain engine of the server's database (a script,
a migration, a bulk UPDATE): no session of ours, no ORM, no hook. A workstation's
ordinary pull must still bring each change.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect, text

from desktop_care.commands import AdjustPoints
from desktop_care.models import PointsType
from tests.support.servers import LiveServer, start_server
from tests.sync.workstations import members_on_server, workstation
from tests.ui.arrange import server_cli, unique


def run_sql(server: LiveServer, statement: str, **params: object) -> int:
    """Run one statement in its own transaction, as a script would; rows affected."""
    with server.engine().begin() as connection:
        return int(connection.execute(text(statement), params).rowcount)


def test_a_raw_sql_update_of_a_member_reaches_a_workstations_pull(server, tmp_path):
    last = unique("Rawsql")
    (member_id,) = members_on_server(server, last, 1)
    ws = workstation(server, tmp_path / "ws.sqlite3")
    try:
        assert ws.sync()
        cursor = ws.store.cursor()
        assert run_sql(server, "UPDATE member SET phone = :phone, version = version + 1 WHERE id = :id",
                       phone="+44 1632 960777", id=member_id) == 1
        assert ws.sync()
        detail = ws.store.member_detail(member_id)
        assert detail is not None and detail.phone == "+44 1632 960777"
        assert ws.store.cursor() > cursor
    finally:
        ws.close()


def test_a_bulk_update_and_raw_address_writes_reach_the_pull(server, tmp_path):
    last = unique("Bulksql")
    ids = members_on_server(server, last, 12)
    ws = workstation(server, tmp_path / "ws.sqlite3", page_size=5)
    try:
        assert ws.sync()
        assert run_sql(server, "UPDATE member SET email_newsletters = :yes, email = 'bulk@example.org' "
                               "WHERE last_name = :last", yes=True, last=last) == 12
        # An address written by SQL is a change of its member too.
        run_sql(server, "INSERT INTO address (member_id, kind, line1, line2, city, region, postcode, country) "
                        "VALUES (:id, 'home', '1 Script Row', '', 'Leeds', '', 'LS1 1AA', 'GB')", id=ids[0])
        # A member deleted by SQL goes from the workstation too (a tombstone).
        run_sql(server, "DELETE FROM address WHERE member_id = :id", id=ids[1])
        run_sql(server, "DELETE FROM member WHERE id = :id", id=ids[1])
        assert ws.sync()
        page = ws.store.search(last)
        assert [m.id for m in page.items] == [i for i in ids if i != ids[1]]
        assert all(m.email == "bulk@example.org" for m in page.items)
        first = ws.store.member_detail(ids[0])
        assert first is not None and [a.postcode for a in first.addresses] == ["LS1 1AA"]
        assert ws.store.member_detail(ids[1]) is None
    finally:
        ws.close()


def test_feed_sequence_numbers_are_64_bit(server, tmp_path):
    """Numbers beyond 2**31 work end to end; PostgreSQL stores them as bigint."""
    last = unique("Bigseq")
    (member_id,) = members_on_server(server, last, 1)
    columns = {c["name"]: c["type"] for c in inspect(server.engine()).get_columns("sync_change")}
    if server.backend == "postgres":
        assert columns["seq"].python_type is int and "BIGINT" in str(columns["seq"]).upper()
        run_sql(server, "SELECT setval('sync_seq', GREATEST(3000000000, (SELECT last_value FROM sync_seq)))")
    else:
        run_sql(server, "UPDATE sync_counter SET value = MAX(value, 3000000000)")
    ws = workstation(server, tmp_path / "ws.sqlite3")
    try:
        assert ws.sync()
        run_sql(server, "UPDATE member SET first_name = 'Billion' WHERE id = :id", id=member_id)
        assert ws.sync()
        assert ws.store.cursor() > 3_000_000_000
        detail = ws.store.member_detail(member_id)
        assert detail is not None and detail.first_name == "Billion"
    finally:
        ws.close()


@pytest.mark.expect_log("desktop_care.sync.syncer", r"our directory came from .*: pulling everything again")
def test_a_backup_restored_in_place_is_announced_with_a_new_epoch(databases, tmp_path):
    """Restoring a backup over the same database keeps its epoch; ``new-feed-epoch``
    (the documented restore step) makes every workstation pull again, keeping its work."""
    (tmp_path / "srv").mkdir()
    server = start_server(databases.create("sqlite"), tmp_path / "srv")
    try:
        last = unique("Inplace")
        ids = members_on_server(server, last, 3)
        ws = workstation(server, tmp_path / "ws.sqlite3")
        assert ws.sync()
        before = ws.store.epoch()
        # The "restore": a member the workstation has is gone, without a tombstone.
        with server.engine().begin() as connection:
            connection.execute(text("DELETE FROM address WHERE member_id = :id"), {"id": ids[0]})
            connection.execute(text("DELETE FROM member WHERE id = :id"), {"id": ids[0]})
            connection.execute(text("DELETE FROM sync_change WHERE entity_id = :id"), {"id": ids[0]})
        server_cli(server, "new-feed-epoch")
        ws.store.enqueue(AdjustPoints(member_id=ids[1], delta=4, points_type=PointsType.GOODWILL,
                                      reason="kept across the restore"), ws.author)
        assert ws.sync()
        assert ws.store.epoch() not in (None, before)
        assert [m.id for m in ws.store.search(last).items] == ids[1:]
        assert ws.store.pending_count() == 0
        ws.close()
    finally:
        server.stop()


def test_every_feed_page_carries_the_databases_epoch(server, tmp_path):
    ws = workstation(server, tmp_path / "ws.sqlite3")
    try:
        epochs = {ws.client.changes(after, 1).epoch for after in (0, 1, 10**12)}
        (epoch,) = epochs
        assert epoch is not None and uuid.UUID(epoch)
    finally:
        ws.close()
