"""Offline sign-in follows the server: the verifier goes when the server refuses the
account (at sign-in or for a token), lapses after OFFLINE_SIGN_IN_DAYS without an
online sign-in, and wrong passwords slow the next attempts, across restarts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from desktop_care.models import User, UserState
from desktop_care.schemas import StaffPublic
from desktop_care.sync import OfflineCredentials, Syncer
from desktop_care.sync.api_client import ApiClient, Forbidden
from desktop_care.sync.offline_auth import (
    FREE_ATTEMPTS,
    MAX_OFFLINE_FAILURES,
    OFFLINE_SIGN_IN_DAYS,
    OfflineCheck,
)
from desktop_care.sync.syncer import SessionExpired
from desktop_care.ui.signin import sign_in
from tests.support.servers import start_server
from tests.sync.workstations import Events
from tests.ui.arrange import server_session, staff_account

URL = "http://care.example.org:8000"
ADA = StaffPublic(id=7, username="ada", display_name="Ada L", email="ada@example.org", role="society_admin")


@pytest.fixture
def credentials(tmp_path):
    store = OfflineCredentials(tmp_path / "credentials.sqlite3")
    yield store
    store.close()


def test_the_offline_sign_in_lapses_after_the_documented_time(credentials):
    credentials.remember(URL, "ada", "correct horse", ADA)
    signed_in_online = dt.datetime.now(dt.UTC)
    almost = signed_in_online + dt.timedelta(days=OFFLINE_SIGN_IN_DAYS) - dt.timedelta(minutes=1)
    assert credentials.check(URL, "ada", "correct horse", now=almost).staff == ADA
    later = signed_in_online + dt.timedelta(days=OFFLINE_SIGN_IN_DAYS, minutes=1)
    lapsed = credentials.check(URL, "ada", "correct horse", now=later)
    assert (lapsed.staff, lapsed.reason) == (None, OfflineCheck.EXPIRED)
    # And it stays lapsed (the verifier is gone), until the next online sign-in.
    assert credentials.check(URL, "ada", "correct horse", now=almost).reason == OfflineCheck.EXPIRED
    credentials.remember(URL, "ada", "correct horse", ADA)
    assert credentials.check(URL, "ada", "correct horse").staff == ADA


def test_wrong_passwords_slow_the_next_attempts_even_after_a_restart(credentials, tmp_path):
    credentials.remember(URL, "ada", "correct horse", ADA)
    now = dt.datetime.now(dt.UTC)
    for _ in range(FREE_ATTEMPTS):
        assert credentials.check(URL, "ada", "wrong", now=now).reason == OfflineCheck.WRONG_PASSWORD
    # The next failure makes the one after it wait; the right password too.
    assert credentials.check(URL, "ada", "wrong", now=now).reason == OfflineCheck.WRONG_PASSWORD
    throttled = credentials.check(URL, "ada", "correct horse", now=now)
    assert throttled.reason == OfflineCheck.THROTTLED and throttled.staff is None
    first_wait = throttled.retry_in
    assert first_wait is not None and first_wait > 0

    # A restart of the app does not reset the count.
    credentials.close()
    reopened = OfflineCredentials(tmp_path / "credentials.sqlite3")
    try:
        assert reopened.check(URL, "ada", "correct horse", now=now).reason == OfflineCheck.THROTTLED
        # Each further failure waits longer.
        after = now + dt.timedelta(seconds=first_wait + 1)
        assert reopened.check(URL, "ada", "wrong", now=after).reason == OfflineCheck.WRONG_PASSWORD
        second = reopened.check(URL, "ada", "correct horse", now=after)
        assert second.reason == OfflineCheck.THROTTLED and second.retry_in is not None and second.retry_in > first_wait
        # Once the wait is over, the right password works and clears the count.
        later = after + dt.timedelta(seconds=second.retry_in + 1)
        assert reopened.check(URL, "ada", "correct horse", now=later).staff == ADA
        for _ in range(FREE_ATTEMPTS):
            assert reopened.check(URL, "ada", "wrong", now=later).reason == OfflineCheck.WRONG_PASSWORD
    finally:
        reopened.close()


def test_too_many_wrong_passwords_drop_the_verifier(credentials):
    credentials.remember(URL, "ada", "correct horse", ADA)
    when = dt.datetime.now(dt.UTC)
    for _ in range(MAX_OFFLINE_FAILURES):
        when += dt.timedelta(hours=1)  # past any wait
        credentials.check(URL, "ada", "wrong", now=when)
    gone = credentials.check(URL, "ada", "correct horse", now=when + dt.timedelta(hours=1))
    assert (gone.staff, gone.reason) == (None, OfflineCheck.REFUSED)


@pytest.mark.parametrize("state", [UserState.DISABLED, UserState.REVOKED])
def test_an_account_the_server_refuses_loses_its_offline_sign_in(databases, tmp_path, state):
    (tmp_path / "srv").mkdir()
    server = start_server(databases.create("sqlite"), tmp_path / "srv")
    account = staff_account(server)
    try:
        response, store = sign_in(ApiClient(server.url), account.username, account.password)
        assert store is not None
        store.close()
        credentials = OfflineCredentials()
        assert credentials.check(server.url, account.username, account.password).staff is not None
        with server_session(server) as session:
            values: dict[str, object] = {"state": state}
            session.execute(update(User).where(User.username == account.username).values(**values))
            session.commit()
        with pytest.raises(Forbidden):
            sign_in(ApiClient(server.url), account.username, account.password)
    finally:
        server.stop()
    # The server is out of reach now: the right password no longer signs in offline.
    refused = credentials.check(server.url, account.username, account.password)
    assert (refused.staff, refused.reason) == (None, OfflineCheck.REFUSED)
    assert refused.message and "server" in refused.message
    offline, store = sign_in(ApiClient(server.url), account.username, account.password)
    assert store is None and getattr(offline, "staff", "") is None
    credentials.close()


def test_a_token_the_server_refuses_drops_the_offline_sign_in(databases, tmp_path):
    (tmp_path / "srv").mkdir()
    server = start_server(databases.create("sqlite"), tmp_path / "srv")
    account = staff_account(server)
    try:
        client = ApiClient(server.url)
        response, store = sign_in(client, account.username, account.password)
        assert store is not None
        events = Events()
        syncer = Syncer(store, client, on_event=events, autostart=False, drop_offline_sign_in=True)
        assert syncer.sync_once()
        with server_session(server) as session:
            session.execute(update(User).where(User.username == account.username).values(state=UserState.DISABLED))
            session.commit()
        assert not syncer.sync_once()
        assert events.of(SessionExpired) and "disabled" in (syncer.last_error or "")
        credentials = OfflineCredentials()
        assert credentials.check(server.url, account.username, account.password).reason == OfflineCheck.REFUSED
        credentials.close()
        store.close()
    finally:
        server.stop()


def test_a_store_made_before_throttling_is_upgraded_in_place(tmp_path):
    """An offline_credential table without the new columns gains them, verifier kept."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE offline_credential (server_url VARCHAR(300) NOT NULL, username VARCHAR(120) "
                     "NOT NULL, verifier TEXT NOT NULL, staff JSON NOT NULL, updated_at DATETIME NOT NULL, "
                     "PRIMARY KEY (server_url, username))")
    credentials = OfflineCredentials(path)
    try:
        credentials.remember(URL, "ada", "correct horse", ADA)
        assert credentials.check(URL, "ada", "correct horse").staff == ADA
    finally:
        credentials.close()
