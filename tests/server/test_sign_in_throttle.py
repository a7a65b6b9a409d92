"""Failed sign-ins: counted exactly under parallel attempts, answered alike for right
and wrong passwords while throttled, and never a lock for good (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from desktop_care.models import MAX_FAILED_LOGINS, AuditEvent, UserRole
from tests.support.servers import LiveServer

from .conftest import Staff, login, unique


def _fail(server: LiveServer, username: str, times: int) -> list[int]:
    return [login(server, username, f"wrong-{i}").status_code for i in range(times)]


def _expire_block(db: Session, username: str) -> None:
    """Move the throttle's end into the past, as if its delay had passed."""
    db.execute(
        text("UPDATE sign_in_throttle SET blocked_until = :past WHERE username = :u"),
        {"past": dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
         if db.get_bind().dialect.name == "sqlite" else dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
         "u": username},
    )
    db.commit()


def test_a_throttled_account_answers_right_and_wrong_passwords_alike(
    server: LiveServer, make_staff: Callable[..., Staff]
) -> None:
    staff = make_staff()
    assert _fail(server, staff.username, MAX_FAILED_LOGINS) == [401] * MAX_FAILED_LOGINS

    right = login(server, staff.username, staff.password)
    wrong = login(server, staff.username, "still-not-it")
    for response in (right, wrong):
        assert response.status_code == 429, response.text
        assert response.json()["detail"].startswith("too many failed sign-ins; try again in ")
        assert 1 <= int(response.headers["Retry-After"]) <= 2
    assert right.json() == wrong.json()
    assert "access_token" not in right.text


def test_unknown_usernames_are_throttled_like_real_ones(server: LiveServer) -> None:
    """Otherwise the 429 would tell which usernames exist."""
    nobody = unique("nobody.")
    assert _fail(server, nobody, MAX_FAILED_LOGINS + 1) == [401] * MAX_FAILED_LOGINS + [429]


def test_parallel_wrong_sign_ins_are_each_counted(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    staff = make_staff()
    attempts = 8
    start = threading.Barrier(attempts)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        start.wait(timeout=30)
        status = login(server, staff.username, f"parallel-wrong-{i}").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Exactly MAX_FAILED_LOGINS password checks, then the throttle: no 500, no lost count.
    assert sorted(statuses) == [401] * MAX_FAILED_LOGINS + [429] * (attempts - MAX_FAILED_LOGINS)
    failures = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.login_failed", AuditEvent.actor_user_id == staff.id)
    ).all()
    assert sorted(f.details["reason"] for f in failures) == (
        ["throttled"] * (attempts - MAX_FAILED_LOGINS) + ["wrong password"] * MAX_FAILED_LOGINS
    )


def test_parallel_right_sign_ins_all_succeed(server: LiveServer, make_staff: Callable[..., Staff]) -> None:
    # Rounds of parallel sign-ins: a success deletes the throttle row while another
    # attempt is between inserting it and locking it (that attempt once failed with 500).
    staff = make_staff()
    for _ in range(5):
        start = threading.Barrier(4)
        statuses: list[int] = []

        def attempt(start: threading.Barrier = start, statuses: list[int] = statuses) -> None:
            start.wait(timeout=30)
            statuses.append(login(server, staff.username, staff.password).status_code)

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert statuses == [200] * 4


def test_the_wait_doubles_with_each_further_failure_and_is_never_a_lock_for_good(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    staff = make_staff(UserRole.SOCIETY_ADMIN)
    _fail(server, staff.username, MAX_FAILED_LOGINS)
    waits = []
    for _ in range(3):
        refused = login(server, staff.username, "wrong")
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        _expire_block(db, staff.username)
        assert login(server, staff.username, "wrong").status_code == 401  # counted, and waits longer
    final = login(server, staff.username, "wrong")
    waits.append(int(final.headers["Retry-After"]))
    assert waits == [2, 4, 8, 16]

    # Once the wait is over, the right password signs in and the count starts again.
    _expire_block(db, staff.username)
    assert login(server, staff.username, staff.password).status_code == 200
    assert login(server, staff.username, "wrong").status_code == 401
    count = db.execute(text("SELECT failures FROM sign_in_throttle WHERE username = :u"), {"u": staff.username})
    assert count.scalar_one() == 1


def test_the_wait_is_capped_at_fifteen_minutes(
    server: LiveServer, make_staff: Callable[..., Staff], db: Session
) -> None:
    staff = make_staff()
    _fail(server, staff.username, MAX_FAILED_LOGINS)
    db.execute(text("UPDATE sign_in_throttle SET failures = 40 WHERE username = :u"), {"u": staff.username})
    db.commit()
    _expire_block(db, staff.username)
    assert login(server, staff.username, "wrong").status_code == 401
    refused = login(server, staff.username, staff.password)
    assert refused.status_code == 429
    assert 899 <= int(refused.headers["Retry-After"]) <= 900
    assert refused.json()["detail"] == "too many failed sign-ins; try again in 15 minutes"
