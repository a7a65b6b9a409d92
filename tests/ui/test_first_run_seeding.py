"""The first run's demo seeding, with the real embedded server subprocess: the server
reports how far it got, the startup window shows "Creating demo data… N of 3,000", and
Cancel stops it with nothing of it saved (the next start seeds again; decision 0037)."""

from __future__ import annotations

import sqlite3

from desktop_care import config
from desktop_care.embedded import EmbeddedServer
from desktop_care.seed_progress import FINISHING, MEMBERS, SeedProgress
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.app import DesktopCare, Options
from desktop_care.ui.qt import Qt
from desktop_care.ui.startup import CANCELLED


def _members_in(path: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM member").fetchone()[0])


def test_the_server_reports_the_seeding_batch_by_batch() -> None:
    seen: list[SeedProgress] = []
    server = EmbeddedServer(seed_members=150, on_progress=seen.append)
    with server:
        assert ApiClient(server.url or "", token=server.token).me().username == "demo-admin"
    assert _members_in(server.database_url.removeprefix("sqlite:///")) == 150
    assert seen[0] == SeedProgress(MEMBERS, 0, 150)
    members = [p.done for p in seen if p.stage == MEMBERS]
    assert members == sorted(members) and len(set(members)) == len(members)  # forward only, each once
    assert seen[-1] == SeedProgress(FINISHING, 150, 150)
    assert not server.progress_path.exists()  # gone once the server answers


def test_the_startup_window_counts_the_demo_data_and_cancel_keeps_nothing(qtbot, qapp, screenshot) -> None:
    app = DesktopCare(qapp, Options(), embedded_factory=lambda: EmbeddedServer(seed_members=3000))
    try:
        app.start()
        window = app.startup_window
        assert window is not None
        qtbot.waitUntil(lambda: window.status.text().startswith("Creating demo data…")
                        and window.progress.value() > 0, timeout=60_000)
        assert window.status.text().endswith(" of 3,000")
        assert window.progress.maximum() == 3000 and window.cancel_button.isVisible()
        screenshot(window, "startup-seeding")

        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.status.text() == CANCELLED, timeout=30_000)
        assert window.retry_button.isVisible() and window.quit_button.isVisible()
        assert not window.cancel_button.isVisible() and app.main_window is None
        assert app.embedded is not None and not app.embedded.running
        screenshot(window, "startup-seeding-cancelled")
        # One transaction, never committed: the migrated database has no member at all.
        assert _members_in(config.embedded_database_url().removeprefix("sqlite:///")) == 0
    finally:
        app.shutdown()
