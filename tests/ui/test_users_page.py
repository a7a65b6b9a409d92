"""The Society Users page and the user actions, against the real server: listing,
filters, paging, Revoke with its confirmation, what Society Staff may not do, the
throttle shown and unlocked, and the error paths (refused, server gone)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from desktop_care.models import SignInThrottle, User, UserCredential, UserRole, UserState, utcnow
from desktop_care.server.accounts import create_staff
from desktop_care.server.security import hash_password
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.qt import QApplication, QMessageBox, QPushButton, Qt, QWidget
from desktop_care.ui.session import StaffSession
from desktop_care.ui.users.table_model import REVOKE_COLUMN, UserFilter, UserTableModel
from desktop_care.ui.users.users_view import UsersView
from desktop_care.ui.workspace import Workspace
from tests.support.servers import DatabaseFactory, LiveServer, start_server
from tests.ui.arrange import add_full_member, add_members, server_session, unique

PASSWORD = "a-long-password"


def shot(widget: QWidget, name: str) -> None:
    """Keep a screenshot for people to look at when SCREENSHOTS names a folder."""
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        QApplication.processEvents()  # let layouts follow the last changes
        assert widget.grab().save(str(Path(folder) / f"{name}.png"))


def add_users(server: LiveServer, tag: str) -> dict[str, int]:
    """A member's Full user, a non-member user, a staff member and a disabled user."""
    (member_id,) = add_members(server, tag, 1)
    with server_session(server) as session:
        users = {
            "full": User(username=f"full.{tag.lower()}", display_name=f"Ann {tag}", role=UserRole.FULL,
                         email=f"ann.{tag.lower()}@example.org", member_id=member_id),
            "nonmember": User(username=f"saver.{tag.lower()}", display_name=f"Sam {tag}",
                              role=UserRole.NON_MEMBER, email=f"sam.{tag.lower()}@example.org"),
            "staff": User(username=f"agent.{tag.lower()}", display_name=f"Agent {tag}",
                          role=UserRole.SOCIETY_STAFF, email=f"agent.{tag.lower()}@example.org"),
            "disabled": User(username=f"gone.{tag.lower()}", display_name=f"Gone {tag}", role=UserRole.STANDARD,
                             state=UserState.DISABLED, member_id=member_id),
        }
        session.add_all(users.values())
        session.flush()
        for user in users.values():
            session.add(UserCredential(user_id=user.id, password_hash=hash_password(PASSWORD)))
        session.commit()
        return {key: user.id for key, user in users.items()}


def open_window(qtbot, session: StaffSession) -> tuple[MainWindow, Workspace]:
    workspace = Workspace(session, start=False)
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    return window, workspace


@pytest.fixture
def window(qtbot, session: StaffSession) -> Iterator[MainWindow]:
    window, workspace = open_window(qtbot, session)
    yield window
    workspace.stop(wait=5.0)


def filtered(qtbot, view: UsersView, text: str) -> None:
    view.search_box.selectAll()
    view.search_box.del_()
    qtbot.keyClicks(view.search_box, text)  # debounced: the search starts when typing pauses
    qtbot.waitUntil(lambda: view.model.filter is not None and view.model.filter.text == text
                    and not view.model.loading)


def row_of(view: UsersView, user_id: int) -> int:
    return next(r for r in range(view.model.rowCount()) if view.model.user(r).id == user_id)


def cell(view: UsersView, row: int, title: str) -> str:
    column = [view.model.headerData(c, Qt.Orientation.Horizontal) for c in range(view.model.columnCount())]
    return str(view.model.index(row, column.index(title)).data())


def select(view: UsersView, user_id: int) -> None:
    view.table.setCurrentIndex(view.model.index(row_of(view, user_id), 0))


