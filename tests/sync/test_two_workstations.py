"""Two workstations editing offline against one real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from desktop_care.commands import AdjustPoints, SetEmailPreference, UpdateContact
from desktop_care.sync.local_models import CachedDetail
from tests.sync.workstations import GOODWILL, applied_op_ids, members_on_server, server_member, workstation
from tests.ui.arrange import unique


@pytest.fixture
def pair(server, tmp_path):
    a = workstation(server, tmp_path / "a.sqlite3")
    b = workstation(server, tmp_path / "b.sqlite3")
    yield a, b
    a.close()
    b.close()


def test_initial_sync_replicates_the_directory_and_search_works_offline(server, pair):
    a, _ = pair
    last = unique("Quenby")
    ids = members_on_server(server, last, 3)
    assert a.sync()
    page = a.store.search(last)
    assert [m.id for m in page.items] == ids
    assert page.items[0].name == f"Ann000 {last}"
    detail = a.store.member_detail(ids[0])
    assert detail is not None and not detail.detail_cached and detail.users == []
    # The cursor is where the server's feed ends: nothing more to pull.
    assert a.client.changes(a.store.cursor(), 10).changes == []


def test_offline_edits_to_different_fields_of_one_member_both_survive(server, pair):
    a, b = pair
    last = unique("Ravel")
    (member_id,) = members_on_server(server, last, 1)
    a.sync(), b.sync()
    base = a.store.member_detail(member_id)
    assert base is not None
    a.store.remember_detail(a.client.member(member_id))  # A opened the member online

    # Both offline: A changes the phone, B the e-mail preference and the first name.
    a.store.enqueue(UpdateContact(member_id=member_id, base_version=base.version, phone="+44 131 496 0001"), a.author)
    b.store.enqueue(UpdateContact(member_id=member_id, base_version=base.version, first_name="Beatrix"), b.author)
    b.store.enqueue(SetEmailPreference(member_id=member_id, base_version=base.version, email_opt_in=True), b.author)
    shown = b.store.search(last).items[0]
    assert shown.name == f"Beatrix {last}" and shown.pending_changes == 2

    assert a.sync() and b.sync() and a.sync()
    on_server = server_member(server, member_id)
    assert (on_server.phone, on_server.first_name, on_server.email_opt_in) == ("+441314960001", "Beatrix", True)
    for ws in (a, b):
        assert ws.store.pending_count() == 0 and ws.store.issues() == []
        detail = ws.store.member_detail(member_id)
        assert detail is not None
        assert (detail.phone, detail.first_name, detail.email_opt_in) == ("+441314960001", "Beatrix", True)
        assert detail.pending_changes == []
    # A's kept full detail was fetched again after the pull that brought B's change.
    with a.store.engine.connect() as conn:
        kept = conn.scalar(select(CachedDetail.detail).where(CachedDetail.member_id == member_id))
    assert kept["version"] == on_server.version and kept["first_name"] == "Beatrix"


def test_offline_edits_to_the_same_field_conflict_and_neither_value_is_lost(server, pair):
    a, b = pair
    last = unique("Satie")
    (member_id,) = members_on_server(server, last, 1)
    a.sync(), b.sync()
    version = server_member(server, member_id).version

    a.store.enqueue(UpdateContact(member_id=member_id, base_version=version, email="first@example.org"), a.author)
    b.store.enqueue(UpdateContact(member_id=member_id, base_version=version, email="second@example.org"), b.author)
    # Points are deltas: queued on both, both apply.
    a.store.enqueue(AdjustPoints(member_id=member_id, delta=40, points_type=GOODWILL, reason="late parcel"), a.author)
    b.store.enqueue(AdjustPoints(member_id=member_id, delta=2, points_type=GOODWILL, reason="survey"), b.author)
    assert a.sync() and b.sync()

    on_server = server_member(server, member_id)
    assert on_server.email == "first@example.org"
    assert on_server.points_balance == 42
    assert a.store.issues() == []
    (issue,) = b.store.issues()
    assert issue.status == "conflict" and issue.member_id == member_id
    assert issue.mine["values"]["email"] == "second@example.org"
    assert issue.theirs["email"] == "first@example.org"
    assert b.store.pending_count() == 0

    # Keep mine: queued again as a new command, which now applies.
    again = b.store.resolve_issue(issue.id, "keep_mine", author=b.author)
    assert again is not None and str(again.op_id) != issue.op_id
    assert b.store.issues() == [] and b.store.pending_count() == 1
    assert b.sync() and a.sync()
    assert server_member(server, member_id).email == "second@example.org"
    assert applied_op_ids(server, {str(again.op_id)}) == {str(again.op_id)}
    for ws in (a, b):
        detail = ws.store.member_detail(member_id)
        assert detail is not None and detail.email == "second@example.org" and detail.points_balance == 42


def test_email_categories_replicate_and_merge_category_by_category(server, pair):
    a, b = pair
    last = unique("Tallis")
    (member_id,) = members_on_server(server, last, 1)
    a.sync(), b.sync()
    base = a.store.member_detail(member_id)
    assert base is not None

    # Offline: A opts in to newsletters, B to event reminders; both show at once.
    a.store.enqueue(SetEmailPreference(member_id=member_id, base_version=base.version, newsletters=True), a.author)
    b.store.enqueue(SetEmailPreference(member_id=member_id, base_version=base.version, event_reminders=True), b.author)
    pending = b.store.member_detail(member_id)
    assert pending is not None and (pending.email_event_reminders, pending.email_opt_in) == (True, True)
    assert pending.pending_changes == ["Opt in to event reminders"]

    assert a.sync() and b.sync() and a.sync()
    on_server = server_member(server, member_id)
    assert (on_server.email_newsletters, on_server.email_offers, on_server.email_event_reminders) == (True, False, True)
    for ws in (a, b):
        assert ws.store.issues() == []
        detail = ws.store.member_detail(member_id)
        assert detail is not None and detail.pending_changes == []
        assert (detail.email_newsletters, detail.email_offers, detail.email_event_reminders) == (True, False, True)
