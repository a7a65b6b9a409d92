"""The sign-in dialog against the real server: success, and errors in plain words."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from desktop_care import config
from desktop_care.models import SignInThrottle, utcnow
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import Qt
from desktop_care.ui.signin import SignInDialog
from tests.support.servers import LiveServer, free_port, start_server
from tests.support.tls import TlsFiles, other_ca
from tests.ui.arrange import StaffAccount, server_cli, staff_account, unique


@pytest.fixture
def dialog(qtbot, sqlite_server: LiveServer) -> SignInDialog:
    dialog = SignInDialog(sqlite_server.url)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(qtbot, dialog: SignInDialog, username: str, password: str) -> None:
    qtbot.keyClicks(dialog.username.edit, username)
    qtbot.keyClicks(dialog.password.edit, password)


def test_signing_in_hands_over_the_session(qtbot, dialog: SignInDialog, staff: StaffAccount) -> None:
    fill(qtbot, dialog, staff.username, staff.password)
    with qtbot.waitSignal(dialog.signed_in) as signed_in:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        # while the request is out, the dialog cannot be sent twice
        assert dialog.busy
        assert not dialog.sign_in_button.isEnabled()
        assert dialog.sign_in_button.text() == "Signing in…"
    session = signed_in.args[0]
    assert session.staff.username == staff.username
    assert session.client.token
    assert not dialog.isVisible()


def test_wrong_password_is_told_under_the_password(qtbot, dialog: SignInDialog, staff: StaffAccount) -> None:
    fill(qtbot, dialog, staff.username, "not-my-password")
    qtbot.keyClick(dialog.password.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.password.error.isVisible())
    assert dialog.password.error.text() == "Wrong username or password."
    assert dialog.password.edit.text() == ""
    assert dialog.sign_in_button.isEnabled()
    assert dialog.isVisible()
    assert not dialog.server.error.isVisible()


def test_unreachable_server_is_told_under_the_server(qtbot) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    dialog = SignInDialog(url)
    qtbot.addWidget(dialog)
    dialog.show()
    fill(qtbot, dialog, "someone", "secret")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.server.error.isVisible())
    assert dialog.server.error.text().startswith(f"The server at {url} can't be reached.")
    assert dialog.sign_in_button.isEnabled()


def test_a_throttled_account_is_told_when_to_try_again(
    qtbot, sqlite_server: LiveServer, dialog: SignInDialog
) -> None:
    username, password = unique("locked").lower(), "a-long-password"
    server_cli(sqlite_server, "create-admin", "--username", username, "--password-stdin", stdin=f"{password}\n")
    with Session(sqlite_server.engine()) as session:
        session.add(SignInThrottle(username=username, failures=9, last_failure_at=utcnow(),
                                   blocked_until=utcnow() + dt.timedelta(minutes=4)))
        session.commit()
    fill(qtbot, dialog, username, password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.form_error.isVisible())
    assert dialog.form_error.text() == "Too many failed sign-ins; try again in 4 minutes."
    assert dialog.sign_in_button.isEnabled()


def test_missing_fields_are_pointed_at_before_asking_the_server(qtbot, dialog: SignInDialog) -> None:
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.username.error.text() == "Enter your username."
    assert not dialog.busy
    qtbot.keyClicks(dialog.username.edit, "someone")
    assert not dialog.username.error.isVisible()  # typing clears the message
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.password.error.text() == "Enter your password."


def test_an_unusable_server_address_is_pointed_at(qtbot, dialog: SignInDialog) -> None:
    dialog.server.edit.setText("ftp://files.example.org")
    fill(qtbot, dialog, "someone", "secret")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.server.error.text() == "The server address must start with http:// or https://."
    assert not dialog.busy


def sign_in_with(qtbot, url: str, username: str, password: str) -> SignInDialog:
    dialog = SignInDialog(url)
    qtbot.addWidget(dialog)
    dialog.show()
    fill(qtbot, dialog, username, password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    return dialog


def test_offline_sign_in_after_an_online_one(qtbot, tmp_path, databases) -> None:
    server = start_server(databases.create("sqlite"), tmp_path)
    try:
        account = staff_account(server)
        online = sign_in_with(qtbot, server.url, account.username, account.password)
        with qtbot.waitSignal(online.signed_in, timeout=15_000) as signed:
            pass
        assert not signed.args[0].offline
    finally:
        server.stop()

    wrong = sign_in_with(qtbot, server.url, account.username, account.password + "x")
    qtbot.waitUntil(lambda: wrong.password.error.isVisible(), timeout=15_000)
    assert wrong.password.error.text() == (
        "Wrong password (checked offline, against your last sign-in on this computer).")
    assert wrong.server.error.text().startswith(f"The server at {server.url} can't be reached")
    assert wrong.isVisible() and not wrong.busy

    stranger = sign_in_with(qtbot, server.url, "someone-else", account.password)
    qtbot.waitUntil(lambda: stranger.username.error.isVisible(), timeout=15_000)
    assert stranger.username.error.text().startswith("This user has never signed in to this server on this computer")
    assert not stranger.password.error.isVisible() and stranger.isVisible()

    right = sign_in_with(qtbot, server.url, account.username, account.password)
    with qtbot.waitSignal(right.signed_in, timeout=15_000) as signed:
        pass
    session = signed.args[0]
    assert session.offline and session.staff.username == account.username
    assert session.staff_label.endswith("(signed in offline)")

    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.connection_state.startswith("● Offline (signed in offline)"), timeout=15_000)
    assert not window.online
    window.workspace.stop(wait=5.0)


def test_the_dialog_says_why_an_offline_sign_in_is_refused(qtbot, tmp_path, databases) -> None:
    """Throttled, refused by the server, lapsed: each told in plain words."""
    import datetime as dt

    from desktop_care.sync.local_models import OfflineCredential
    from desktop_care.sync.offline_auth import FREE_ATTEMPTS, OFFLINE_SIGN_IN_DAYS, OfflineCredentials

    server = start_server(databases.create("sqlite"), tmp_path)
    try:
        account = staff_account(server)
        online = sign_in_with(qtbot, server.url, account.username, account.password)
        with qtbot.waitSignal(online.signed_in, timeout=15_000):
            pass
    finally:
        server.stop()
    shots = tmp_path / "shots"
    shots.mkdir()

    for _ in range(FREE_ATTEMPTS + 1):
        wrong = sign_in_with(qtbot, server.url, account.username, "not the password")
        qtbot.waitUntil(lambda d=wrong: d.password.error.isVisible(), timeout=15_000)
    assert wrong.password.error.text().endswith("Wait 30 seconds before the next try.")
    throttled = sign_in_with(qtbot, server.url, account.username, account.password)
    qtbot.waitUntil(lambda: throttled.password.error.isVisible(), timeout=15_000)
    assert throttled.password.error.text().startswith("Too many wrong passwords. Wait ")
    assert throttled.isVisible() and not throttled.busy
    throttled.grab().save(str(shots / "throttled.png"))

    credentials = OfflineCredentials()
    table = OfflineCredential.__table__
    try:
        with credentials.engine.begin() as conn:  # the wait is over, and the last online sign-in long ago
            conn.execute(table.update().values(
                blocked_until=None, failed_attempts=0,
                updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=OFFLINE_SIGN_IN_DAYS + 1)))
        lapsed = sign_in_with(qtbot, server.url, account.username, account.password)
        qtbot.waitUntil(lambda: lapsed.form_error.isVisible(), timeout=15_000)
        assert lapsed.form_error.text().startswith(f"Signing in without the server works for {OFFLINE_SIGN_IN_DAYS} days")
        lapsed.grab().save(str(shots / "expired.png"))

        credentials.remember(server.url, account.username, account.password, online_staff(online))
        credentials.refuse(server.url, account.username, "this account is disabled; a Society Admin can enable it")
        refused = sign_in_with(qtbot, server.url, account.username, account.password)
        qtbot.waitUntil(lambda: refused.form_error.isVisible(), timeout=15_000)
        assert refused.form_error.text() == (
            "The server refused this account when it was last reached (this account is disabled; a Society Admin "
            "can enable it), so it cannot sign in on this computer without the server.")
        refused.grab().save(str(shots / "refused.png"))
    finally:
        credentials.close()


def online_staff(dialog: SignInDialog):
    from desktop_care.schemas import StaffPublic

    return StaffPublic(id=1, username=dialog.username.edit.text(), display_name="", email="", role="society_admin")


def test_a_server_certificate_this_computer_does_not_trust_is_told_under_the_server(
    qtbot, tls_server: LiveServer, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch, tmp_path, screenshot
) -> None:
    account = staff_account(tls_server)
    monkeypatch.setattr(config, "_transport", config.Transport(ca_file=other_ca(tmp_path)))
    dialog = SignInDialog(tls_server.url)
    qtbot.addWidget(dialog)
    dialog.show()
    fill(qtbot, dialog, account.username, account.password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.server.error.isVisible())
    assert dialog.server.error.text().startswith("The server's certificate is not trusted: no certificate "
                                                 "authority this computer trusts has signed it.")
    assert "--ca-file" in dialog.server.error.text()
    assert not dialog.form_error.isVisible() and dialog.sign_in_button.isEnabled()
    screenshot(dialog, "signin-certificate-not-trusted")

    # With the organisation's CA (--ca-file), the same dialog signs in.
    monkeypatch.setattr(config, "_transport", config.Transport(ca_file=tls_files.ca))
    with qtbot.waitSignal(dialog.signed_in, timeout=20_000) as signed_in:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert signed_in.args[0].staff.username == account.username


def test_plain_http_to_another_computer_is_refused_under_the_server(qtbot, screenshot) -> None:
    dialog = SignInDialog("care.example.org:8000")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.server.edit.setText("http://care.example.org:8000")
    fill(qtbot, dialog, "ada", "a long passphrase")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.server.error.isVisible()
    assert dialog.server.error.text().startswith(
        "Plain http:// would send passwords and member data unencrypted to care.example.org. Use https://")
    assert not dialog.busy  # nothing was sent
    screenshot(dialog, "signin-insecure-http")