def confirm(qtbot, actions: object, press: str = "confirm") -> None:
    qtbot.waitUntil(lambda: getattr(actions, "confirmation", None) is not None)
    box: QMessageBox = actions.confirmation  # type: ignore[attr-defined]
    button = box.findChild(QPushButton, "confirmButton") if press == "confirm" else box.button(
        QMessageBox.StandardButton.Cancel)
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_users_page_lists_filters_and_says_when_nothing_matches(
    qtbot, qtmodeltester, window: MainWindow, sqlite_server: LiveServer
) -> None:
    tag = unique("Users")
    ids = add_users(sqlite_server, tag)
    window.users_action.trigger()
    view = window.users_view
    assert view is not None and window.pages.currentWidget() is view
    assert window.windowTitle() == "Desktop Care — Society Users"
    qtbot.waitUntil(lambda: view.model.filter is not None and not view.model.loading)
    shot(window, "users-page")

    filtered(qtbot, view, tag)
    assert [view.model.user(r).id for r in range(view.model.rowCount())] == [
        ids["full"], ids["nonmember"], ids["staff"], ids["disabled"]]
    assert view.summary.text() == "4 users"
    full = row_of(view, ids["full"])
    assert (cell(view, full, "Role"), cell(view, full, "State"), cell(view, full, "Revoke")) == (
        "Full", "Active", "Revoke")
    assert cell(view, row_of(view, ids["staff"]), "Member ID") == "Staff"
    assert cell(view, row_of(view, ids["disabled"]), "State") == "Disabled"
    qtmodeltester.check(view.model)
    shot(window, "users-filtered")

    view.role_filter.setCurrentIndex(view.role_filter.findText("Staff (both tiers)"))
    qtbot.waitUntil(lambda: not view.model.loading and view.model.rowCount() == 1)
    assert view.model.user(0).id == ids["staff"]
    view.state_filter.setCurrentIndex(view.state_filter.findText("Revoked"))
    qtbot.waitUntil(lambda: not view.model.loading and view.stack.currentWidget() is view.state)
    assert view.state.title.text() == "No users match these filters"
    assert view.summary.text() == ""
    shot(window, "users-nothing-matches")

    # Ctrl+1 goes back to the member search, Ctrl+2 to the users again.
    window.member_search_action.trigger()
    assert window.pages.currentWidget() is window.search_view


def test_pages_load_as_the_list_scrolls(qtbot, qtmodeltester, session: StaffSession,
                                        sqlite_server: LiveServer) -> None:
    tag = unique("Pages")
    with server_session(sqlite_server) as db:
        db.add_all(User(username=f"p{i:03d}.{tag.lower()}", display_name=f"Page {tag}", role=UserRole.NON_MEMBER)
                   for i in range(7))
        db.commit()
    model = UserTableModel(session.client, page_size=3)
    model.search(UserFilter(tag))
    qtbot.waitUntil(lambda: model.rowCount() == 3 and not model.loading)
    assert (model.total, model.has_more) == (7, True)
    while model.canFetchMore():
        model.fetchMore()
        qtbot.waitUntil(lambda: not model.loading)
    assert model.rowCount() == 7 and not model.has_more
    qtmodeltester.check(model)


def test_revoke_asks_first_and_cancel_changes_nothing(
    qtbot, window: MainWindow, sqlite_server: LiveServer, messages: list
) -> None:
    tag = unique("Revoke")
    ids = add_users(sqlite_server, tag)
    view = window.show_users()
    filtered(qtbot, view, tag)
    select(view, ids["full"])
    button = view.action_bar.buttons["revoke"]
    assert button.isEnabled()

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    box = view.user_actions.confirmation
    assert box is not None and box.text() == f"Revoke access for Ann {tag}?"
    assert "invited again" in box.informativeText() and "Block for payment" in box.informativeText()
    shot(box, "revoke-confirmation")
    confirm(qtbot, view.user_actions, press="cancel")
    with server_session(sqlite_server) as db:
        assert db.get(User, ids["full"]).state == UserState.ACTIVE  # type: ignore[union-attr]

    # The Revoke column does the same.
    index = view.model.index(row_of(view, ids["full"]), REVOKE_COLUMN)
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=view.table.visualRect(index).center())
    with qtbot.waitSignal(view.user_actions.finished, timeout=15_000):
        confirm(qtbot, view.user_actions)
    qtbot.waitUntil(lambda: not view.model.loading
                    and cell(view, row_of(view, ids["full"]), "State") == "Revoked")
    assert cell(view, row_of(view, ids["full"]), "Revoke") == ""
    assert any(m.text == f"Revoke access: done for Ann {tag}." for m in messages)
    with server_session(sqlite_server) as db:
        assert db.get(User, ids["full"]).state == UserState.REVOKED  # type: ignore[union-attr]


