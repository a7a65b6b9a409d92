"""Long jobs you can see: a first sync's progress in the status bar, with a Cancel that
stops it safely (the next "Sync now" goes on from the last page stored).

Real parts: the shared SQLite server, the real LocalStore, Syncer and main window.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from desktop_care.sync.local_store import LocalStore
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import QApplication, Qt
from desktop_care.ui.session import StaffSession
from desktop_care.ui.workspace import Workspace
from tests.support.servers import REPO, LiveServer
from tests.ui.arrange import add_members, signed_in_client, unique


def test_a_first_sync_shows_its_progress_and_cancel_stops_it_until_sync_now(
    qtbot, sqlite_server: LiveServer, tmp_path: Path, screenshot
) -> None:
    add_members(sqlite_server, unique("Progress"), 40)
    client = signed_in_client(sqlite_server)
    session = StaffSession(client, client.me())
    store = LocalStore(tmp_path / "first-sync.sqlite3")
    workspace = Workspace(session, store=store, start=False)
    workspace.syncer.page_size = 4  # a directory of many pages, as a large one is
    window = MainWindow(session, workspace=workspace)
    qtbot.addWidget(window)
    window.show()
    progress = window.sync_progress
    assert not progress.isVisible()
    seen: list[str] = []
    workspace.status_changed.connect(lambda _status: seen.append(window.connection_state))
    workspace.syncer.start()

    qtbot.waitUntil(progress.isVisible, timeout=30_000)
    assert progress.bar.maximum() >= 40 and 0 < progress.bar.value() <= progress.bar.maximum()
    assert any(text.startswith("● Receiving the directory… ") and " of about " in text for text in seen)
    QApplication.processEvents()  # the status bar's layout follows the new text
    screenshot(window, "first-sync-progress")
    qtbot.mouseClick(progress.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.connection_state == "● Online · sync paused", timeout=30_000)
    assert not progress.isVisible()
    latest = client.changes(0, 1).latest
    assert latest is not None
    stopped_at = store.cursor()
    assert 0 < stopped_at < latest  # some pages are stored, not all
    screenshot(window, "first-sync-paused")

    window.sync_now_action.trigger()  # goes on from where it stopped
    qtbot.waitUntil(lambda: window.connection_state == "● Online" and store.cursor() >= latest, timeout=60_000)
    assert store.search("").total >= 40
    workspace.stop(wait=5.0)
    store.close()


#: Pages and dialogs not on the first screen: they load when first opened (decision 0041).
NOT_AT_START = ("desktop_care.ui.members.details_dialog", "desktop_care.ui.members.editing",
                "desktop_care.ui.tickets.tickets_view", "desktop_care.ui.tickets.ticket_view",
                "desktop_care.ui.users.users_view", "desktop_care.ui.fraud.blocks_view",
                "desktop_care.ui.bulk_invite", "desktop_care.ui.settings_dialog", "desktop_care.ui.palette",
                "desktop_care.ui.wizards")


def test_the_app_starts_without_loading_the_web_engine_or_the_other_pages() -> None:
    """QtWebEngine (Chromium, ~30 MB resident) loads with the first portal view, and the
    pages and dialogs not on the first screen when first opened, not at start."""
    probe = ("import sys, desktop_care.ui.app, desktop_care.ui.main_window; "
             f"print(sorted(m for m in sys.modules if 'WebEngine' in m or m in {NOT_AT_START!r}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                            cwd=str(REPO), env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
