"""The last-resort crash handler: an exception nothing caught shows a non-modal dialog
with a copyable report; a run that crashed is named at the next start."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_care import __version__, config, crash
from desktop_care.ui.app import DesktopCare, Options
from desktop_care.ui.crash_dialog import HEADING, CrashHandler
from desktop_care.ui.qt import QApplication, QMessageBox, QPushButton, Qt
from tests.support.servers import REPO, LiveServer

# Our own hook must see the exception, not pytest-qt's capture (which fails the test).
pytestmark = pytest.mark.qt_no_exception_capture


@pytest.fixture
def handler(qtbot) -> Iterator[CrashHandler]:
    run = crash.Run(config.log_dir())
    run.begin(fault_handler=False)  # pytest keeps its own faulthandler
    handler = CrashHandler(run).install()
    yield handler
    handler.uninstall()
    if handler.dialog is not None:
        handler.dialog.close()
        handler.dialog.deleteLater()
    run.end()


def raise_in_a_slot() -> None:
    raise RuntimeError("boom in a slot")


@pytest.mark.expect_log("desktop_care.crash", r"^uncaught exception on MainThread", level=logging.CRITICAL)
def test_an_exception_in_a_slot_shows_the_report_without_blocking(qtbot, handler: CrashHandler,
                                                                   screenshot) -> None:
    button = QPushButton("Break")
    qtbot.addWidget(button)
    button.clicked.connect(raise_in_a_slot)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # returns: the dialog does not block
    qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
    dialog = handler.dialog
    assert dialog is not None and not dialog.isModal()
    assert HEADING == "Something went wrong inside Desktop Care"
    assert dialog.summary.text() == "RuntimeError: boom in a slot"
    report = dialog.text.toPlainText()
    assert f"Version: {__version__}" in report and "Platform: " in report and "Qt: " in report
    assert "in raise_in_a_slot" in report and "RuntimeError: boom in a slot" in report
    assert "Recent log lines:" in report

    saved = handler.reports[-1].path
    assert saved is not None and saved.parent == config.log_dir()
    assert saved.read_text() == report
    assert str(saved) in dialog.intro.text()

    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == report
    assert dialog.copy_button.text() == "Copied"
    screenshot(dialog, "crash-dialog")

    qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


@pytest.mark.expect_log("desktop_care.crash", r"^uncaught exception on background-worker", level=logging.CRITICAL)
def test_an_exception_on_a_worker_thread_is_shown_on_the_gui_thread(qtbot, handler: CrashHandler) -> None:
    def work() -> None:
        raise ValueError("broken in the background")

    thread = threading.Thread(target=work, name="background-worker")
    thread.start()
    thread.join(timeout=10)
    qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
    assert handler.dialog is not None
    report = handler.dialog.text.toPlainText()
    assert "Thread: background-worker" in report and "ValueError: broken in the background" in report


@pytest.mark.expect_log("desktop_care.crash", r"^uncaught exception on MainThread", level=logging.CRITICAL)
def test_quit_in_the_crash_dialog_is_a_crashed_run_named_at_the_next_start(qtbot, handler: CrashHandler) -> None:
    button = QPushButton("Break")
    qtbot.addWidget(button)
    button.clicked.connect(raise_in_a_slot)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
    assert handler.dialog is not None
    with qtbot.waitSignal(handler.quit_requested):
        qtbot.mouseClick(handler.dialog.quit_button, Qt.MouseButton.LeftButton)
    # The run did not end cleanly (no Run.end()): the next start finds it.
    previous = crash.previous_crash()
    assert previous is not None
    assert previous.summary == "RuntimeError: boom in a slot"
    assert previous.report_path == handler.reports[-1].path


def crashing_run(data: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DESKTOP_CARE_DATA_DIR=str(data), PYTHONPATH=str(REPO))
    script = (
        "from desktop_care import crash, logs\n"
        "logs.setup()\n"
        "run, _ = crash.start_run()\n"
        "crash.Hooks(run, lambda report: None).install()\n"
        f"{code}\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


@pytest.mark.parametrize(
    ("code", "summary"),
    [
        ("raise LookupError('the member vanished')", "LookupError: the member vanished"),
        ("import faulthandler; faulthandler._sigsegv()", "Fatal Python error: Segmentation fault"),
    ],
)
def test_a_run_that_crashed_is_named_at_the_next_start(
    qtbot, qapp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_server: LiveServer, code: str,
    summary: str, screenshot,
) -> None:
    data = tmp_path / "profile"
    result = crashing_run(data, code)
    assert result.returncode != 0
    monkeypatch.setenv("DESKTOP_CARE_DATA_DIR", str(data))

    run, previous = crash.start_run(fault_handler=False)
    try:
        assert previous is not None
        assert previous.summary == summary
        assert previous.report_path.parent == config.log_dir() and previous.report_path.exists()
        app = DesktopCare(qapp, Options(server=sqlite_server.url), previous_crash=previous)
        app.start()
        notice = app.crash_notice
        assert notice is not None and notice.isVisible() and not notice.isModal()
        assert notice.text() == "The last time, Desktop Care stopped because of a problem."
        assert summary in notice.informativeText() and str(previous.report_path) in notice.informativeText()
        screenshot(notice, "previous-crash")
        notice.button(QMessageBox.StandardButton.Ok).click()
        assert app.crash_notice is None
        assert app.sign_in_dialog is not None
        app.sign_in_dialog.close()
    finally:
        run.end()
    assert crash.previous_crash() is None  # this run ended cleanly
