"""The Bulk invite dialog against the real server: the dry run shown row by row, the
run with its progress, Stop between chunks (whole rows only) and the same file run
again to finish, the report saved as CSV, a file the server cannot read, offline."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from desktop_care.models import MailMessage, User
from desktop_care.ui.bulk_invite import CHUNK_ROWS, BulkInviteDialog, sample_path
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import QFileDialog, Qt
from desktop_care.ui.session import StaffSession
from desktop_care.ui.workspace import Workspace
from tests.support.bulk_files import BulkCase, arrange_bulk
from tests.support.servers import LiveServer
from tests.ui.arrange import server_session
from tests.ui.test_users_page import open_window, shot


@pytest.fixture
def window(qtbot, session: StaffSession) -> Iterator[tuple[MainWindow, Workspace]]:
    window, workspace = open_window(qtbot, session)
    yield window, workspace
    workspace.stop(wait=5.0)


def case_file(server: LiveServer, tmp_path: Path, rows: int, seed: int) -> tuple[BulkCase, Path]:
    with server_session(server) as db:
        case = arrange_bulk(db, rows, seed=seed)
    path = tmp_path / f"members-{case.tag}.csv"
    path.write_bytes(case.content)
    return case, path


def checked(qtbot, dialog: BulkInviteDialog, path: Path) -> None:
    dialog.load_file(path)
    qtbot.waitUntil(lambda: dialog.plan is not None or dialog.file_error.isVisible(), timeout=60_000)


def pick(qtbot, picker: QFileDialog, path: Path) -> None:
    """Choose ``path`` in the app's own (non-native) file dialog, as a person would."""
    qtbot.waitUntil(picker.isVisible)
    picker.selectFile(str(path))
    picker.accept()


def invited_users(server: LiveServer, case: BulkCase) -> int:
    emails = [email for _member, email in case.good.values()]
    with server_session(server) as db:
        return sum(db.scalar(select(func.count()).select_from(User).where(User.username.in_(emails[n:n + 500])))
                   or 0 for n in range(0, len(emails), 500))


def test_dry_run_then_run_with_progress_and_the_report_saved(
    qtbot, window: tuple[MainWindow, Workspace], sqlite_server: LiveServer, tmp_path: Path
) -> None:
    main, _workspace = window
    case, path = case_file(sqlite_server, tmp_path, 300, seed=21)
    main.bulk_invite_action.trigger()
    dialog = main.bulk_invite_dialog
    assert dialog is not None and dialog.isVisible()
    assert main.bulk_invite_action.shortcut().toString() == "Ctrl+Shift+B"
    assert not dialog.run_button.isEnabled() and not dialog.table.isVisible()
    shot(dialog, "bulk-invite-empty")

    pick(qtbot, dialog.choose_file(), path)
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=60_000)
    good, bad = len(case.good), len(case.bad)
    assert dialog.summary.text() == (f"<b>{good:,} will be invited.</b> {bad:,} rows have errors and will be "
                                     "skipped.")
    assert dialog.run_button.text() == f"Invite {good:,} people" and dialog.run_button.isEnabled()
    assert dialog.model.rowCount() == 300
    first_bad = min(case.bad)
    line = dialog.model.line(first_bad - 2)
    assert line.plan.row == first_bad and line.plan.error == case.bad[first_bad]
    assert dialog.model.index(first_bad - 2, 5).data().startswith("Error — ")
    shot(dialog, "bulk-invite-dry-run")
    dialog.errors_only.setChecked(True)
    assert dialog.model.rowCount() == bad
    assert [dialog.model.line(r).plan.row for r in range(bad)] == sorted(case.bad)
    shot(dialog, "bulk-invite-errors-only")
    dialog.errors_only.setChecked(False)

    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert dialog.running and dialog.stop_button.isVisible() and not dialog.close_button.isEnabled()
    shot(dialog, "bulk-invite-running")
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    assert dialog.progress.value() == dialog.progress.maximum() == good
    assert dialog.summary.text().startswith(f"<b>{good:,} invited.</b>")
    assert invited_users(sqlite_server, case) == good
    shot(dialog, "bulk-invite-done")

    picker = dialog.choose_report_file()
    report = tmp_path / "report.csv"
    pick(qtbot, picker, report)
    qtbot.waitUntil(lambda: dialog.progress_label.text() == f"Report saved to {report}", timeout=10_000)
    with report.open(encoding="utf-8-sig", newline="") as f:
        saved = list(csv.DictReader(f))
    assert len(saved) == 300
    outcomes = {int(r["row"]): r["result"] for r in saved}
    assert {outcomes[row] for row in case.good} == {"Invited"}
    assert {outcomes[row] for row in case.bad} == {"Skipped"}

    # The same file again: nobody to invite.
    checked(qtbot, dialog, path)
    assert dialog.summary.text().startswith("<b>Nobody will be invited:</b>")
    assert not dialog.run_button.isEnabled()


