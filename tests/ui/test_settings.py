"""File → Settings: what is saved, what is refused and why, the look applied at once,
the username remembered at sign-in, and a broken settings file never stopping a start."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import trustme

from desktop_care import config
from desktop_care import settings as store
from desktop_care.settings import Settings, Theme
from desktop_care.ui.app import DesktopCare, Options
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import QApplication, QLabel, QPalette, Qt
from desktop_care.ui.resources import apply_look, current_look
from desktop_care.ui.session import StaffSession
from desktop_care.ui.settings_dialog import SettingsDialog
from tests.support.servers import LiveServer
from tests.ui.arrange import StaffAccount, unique


@pytest.fixture(autouse=True)
def _light_again(qapp):
    """Each test starts, and leaves the app, in the standard look and transport."""
    transport = config.transport()
    yield
    apply_look(qapp, Theme.LIGHT, 100)
    config.set_transport(transport)


def window_colour() -> str:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return app.palette().color(QPalette.ColorRole.Window).name()


def test_settings_open_from_the_file_menu_and_save_what_was_chosen(qtbot, session: StaffSession,
                                                                   screenshot, make_members) -> None:
    surname = unique("Dusk")
    make_members(surname, 3)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    window.search_view.set_query(surname)
    qtbot.waitUntil(lambda: window.search_view.model.rowCount() == 3)
    file_menu = window.menuBar().actions()[0].menu()
    assert "Se&ttings…" in [a.text() for a in file_menu.actions()]
    assert window.settings_action.shortcut().toString() == "Ctrl+,"
    dialog = window.show_settings()
    qtbot.addWidget(dialog)
    screenshot(dialog, "settings")

    dialog.servers.edit.setPlainText("care.example.org\n\nhttps://backup.example.org:8443/\ncare.example.org")
    dialog.theme_buttons[Theme.DARK].setChecked(True)
    dialog.text_size.setCurrentIndex(dialog.text_size.findData(130))
    dialog.remember.setChecked(False)
    with qtbot.waitSignal(window.settings_saved) as saved:
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()

    chosen: Settings = saved.args[0]
    assert chosen.server_urls == ("https://care.example.org", "https://backup.example.org:8443")
    on_disk = json.loads(store.settings_path().read_text(encoding="utf-8"))
    assert on_disk["server_urls"] == ["https://care.example.org", "https://backup.example.org:8443"]
    assert (on_disk["theme"], on_disk["text_size"], on_disk["remember_username"]) == ("dark", 130, False)
    if os.name == "posix":
        assert stat.S_IMODE(store.settings_path().stat().st_mode) == 0o600
    # The look applies at once: dark colours, larger text.
    assert window_colour() == "#16191e"
    assert current_look() == (Theme.DARK, 130)
    assert "font-size: 13.0pt" in QApplication.instance().styleSheet()  # 10 pt at 130 %
    # Nothing is cut off at the new size: the first column and the status bar measure again.
    qtbot.waitUntil(lambda: window.search_view.table.columnWidth(0)
                    >= window.search_view.table.fontMetrics().horizontalAdvance("Member ID"))
    qtbot.waitUntil(lambda: all(label.width() >= label.sizeHint().width()
                                for label in (window.staff_label, window.server_label, window.connection_label)))
    screenshot(window, "main-window-dark")


@pytest.mark.parametrize(("typed", "message"), [
    ("care.example.org:port", "Line 1: The port in the server address is not a number."),
    ("https://ok.example.org\nftp://files.example.org", "Line 2: The server address must start with http:// or https://."),
    ("http://care.example.org", "Line 1: plain http:// to another computer sends passwords unencrypted. "
                                "Use https://, or allow plain http:// below."),
])
def test_a_server_address_that_cannot_work_is_refused_under_the_field(qtbot, typed: str, message: str) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.servers.edit.setPlainText(typed)
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert dialog.isVisible()
    assert dialog.servers.error.isVisible() and dialog.servers.error.text() == message
    assert not store.settings_path().exists()


def test_plain_http_is_accepted_once_allowed(qtbot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.servers.edit.setPlainText("http://care.lan:8000")
    dialog.insecure.setChecked(True)
    with qtbot.waitSignal(dialog.saved):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert store.load().server_urls == ("http://care.lan:8000",)
    assert config.transport().allow_insecure_http


def test_the_ca_file_must_hold_a_certificate(qtbot, tmp_path: Path) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    junk = tmp_path / "notes.pem"
    junk.write_text("not a certificate", encoding="utf-8")
    for typed, message in ((str(tmp_path / "missing.pem"), "There is no file at that path."),
                           (str(junk), "That file holds no certificate in PEM form (-----BEGIN CERTIFICATE-----).")):
        dialog.ca_file.edit.setText(typed)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        assert dialog.ca_file.error.text() == message
    good = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(good))
    dialog.ca_file.edit.setText(str(good))
    with qtbot.waitSignal(dialog.saved):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert store.load().ca_file == good.resolve()
    assert config.transport().ca_file == good.resolve()


@pytest.mark.parametrize("text_size", [100, 130])
def test_every_note_of_the_dialog_is_shown_whole(qtbot, qapp, text_size: int) -> None:
    apply_look(qapp, Theme.LIGHT, text_size)
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    notes = [label for label in dialog.findChildren(QLabel) if label.wordWrap() and label.text()]
    assert len(notes) == 2
    for note in notes:
        # The last line of a wrapped note is not cut off at the bottom.
        assert note.height() >= note.heightForWidth(note.width()), note.text()


def test_follow_the_system_takes_the_platforms_scheme(qapp) -> None:
    apply_look(qapp, Theme.SYSTEM, 100)
    dark = QApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    assert window_colour() == ("#16191e" if dark else "#f4f6f9")


def test_a_broken_settings_file_is_set_aside_and_the_defaults_used(expect_log) -> None:
    path = store.settings_path()
    path.write_text('{"theme": "purple"}', encoding="utf-8")
    with expect_log("desktop_care.settings", r"do not make sense \(theme must be one of system, light, dark\)"):
        assert store.load() == Settings()
    assert not path.exists()
    assert path.with_name("settings.json.bad").read_text(encoding="utf-8") == '{"theme": "purple"}'


def test_keys_a_newer_version_wrote_are_kept() -> None:
    path = store.settings_path()
    path.write_text(json.dumps({"theme": "dark", "tabs": ["M1"]}), encoding="utf-8")
    loaded = store.load()
    store.save(loaded.signed_in_as("agent.smith"))
    assert json.loads(path.read_text(encoding="utf-8"))["tabs"] == ["M1"]
    assert store.load().username == "agent.smith"


def test_the_app_starts_on_the_saved_server_with_the_remembered_username(
    qtbot, qapp, sqlite_server: LiveServer, staff: StaffAccount
) -> None:
    store.save(Settings(server_urls=(sqlite_server.url,)))
    app = DesktopCare(qapp, Options())
    app.start()
    dialog = app.sign_in_dialog
    assert dialog is not None and dialog.server.edit.text() == sqlite_server.url
    assert dialog.username.edit.text() == ""
    qtbot.keyClicks(dialog.username.edit, staff.username)
    qtbot.keyClicks(dialog.password.edit, staff.password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.main_window is not None)
    assert store.load().username == staff.username

    # The next start offers it again, and nothing else was touched.
    window = app.main_window
    assert window is not None
    window.close()
    second = DesktopCare(qapp, Options())
    second.start()
    assert second.sign_in_dialog is not None
    assert second.sign_in_dialog.username.edit.text() == staff.username
    second.sign_in_dialog.close()
