"""The local store on its own (real SQLite): overlays, the outbox, Sync issues, feed
pages, and offline sign-in."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import pytest
from pydantic import BaseModel, Field, create_model

from desktop_care.commands import AdjustPoints, CommandResult, SetEmailPreference, Status, UpdateContact
from desktop_care.models import MemberSort, PointsType
from desktop_care.schemas import AddressOut, FeedChange, FeedPage, MemberRecord, StaffPublic
from desktop_care.sync import LocalStore, OfflineCredentials
from desktop_care.sync.local_store import Author, replica_fingerprint

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
ADA = Author(7, "ada")


def record(i: int, **changes: object) -> MemberRecord:
    values: dict[str, object] = dict(
        id=i, member_no=str(5000 + i), logon_id=f"m{i}", title="", first_name="José", last_name=f"Núñez{i}",
        email=f"jose{i}@example.org", phone="+44 20 7946 0000", email_opt_in=False, status="enrolled",
        merged_into_id=None, blocked_for_balance=False, points_balance=100, account_balance_cents=0,
        pending_count=0, pending_cents=0, last_login_at=None, created_at=NOW, updated_at=NOW, version=1,
        addresses=[AddressOut(id=i, kind="home", line1="1 Mill Lane", line2="", city="Ely", region="",
                              postcode="CB7 4AA", country="GB")],
    )
    values.update(changes)
    return MemberRecord.model_validate(values)


def page(*records: MemberRecord, start: int = 1, deleted: tuple[int, ...] = ()) -> FeedPage:
    changes = [FeedChange(seq=start + n, entity="member", id=r.id, deleted=False, member=r) for n, r in enumerate(records)]
    changes += [FeedChange(seq=start + len(records) + n, entity="member", id=i, deleted=True) for n, i in enumerate(deleted)]
    return FeedPage(changes=changes, cursor=changes[-1].seq, has_more=False)


@pytest.fixture
def store(tmp_path):
    store = LocalStore(tmp_path / "ws.sqlite3")
    store.apply_feed(page(record(1), record(2), record(3)))
    yield store
    store.close()


def test_search_is_the_server_search_over_the_directory(store):
    assert [m.id for m in store.search("nunez2").items] == [2]  # accents folded, as on the server
    assert [m.id for m in store.search("5003").items] == [3]
    assert store.search("").total == 3
    assert store.cursor() == 3


def test_member_ids_with_letters_are_found_in_the_local_directory(store):
    store.apply_feed(page(record(4, member_no="M12376948"), start=10))
    assert [m.id for m in store.search("m1237").items] == [4]
    assert [m.id for m in store.search("M12376948").items] == [4]


def test_a_replica_made_by_an_older_version_is_pulled_again_keeping_queued_work(store, tmp_path):
    path = tmp_path / "ws.sqlite3"
    store.enqueue(AdjustPoints(member_id=2, delta=5, points_type=PointsType.BONUS, reason="kept across"), ADA)
    with store.engine.begin() as conn:  # as an older version left it: another replica layout
        conn.exec_driver_sql("UPDATE sync_state SET value = 'older' WHERE key = 'replica_schema'")
    store.close()

    reopened = LocalStore(path)
    try:
        assert reopened.cursor() == 0
        assert reopened.search("").total == 0  # the directory comes again with the next pull
        assert [c.reason for c in reopened.queued()] == ["kept across"]  # type: ignore[attr-defined]
        reopened.apply_feed(page(record(1), record(2)))
        assert reopened.search("nunez2").items[0].points_balance == 105
    finally:
        reopened.close()


def test_an_upgrade_that_keeps_the_layout_keeps_the_directory(store, tmp_path):
    """The versions before decision 0046 wrote a fingerprint that counted docstrings; one
    whose layout is this version's keeps its directory, with no new pull."""
    with store.engine.begin() as conn:  # as da4b65c left it
        conn.exec_driver_sql("UPDATE sync_state SET value = '5cadf2aea90d8f96' WHERE key = 'replica_schema'")
    store.close()
    reopened = LocalStore(tmp_path / "ws.sqlite3")
    try:
        assert reopened.cursor() == 3
        assert reopened.search("").total == 3
    finally:
        reopened.close()
    again = LocalStore(tmp_path / "ws.sqlite3")  # marked with this version's fingerprint
    try:
        assert again.search("").total == 3
    finally:
        again.close()