@pytest.mark.expect_log("desktop_care.ui.message", r"^Disable account did not happen: Only an active account can be disabled")
def test_a_refusal_from_the_server_is_shown_with_its_reason(
    qtbot, window: MainWindow, sqlite_server: LiveServer, messages: list
) -> None:
    tag = unique("Stale")
    ids = add_users(sqlite_server, tag)
    view = window.show_users()
    filtered(qtbot, view, tag)
    select(view, ids["nonmember"])
    with server_session(sqlite_server) as db:  # someone else revokes them meanwhile
        db.execute(update(User).where(User.id == ids["nonmember"]).values(state=UserState.REVOKED))
        db.commit()
    view.act("disable")
    with qtbot.waitSignal(view.user_actions.finished, timeout=15_000):
        confirm(qtbot, view.user_actions)
    assert messages[-1].text == ("Disable account did not happen: "
                                 "Only an active account can be disabled; this one is revoked.")
    box = window.findChild(QMessageBox, "messageBox")
    assert box is not None and box.isVisible()
    shot(box, "action-refused")


def test_a_throttled_user_shows_until_when_and_can_be_unlocked(
    qtbot, window: MainWindow, sqlite_server: LiveServer
) -> None:
    tag = unique("Locked")
    ids = add_users(sqlite_server, tag)
    with server_session(sqlite_server) as db:
        db.add(SignInThrottle(username=f"ann.{tag.lower()}", failures=0, last_failure_at=utcnow()))
        db.add(SignInThrottle(username=f"full.{tag.lower()}", failures=7, last_failure_at=utcnow(),
                              blocked_until=utcnow() + dt.timedelta(minutes=10)))
        db.commit()
    view = window.show_users()
    filtered(qtbot, view, tag)
    view.state_filter.setCurrentIndex(view.state_filter.findText("Locked (failed sign-ins)"))
    qtbot.waitUntil(lambda: not view.model.loading and view.model.rowCount() == 1)
    assert cell(view, 0, "State").startswith("Locked until ")
    tooltip = view.model.index(0, 5).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("7 failed sign-ins in a row: sign-in is refused until ")
    select(view, ids["full"])
    assert view.action_bar.buttons["unlock"].isEnabled()
    assert view.action_bar.buttons["enable"].isEnabled()
    assert view.action_bar.buttons["disable"].isEnabled()  # active: may be disabled too
    shot(window, "users-locked")
    view.act("unlock")
    with qtbot.waitSignal(view.user_actions.finished, timeout=15_000):
        confirm(qtbot, view.user_actions)
    qtbot.waitUntil(lambda: not view.model.loading and view.model.rowCount() == 0)
    with server_session(sqlite_server) as db:
        assert db.get(SignInThrottle, f"full.{tag.lower()}") is None


def test_society_staff_may_revoke_members_but_not_touch_staff(
    qtbot, sqlite_server: LiveServer
) -> None:
    tag = unique("Tier")
    ids = add_users(sqlite_server, tag)
    username = f"staffer.{tag.lower()}"
    with server_session(sqlite_server) as db:
        create_staff(db, username, PASSWORD, role=UserRole.SOCIETY_STAFF, display_name="Plain Staff", actor="test")
        db.commit()
    client = ApiClient(sqlite_server.url)
    client.login(username, PASSWORD)
    window, workspace = open_window(qtbot, StaffSession(client, client.me()))
    try:
        view = window.show_users()
        filtered(qtbot, view, tag)
        select(view, ids["staff"])
        bar = view.action_bar
        for key in ("revoke", "disable", "role"):
            assert not bar.buttons[key].isEnabled(), key
            assert "only a Society Admin may do this" in bar.buttons[key].toolTip(), key
        revoke_cell = view.model.index(row_of(view, ids["staff"]), REVOKE_COLUMN)
        assert "only a Society Admin may do this to staff" in revoke_cell.data(Qt.ItemDataRole.ToolTipRole)
        shot(window, "users-as-society-staff")
        select(view, ids["full"])
        assert bar.buttons["revoke"].isEnabled() and bar.buttons["disable"].isEnabled()
        assert not bar.buttons["role"].isVisible()
    finally:
        workspace.stop(wait=5.0)


