"""Queued changes keep their author (invariant 7), with two real staff accounts at one
desk against the real server (SQLite and PostgreSQL).

Ada queues changes offline and signs out; Ben signs in at the same workstation. Ben's
session sends only Ben's changes; Ada's wait (the status says for whom) and go under
Ada's own session when she signs in again, so the audit names each of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import select

from desktop_care.commands import AdjustPoints, UpdateContact
from desktop_care.models import AuditEvent, PointsType, UserRole
from desktop_care.models.sync import ProcessedCommand
from desktop_care.server.accounts import create_staff
from desktop_care.sync import LocalStore, Syncer
from desktop_care.sync.api_client import ApiClient
from desktop_care.sync.local_store import Author
from desktop_care.sync.syncer import SessionExpired
from tests.support.servers import LiveServer
from tests.sync.workstations import FAST, Events, members_on_server, server_member
from tests.ui.arrange import server_session, unique

PASSWORD = "correct horse battery"


@dataclass
class Person:
    author: Author
    password: str


def staff_person(server: LiveServer, first: str) -> Person:
    username = unique(f"{first}.")
    with server_session(server) as session:
        user = create_staff(session, username, PASSWORD, role=UserRole.SOCIETY_STAFF, display_name=first.title(),
                            actor="test")
        session.commit()
        return Person(Author(user.id, user.username), PASSWORD)


def signed_in(server: LiveServer, person: Person) -> ApiClient:
    client = ApiClient(server.url)
    client.timeouts = FAST
    client.login(person.author.username, person.password)
    return client


def syncer_for(store: LocalStore, client: ApiClient, events: Events) -> Syncer:
    return Syncer(store, client, on_event=events, autostart=False)


def audit_actors(server: LiveServer, op_ids: list[str]) -> dict[str, str]:
    """op_id → the actor the audit names for it."""
    with server_session(server) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("member.%")))
        return {e.details["op_id"]: e.actor_name for e in events if e.details.get("op_id") in op_ids}


@pytest.fixture
def desk(server, tmp_path):
    store = LocalStore(tmp_path / "desk.sqlite3")
    yield store
    store.close()


def test_a_colleague_signing_in_at_the_same_desk_does_not_send_the_changes_of_another(server, desk):
    ada, ben = staff_person(server, "ada"), staff_person(server, "ben")
    last = unique("Author")
    first, second = members_on_server(server, last, 2)
    version = server_member(server, first).version

    # Ada, offline: two changes queued under her name; then she signs out.
    ada_changes = [
        UpdateContact(member_id=first, base_version=version, phone="+44 131 496 0101"),
        AdjustPoints(member_id=first, delta=10, points_type=PointsType.GOODWILL, reason="phoned in"),
    ]
    for command in ada_changes:
        desk.enqueue(command, ada.author)

    # Ben signs in at the same desk and makes a change of his own.
    ben_change = AdjustPoints(member_id=second, delta=3, points_type=PointsType.GOODWILL, reason="survey")
    desk.enqueue(ben_change, ben.author)
    events = Events()
    ben_client = signed_in(server, ben)
    ben_syncer = syncer_for(desk, ben_client, events)
    assert ben_syncer.sync_once()

    ada_ops = [str(c.op_id) for c in ada_changes]
    assert audit_actors(server, [str(ben_change.op_id)]) == {str(ben_change.op_id): ben.author.username}
    with server_session(server) as session:
        assert session.scalars(select(ProcessedCommand).where(ProcessedCommand.op_id.in_(ada_ops))).all() == []
    assert server_member(server, first).phone != "+441314960101"
    # Ada's changes wait, visibly, for her; nothing of hers is a sync issue.
    assert desk.pending_count() == 2 and desk.issues() == []
    status = events.statuses()[-1]
    assert status.pending == 0 and status.waiting_for == ((ada.author.username, 2),)
    ben_client.close()

    # Ada signs in again: her changes go under her own session.
    ada_events = Events()
    ada_client = signed_in(server, ada)
    assert syncer_for(desk, ada_client, ada_events).sync_once()
    assert audit_actors(server, ada_ops) == {op: ada.author.username for op in ada_ops}
    on_server = server_member(server, first)
    assert (on_server.phone, on_server.points_balance) == ("+441314960101", 10)
    assert desk.pending_count() == 0 and ada_events.statuses()[-1].waiting_for == ()
    ada_client.close()


def test_a_colleagues_later_change_to_the_same_member_waits_behind_the_earlier_one(server, desk):
    """Order per member is kept across authors: Ben's edit of the member Ada changed
    first waits for Ada's, so her older value never lands on top of his."""
    ada, ben = staff_person(server, "ada"), staff_person(server, "ben")
    (member_id,) = members_on_server(server, unique("Order"), 1)
    version = server_member(server, member_id).version
    desk.enqueue(UpdateContact(member_id=member_id, base_version=version, phone="+44 131 496 0201"), ada.author)
    desk.enqueue(UpdateContact(member_id=member_id, base_version=version, phone="+44 131 496 0202"), ben.author)

    events = Events()
    ben_client = signed_in(server, ben)
    assert syncer_for(desk, ben_client, events).sync_once()
    assert desk.pending_count() == 2
    assert events.statuses()[-1].waiting_for == ((ada.author.username, 1),)
    ben_client.close()

    ada_client = signed_in(server, ada)
    assert syncer_for(desk, ada_client, Events()).sync_once()
    ada_client.close()
    ben_client = signed_in(server, ben)
    assert syncer_for(desk, ben_client, Events()).sync_once()
    ben_client.close()
    assert server_member(server, member_id).phone == "+441314960202"
    assert desk.pending_count() == 0 and desk.issues() == []


