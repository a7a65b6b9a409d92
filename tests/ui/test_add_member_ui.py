"""Add a customer (Ctrl+N) and Invite staff, against the real server (and a real SMTP
server for the invitation): field errors under the fields, the likely-duplicate warning
with links, the new member's details opened (pending offline, then re-keyed when the
server registers them), and the Invite staff button only for a Society Admin, online."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from desktop_care.models import Member, UserRole, UserState
from desktop_care.server.accounts import create_staff
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.main_window import NEW_CUSTOMER_REASON, MainWindow
from desktop_care.ui.members.add_member import AddMemberDialog
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.qt import QApplication, QLineEdit, Qt, QWidget
from desktop_care.ui.session import StaffSession
from desktop_care.ui.users.invite_staff import InviteStaffDialog
from desktop_care.ui.workspace import Workspace
from tests.support.servers import DatabaseFactory, LiveServer, start_server
from tests.support.smtp import SmtpSink, start_smtp
from tests.ui.arrange import (
    add_full_member,
    server_session,
    shot,
    signed_in_client,
    unique,
)

PASSWORD = "a-long-password"


def open_window(qtbot, client: ApiClient, *, start: bool = False) -> tuple[MainWindow, Workspace]:
    session = StaffSession(client, client.me())
    workspace = Workspace(session, start=start, interval=60.0)
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    window.resize(1280, 760)
    window.show()
    return window, workspace


def type_into(dialog: QWidget, values: dict[str, str]) -> None:
    for name, text in values.items():
        edit = dialog.findChild(QLineEdit, f"{name}Edit")
        assert edit is not None, name
        edit.setText(text)
        edit.textEdited.emit(text)


def add_dialog(qtbot, window: MainWindow) -> AddMemberDialog:
    window.add_member_action.trigger()
    dialog = window.add_member_dialog
    assert isinstance(dialog, AddMemberDialog) and dialog.isVisible()
    return dialog


def save(qtbot, dialog: AddMemberDialog) -> None:
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog._busy, timeout=15_000)


def test_add_a_customer_checks_fields_warns_of_a_duplicate_then_opens_the_new_member(
    qtbot, sqlite_server: LiveServer
) -> None:
    existing = add_full_member(sqlite_server, unique("Twin"))  # Edith <last>, TD5 7AB
    window, workspace = open_window(qtbot, signed_in_client(sqlite_server), start=True)
    try:
        assert window.add_member_action.shortcut().toString() == "Ctrl+N"
        dialog = add_dialog(qtbot, window)
        shot(dialog, "add-customer-empty")
        save(qtbot, dialog)  # nothing typed
        errors = dialog.errors()
        assert errors["first_name"] == "First name is required." and errors["last_name"] == "Last name is required."
        assert errors["line1"] == "Address line 1 is required." and errors["city"] == "Town or city is required."
        type_into(dialog, {"first_name": "Edith", "last_name": existing.last_name, "email": "not-an-address",
                           "phone": "12", "line1": "3 Mill Lane", "city": "Kelso", "postcode": "XYZ"})
        save(qtbot, dialog)
        errors = dialog.errors()
        assert "not a valid e-mail address" in errors["email"]
        assert errors["phone"].startswith("Phone is") and "UK postcode" in errors["postcode"]
        shot(dialog, "add-customer-errors")

        # Same name and postcode as a member the server has: a warning with a link.
        type_into(dialog, {"email": "", "phone": "01573 224111", "postcode": "td5 7ab"})
        save(qtbot, dialog)
        assert dialog.errors() == {}
        assert existing.member_no in dialog.warning_text and "same name and postcode" in dialog.warning_text
        assert dialog.save_button.text() == "Add anyway"
        shot(dialog, "add-customer-duplicate-warning")
        with qtbot.waitSignal(dialog.open_member_requested) as link:
            dialog.duplicates.linkActivated.emit(f"member:{existing.id}")
        assert link.args == [existing.id] and existing.id in window._details

        # Add anyway: queued, the new member's details open, and they follow the
        # server's id once the syncer has pushed the registration.
        with qtbot.waitSignal(window.customer_added, timeout=15_000) as added:
            qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        provisional = added.args[0]
        assert provisional < 0
        details = window._details.get(provisional) or next(
            d for d in window._details.values() if d.member_id != existing.id)
        qtbot.waitUntil(lambda: details.member_id > 0 and details.member is not None
                        and details.member.id == details.member_id and not details.loading, timeout=20_000)
        with server_session(sqlite_server) as db:
            created = db.scalars(select(Member).where(Member.last_name == existing.last_name,
                                                      Member.id != existing.id)).one()
            assert (created.phone, created.addresses[0].postcode) == ("+441573224111", "TD5 7AB")
        assert details.member is not None and details.member.member_no == created.member_no
        assert details.windowTitle() == f"Member {created.member_no} — Edith {existing.last_name}"
        shot(details, "add-customer-opened")
        # Then straight on to acting on their behalf (HCL's flow), the reason proposed.
        qtbot.waitUntil(lambda: details.on_behalf_dialog is not None and details.on_behalf_dialog.isVisible(),
                        timeout=10_000)
        assert details.on_behalf_dialog.member_id == created.id
        assert details.on_behalf_dialog.reason.edit.text() == NEW_CUSTOMER_REASON
        details.on_behalf_dialog.close()
    finally:
        workspace.stop(wait=5.0)


def test_offline_the_new_member_is_pending_with_a_provisional_number(qtbot, sqlite_server: LiveServer) -> None:
    last = unique("Offline")
    window, workspace = open_window(qtbot, signed_in_client(sqlite_server))
    try:
        workspace._online = False  # what the workspace notes when the server stops answering
        dialog = add_dialog(qtbot, window)
        type_into(dialog, {"title": "Ms", "first_name": "Iona", "last_name": last, "email": f"{last}@example.org",
                           "line1": "4 Bridge St", "city": "Kelso", "postcode": "TD5 7AB"})
        with qtbot.waitSignal(window.customer_added, timeout=15_000) as added:
            save(qtbot, dialog)
        provisional = added.args[0]
        details: MemberDetailsDialog = window._details[provisional]
        qtbot.waitUntil(lambda: details.member is not None and not details.loading)
        assert details.member is not None and details.member.member_no == f"PENDING-{-provisional}"
        assert details.findChild(QWidget, "provisionalNote") is not None
        assert details.pending_mark.startswith("⟳ 1 change waiting to sync")
        assert not details.wizard_buttons["merge"].isEnabled()
        assert "not on the server yet" in details.wizard_buttons["merge"].toolTip()
        assert details.edit_info_button.isEnabled() and details.adjust_points_button.isEnabled()
        details.show_tab("Points")
        assert "not on the server yet" in details.points_tab.state.title.text()
        details.show_tab("Details")
        shot(details, "add-customer-pending-details")
        # Found in the search as pending.
        window.search_view.search_box.setText(last)
        window.search_view.search_now()
        qtbot.waitUntil(lambda: window.search_view.model.row_ids() == [provisional], timeout=10_000)
        shot(window, "add-customer-pending-search")
    finally:
        workspace.stop(wait=5.0)


# ---------------------------------------------------------------------- invite staff


@pytest.fixture(scope="module")
def mail_server(databases: DatabaseFactory, tmp_path_factory) -> Iterator[tuple[LiveServer, SmtpSink]]:
    sink, controller = start_smtp()
    srv = start_server(databases.create("sqlite"), tmp_path_factory.mktemp("ui-staff-mail"),
                       "--smtp-url", f"smtp://127.0.0.1:{sink.port}")
    yield srv, sink
    srv.stop()
    controller.stop()


def test_a_society_admin_invites_staff_and_the_mail_arrives(
    qtbot, mail_server: tuple[LiveServer, SmtpSink]
) -> None:
    server, smtp = mail_server
    window, workspace = open_window(qtbot, signed_in_client(server))
    try:
        view = window.show_users()
        button = view.invite_staff_button
        assert button.isVisible() and button.isEnabled()
        qtbot.waitUntil(lambda: not view.model.searching, timeout=10_000)
        shot(window, "users-invite-staff-button")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        dialog = view.invite_staff_dialog
        assert isinstance(dialog, InviteStaffDialog)
        shot(dialog, "invite-staff")
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
        assert set(dialog.errors()) == {"email", "display_name"}
        type_into(dialog, {"email": "not an address", "display_name": "Rowan Blake"})
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
        assert "not a valid e-mail address" in dialog.errors()["email"]
        shot(dialog, "invite-staff-error")
        email = f"{unique('rowan').lower()}@example.org"
        type_into(dialog, {"email": email})
        dialog.role.setCurrentIndex(dialog.role.findData(UserRole.SOCIETY_ADMIN))
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.result_text.isVisible(), timeout=15_000)
        assert f"An invitation was sent to {email}" in dialog.result_text.text()
        QApplication.processEvents()  # the Close button replaces Send before the picture
        assert dialog.close_button.isVisible()
        shot(dialog, "invite-staff-done")
        mail = smtp.to(email, "invit")
        assert "/portal/" in mail.text
        with server_session(server) as db:
            from desktop_care.models import User
            invited = db.scalars(select(User).where(User.email == email)).one()
            assert (invited.role, invited.state) == (UserRole.SOCIETY_ADMIN, UserState.INVITED)
        # The same address again: refused under the field, nothing sent twice.
        qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        again = view.invite_staff_dialog
        assert isinstance(again, InviteStaffDialog) and again is not dialog
        type_into(again, {"email": email, "display_name": "Rowan Blake"})
        qtbot.mouseClick(again.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "email" in again.errors(), timeout=15_000)
        assert smtp.count_to(email) == 1
        again.close()
        # Offline: disabled, with the reason.
        workspace._online = False
        view._update_invite_button()
        assert not button.isEnabled() and button.toolTip() == "Invite staff needs the server, and this computer is offline"
    finally:
        workspace.stop(wait=5.0)


def test_society_staff_do_not_get_the_invite_staff_button(qtbot, mail_server: tuple[LiveServer, SmtpSink]) -> None:
    server, _ = mail_server
    username = unique("plain").lower()
    with server_session(server) as db:
        create_staff(db, username, PASSWORD, role=UserRole.SOCIETY_STAFF, display_name="Plain Staff", actor="test")
        db.commit()
    client = ApiClient(server.url)
    client.login(username, PASSWORD)
    window, workspace = open_window(qtbot, client)
    try:
        view = window.show_users()
        assert not view.invite_staff_button.isVisible()
        assert view.open_invite_staff() is None
        shot(window, "users-as-society-staff-no-invite")
    finally:
        workspace.stop(wait=5.0)
