"""Members and tickets open in tabs of the main window, against the real server: two
at once, Ctrl+Tab / Ctrl+Shift+Tab, Ctrl+W and Ctrl+Shift+T, the question before closing
a tab with unsaved edits (Cancel, Save, Discard), and the tabs kept for the next start
(a member merged away meanwhile opens as its survivor; one that no longer exists says so)."""

from __future__ import annotations

from desktop_care import settings as saved_settings
from desktop_care.commands import Actor, MergeMembers, execute
from desktop_care.models import Member
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.details_dialog import MemberDetailsView
from desktop_care.ui.members.editing import EditContactDialog
from desktop_care.ui.qt import QApplication, QMessageBox, Qt
from desktop_care.ui.session import StaffSession
from desktop_care.ui.tabs import Record
from desktop_care.ui.tickets.ticket_view import TicketDetailsView
from desktop_care.ui.workspace import Workspace
from tests.support.servers import LiveServer
from tests.ui.arrange import add_members, server_session, shot, unique
from tests.ui.test_editing import type_into, window  # noqa: F401 (fixtures)
from tests.ui.test_tickets_ui import open_on_server

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def active(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # shortcuts work in the active window


def loaded(qtbot, view: MemberDetailsView | TicketDetailsView) -> None:  # type: ignore[no-untyped-def]
    if isinstance(view, MemberDetailsView):
        qtbot.waitUntil(lambda: view.member is not None and not view.loading, timeout=15_000)
    else:
        qtbot.waitUntil(lambda: view.ticket is not None, timeout=15_000)


def titles(window: MainWindow) -> list[str]:
    return [window.tabs.tabText(i) for i in range(window.tabs.count())]


def answer(qtbot, box: QMessageBox | None, button: QMessageBox.StandardButton) -> None:  # type: ignore[no-untyped-def]
    assert box is not None and box.isVisible()
    qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)


def test_two_members_and_a_ticket_in_tabs_cycled_closed_and_reopened_by_keyboard(
        qtbot, window: MainWindow, sqlite_server: LiveServer) -> None:
    surname = unique("Tabb")
    first_id, second_id = add_members(sqlite_server, surname, 2)
    ticket_id = open_on_server(sqlite_server, first_id, "Renewal card lost in the post")
    first = window.open_member(first_id)
    loaded(qtbot, first)
    second = window.open_member(second_id)
    loaded(qtbot, second)
    ticket = window.open_ticket(ticket_id)
    loaded(qtbot, ticket)
    one, two = first.member, second.member
    assert one is not None and two is not None
    # No window of their own: pages of the main window's tabs, the home tab pinned first.
    assert not first.isWindow() and not ticket.isWindow()
    assert titles(window) == ["Member search", f"Ann000 {surname} · {one.member_no}",
                              f"Ann001 {surname} · {two.member_no}", f"#{ticket_id} Renewal card lost in the po…"]
    assert window.tabs.tabToolTip(1).startswith(f"Ann000 {surname} · member {one.member_no}\nEnrolled")
    assert window.tabs.tabBar().tabButton(0, window.tabs.tabBar().ButtonPosition.RightSide) is None
    assert window.tabs.currentWidget() is ticket
    assert window.windowTitle() == f"Desktop Care — #{ticket_id} Renewal card lost in the po…"
    window.resize(1280, 760)
    shot(window, "main-window-tabs-ticket")

    active(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_Tab, CTRL)  # round to the home tab
    assert window.tabs.currentIndex() == 0 and window.windowTitle() == "Desktop Care — Member search"
    qtbot.keyClick(window, Qt.Key.Key_Tab, CTRL)
    assert window.tabs.currentWidget() is first
    qtbot.keyClick(window, Qt.Key.Key_Backtab, CTRL | SHIFT)
    assert window.tabs.currentIndex() == 0
    qtbot.keyClick(window, Qt.Key.Key_Backtab, CTRL | SHIFT)
    assert window.tabs.currentWidget() is ticket
    qtbot.keyClick(window, Qt.Key.Key_Backtab, CTRL | SHIFT)
    assert window.tabs.currentWidget() is second
    assert window.open_member(first_id) is first and window.tabs.currentWidget() is first  # brought forward
    shot(window, "main-window-tabs")

    # The palette's "member in front" is the member of the tab in front.
    palette = window.show_palette()
    groups = {e.label: e.group for e in palette.entries}
    assert groups["Adjust points…"].endswith(f"({one.member_no})")
    palette.close()
    active(qtbot, window)

    qtbot.keyClick(window, Qt.Key.Key_W, CTRL)
    qtbot.waitUntil(lambda: Record("member", first_id) not in window.tabs.records())
    assert len(titles(window)) == 3 and first_id not in window._details
    qtbot.keyClick(window, Qt.Key.Key_W, CTRL)  # the next one in front
    qtbot.waitUntil(lambda: window.tabs.count() == 2)
    window.tabs.setCurrentIndex(0)
    qtbot.keyClick(window, Qt.Key.Key_W, CTRL)  # the home tab stays
    assert window.tabs.count() == 2 and not window.close_tab_action.isEnabled()

    qtbot.keyClick(window, Qt.Key.Key_T, CTRL | SHIFT)  # the last closed comes back first
    qtbot.waitUntil(lambda: window.tabs.count() == 3)
    reopened = window.tabs.currentWidget()
    assert isinstance(reopened, (MemberDetailsView, TicketDetailsView))
    assert window.tabs.record_of(reopened) == Record("member", second_id)
    qtbot.waitUntil(lambda: window.tabs.tabText(window.tabs.currentIndex()) == f"Ann001 {surname} · {two.member_no}")
    qtbot.keyClick(window, Qt.Key.Key_T, CTRL | SHIFT)
    qtbot.waitUntil(lambda: window.tabs.count() == 4)
    assert set(window.tabs.records()) == {Record("member", first_id), Record("member", second_id),
                                          Record("ticket", ticket_id)}