def _details(doc: str, **fields: Any) -> type[BaseModel]:
    kind = enum.Enum("Kind", {"A": "a", "B": "b"})  # type: ignore[misc]
    kind.__doc__ = doc
    return create_model("Details", __doc__=doc, kind=(kind, Field(description=doc)), **fields)


def test_a_reworded_docstring_does_not_cost_a_new_pull() -> None:
    """The replica's fingerprint counts the kept details' schema, not its descriptions."""
    base = replica_fingerprint(_details("What staff made of an account."))
    assert replica_fingerprint(_details("What staff made of an account (reworded).")) == base
    assert replica_fingerprint(_details("What staff made of an account.", note=(str, ""))) != base


def test_a_queued_change_shows_at_once_and_survives_a_restart(store, tmp_path):
    store.enqueue(UpdateContact(member_id=2, base_version=1, first_name="Ana", home_address={
        "line1": "9 Fen Road", "city": "March", "postcode": "pe15 8aa"}), ADA)
    store.enqueue(AdjustPoints(member_id=2, delta=-30, points_type=PointsType.GOODWILL, reason="refund"), ADA)
    row = store.search("nunez2").items[0]
    assert (row.name, row.postcode, row.points_balance, row.pending_changes) == ("Ana Núñez2", "PE15 8AA", 70, 2)
    store.close()

    reopened = LocalStore(tmp_path / "ws.sqlite3")
    detail = reopened.member_detail(2)
    assert detail is not None
    assert (detail.first_name, detail.points_balance, detail.addresses[0].city) == ("Ana", 70, "March")
    assert detail.pending_changes == ["Edit contact details (address.home, first_name)", "-30 goodwill points: refund"]
    assert not detail.detail_cached
    # A pull cannot overwrite a pending value: the overlay is applied on top.
    reopened.apply_feed(page(record(2, version=2, points_balance=500), start=4))
    assert reopened.search("nunez2").items[0].points_balance == 470
    assert [c.kind for c in reopened.queued(10)] == ["update_contact", "adjust_points"]
    assert all(c.origin == reopened.workstation_id for c in reopened.queued(10))
    reopened.close()


def test_bad_changes_are_refused_with_a_reason_and_nothing_is_queued(store):
    with pytest.raises(ValueError, match="negative"):
        store.enqueue(AdjustPoints(member_id=1, delta=-101, points_type=PointsType.GOODWILL, reason="too much"), ADA)
    store.apply_feed(page(record(4, email=""), start=10))
    with pytest.raises(ValueError, match="no e-mail"):
        store.enqueue(SetEmailPreference(member_id=4, base_version=1, email_opt_in=True), ADA)
    command = AdjustPoints(member_id=1, delta=5, points_type=PointsType.GOODWILL, reason="twice")
    store.enqueue(command, ADA)
    with pytest.raises(ValueError, match="already queued"):
        store.enqueue(command, ADA)
    assert store.pending_count() == 1


def test_answers_empty_the_outbox_and_conflicts_become_issues_with_both_versions(store):
    applied = UpdateContact(member_id=1, base_version=1, phone="+44 131 496 0123")
    clash = UpdateContact(member_id=3, base_version=1, email="mine@example.org")
    refused = AdjustPoints(member_id=3, delta=-50, points_type=PointsType.GOODWILL, reason="spent")
    for command in (applied, clash, refused):
        store.enqueue(command, ADA)
    recorded = store.record_results([
        CommandResult(op_id=str(applied.op_id), status=Status.DUPLICATE, original_status=Status.APPLIED),
        CommandResult(op_id=str(clash.op_id), status=Status.CONFLICT, member_version=4, reason="changed meanwhile",
                      server_values={"email": "theirs@example.org"}),
        CommandResult(op_id=str(refused.op_id), status=Status.REJECTED, reason="member 5003 is inactive"),
    ])
    assert recorded.applied == [str(applied.op_id)] and len(recorded.issues) == 2 and recorded.member_ids == {1, 3}
    assert store.pending_count() == 0
    conflict, rejected = store.issues()
    assert (conflict.status, conflict.member_no, conflict.reason) == ("conflict", "5003", "changed meanwhile")
    assert conflict.mine["values"] == {"email": "mine@example.org"} and conflict.theirs == {"email": "theirs@example.org"}
    assert rejected.status == "rejected" and rejected.reason == "member 5003 is inactive"
    assert rejected.mine["values"] == {"points_balance": 50} and rejected.theirs == {"points_balance": 100}
    # The same answers again (a replayed response) change nothing.
    assert store.record_results([CommandResult(op_id=str(clash.op_id), status=Status.CONFLICT)]).issues == []

    kept = store.resolve_issue(conflict.id, "keep_mine", author=ADA)
    assert kept is not None and kept.base_version == 4 and kept.email == "mine@example.org"
    assert str(kept.op_id) != conflict.op_id
    store.resolve_issue(rejected.id, "take_theirs")
    assert store.issues() == [] and store.pending_count() == 1
    with pytest.raises(ValueError, match="already resolved"):
        store.resolve_issue(rejected.id, "take_theirs")


