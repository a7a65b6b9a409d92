"""Working offline and sorting out sync issues, as a person sees it: the status bar, the
pending marks in the table and the details, and the Sync issues panel's three choices.

Real parts only: a server this test owns (stopped to go offline), the real LocalStore
and Syncer, and a second workstation (another LocalStore + Syncer) for real conflicts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_care.commands import UpdateContact
from desktop_care.sync.local_store import LocalStore, SyncIssue
from desktop_care.sync.syncer import Syncer, SyncEvent
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.editing import EditContactDialog
from desktop_care.ui.members.table_model import COLUMNS
from desktop_care.ui.qt import QLabel, QLineEdit, Qt
from desktop_care.ui.session import StaffSession
from desktop_care.ui.sync_view import IssuesModel, SyncIssuesPanel, compare_rows
from desktop_care.ui.workspace import Workspace
from tests.support.servers import LiveServer, start_server
from tests.ui.arrange import add_full_member, add_members, signed_in_client, unique
from tests.ui.test_editing import on_server, opened, type_into

SYNC_COLUMN = [c.title for c in COLUMNS].index("Sync")


def cell(window: MainWindow, row: int, column: int) -> str:
    model = window.search_view.model
    return str(model.data(model.index(row, column)))


def test_offline_the_window_says_so_searches_locally_and_marks_pending_changes(
    qtbot, tmp_path: Path, databases
) -> None:
    server = start_server(databases.create("sqlite"), tmp_path)
    try:
        surname = unique("Offley")
        cached = add_full_member(server, surname)
        [plain] = add_members(server, surname, 1)
        client = signed_in_client(server)
        window = MainWindow(StaffSession(client, client.me()))
        qtbot.addWidget(window)
        window.show()
        store = window.workspace.store
        qtbot.waitUntil(lambda: window.connection_state == "● Online" and store.search(surname).total == 2,
                        timeout=15_000)
        opened(qtbot, window, cached.id).close()  # its full details are now kept on this computer
    finally:
        server.stop()

    window.sync_now_action.trigger()
    qtbot.waitUntil(lambda: window.connection_state.startswith("● Offline · retrying in "), timeout=15_000)
    assert not window.online

    window.search_view.set_query(surname)  # from the local directory, as fast as online
    qtbot.waitUntil(lambda: window.search_view.model.rowCount() == 2)
    assert cell(window, 0, SYNC_COLUMN) == ""

    details = opened(qtbot, window, cached.id)
    assert details.findChild(QLabel, "offlineNote") is None
    editor = details.open_editor(EditContactDialog)
    assert isinstance(editor, EditContactDialog)
    type_into(qtbot, editor.fields["phone"].edit, "+44 1573 000111")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: details.pending_mark == "⟳ 1 change waiting to sync")
    assert details.findChild(QLabel, "phone").text() == "+44 1573 000111"
    qtbot.waitUntil(lambda: window.connection_state.startswith("● Offline — 1 change waiting · retrying in "))
    row = window.search_view.model.row_ids().index(cached.id)
    qtbot.waitUntil(lambda: cell(window, row, SYNC_COLUMN) == "⟳ 1")  # only that row was refreshed
    assert window.search_view.model.summary(row).phone == "+44 1573 000111"

    only_directory = opened(qtbot, window, plain)
    note = only_directory.findChild(QLabel, "offlineNote")
    assert note is not None and note.text().startswith("Only the directory entry is available offline")
    assert store.pending_count() == 1  # kept until the server takes it


class SecondWorkstation:
    """Another workstation: its own LocalStore and Syncer, no UI."""

    def __init__(self, server: LiveServer, path: Path) -> None:
        self.store = LocalStore(path)
        self.synced = threading.Event()
        self.syncer = Syncer(self.store, signed_in_client(server), on_event=self._event, autostart=False)

    def _event(self, event: SyncEvent) -> None:
        if getattr(event, "syncing", True) is False and self.store.pending_count() == 0:
            self.synced.set()

    def sync(self) -> None:
        self.synced.clear()
        self.syncer.start()
        self.syncer.nudge()
        assert self.synced.wait(15), "the second workstation did not sync"

    def stop(self) -> None:
        self.syncer.stop()
        self.store.close()


@pytest.fixture
def other(sqlite_server: LiveServer, tmp_path: Path) -> Iterator[SecondWorkstation]:
    workstation = SecondWorkstation(sqlite_server, tmp_path / "other.sqlite3")
    yield workstation
    workstation.stop()


def test_sync_issues_panel_keep_mine_take_theirs_and_edit(
    qtbot, session: StaffSession, sqlite_server: LiveServer, other: SecondWorkstation
) -> None:
    surname = unique("Clash")
    ids = add_members(sqlite_server, surname, 3)
    workspace = Workspace(session, start=False)
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    window.show()

    # Both workstations base an e-mail change on the same version of each member.
    for n, member_id in enumerate(ids):
        details = opened(qtbot, window, member_id)
        assert details.member is not None
        version = details.member.version
        editor = details.open_editor(EditContactDialog)
        assert isinstance(editor, EditContactDialog)
        type_into(qtbot, editor.fields["email"].edit, f"mine{n}@example.org")
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda d=details: d.pending_mark != "")
        details.close()
        other.store.enqueue(UpdateContact(member_id=member_id, base_version=version, email=f"theirs{n}@example.org"))
    other.sync()

    workspace.syncer.start()
    qtbot.waitUntil(lambda: window.issues_button.isVisible(), timeout=15_000)
    qtbot.waitUntil(lambda: window.issues_button.text() == "⚠ 3 sync issues" and workspace.pending == 0,
                    timeout=15_000)
    qtbot.mouseClick(window.issues_button, Qt.MouseButton.LeftButton)
    panel = window.issues_panel
    assert isinstance(panel, SyncIssuesPanel) and panel.isVisible()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3)
    assert [panel.model.index(r, 2).data() for r in range(3)] == ["Conflict"] * 3

    first = panel.current_issue()
    assert first is not None and first.member_id == ids[0]
    assert "changed by someone else since: email" in panel.reason.text()
    assert compare_rows(first) == [("E-mail", "mine0@example.org", "theirs0@example.org")]
    compare = [[panel.compare.item(0, c).text() for c in range(3)]]
    assert compare == [["E-mail", "mine0@example.org", "theirs0@example.org"]]

    qtbot.mouseClick(panel.keep_mine_button, Qt.MouseButton.LeftButton)  # issue 1: keep mine
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2)
    qtbot.waitUntil(lambda: on_server(sqlite_server, ids[0]).email == "mine0@example.org", timeout=15_000)

    panel.select(panel.model.issue(0).id)
    assert panel.current_issue().member_id == ids[1]
    qtbot.mouseClick(panel.take_theirs_button, Qt.MouseButton.LeftButton)  # issue 2: take theirs
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    assert panel.current_issue().member_id == ids[2]

    qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)  # issue 3: edit mine
    qtbot.waitUntil(lambda: window.issue_editor is not None and window.issue_editor.isVisible())
    editor = window.issue_editor
    assert isinstance(editor, EditContactDialog)
    email = editor.fields["email"].edit
    assert isinstance(email, QLineEdit) and email.text() == "mine2@example.org"  # prefilled with mine
    type_into(qtbot, email, "agreed2@example.org")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0)
    assert panel.empty.title.text() == "No sync issues"
    qtbot.waitUntil(lambda: on_server(sqlite_server, ids[2]).email == "agreed2@example.org", timeout=15_000)
    qtbot.waitUntil(lambda: not window.issues_button.isVisible() and workspace.pending == 0, timeout=15_000)
    assert on_server(sqlite_server, ids[1]).email == "theirs1@example.org"
    assert on_server(sqlite_server, ids[0]).email == "mine0@example.org"
    workspace.stop(wait=5.0)


def test_issues_model_is_a_well_behaved_qt_model(qtmodeltester) -> None:
    model = IssuesModel()
    qtmodeltester.check(model, force_py=True)
    issue = SyncIssue(id=1, op_id="x", member_id=1, member_no="1000042", name="Jane Doe", kind="adjust_points",
                      summary="-500 bonus points: tidy", status="rejected", reason="the balance is 10 points",
                      mine={"command": {}, "values": {"points_balance": -490}}, theirs={},
                      created_at=dt.datetime.now(dt.UTC))
    model.set_issues([issue, dataclasses.replace(issue, id=2, status="conflict")])
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)
    assert model.index(0, 0).data() == "Jane Doe (1000042)" and model.index(0, 2).data() == "Refused"
    assert compare_rows(issue) == [("Points balance", "-490", "—")]


def test_status_text_reads_plainly() -> None:
    from desktop_care.sync.syncer import SyncStatus
    from desktop_care.ui.sync_view import status_text

    base = SyncStatus(online=True, pending=0, issues=0, syncing=False, progress=None, last_error=None,
                      next_retry_in=None, last_synced_at=None)
    assert status_text(base)[0] == "● Online"
    assert status_text(SyncStatus(**{**base.__dict__, "syncing": True, "progress": (3, 10)}))[0] == "● Syncing 3 of 10…"
    assert status_text(SyncStatus(**{**base.__dict__, "syncing": True, "received": 0.45}))[0] == (
        "● Receiving changes… 45%")
    offline = SyncStatus(**{**base.__dict__, "online": False, "pending": 4, "next_retry_in": 7.2,
                            "last_error": "The server at x can't be reached."})
    assert status_text(offline) == ("● Offline — 4 changes waiting · retrying in 8 s", "offline",
                                    "The server at x can't be reached.")




def test_a_change_made_elsewhere_shows_without_a_restart(
    qtbot, session: StaffSession, sqlite_server: LiveServer, other: SecondWorkstation
) -> None:
    [member_id] = add_members(sqlite_server, unique("Elsewhere"), 1)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    details = opened(qtbot, window, member_id)
    assert details.member is not None
    other.store.enqueue(UpdateContact(member_id=member_id, base_version=details.member.version,
                                      phone="+44 20 7946 9999"))
    other.sync()
    window.sync_now_action.trigger()  # or wait for the periodic pull
    qtbot.waitUntil(lambda: details.findChild(QLabel, "phone").text() == "+44 20 7946 9999", timeout=30_000)
    window.workspace.stop(wait=5.0)


def test_an_ended_session_asks_to_sign_in_again_and_keeps_the_queue(
    qtbot, sqlite_server: LiveServer
) -> None:
    from desktop_care.ui import message

    client = signed_in_client(sqlite_server)
    session = StaffSession(client, client.me())
    [member_id] = add_members(sqlite_server, unique("Expiry"), 1)
    workspace = Workspace(session, start=False)
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    window.show()
    details = opened(qtbot, window, member_id)
    editor = details.open_editor(EditContactDialog)
    assert isinstance(editor, EditContactDialog)
    type_into(qtbot, editor.fields["phone"].edit, "+44 20 7946 5555")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: details.pending_mark != "")
    client.logout()  # the server no longer accepts this token
    with qtbot.waitSignal(message.bridge.sign_in_required, timeout=15_000) as asked:
        workspace.syncer.start()
    assert "queued changes are kept" in asked.args[0]
    assert workspace.store.pending_count() == 1
    workspace.stop(wait=5.0)


def test_an_applied_change_does_not_flash_back_before_the_next_pull(qtbot, tmp_path: Path,
                                                                     sqlite_server: LiveServer) -> None:
    """Found by trying: once the server accepted a change, the table showed the old value
    again until the next pull brought the new one (the overlay left with the outbox
    entry, and the local directory still held the old row)."""
    surname = unique("Flash")
    [member_id] = add_members(sqlite_server, surname, 1)
    client = signed_in_client(sqlite_server)
    session = StaffSession(client, client.me())
    workspace = Workspace(session, store=LocalStore(tmp_path / "ws.sqlite3"), start=False)
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    workspace.syncer.sync_once()  # the directory, as a first sync brings it
    window.search_view.set_query(surname)
    model = window.search_view.model
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    old = model.summary(0)
    assert old.id == member_id and not old.name.startswith("Renamed")

    seen: list[str] = []
    model.dataChanged.connect(lambda *_: seen.append(model.summary(0).name))
    known = workspace.store.member_detail(member_id)
    assert known is not None
    workspace.submit(UpdateContact(member_id=member_id, base_version=known.version, first_name="Renamed"))
    qtbot.waitUntil(lambda: cell(window, 0, SYNC_COLUMN) == "⟳ 1")
    assert model.summary(0).name == f"Renamed {surname}"

    workspace.syncer.push_once()  # the server accepts it; no pull yet
    qtbot.waitUntil(lambda: cell(window, 0, SYNC_COLUMN) == "")  # no longer waiting to sync
    assert model.summary(0).name == f"Renamed {surname}"
    assert workspace.store.search(surname).items[0].name == f"Renamed {surname}"
    assert on_server(sqlite_server, member_id).first_name == "Renamed"

    workspace.syncer.sync_once()  # the pull brings the server's row: the same value, for good
    window.search_view.search_now()
    qtbot.waitUntil(lambda: not model.loading)
    assert model.summary(0).name == f"Renamed {surname}"
    assert seen and all(name == f"Renamed {surname}" for name in seen), seen
    workspace.stop()