def test_a_tab_with_unsaved_edits_asks_before_closing(qtbot, window: MainWindow, sqlite_server: LiveServer) -> None:
    (member_id,) = add_members(sqlite_server, unique("Edity"), 1)
    details = window.open_member(member_id)
    loaded(qtbot, details)
    editor = details.open_editor(EditContactDialog)
    assert isinstance(editor, EditContactDialog) and not editor.isModal()
    closing = window.tabs.indexOf(details)
    window.tabs.request_close(closing)  # nothing typed yet: closes at once
    qtbot.waitUntil(lambda: window.tabs.count() == 1)

    details = window.open_member(member_id)
    loaded(qtbot, details)
    editor = details.open_editor(EditContactDialog)
    assert editor is not None
    type_into(qtbot, editor.fields["first_name"].edit, "Annabel")
    window.show_member_search()  # another tab in front: the editor hides with its tab…
    assert not editor.isVisible()
    window.open_member(member_id)  # …and comes back with it
    qtbot.waitUntil(editor.isVisible)

    window.tabs.request_close(window.tabs.indexOf(details))
    prompt = window.tabs.close_prompt
    assert prompt is not None and prompt.objectName() == "closeTabPrompt"
    member = details.member
    assert member is not None
    assert f"• Edit info — {member.name} ({member.member_no}): not saved" in prompt.text()
    assert prompt.button(QMessageBox.StandardButton.Save).text() == "Save and close"
    shot(prompt, "close-tab-prompt")
    answer(qtbot, prompt, QMessageBox.StandardButton.Cancel)
    qtbot.waitUntil(lambda: window.tabs.close_prompt is None)
    assert window.tabs.indexOf(details) > 0 and editor.isVisible() and editor.fields["first_name"].edit.text() == "Annabel"

    window.tabs.request_close(window.tabs.indexOf(details))
    answer(qtbot, window.tabs.close_prompt, QMessageBox.StandardButton.Save)
    qtbot.waitUntil(lambda: window.tabs.count() == 1, timeout=15_000)  # closed once saved
    queued = window.workspace.store.queued()
    assert [c.kind for c in queued] == ["update_contact"]
    assert queued[0].first_name == "Annabel"  # type: ignore[attr-defined]

    ticket_id = open_on_server(sqlite_server, member_id, "Wants a paper invoice")
    ticket = window.open_ticket(ticket_id)
    loaded(qtbot, ticket)
    qtbot.keyClicks(ticket.reply_edit, "Dear member, ")
    window.tabs.request_close(window.tabs.indexOf(ticket))
    prompt = window.tabs.close_prompt
    assert prompt is not None and "A reply to the member, typed and not sent" in prompt.text()
    assert prompt.button(QMessageBox.StandardButton.Save) is None  # a reply is sent, not saved
    answer(qtbot, prompt, QMessageBox.StandardButton.Discard)
    qtbot.waitUntil(lambda: window.tabs.count() == 1)

    # Quitting with a reply typed asks too; Cancel keeps everything.
    ticket = window.open_ticket(ticket_id)
    loaded(qtbot, ticket)
    qtbot.keyClicks(ticket.note_edit, "Called back")
    with qtbot.assertNotEmitted(window.quit_requested):
        window.quit_action.trigger()
        answer(qtbot, window.leave_prompt, QMessageBox.StandardButton.Cancel)
    assert window.tabs.count() == 2
    with qtbot.waitSignal(window.quit_requested):
        window.quit_action.trigger()
        assert window.leave_prompt is not None and "An internal note" in window.leave_prompt.text()
        qtbot.mouseClick(window.leave_prompt.button(QMessageBox.StandardButton.Discard), Qt.MouseButton.LeftButton)


