"""Editing a member from its details: the three dialogs, their field errors, the pending
mark while a change waits, and the server having the change after the sync.

The workspace's syncer is created stopped, so the pending state can be looked at before
the (real) syncer is started and sends the change to the (real) server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.members.editing import AdjustPointsDialog, EditContactDialog, EmailPrefsDialog
from desktop_care.ui.qt import QLabel, QLineEdit, Qt
from desktop_care.ui.session import StaffSession
from desktop_care.ui.workspace import Workspace
from tests.support.servers import LiveServer
from tests.sync.workstations import server_member as on_server
from tests.ui.arrange import FullMember, add_full_member, shot, unique


@pytest.fixture
def window(qtbot, session: StaffSession) -> Iterator[MainWindow]:
    workspace = Workspace(session, start=False)
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    window.show()
    yield window
    workspace.stop(wait=5.0)


@pytest.fixture
def member(sqlite_server: LiveServer) -> FullMember:
    return add_full_member(sqlite_server, unique("Ashdown"))


def opened(qtbot, window: MainWindow, member_id: int) -> MemberDetailsDialog:
    dialog = window.open_member(member_id)
    qtbot.waitUntil(lambda: dialog.member is not None and not dialog.loading)
    return dialog


def type_into(qtbot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    edit.del_()
    qtbot.keyClicks(edit, text)


def test_edit_info_is_pending_at_once_and_on_the_server_after_sync(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer
) -> None:
    details = opened(qtbot, window, member.id)
    assert details.pending_mark == ""
    assert all(b.isVisible() and b.isEnabled() for b in details.edit_buttons)
    qtbot.mouseClick(details.edit_info_button, Qt.MouseButton.LeftButton)
    editor = details.edit_dialog
    assert isinstance(editor, EditContactDialog)
    assert editor.logon_id.text() == member.logon_id  # shown, not editable
    assert editor.findChild(QLineEdit, "logonIdEdit") is None
    type_into(qtbot, editor.fields["email"].edit, "edith.new@example.org")
    type_into(qtbot, editor.fields["postcode"].edit, "td5 7ax")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: details.pending_mark == "⟳ 1 change waiting to sync")
    assert details.findChild(QLabel, "email").text() == "edith.new@example.org"
    assert "Edit contact details (address.home, email)" in details.pending_label.toolTip()
    qtbot.waitUntil(lambda: window.connection_state.endswith("— 1 change waiting"))
    assert on_server(sqlite_server, member.id).email != "edith.new@example.org"

    window.workspace.syncer.start()
    qtbot.waitUntil(lambda: details.pending_mark == "" and window.workspace.pending == 0, timeout=15_000)
    assert details.member is not None and details.member.email == "edith.new@example.org"
    on = on_server(sqlite_server, member.id)
    assert on.email == "edith.new@example.org"
    qtbot.waitUntil(lambda: window.connection_state == "● Online")


def test_email_prefs_and_adjust_points_reach_the_server(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer
) -> None:
    details = opened(qtbot, window, member.id)
    prefs = details.open_editor(EmailPrefsDialog)
    assert isinstance(prefs, EmailPrefsDialog)
    assert all(check.isChecked() for check in prefs.checks.values())
    for check in prefs.checks.values():
        check.setChecked(False)
    qtbot.mouseClick(prefs.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: details.pending_mark == "⟳ 1 change waiting to sync")

    points = details.open_editor(AdjustPointsDialog)
    assert isinstance(points, AdjustPointsDialog)
    qtbot.keyClicks(points.amount, "250")
    points.points_type.setCurrentIndex(points.points_type.findText("Bonus"))
    qtbot.keyClicks(points.reason, "Goodwill for the late magazine")
    qtbot.mouseClick(points.save_button, Qt.MouseButton.LeftButton)  # Next
    assert points.step == 1 and points.save_button.text() == "Confirm"
    assert points.confirm_text.text() == (
        f"Add 250 bonus points to Edith {member.last_name} ({member.member_no})? "
        "Reason: Goodwill for the late magazine")
    assert points.after_text.text() == "The balance goes from 1,250 to 1,500 points."
    qtbot.mouseClick(points.save_button, Qt.MouseButton.LeftButton)  # Confirm
    qtbot.waitUntil(lambda: details.pending_mark == "⟳ 2 changes waiting to sync")
    assert details.member is not None
    assert details.member.points_balance == 1500 and details.member.email_opt_in is False

    window.workspace.sync_now()
    window.workspace.syncer.start()
    qtbot.waitUntil(lambda: details.pending_mark == "" and window.workspace.pending == 0, timeout=15_000)
    on = on_server(sqlite_server, member.id)
    assert (on.points_balance, on.email_opt_in) == (1500, False)


def test_field_errors_are_told_under_the_fields(qtbot, window: MainWindow, member: FullMember) -> None:
    details = opened(qtbot, window, member.id)
    editor = details.open_editor(EditContactDialog)
    assert isinstance(editor, EditContactDialog)
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    assert editor.form_error.text() == "Nothing has changed."

    type_into(qtbot, editor.fields["email"].edit, "edith at example")
    type_into(qtbot, editor.fields["first_name"].edit, "   ")
    type_into(qtbot, editor.fields["postcode"].edit, "!!")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    errors = editor.errors()
    assert errors["postcode"] == "Postcode may contain only letters, digits, spaces and hyphens."
    assert errors["first_name"] == "First name is required."
    assert errors["email"].startswith("E-mail is not a valid e-mail address")
    assert set(errors) == {"postcode", "first_name", "email"} and not editor.form_error.isVisible()
    assert editor.isVisible() and window.workspace.store.pending_count() == 0
    editor.close()

    points = details.open_editor(AdjustPointsDialog)
    assert isinstance(points, AdjustPointsDialog)
    for amount, reason, expected in [
        ("lots", "ok reason", {"delta": "Enter a whole number, such as 250 or -100."}),
        ("0", "ok reason", {"delta": "Amount must not be zero."}),
        ("2,000,000", "ok reason", {"delta": "Must be at most 1,000,000."}),
        ("10", "no", {"reason": "Enter at least 3 characters."}),
    ]:
        type_into(qtbot, points.amount, amount)
        type_into(qtbot, points.reason, reason)
        qtbot.mouseClick(points.save_button, Qt.MouseButton.LeftButton)
        assert points.step == 0
        assert points.errors() == expected, amount


def test_the_rules_are_checked_at_next_so_the_confirmation_is_never_impossible(
    qtbot, window: MainWindow, member: FullMember
) -> None:
    store = window.workspace.store
    details = opened(qtbot, window, member.id)
    points = details.open_editor(AdjustPointsDialog)
    assert isinstance(points, AdjustPointsDialog)
    qtbot.keyClicks(points.amount, "-5000")
    qtbot.keyClicks(points.reason, "Remove too many")
    qtbot.mouseClick(points.save_button, Qt.MouseButton.LeftButton)  # Next
    assert points.step == 0 and points.save_button.text() == "Next"
    assert points.errors() == {
        "delta": "The balance is 1,250 points: removing 5,000 would make it negative."}
    assert "-3,750" not in points.after_text.text()
    shot(points, "adjust-points-over-balance")
    type_into(qtbot, points.amount, "-1250")
    qtbot.mouseClick(points.save_button, Qt.MouseButton.LeftButton)
    assert points.step == 1
    assert points.after_text.text() == "The balance goes from 1,250 to 0 points."
    shot(points, "adjust-points-confirm")
    assert store.pending_count() == 0 and details.pending_mark == ""


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("+-5", "Enter a whole number, such as 250 or -100."),
        ("²", "Enter a whole number, such as 250 or -100."),
        ("1e3", "Enter a whole number, such as 250 or -100."),
        ("--5", "Enter a whole number, such as 250 or -100."),
        ("5-", "Enter a whole number, such as 250 or -100."),
        ("١٢", "Enter a whole number, such as 250 or -100."),
        ("", "Enter an amount."),
        ("   ", "Enter an amount."),
    ],
)
def test_odd_amounts_get_a_message_under_amount(
    qtbot, window: MainWindow, member: FullMember, typed: str, message: str
) -> None:
    details = opened(qtbot, window, member.id)
    points = details.open_editor(AdjustPointsDialog)
    assert isinstance(points, AdjustPointsDialog)
    points.amount.setText(typed)
    qtbot.keyClicks(points.reason, "A fair reason")
    qtbot.mouseClick(points.save_button, Qt.MouseButton.LeftButton)
    assert points.step == 0
    assert points.errors() == {"delta": message}
    assert points.isVisible() and window.workspace.store.pending_count() == 0


def test_amounts_with_thousands_separators_and_signs_are_read(qtbot, window: MainWindow, member: FullMember) -> None:
    details = opened(qtbot, window, member.id)
    points = details.open_editor(AdjustPointsDialog)
    assert isinstance(points, AdjustPointsDialog)
    for typed, delta in [("+1,500", 1500), (" -250 ", -250), ("1 000", 1000)]:
        points.back()
        points.amount.setText(typed)
        points.reason.setText("A fair reason")
        qtbot.mouseClick(points.save_button, Qt.MouseButton.LeftButton)
        assert points.step == 1, (typed, points.errors())
        assert points._pending is not None and points._pending.delta == delta