def test_portal_users_get_the_actions_in_the_members_details(
    qtbot, window: MainWindow, sqlite_server: LiveServer
) -> None:
    member = add_full_member(sqlite_server, unique("Helper"))
    dialog: MemberDetailsDialog = window.open_member(member.id)
    qtbot.waitUntil(lambda: dialog.member is not None and not dialog.loading)
    bar = dialog.user_action_bar
    assert bar is not None and not any(b.isEnabled() for b in bar.buttons.values())
    assert bar.note.text() == "Select a user to act on"
    table = dialog.findChild(QWidget, "usersTable")
    table.selectRow(1)  # type: ignore[attr-defined]  # Farm Helper, disabled
    assert bar.user is not None and bar.user.display_name == "Farm Helper"
    assert bar.buttons["enable"].isEnabled() and not bar.buttons["disable"].isEnabled()
    assert bar.buttons["disable"].toolTip() == "Only an active account can be disabled; this one is disabled."
    dialog.scroll_area.ensureWidgetVisible(bar)
    shot(dialog, "details-portal-users")
    bar.act("enable")
    with qtbot.waitSignal(dialog.user_actions.finished, timeout=15_000):  # type: ignore[union-attr]
        confirm(qtbot, dialog.user_actions)
    qtbot.waitUntil(lambda: not dialog.loading and dialog.member is not None
                    and dialog.member.users[1].state == UserState.ACTIVE)


@pytest.fixture
def doomed_server(databases: DatabaseFactory, tmp_path_factory) -> Iterator[LiveServer]:
    srv = start_server(databases.create("sqlite"), tmp_path_factory.mktemp("doomed"))
    yield srv
    srv.stop()


@pytest.mark.expect_log("desktop_care.ui.message", r"^Revoke access did not happen: The server at .* can't be reached")
def test_with_the_server_gone_the_list_says_so_and_the_actions_wait(
    qtbot, doomed_server: LiveServer, messages: list
) -> None:
    tag = unique("Gone")
    ids = add_users(doomed_server, tag)
    with server_session(doomed_server) as db:
        create_staff(db, "gone-admin", PASSWORD, role=UserRole.SOCIETY_ADMIN, actor="test")
        db.commit()
    client = ApiClient(doomed_server.url, retries=0)
    client.login("gone-admin", PASSWORD)
    window, workspace = open_window(qtbot, StaffSession(client, client.me()))
    try:
        view = window.show_users()
        filtered(qtbot, view, tag)
        select(view, ids["full"])
        doomed_server.stop()
        view.act("revoke")
        with qtbot.waitSignal(view.user_actions.finished, timeout=60_000):
            confirm(qtbot, view.user_actions)
        assert "can't be reached" in messages[-1].text
        assert not view.action_bar.buttons["revoke"].isEnabled()
        assert view.action_bar.buttons["revoke"].toolTip() == (
            "Revoke access needs the server, and this computer is offline.")
        view.search_now()
        qtbot.waitUntil(lambda: not view.model.loading and view.stack.currentWidget() is view.state, timeout=60_000)
        assert view.state.title.text() == "The users could not be listed"
        assert view.state.retry_button.isVisible()
        shot(window, "users-server-gone")
    finally:
        workspace.stop(wait=5.0)


def test_a_society_admin_moves_staff_between_the_tiers(
    qtbot, window: MainWindow, sqlite_server: LiveServer, messages: list
) -> None:
    tag = unique("Promote")
    ids = add_users(sqlite_server, tag)
    view = window.show_users()
    filtered(qtbot, view, tag)
    select(view, ids["staff"])
    button = view.action_bar.buttons["role"]
    assert button.isVisible() and button.isEnabled() and button.toolTip() == "Make Society Admin"
    view.act("role")
    box = view.user_actions.confirmation
    assert box is not None and box.text() == f"Make Agent {tag} a Society Admin?"
    assert "invite staff" in box.informativeText()
    with qtbot.waitSignal(view.user_actions.finished, timeout=15_000):
        confirm(qtbot, view.user_actions)
    qtbot.waitUntil(lambda: not view.model.loading
                    and cell(view, row_of(view, ids["staff"]), "Role") == "Society Admin")
    assert any(m.text == f"Make Society Admin: done for Agent {tag}." for m in messages)
    select(view, ids["full"])
    assert not view.action_bar.buttons["role"].isVisible()  # members' users have no staff tier
