"""Revoke, Disable, Enable, Unlock and staff tiers through ``POST /commands``, over
HTTP on SQLite and PostgreSQL: who may, what the user notices, the audit, and the
last Society Admin under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import BaseCommand
from desktop_care.commands.user import (
    LAST_ADMIN,
    ChangeStaffRole,
    DisableUser,
    EnableUser,
    RevokeUser,
    UnlockUser,
)
from desktop_care.models import MAX_FAILED_LOGINS, AuditEvent, SignInThrottle, User, UserRole, UserState
from desktop_care.server.accounts import create_staff
from desktop_care.server.security import AccountRefused, Channel, authenticate
from tests.support.portal import Browser
from tests.support.servers import DatabaseFactory, LiveServer, start_server

from .conftest import PASSWORD, Staff, login, make_member, make_portal_user, unique


def run(server: LiveServer, token: str | None, command: BaseCommand) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{server.api}/commands", json={"command": command.payload()}, headers=headers, timeout=30)


def token_of(server: LiveServer, staff: Staff) -> str:
    response = login(server, staff.username, staff.password)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def me(server: LiveServer, token: str) -> int:
    return requests.get(f"{server.api}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def test_revoking_staff_ends_their_sessions_at_once_and_blocks_sign_in(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    admin = make_staff(UserRole.SOCIETY_ADMIN)
    agent = make_staff()
    agent_tokens = [token_of(server, agent), token_of(server, agent)]
    response = run(server, token_of(server, admin), RevokeUser(user_id=agent.id))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "applied"

    assert [me(server, t) for t in agent_tokens] == [401, 401]
    refused = login(server, agent.username, agent.password)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "access for this account has been revoked; it must be invited again"
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.revoke",
                                                AuditEvent.entity_id == str(agent.id))).one()
    assert (audit.actor_user_id, audit.details["before"], audit.details["sessions_ended"]) == (admin.id, "active", 2)

    again = run(server, token_of(server, admin), RevokeUser(user_id=agent.id)).json()
    assert (again["status"], again["reason"]) == ("rejected", "access for this account is already revoked")
    enabled = run(server, token_of(server, admin), EnableUser(user_id=agent.id)).json()
    assert enabled["reason"] == "access for this account was revoked; invite the person again instead"


def test_society_staff_revoke_member_users_but_not_staff(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    agent = token_of(server, make_staff())
    member = make_member(db, "Revoked", unique("Member"))
    portal = make_portal_user(db, member)
    colleague = make_staff()

    assert run(server, agent, RevokeUser(user_id=portal.id)).json()["status"] == "applied"
    with pytest.raises(AccountRefused, match="revoked"):
        authenticate(db, portal.username, PASSWORD, channel=Channel.PORTAL)
    db.rollback()

    for command in (RevokeUser(user_id=colleague.id), DisableUser(user_id=colleague.id),
                    ChangeStaffRole(user_id=colleague.id, role=UserRole.SOCIETY_ADMIN)):
        refused = run(server, agent, command)
        assert refused.status_code == 403, command.kind
        assert "only a Society Admin may" in refused.json()["detail"]
    db.expire_all()
    found = db.get(User, colleague.id)
    assert found is not None and (found.state, found.role) == (UserState.ACTIVE, UserRole.SOCIETY_STAFF)
    assert me(server, token_of(server, colleague)) == 200


def test_disable_then_enable(server: LiveServer, make_staff: Callable[..., Staff], db: Session) -> None:
    agent = token_of(server, make_staff())
    member = make_member(db, "Sleepy", unique("Account"))
    portal = make_portal_user(db, member)

    assert run(server, agent, DisableUser(user_id=portal.id)).json()["status"] == "applied"
    with pytest.raises(AccountRefused, match="disabled"):
        authenticate(db, portal.username, PASSWORD, channel=Channel.PORTAL)
    db.rollback()
    twice = run(server, agent, DisableUser(user_id=portal.id)).json()
    assert twice["reason"] == "only an active account can be disabled; this one is disabled"

    assert run(server, agent, EnableUser(user_id=portal.id)).json()["status"] == "applied"
    assert authenticate(db, portal.username, PASSWORD, channel=Channel.PORTAL).id == portal.id
    db.commit()
    already = run(server, agent, EnableUser(user_id=portal.id)).json()
    assert already["reason"] == "this account is already enabled and not locked"


def test_disabling_staff_ends_their_remembered_sign_ins_for_good(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    admin = token_of(server, make_staff(UserRole.SOCIETY_ADMIN))
    agent = make_staff()
    signed_in = requests.post(f"{server.api}/auth/login", timeout=10,
                              json={"username": agent.username, "password": agent.password, "remember": True})
    assert signed_in.status_code == 200, signed_in.text
    remembered = {"remember_token": signed_in.json()["remember_token"]}
    assert requests.post(f"{server.api}/auth/resume", json=remembered, timeout=10).status_code == 200

    assert run(server, admin, DisableUser(user_id=agent.id)).json()["status"] == "applied"
    assert run(server, admin, EnableUser(user_id=agent.id)).json()["status"] == "applied"
    # Enabled again, the agent signs in with their password; the workstation that was
    # remembered before the Disable is not signed in by itself.
    resumed = requests.post(f"{server.api}/auth/resume", json=remembered, timeout=10)
    assert resumed.status_code == 401, resumed.text
    assert login(server, agent.username, agent.password).status_code == 200
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.disable",
                                                AuditEvent.entity_id == str(agent.id))).one()
    assert audit.details["sessions_ended"] == 3  # the two staff tokens and the remembered sign-in


def test_unlock_and_enable_clear_a_throttle_and_are_audited(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    admin = make_staff(UserRole.SOCIETY_ADMIN)
    admin_token = token_of(server, admin)
    for command_class in (UnlockUser, EnableUser):
        locked = make_staff()
        for _ in range(MAX_FAILED_LOGINS):
            login(server, locked.username, "wrong")
        assert login(server, locked.username, locked.password).status_code == 429

        result = run(server, admin_token, command_class(user_id=locked.id)).json()
        assert result["status"] == "applied", result
        assert login(server, locked.username, locked.password).status_code == 200
        assert db.get(SignInThrottle, locked.username) is None
        audit = db.scalars(select(AuditEvent).where(AuditEvent.action == command_class.action,
                                                    AuditEvent.entity_id == str(locked.id))).one()
        assert audit.actor_user_id == admin.id and audit.details["failed_sign_ins"] == MAX_FAILED_LOGINS
        assert audit.details["locked_until"] is not None

    nothing = run(server, admin_token, UnlockUser(user_id=admin.id)).json()
    assert (nothing["status"], nothing["reason"]) == ("rejected", "this account has no failed sign-ins to clear")


def test_a_society_admin_changes_a_staff_members_tier(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    admin = token_of(server, make_staff(UserRole.SOCIETY_ADMIN))
    agent = make_staff()
    assert run(server, admin, ChangeStaffRole(user_id=agent.id, role=UserRole.SOCIETY_ADMIN)).json()["status"] \
        == "applied"
    body = requests.get(f"{server.api}/auth/me", headers={"Authorization": f"Bearer {token_of(server, agent)}"},
                        timeout=10).json()
    assert body["role"] == "society_admin"
    same = run(server, admin, ChangeStaffRole(user_id=agent.id, role=UserRole.SOCIETY_ADMIN)).json()
    assert same["reason"] == "Test Staff is already a Society Admin"

    member = make_member(db, "Not", unique("Staff"))
    portal = make_portal_user(db, member)
    promoted = run(server, admin, ChangeStaffRole(user_id=portal.id, role=UserRole.SOCIETY_STAFF)).json()
    assert promoted["status"] == "rejected" and "not staff" in promoted["reason"]


def test_bad_input_and_unknown_users(server: LiveServer, auth: dict[str, str]) -> None:
    wrong_role = requests.post(
        f"{server.api}/commands",
        json={"command": {"kind": "change_staff_role", "user_id": 1, "role": "full"}},
        headers=auth, timeout=10,
    )
    assert wrong_role.status_code == 422
    assert "must be society_admin or society_staff" in wrong_role.json()["detail"]
    missing = requests.post(f"{server.api}/commands", json={"command": {"kind": "revoke_user"}}, headers=auth,
                            timeout=10)
    assert missing.status_code == 422 and "user_id" in missing.json()["detail"]
    token = auth["Authorization"].removeprefix("Bearer ")
    nobody = run(server, token, RevokeUser(user_id=987654321)).json()
    assert (nobody["status"], nobody["reason"]) == ("rejected", "no user with id 987654321")


def test_no_one_revokes_or_disables_themselves(server: LiveServer, make_staff: Callable[..., Staff]) -> None:
    admin = make_staff(UserRole.SOCIETY_ADMIN)
    token = token_of(server, admin)
    for command in (RevokeUser(user_id=admin.id), DisableUser(user_id=admin.id)):
        body = run(server, token, command).json()
        assert body["status"] == "rejected" and "your own account" in body["reason"]
    assert me(server, token) == 200


@pytest.mark.parametrize("kind", [RevokeUser, DisableUser, EnableUser, UnlockUser, ChangeStaffRole])
def test_every_user_command_needs_a_staff_token(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session, kind: type[BaseCommand]
) -> None:
    target = make_staff()
    extra = {"role": UserRole.SOCIETY_ADMIN} if kind is ChangeStaffRole else {}
    command = kind(user_id=target.id, **extra)
    assert run(server, None, command).status_code == 401
    assert run(server, "forged-token", command).status_code == 401
    staff_answer = run(server, token_of(server, make_staff()), command)
    assert staff_answer.status_code == 403  # the target is staff: a Society Admin's call
    admin_answer = run(server, token_of(server, make_staff(UserRole.SOCIETY_ADMIN)), command)
    assert admin_answer.status_code == 200 and admin_answer.json()["status"] in ("applied", "rejected")


# --- the last Society Admin: a database of its own ----------------------------------------


@pytest.fixture
def lone_server(databases: DatabaseFactory, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        LiveServer]:
    srv = start_server(databases.create(backend), tmp_path_factory.mktemp(f"lone-{backend}"))
    yield srv
    srv.stop()


def _admin(session: Session, role: UserRole = UserRole.SOCIETY_ADMIN) -> Staff:
    user = create_staff(session, unique("admin."), PASSWORD, role=role, display_name="Only Admin", actor="test")
    session.commit()
    return Staff(user.id, user.username, PASSWORD)


def test_the_last_active_admin_is_kept_even_under_concurrency(lone_server: LiveServer) -> None:
    with Session(lone_server.engine(), expire_on_commit=False) as db:
        first, second = _admin(db), _admin(db)
        first_token, second_token = token_of(lone_server, first), token_of(lone_server, second)

        # Alone: neither demoted, nor disabled, nor revoked (by someone else).
        demote_second = ChangeStaffRole(user_id=second.id, role=UserRole.SOCIETY_STAFF)
        assert run(lone_server, first_token, demote_second).json()["status"] == "applied"
        second_token = token_of(lone_server, second)
        promote_back = ChangeStaffRole(user_id=second.id, role=UserRole.SOCIETY_ADMIN)
        assert run(lone_server, second_token, promote_back).status_code == 403  # no longer an admin
        for command in (ChangeStaffRole(user_id=first.id, role=UserRole.SOCIETY_STAFF),):
            assert run(lone_server, first_token, command).json()["reason"] == LAST_ADMIN

        # Two admins demote each other at the same moment: exactly one succeeds.
        for round_ in range(3):
            assert run(lone_server, first_token, ChangeStaffRole(user_id=second.id, role=UserRole.SOCIETY_ADMIN)
                       ).json()["status"] == "applied", round_
            second_token = token_of(lone_server, second)
            start = threading.Barrier(2)
            results: dict[str, dict[str, object]] = {}

            def demote(name: str, token: str, target: int) -> None:
                start.wait(timeout=30)
                command = ChangeStaffRole(user_id=target, role=UserRole.SOCIETY_STAFF)
                response = run(lone_server, token, command)
                results[name] = response.json() if response.status_code == 200 else {"status": response.status_code}

            threads = [threading.Thread(target=demote, args=("first", first_token, second.id)),
                       threading.Thread(target=demote, args=("second", second_token, first.id))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            statuses = sorted(str(r["status"]) for r in results.values())
            assert statuses in (["applied", "rejected"], ["403", "applied"]), results
            db.expire_all()
            admins = db.scalars(select(User.id).where(User.role == UserRole.SOCIETY_ADMIN,
                                                      User.state == UserState.ACTIVE)).all()
            assert len(admins) == 1, results
            if admins == [second.id]:  # the second won this round: swap back for the next
                first, second = second, first
                first_token, second_token = second_token, first_token


def test_disabling_a_portal_user_ends_their_portal_sessions_for_good(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    """Disable, then Enable: the browser that was signed in before must sign in again
    (the old portal cookie does not come back to life with the account)."""
    member = make_member(db, "Portal", "Sessions", email=f"{unique('ps')}@example.org")
    user = make_portal_user(db, member, email=f"{unique('psu')}@example.org")
    browser = Browser(server.url)
    assert browser.sign_in(user.username, PASSWORD).url.endswith("/portal/account")
    token = token_of(server, make_staff())

    assert run(server, token, DisableUser(user_id=user.id)).json()["status"] == "applied"
    assert run(server, token, EnableUser(user_id=user.id)).json()["status"] == "applied"

    assert browser.get("/portal/account").url.endswith("/portal/sign-in")
    assert browser.sign_in(user.username, PASSWORD).url.endswith("/portal/account")
