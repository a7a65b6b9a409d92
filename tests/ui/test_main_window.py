"""The main window: status bar, shortcuts, opening members, and losing the server."""

from __future__ import annotations

from desktop_care.ui.main_window import ONLINE, MainWindow
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.qt import QApplication, Qt
from desktop_care.ui.session import StaffSession
from tests.support.servers import start_server
from tests.ui.arrange import signed_in_client, unique


def test_status_bar_names_staff_server_and_connection(qtbot, session: StaffSession) -> None:
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    name = session.staff.display_name or session.staff.username
    assert window.staff_label.text() == f"{name} · Society Admin"
    assert window.server_label.text() == session.server_url
    qtbot.waitUntil(lambda: window.connection_state == ONLINE)


def test_ctrl_f_finds_and_enter_opens_a_member(qtbot, session: StaffSession, make_members) -> None:
    surname = unique("Keyes")
    ids = make_members(surname, 2)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # shortcuts work in the active window
    assert QApplication.focusWidget() is window.search_view.search_box  # ready to type
    window.search_view.table.setFocus()

    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.search_view.search_box
    qtbot.keyClicks(window.search_view.search_box, surname)
    qtbot.waitUntil(lambda: window.search_view.model.rowCount() == 2)
    qtbot.keyClick(window.search_view.search_box, Qt.Key.Key_Down)
    qtbot.keyClick(window.search_view.table, Qt.Key.Key_Return)

    dialog = window.findChild(MemberDetailsDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.member is not None)
    assert dialog.member.id == ids[0]
    assert window.open_member(ids[0]) is dialog  # opening it again brings the same window forward


def test_losing_the_server_shows_offline(qtbot, tmp_path, databases) -> None:
    server = start_server(databases.create("sqlite"), tmp_path)
    try:
        client = signed_in_client(server)
        window = MainWindow(StaffSession(client, client.me()))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.connection_state == ONLINE)
    finally:
        server.stop()
    window.sync_now_action.trigger()  # F5: the syncer finds out at once
    qtbot.waitUntil(lambda: window.connection_state.startswith("● Offline · retrying in "), timeout=15_000)
    assert not window.online
    assert window.connection_label.toolTip().startswith(f"The server at {server.url} can't be reached")


def test_sign_out_is_asked_for_from_the_file_menu(qtbot, session: StaffSession) -> None:
    window = MainWindow(session)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sign_out_requested):
        window.sign_out_action.trigger()
    assert [a.text() for a in window.menuBar().actions()] == ["&File", "Customer &Care", "&Members", "&Sync",
                                                           "&Window", "&Help"]