def test_changes_of_an_expired_session_wait_for_their_author_and_are_not_issues(server, desk):
    ada, ben = staff_person(server, "ada"), staff_person(server, "ben")
    (member_id,) = members_on_server(server, unique("Expired"), 1)
    change = AdjustPoints(member_id=member_id, delta=5, points_type=PointsType.GOODWILL, reason="goodwill")
    desk.enqueue(change, ada.author)

    ada_client = signed_in(server, ada)
    token = ada_client.token
    # Her session ends on the server (signed out elsewhere, or expired).
    assert requests.post(f"{server.api}/auth/logout", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).status_code == 204
    events = Events()
    ada_syncer = syncer_for(desk, ada_client, events)
    assert not ada_syncer.sync_once()
    assert events.of(SessionExpired)
    assert desk.pending_count() == 1 and desk.issues() == []

    # Ben at the same desk does not send it either.
    ben_client = signed_in(server, ben)
    ben_events = Events()
    assert syncer_for(desk, ben_client, ben_events).sync_once()
    assert desk.pending_count() == 1 and desk.issues() == []
    assert ben_events.statuses()[-1].waiting_for == ((ada.author.username, 1),)
    ben_client.close()

    again = signed_in(server, ada)
    assert syncer_for(desk, again, Events()).sync_once()
    assert audit_actors(server, [str(change.op_id)]) == {str(change.op_id): ada.author.username}
    assert desk.pending_count() == 0
    again.close()
    ada_client.close()


def test_a_crafted_payload_cannot_name_another_actor(server):
    """The server takes the actor from the token only: fields naming someone else are
    refused as unknown, and what applies is audited as the token's own user."""
    ada, ben = staff_person(server, "ada"), staff_person(server, "ben")
    (member_id,) = members_on_server(server, unique("Crafted"), 1)
    ben_client = signed_in(server, ben)
    headers = {"Authorization": f"Bearer {ben_client.token}"}
    command = AdjustPoints(member_id=member_id, delta=2, points_type=PointsType.GOODWILL, reason="crafted")
    for key, value in (("actor", ada.author.username), ("actor_user_id", ada.author.user_id),
                       ("username", ada.author.username), ("user_id", ada.author.user_id)):
        crafted = {**command.payload(), key: value}
        response = requests.post(f"{server.api}/sync/commands", json={"commands": [crafted]}, headers=headers,
                                 timeout=10)
        assert response.status_code == 422, response.text
        assert list(response.json()["fields"]) == [f"commands.0.{key}"]
    response = requests.post(f"{server.api}/sync/commands", json={"commands": [command.payload()]},
                             headers=headers, timeout=10)
    assert response.json()["results"][0]["status"] == "applied"
    assert audit_actors(server, [str(command.op_id)]) == {str(command.op_id): ben.author.username}
    with server_session(server) as session:
        processed = session.get(ProcessedCommand, str(command.op_id))
        assert processed is not None and processed.actor_user_id == ben.author.user_id
    ben_client.close()


def test_a_store_refuses_a_change_without_its_author(tmp_path):
    store = LocalStore(tmp_path / "desk.sqlite3")
    try:
        with pytest.raises(TypeError):
            store.enqueue(AdjustPoints(member_id=1, delta=1, points_type=PointsType.GOODWILL, reason="who?"))  # type: ignore[call-arg]
    finally:
        store.close()