def test_open_tabs_come_back_after_a_restart(qtbot, session: StaffSession, sqlite_server: LiveServer) -> None:
    surname = unique("Keptt")
    kept_id, merged_id, survivor_id = add_members(sqlite_server, surname, 3)
    ticket_id = open_on_server(sqlite_server, kept_id, "Address change by phone")

    def start() -> MainWindow:
        workspace = Workspace(session, start=False)
        started = MainWindow(session, workspace=workspace, remember_tabs=True)
        qtbot.addWidget(started)
        started.show()
        return started

    before = start()
    for view in (before.open_member(kept_id), before.open_ticket(ticket_id), before.open_member(merged_id)):
        loaded(qtbot, view)
    before.open_ticket(ticket_id)  # in front
    before.close()
    key = saved_settings.tabs_key(session.server_url, session.staff.username)
    assert saved_settings.load().open_tabs[key] == (f"member:{kept_id}", f"*ticket:{ticket_id}",
                                                     f"member:{merged_id}")
    before.workspace.stop(wait=5.0)

    # Meanwhile the third member is merged into another, and one tab names a member
    # that does not exist (removed, or a tab from another database).
    with server_session(sqlite_server) as db:
        merged, survivor = db.get(Member, merged_id), db.get(Member, survivor_id)
        assert merged is not None and survivor is not None
        command = MergeMembers(member_id=merged_id, base_version=merged.version, into_member_id=survivor_id,
                               into_base_version=survivor.version, confirm_different_emails=True,
                               confirm_member_no=survivor.member_no)
        assert execute(db, command, Actor(user_id=None, username="test")).status == "applied"
        db.commit()
    saved_settings.remember_tabs(key, [*saved_settings.load().open_tabs[key], "member:987654321"])

    after = start()
    try:
        qtbot.waitUntil(lambda: Record("member", survivor_id) in after.tabs.records(), timeout=15_000)
        assert after.tabs.records() == [Record("member", kept_id), Record("ticket", ticket_id),
                                        Record("member", survivor_id), Record("member", 987_654_321)]
        assert after.tabs.record_of(after.tabs.currentWidget()) == Record("ticket", ticket_id)  # in front again
        assert "was merged into another member: its tab shows that member now" in after.statusBar().currentMessage()
        gone = after._details[987_654_321]
        qtbot.waitUntil(lambda: gone.not_found)
        assert after.tabs.tabText(after.tabs.indexOf(gone)) == "Member 987654321 (not found)"
        assert gone.status_page.title.text() == "This member no longer exists."
        assert QApplication.activeModalWidget() is None
    finally:
        after.close()
        after.workspace.stop(wait=5.0)