def test_edit_resolution_queues_the_edited_change(store):
    clash = UpdateContact(member_id=3, base_version=1, email="mine@example.org")
    store.enqueue(clash, ADA)
    store.record_results([CommandResult(op_id=str(clash.op_id), status=Status.CONFLICT, member_version=2,
                                        server_values={"email": "theirs@example.org"})])
    (issue,) = store.issues()
    with pytest.raises(ValueError, match="edited change"):
        store.resolve_issue(issue.id, "edit", author=ADA)
    edited = UpdateContact(member_id=3, base_version=2, email="both@example.org")
    store.resolve_issue(issue.id, "edit", edited, author=ADA)
    assert [str(c.op_id) for c in store.queued(5)] == [str(edited.op_id)]
    assert store.member_detail(3).email == "both@example.org"


def test_feed_pages_upsert_merge_and_delete(store):
    store.apply_feed(page(record(1, status="merged", merged_into_id=2, version=2), start=10, deleted=(3,)))
    assert store.search("").total == 1  # merged: not found; deleted: gone
    assert store.member_detail(3) is None
    assert store.member_detail(1).status == "merged"
    assert store.cursor() == 11


def test_cached_detail_keeps_users_while_the_directory_moves_on(store):
    detail = store.member_detail(1)
    assert detail is not None and not detail.detail_cached and not store.has_full_detail(1)
    store.remember_detail(detail.model_copy(update={"users": [], "detail_cached": True}))
    assert store.has_full_detail(1) and store.member_detail(1).detail_cached
    store.apply_feed(page(record(1, version=3, phone="+44 1632 960999"), start=20))
    assert store.member_detail(1).phone == "+44 1632 960999"


def test_offline_sign_in_accepts_the_right_password_only(tmp_path):
    staff = StaffPublic(id=7, username="Ada", display_name="Ada L", email="ada@example.org", role="society_admin")
    credentials = OfflineCredentials(tmp_path / "credentials.sqlite3")
    credentials.remember("care.example.org:8000", "Ada", "correct horse", staff)
    assert "correct horse" not in (tmp_path / "credentials.sqlite3").read_bytes().decode("latin-1")
    assert credentials.verify("https://care.example.org:8000/", "ada", "correct horse") == staff
    assert credentials.verify("https://care.example.org:8000", "ada", "wrong horse") is None
    assert credentials.verify("https://other.example.org", "ada", "correct horse") is None
    assert credentials.verify("https://care.example.org:8000", "bob", "correct horse") is None
    credentials.close()


def test_a_nul_in_the_search_is_a_word_break_not_an_error(store):
    assert [m.id for m in store.search("jos\x00nunez2").items] == [2]
    assert store.search("\x00").total == 3


