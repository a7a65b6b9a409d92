""""Remember me" on the sign-in dialog, with the real server and an in-memory keyring
backend set through ``keyring.set_keyring`` (keyring's own extension point): the next
start signs in without a password; sign out, or a remembered sign-in revoked on the
server, deletes the secret and the dialog says so; no usable keyring disables the box."""

from __future__ import annotations

import json
from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from sqlalchemy import select, update

from desktop_care.models import AuditEvent, utcnow
from desktop_care.models.tokens import RememberedSignIn, digest
from desktop_care.settings import SECRET_SERVICE
from desktop_care.sync import remembered
from desktop_care.ui.app import DesktopCare, Options
from desktop_care.ui.qt import Qt
from tests.support.servers import LiveServer
from tests.ui.arrange import StaffAccount, server_session


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps its secrets in this process."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


def start(qtbot, qapp, server: LiveServer) -> DesktopCare:  # type: ignore[no-untyped-def]
    app = DesktopCare(qapp, Options(server=server.url))
    app.start()
    dialog = app.sign_in_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.keyring_checked or app.main_window is not None)
    return app


def sign_in_remembering(qtbot, app: DesktopCare, staff: StaffAccount) -> None:  # type: ignore[no-untyped-def]
    dialog = app.sign_in_dialog
    assert dialog is not None and dialog.remember_box.isEnabled()
    qtbot.keyClicks(dialog.username.edit, staff.username)
    qtbot.keyClicks(dialog.password.edit, staff.password)
    qtbot.mouseClick(dialog.remember_box, Qt.MouseButton.LeftButton)
    assert dialog.remember_box.isChecked()
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.main_window is not None)


def saved_token(backend: MemoryKeyring, server: LiveServer) -> str:
    ((service, entry), value), = backend.secrets.items()
    assert service == SECRET_SERVICE and server.url in entry
    return str(json.loads(value)["token"])


def test_remember_me_signs_the_next_start_in_and_sign_out_forgets_it(
        qtbot, qapp, sqlite_server: LiveServer, staff: StaffAccount, memory_keyring: MemoryKeyring,
        screenshot) -> None:
    first = start(qtbot, qapp, sqlite_server)
    assert first.sign_in_dialog is not None
    screenshot(first.sign_in_dialog, "signin-remember-me")
    sign_in_remembering(qtbot, first, staff)
    token = saved_token(memory_keyring, sqlite_server)
    with server_session(sqlite_server) as db:  # hashed at rest, with an expiry
        row = db.scalar(select(RememberedSignIn).where(RememberedSignIn.token_hash == digest(token)))
        assert row is not None and row.usable() and (row.expires_at - utcnow()).days >= 29
        assert db.scalar(select(RememberedSignIn).where(RememberedSignIn.token_hash == token)) is None
    assert first.main_window is not None
    first.main_window.close()
    first.shutdown()

    # The next start: signed in with no password asked.
    second = start(qtbot, qapp, sqlite_server)
    qtbot.waitUntil(lambda: second.main_window is not None)
    assert second.session is not None and second.session.staff.username == staff.username
    assert second.session.remembered and second.sign_in_dialog is None
    with server_session(sqlite_server) as db:
        resumed = db.scalars(select(AuditEvent).where(AuditEvent.actor_name == staff.username,
                                                      AuditEvent.action == "staff.login")).all()
        assert any((event.details or {}).get("with") == "remembered sign-in" for event in resumed)

    # Sign out: the secret leaves the keyring and the server no longer takes it.
    assert second.main_window is not None
    second.main_window.sign_out_action.trigger()
    dialog = second.sign_in_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.form_error.text() == "You are signed out; this computer no longer keeps your sign-in."
    qtbot.waitUntil(lambda: not memory_keyring.secrets)
    with server_session(sqlite_server) as db:
        row = db.scalar(select(RememberedSignIn).where(RememberedSignIn.token_hash == digest(token)))
        assert row is not None and row.revoked_at is not None
    dialog.close()


def test_a_remembered_sign_in_revoked_on_the_server_is_refused_and_deleted(
        qtbot, qapp, sqlite_server: LiveServer, staff: StaffAccount, memory_keyring: MemoryKeyring,
        screenshot) -> None:
    first = start(qtbot, qapp, sqlite_server)
    sign_in_remembering(qtbot, first, staff)
    token = saved_token(memory_keyring, sqlite_server)
    assert first.main_window is not None
    first.main_window.close()
    first.shutdown()
    with server_session(sqlite_server) as db:
        db.execute(update(RememberedSignIn).where(RememberedSignIn.token_hash == digest(token))
                   .values(revoked_at=utcnow()))
        db.commit()

    second = start(qtbot, qapp, sqlite_server)
    dialog = second.sign_in_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.form_error.isVisible() and not dialog.busy)
    assert dialog.isVisible() and second.main_window is None
    assert dialog.form_error.text() == ("Your saved sign-in has expired or was revoked, so this computer no longer "
                                        "keeps it. Sign in with your password.")
    assert memory_keyring.secrets == {}
    screenshot(dialog, "signin-remembered-revoked")
    dialog.close()


def test_without_a_usable_keyring_the_box_is_disabled_and_says_why(qtbot, qapp, sqlite_server: LiveServer) -> None:
    app = start(qtbot, qapp, sqlite_server)  # the suite's keyring: keyring.backends.null
    dialog = app.sign_in_dialog
    assert dialog is not None
    assert not dialog.remember_box.isEnabled()
    assert dialog.remember_box.toolTip() == remembered.NO_KEYRING
    dialog.close()
