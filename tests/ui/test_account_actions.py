"""Account actions from a member's details, against the real server and a real SMTP
server: Reset password… and Invite… with their confirmation, result and error paths;
Re-send and Cancel of a pending invitation; Email prefs by category; all disabled
offline with the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_care.commands import CancelInvitation, ResendInvitation, ResetPassword
from desktop_care.models import EmailCategory, UserState
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.accounts import InviteDialog, UserActionDialog
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.members.editing import EmailPrefsDialog
from desktop_care.ui.qt import QApplication, Qt, QWidget
from desktop_care.ui.session import StaffSession
from desktop_care.ui.workspace import Workspace
from tests.support.servers import DatabaseFactory, LiveServer, start_server
from tests.support.smtp import SmtpSink, start_smtp
from tests.sync.workstations import server_member as on_server
from tests.ui.arrange import FullMember, add_full_member, signed_in_client, unique

#: Set to a directory to save the dialogs as PNG (for looking at them).
SHOTS = os.environ.get("DESKTOP_CARE_SHOTS")


def shot(widget: QWidget, name: str) -> None:
    if SHOTS:
        if isinstance(widget, MemberDetailsDialog):
            bar = widget.scroll_area.verticalScrollBar()
            bar.setValue(bar.maximum())
        QApplication.processEvents()
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture(scope="module")
def smtp_server(databases: DatabaseFactory, tmp_path_factory) -> Iterator[tuple[LiveServer, SmtpSink]]:
    sink, controller = start_smtp()
    srv = start_server(databases.create("sqlite"), tmp_path_factory.mktemp("ui-mail"),
                       "--smtp-url", f"smtp://127.0.0.1:{sink.port}")
    yield srv, sink
    srv.stop()
    controller.stop()


@pytest.fixture
def window(qtbot, smtp_server: tuple[LiveServer, SmtpSink]) -> Iterator[MainWindow]:
    client = signed_in_client(smtp_server[0])
    session = StaffSession(client, client.me())
    workspace = Workspace(session, start=False)
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    window.show()
    yield window
    workspace.stop(wait=5.0)


@pytest.fixture
def member(smtp_server: tuple[LiveServer, SmtpSink]) -> FullMember:
    return add_full_member(smtp_server[0], unique("Garnet"))


def opened(qtbot, window: MainWindow, member_id: int) -> MemberDetailsDialog:
    dialog = window.open_member(member_id)
    qtbot.waitUntil(lambda: dialog.member is not None and not dialog.loading)
    return dialog


def select_user(details: MemberDetailsDialog, state: UserState) -> None:
    assert details.member is not None and details.users_table is not None
    row = next(i for i, u in enumerate(details.member.users) if u.state == state)
    details.users_table.selectRow(row)


def test_reset_password_asks_then_sends_the_link(qtbot, window: MainWindow, member: FullMember,
                                                 smtp_server: tuple[LiveServer, SmtpSink]) -> None:
    details = opened(qtbot, window, member.id)
    shot(details, "member-details-portal-users")
    select_user(details, UserState.DISABLED)
    assert not details.reset_button.isEnabled()
    assert "disabled" in details.reset_button.toolTip()
    select_user(details, UserState.ACTIVE)
    assert details.reset_button.isEnabled()
    qtbot.mouseClick(details.reset_button, Qt.MouseButton.LeftButton)
    dialog = details.action_dialog
    assert isinstance(dialog, UserActionDialog)
    assert "works once, for 1 hour" in dialog.message.text() and "not see or set the password" in dialog.message.text()
    shot(dialog, "reset-password-confirm")
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result_text.isVisible(), timeout=15_000)
    user = next(u for u in details.member.users if u.state == UserState.ACTIVE)  # type: ignore[union-attr]
    assert dialog.result_text.text() == f"A link to choose a new password was sent to {user.email}. It works once, for 1 hour."
    shot(dialog, "reset-password-done")
    assert "/portal/reset-password?token=" in smtp_server[1].to(user.email, "Reset").text
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)


def test_the_fourth_reset_in_an_hour_is_refused_with_the_reason(qtbot, window: MainWindow, member: FullMember) -> None:
    details = opened(qtbot, window, member.id)
    for attempt in range(4):
        select_user(details, UserState.ACTIVE)
        dialog = details.open_user_action(ResetPassword)
        assert isinstance(dialog, UserActionDialog)
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda d=dialog: not d.busy, timeout=15_000)
        if attempt < 3:
            assert dialog.result_text.isVisible()
            dialog.close()
    assert dialog.error_text.text().startswith("The server refused: At most 3 password resets per member account")
    assert dialog.confirm_button.isEnabled() and not dialog.result_text.isVisible()
    shot(dialog, "reset-password-refused")


def test_invite_checks_fields_then_invites_and_the_invitation_can_be_resent_and_cancelled(
    qtbot, window: MainWindow, member: FullMember, smtp_server: tuple[LiveServer, SmtpSink]
) -> None:
    details = opened(qtbot, window, member.id)
    qtbot.mouseClick(details.invite_button, Qt.MouseButton.LeftButton)
    dialog = details.action_dialog
    assert isinstance(dialog, InviteDialog)
    assert dialog.role_help.text().startswith("A Standard user")
    dialog.role.setCurrentIndex(dialog.role.findText("Full"))
    assert "inviting further users" in dialog.role_help.text()
    shot(dialog, "invite-empty")
    qtbot.keyClicks(dialog.email, "not an address")
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    errors = dialog.errors()
    assert errors["email"].startswith("E-mail is not a valid e-mail address") and errors["display_name"] == "Enter a value."
    shot(dialog, "invite-errors")
    # The server's refusal lands under the field too: the member's own user's address.
    dialog.email.setText(f"edith.{member.last_name.lower()}@example.org")
    qtbot.keyClicks(dialog.name, "Edith Again")
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "email" in dialog.errors(), timeout=15_000)
    assert dialog.errors()["email"].endswith("is already a user.")

    email = f"{unique('nephew').lower()}@example.org"
    dialog.email.setText(email)
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result_text.isVisible(), timeout=15_000)
    assert dialog.result_text.text().startswith(f"An invitation was sent to {email}.")
    shot(dialog, "invite-done")
    assert "as a Full user" in smtp_server[1].to(email, "invited").text
    dialog.close()

    qtbot.waitUntil(lambda: details.member is not None and any(u.email == email for u in details.member.users),
                    timeout=15_000)
    qtbot.waitUntil(lambda: not details.loading)
    select_user(details, UserState.INVITED)
    assert details.resend_button.isEnabled() and details.cancel_invite_button.isEnabled()
    assert not details.reset_button.isEnabled()
    shot(details, "member-details-invited")
    resend = details.open_user_action(ResendInvitation)
    assert isinstance(resend, UserActionDialog)
    qtbot.mouseClick(resend.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: resend.result_text.isVisible(), timeout=15_000)
    assert resend.result_text.text() == f"A new invitation was sent to {email}."
    resend.close()
    select_user(details, UserState.INVITED)
    cancel = details.open_user_action(CancelInvitation)
    assert isinstance(cancel, UserActionDialog) and cancel.cancel_button.text() == "Keep it"
    shot(cancel, "cancel-invitation-confirm")
    qtbot.mouseClick(cancel.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cancel.result_text.isVisible(), timeout=15_000)
    cancel.close()
    qtbot.waitUntil(lambda: details.member is not None and not details.loading and any(
        u.email == email and u.state == UserState.REVOKED for u in details.member.users), timeout=15_000)


def test_account_actions_are_disabled_offline_with_the_reason(qtbot, window: MainWindow, member: FullMember) -> None:
    details = opened(qtbot, window, member.id)
    select_user(details, UserState.ACTIVE)
    assert details.reset_button.isEnabled()
    window.workspace._online = False  # what the workspace notes when the server stops answering
    details._update_account_buttons()
    for button in (details.reset_button, details.invite_button):
        assert not button.isEnabled()
        assert button.toolTip().endswith("needs the server, and this computer is offline")
    shot(details, "member-details-offline")


def test_email_prefs_by_category(qtbot, window: MainWindow, member: FullMember,
                                 smtp_server: tuple[LiveServer, SmtpSink]) -> None:
    details = opened(qtbot, window, member.id)
    assert details.findChild(QWidget, "emailOptIn").text() == "Newsletters, Offers, Event reminders"  # type: ignore[union-attr]
    prefs = details.open_editor(EmailPrefsDialog)
    assert isinstance(prefs, EmailPrefsDialog)
    assert all(check.isChecked() for check in prefs.checks.values())
    qtbot.mouseClick(prefs.save_button, Qt.MouseButton.LeftButton)
    assert prefs.form_error.text() == "Nothing has changed."
    prefs.checks[EmailCategory.OFFERS].setChecked(False)
    shot(prefs, "email-prefs")
    qtbot.mouseClick(prefs.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: details.pending_mark == "⟳ 1 change waiting to sync")
    window.workspace.sync_now()
    window.workspace.syncer.start()
    qtbot.waitUntil(lambda: window.workspace.pending == 0, timeout=15_000)
    on = on_server(smtp_server[0], member.id)
    assert (on.email_newsletters, on.email_offers, on.email_event_reminders) == (True, False, True)
    qtbot.waitUntil(lambda: details.findChild(QWidget, "emailOptIn") is not None and  # type: ignore[union-attr]
                    details.findChild(QWidget, "emailOptIn").text() == "Newsletters, Event reminders", timeout=15_000)