def test_an_applied_change_stays_laid_over_until_the_feed_brings_its_version(store):
    """Between the push that applied a change and the pull that brings the server's row,
    the directory still holds the old row: the change stays laid over (no longer
    "waiting"), and leaves once a row of that version arrives, never counted twice."""
    rename = UpdateContact(member_id=2, base_version=1, first_name="Ana")
    points = AdjustPoints(member_id=2, delta=-30, points_type=PointsType.GOODWILL, reason="refund")
    store.enqueue(rename, ADA)
    store.enqueue(points, ADA)
    store.record_results([
        CommandResult(op_id=str(rename.op_id), status=Status.APPLIED, member_version=2),
        CommandResult(op_id=str(points.op_id), status=Status.APPLIED, member_version=3),
    ])
    assert store.pending_count() == 0 and store.queued() == []
    row = store.search("nunez2").items[0]
    assert (row.name, row.points_balance, row.pending_changes) == ("Ana Núñez2", 70, 0)
    detail = store.member_detail(2)
    assert detail is not None and (detail.first_name, detail.points_balance, detail.pending_changes) == ("Ana", 70, [])

    # A feed row of version 2 includes the rename but not the points yet.
    store.apply_feed(page(record(2, version=2, first_name="Ana"), start=4))
    assert store.search("nunez2").items[0].points_balance == 70
    # Version 3 includes both: nothing is laid over any more (the -30 is not counted twice).
    store.apply_feed(page(record(2, version=3, first_name="Ana", points_balance=70), start=5))
    row = store.search("nunez2").items[0]
    assert (row.name, row.points_balance) == ("Ana Núñez2", 70)
    store.apply_feed(page(record(2, version=4, first_name="Bea", points_balance=70), start=6))
    assert store.search("nunez2").items[0].name == "Bea Núñez2"  # a later change elsewhere shows


def test_memory_per_connection_is_bounded_whatever_the_replica_size(store):
    """A million-member replica is a 1 GB file: each connection caches at most 2 MiB of
    it and never maps it into memory (docs/decisions/0041)."""
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 0


def _indexes(store: LocalStore) -> set[tuple[str, str]]:
    with store.engine.connect() as conn:
        return {tuple(row) for row in conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


def _plan(store: LocalStore, sql: str) -> str:
    with store.engine.connect() as conn:
        return " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_a_first_sync_over_pages_ends_with_every_index_and_sorted_lists_use_them(tmp_path):
    """A first sync builds the sort, name and e-mail indexes once, on its last page
    (decision 0043); a restart between pages changes nothing of that, and meanwhile an
    ID search still finds the pulled members."""
    fresh = LocalStore(tmp_path / "fresh.sqlite3")
    expected = _indexes(fresh)
    fresh.close()
    assert {"ix_member_sort_balance", "ix_member_search_sort_name", "ix_member_search_email_domain"} <= {
        name for name, _ in expected}

    path = tmp_path / "ws.sqlite3"
    store = LocalStore(path)
    first = page(record(1), record(2, last_name="Zed"))
    store.apply_feed(first.model_copy(update={"has_more": True}))
    store.close()
    store = LocalStore(path)  # the app restarted in the middle of its first sync
    assert [m.id for m in store.search("5002").items] == [2]
    store.apply_feed(page(record(3, account_balance_cents=900), record(4, account_balance_cents=50), start=3))

    assert _indexes(store) == expected
    by_balance = store.search("", sort=MemberSort("-balance"))
    assert [m.id for m in by_balance.items][:2] == [3, 4]
    assert "ix_member_sort_balance" in _plan(
        store, "SELECT id FROM member ORDER BY account_balance_cents DESC, id DESC LIMIT 50")
    assert [m.id for m in store.search("zed").items] == [2]  # the FTS index too
    store.close()


def test_a_first_sync_left_by_an_older_version_still_gets_its_search_index(tmp_path):
    """Versions before decision 0043 said "the FTS index is owed" with a key of its own
    and dropped only the FTS triggers: such a file, pulled on, is searched by name."""
    path = tmp_path / "ws.sqlite3"
    store = LocalStore(path)
    with store.engine.begin() as conn:  # as the older version left it after its first page
        for name in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'member_search'").scalars():
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.exec_driver_sql("INSERT INTO sync_state (key, value) VALUES ('search_index_owed', '1')")
    store.close()
    store = LocalStore(path)
    store.apply_feed(page(record(1, last_name="Older"), record(2)))
    assert [m.id for m in store.search("older").items] == [1]
    with store.engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sync_state WHERE key LIKE '%owed'").scalar_one() == 0
    store.close()