def test_stop_leaves_whole_chunks_and_the_same_file_finishes_the_rest(
    qtbot, window: tuple[MainWindow, Workspace], sqlite_server: LiveServer, tmp_path: Path
) -> None:
    main, _workspace = window
    case, path = case_file(sqlite_server, tmp_path, 1_000, seed=22)
    dialog = main.show_bulk_invite()
    checked(qtbot, dialog, path)
    good = len(case.good)
    assert good > 3 * CHUNK_ROWS
    dialog.run()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=60_000)
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    assert not dialog.stop_button.isEnabled()
    assert dialog.progress_label.text().startswith("Stopping after the rows being sent…")
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    done = dialog.progress.value()
    assert 0 < done < good and done % CHUNK_ROWS == 0
    assert dialog.summary.text().startswith(f"Stopped. <b>{done:,} invited.</b>")
    assert f"{good - done:,} rows were not sent" in dialog.summary.text()
    assert invited_users(sqlite_server, case) == done
    with server_session(sqlite_server) as db:  # every invited row whole: its user and its mail
        emails = [email for _member, email in case.good.values()]
        mails = sum(db.scalar(select(func.count()).select_from(MailMessage).where(
            MailMessage.to_address.in_(emails[n:n + 500]))) or 0 for n in range(0, len(emails), 500))
    assert mails == done
    not_run = [line for line in dialog.lines if line.outcome == "Not run"]
    assert len(not_run) == good - done
    shot(dialog, "bulk-invite-stopped")

    checked(qtbot, dialog, path)
    assert dialog.plan is not None and dialog.plan.to_invite == good - done
    dialog.run()
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    assert invited_users(sqlite_server, case) == good


def test_a_file_the_server_cannot_read_says_why_under_the_file(
    qtbot, window: tuple[MainWindow, Workspace], tmp_path: Path
) -> None:
    main, _workspace = window
    dialog = main.show_bulk_invite()
    path = tmp_path / "people.csv"
    path.write_text("member,e-mail address\n1000042,jane@example.org\n", encoding="utf-8")
    checked(qtbot, dialog, path)
    assert dialog.file_error.isVisible()
    assert dialog.file_error.text().startswith("The file has no 'role' column.")
    assert not dialog.run_button.isEnabled()
    shot(dialog, "bulk-invite-file-error")

    checked(qtbot, dialog, tmp_path / "gone.csv")
    assert dialog.file_error.text().startswith("The file cannot be read: No such file")


def test_the_sample_file_reads_and_can_be_saved(
    qtbot, window: tuple[MainWindow, Workspace], tmp_path: Path
) -> None:
    main, _workspace = window
    dialog = main.show_bulk_invite()
    target = tmp_path / "sample.csv"
    pick(qtbot, dialog.save_sample(), target)
    qtbot.waitUntil(lambda: target.exists() and "Sample saved" in dialog.file_label.text(), timeout=10_000)
    assert target.read_bytes() == sample_path().read_bytes()
    checked(qtbot, dialog, target)
    assert dialog.plan is not None and dialog.plan.total == 3  # its member IDs are examples: unknown here
    assert {row.error for row in dialog.plan.rows} == {"unknown_member"}


def test_offline_the_dialog_says_why_nothing_can_be_done(
    qtbot, window: tuple[MainWindow, Workspace]
) -> None:
    main, workspace = window
    workspace._online = False
    workspace.status_changed.emit(dataclasses.replace(workspace.status, online=False))
    dialog = main.show_bulk_invite()
    reason = "Bulk invite needs the server, and this computer is offline"
    assert not dialog.choose_button.isEnabled() and dialog.choose_button.toolTip() == reason
    assert not dialog.run_button.isEnabled() and dialog.run_button.toolTip() == reason
    assert dialog.offline_note.isVisible() and dialog.offline_note.text() == f"{reason}."
    shot(dialog, "bulk-invite-offline")
