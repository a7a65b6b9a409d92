"""The command palette (Ctrl+K) and the shortcuts list (?), driven from the keyboard in
the real main window against the real server."""

from __future__ import annotations

from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.members.editing import AdjustPointsDialog
from desktop_care.ui.palette import CommandPalette, ShortcutsDialog
from desktop_care.ui.qt import QApplication, Qt
from desktop_care.ui.session import StaffSession
from tests.ui.arrange import unique


def _window(qtbot, session: StaffSession) -> MainWindow:
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def _palette(qtbot, window: MainWindow) -> CommandPalette:
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)

    def opened() -> list[CommandPalette]:
        return [w for w in QApplication.topLevelWidgets() if isinstance(w, CommandPalette) and w.isVisible()]

    qtbot.waitUntil(lambda: len(opened()) == 1)
    (palette,) = opened()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is palette.query)  # ready to type
    return palette


def test_typing_an_action_and_enter_runs_it(qtbot, session: StaffSession) -> None:
    window = _window(qtbot, session)
    palette = _palette(qtbot, window)
    labels = [e.label for e in palette.shown()]
    assert {"Settings…", "Sync now", "Users", "Keyboard shortcuts"} <= set(labels)
    assert "Command palette…" not in labels  # it is open already

    qtbot.keyClicks(palette.query, "care users")  # words of the label and of its menu, any order
    assert [(e.label, e.group, e.shortcut) for e in palette.shown()] == [("Users", "Customer Care", "Ctrl+2")]
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    assert not palette.isVisible()
    assert window.users_view is not None and window.pages.currentWidget() is window.users_view


def test_a_member_is_found_by_name_and_opened(qtbot, session: StaffSession, make_members) -> None:
    surname = unique("Palette")
    (member_id,) = make_members(surname, 1)
    window = _window(qtbot, session)
    palette = _palette(qtbot, window)
    qtbot.keyClicks(palette.query, surname)
    qtbot.waitUntil(lambda: any(e.group == "Member" for e in palette.shown()))
    (found,) = [e for e in palette.shown() if e.group == "Member"]
    assert found.label.startswith("Open Ann000 " + surname)
    palette.list.setCurrentCell(palette.shown().index(found), 0)
    qtbot.keyClick(palette.list, Qt.Key.Key_Return)
    dialog = window.findChild(MemberDetailsDialog)
    assert dialog is not None and dialog.member_id == member_id


def test_the_member_in_front_offers_its_own_actions(qtbot, session: StaffSession, make_members,
                                                     screenshot) -> None:
    (member_id,) = make_members(unique("Front"), 1)
    window = _window(qtbot, session)
    details = window.open_member(member_id)
    qtbot.waitUntil(lambda: details.member is not None)
    qtbot.waitUntil(details.isActiveWindow)
    palette = _palette(qtbot, window)
    screenshot(palette, "palette")
    groups = {e.label: e.group for e in palette.shown()}
    assert groups["Adjust points…"].endswith(f"({details.member.member_no})")
    qtbot.keyClicks(palette.query, "adjust")
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: isinstance(details.edit_dialog, AdjustPointsDialog) and details.edit_dialog.isVisible())


def test_an_action_that_cannot_run_now_is_listed_greyed_with_its_reason(qtbot, session: StaffSession) -> None:
    window = _window(qtbot, session)
    window.users_action.setEnabled(False)
    window.users_action.setToolTip("Not while offline")
    palette = _palette(qtbot, window)
    qtbot.keyClicks(palette.query, "users")
    (entry,) = palette.shown()
    assert (entry.enabled, entry.reason) == (False, "Not while offline")
    assert palette.list.item(0, 0).text() == "Users (Not while offline)"
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    assert palette.isVisible() and window.users_view is None  # nothing ran


def test_question_mark_lists_every_shortcut(qtbot, session: StaffSession, make_members, screenshot) -> None:
    (member_id,) = make_members(unique("Keys"), 1)
    window = _window(qtbot, session)
    window.search_view.table.setFocus()  # not in the search box, where ? is a character
    qtbot.keyClick(window.search_view.table, Qt.Key.Key_Question)
    listed = window.findChild(ShortcutsDialog)
    assert listed is not None and listed.isVisible()
    rows = {(listed.table.item(r, 1).text(), listed.table.item(r, 2).text()) for r in range(listed.table.rowCount())}
    assert {("Command palette…", "Ctrl+K"), ("Settings…", "Ctrl+,"), ("Sync now", "F5"),
            ("Users", "Ctrl+2")} <= rows
    listed.close()

    details = window.open_member(member_id)
    qtbot.waitUntil(lambda: details.member is not None)
    rows = {(r[1], r[2]) for r in _rows(window.show_shortcuts())}
    assert {("Adjust points…", "Ctrl+P"), ("Edit info…", "Ctrl+E"), ("Show tab 1", "Alt+1")} <= rows
    screenshot(window.findChildren(ShortcutsDialog)[-1], "shortcuts")


def test_question_mark_in_the_search_box_is_typed(qtbot, session: StaffSession) -> None:
    window = _window(qtbot, session)
    window.search_view.focus_search()
    qtbot.keyClick(window.search_view.search_box, Qt.Key.Key_Question)
    assert window.search_view.search_box.text() == "?"
    assert window.findChild(ShortcutsDialog) is None


def _rows(dialog: ShortcutsDialog) -> list[tuple[str, str, str]]:
    t = dialog.table
    return [(t.item(r, 0).text(), t.item(r, 1).text(), t.item(r, 2).text()) for r in range(t.rowCount())]


def test_the_page_in_front_is_sorted_from_the_keyboard(qtbot, session: StaffSession) -> None:
    window = _window(qtbot, session)
    palette = _palette(qtbot, window)
    qtbot.keyClicks(palette.query, "sort balance desc")
    assert [(e.label, e.group) for e in palette.shown()] == [("Sort by Balance, descending", "Member search")]
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    view = window.search_view
    qtbot.waitUntil(lambda: view.model.sort_shown == "-balance" and not view.model.loading)
    header = view.table.horizontalHeader()
    assert header.isSortIndicatorShown() and header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
