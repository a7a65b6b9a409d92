"""Staff sign-in over HTTP against the real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from desktop_care.models import MAX_FAILED_LOGINS, AuditEvent, SignInThrottle, StaffToken, User, UserRole, UserState
from desktop_care.schemas import LoginResponse, StaffPublic
from desktop_care.server.security import token_digest
from tests.support.servers import LiveServer

from .conftest import Staff, login, make_member, make_portal_user


def test_health_needs_no_sign_in(server: LiveServer) -> None:
    response = requests.get(f"{server.api}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": "0.1.0",
        "database": server.backend.replace("postgres", "postgresql"),
    }


def test_sign_in_returns_a_token_that_identifies_the_staff_member(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    staff = make_staff(UserRole.SOCIETY_ADMIN)
    response = login(server, staff.username.upper(), staff.password)
    assert response.status_code == 200, response.text
    body = LoginResponse.model_validate(response.json())
    assert body.token_type == "bearer"
    assert body.user == StaffPublic(
        id=staff.id, username=staff.username, display_name="Test Staff", email="", role=UserRole.SOCIETY_ADMIN
    )
    lifetime = body.expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=11, minutes=55) < lifetime <= dt.timedelta(hours=12)

    me = requests.get(f"{server.api}/auth/me", headers={"Authorization": f"Bearer {body.access_token}"}, timeout=10)
    assert me.status_code == 200
    assert StaffPublic.model_validate(me.json()).username == staff.username

    # Only a digest of the token is stored; the sign-in is audited with its real actor.
    stored = db.scalars(select(StaffToken).where(StaffToken.user_id == staff.id)).one()
    assert stored.token_hash == token_digest(body.access_token) != body.access_token
    user = db.get(User, staff.id)
    assert user is not None and user.last_login_at is not None
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.actor_user_id == staff.id)).all()
    assert "staff.login" in actions


def test_wrong_password_and_unknown_user_get_the_same_answer(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    staff = make_staff()
    wrong_password = login(server, staff.username, "not the password")
    unknown_user = login(server, "nobody-by-this-name", "whatever1")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong username or password", "fields": {}}
    throttle = db.get(SignInThrottle, staff.username)
    assert throttle is not None and throttle.failures == 1
    failures = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.login_failed", AuditEvent.actor_user_id == staff.id)
    ).all()
    assert [f.details["reason"] for f in failures] == ["wrong password"]


def test_success_resets_the_failure_count(server: LiveServer, make_staff: Callable[..., Staff], db: Session) -> None:
    staff = make_staff()
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert login(server, staff.username, "wrong-password").status_code == 401
    assert login(server, staff.username, staff.password).status_code == 200
    assert login(server, staff.username, "wrong-password").status_code == 401
    throttle = db.get(SignInThrottle, staff.username)
    assert throttle is not None and (throttle.failures, throttle.blocked_until) == (1, None)


def test_portal_users_cannot_sign_in_to_the_staff_api(server: LiveServer, db: Session) -> None:
    member = make_member(db, "Portal", "Person")
    user = make_portal_user(db, member, UserRole.FULL)
    response = login(server, user.username, "correct horse battery")
    assert response.status_code == 403
    assert response.json()["detail"] == "not a staff account"


def test_disabled_staff_are_refused_with_the_reason(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    staff = make_staff()
    token = login(server, staff.username, staff.password).json()["access_token"]
    db.execute(update(User).where(User.id == staff.id).values(state=UserState.DISABLED))
    db.commit()

    assert "disabled" in login(server, staff.username, staff.password).json()["detail"]
    me = requests.get(f"{server.api}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 403
    assert "disabled" in me.json()["detail"]


def test_requests_without_a_valid_token_are_401(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    missing = requests.get(f"{server.api}/auth/me", timeout=10)
    assert (missing.status_code, missing.json()["detail"]) == (401, "sign in required")
    assert missing.headers["WWW-Authenticate"] == "Bearer"

    garbage = requests.get(f"{server.api}/auth/me", headers={"Authorization": "Bearer nonsense"}, timeout=10)
    assert garbage.status_code == 401

    staff = make_staff()
    token = login(server, staff.username, staff.password).json()["access_token"]
    db.execute(
        update(StaffToken)
        .where(StaffToken.token_hash == token_digest(token))
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db.commit()
    expired = requests.get(f"{server.api}/members", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert expired.status_code == 401
    assert expired.json()["detail"].startswith("session expired")


def test_logout_ends_the_session(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    assert requests.get(f"{server.api}/auth/me", headers=auth, timeout=10).status_code == 200
    response = requests.post(f"{server.api}/auth/logout", headers=auth, timeout=10)
    assert response.status_code == 204
    after = requests.get(f"{server.api}/auth/me", headers=auth, timeout=10)
    assert after.status_code == 401


def test_login_body_errors_name_the_field(server: LiveServer) -> None:
    empty = requests.post(f"{server.api}/auth/login", json={"username": "", "password": "x"}, timeout=10)
    assert empty.status_code == 422
    assert empty.json() == {"detail": "username: must not be empty", "fields": {"username": "must not be empty"}}

    missing = requests.post(f"{server.api}/auth/login", json={"username": "someone"}, timeout=10)
    assert missing.json()["fields"] == {"password": "is required"}

    not_json = requests.post(
        f"{server.api}/auth/login", data="{", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert not_json.status_code == 422
    assert not_json.json()["fields"] == {"body": "is not valid JSON"}
