"""The crash dialog: a bug nothing else caught, told plainly, with a copyable report.

:class:`CrashHandler` connects :mod:`desktop_care.crash`'s hooks to the GUI: a report
from any thread travels to the GUI thread by a queued signal and shows in one
non-modal :class:`CrashDialog` (a second report replaces the first one's text; the
person is never buried under dialogs). "Keep working" closes it (the app goes on: the
outbox keeps every change), "Quit" ends the run as crashed, so the next start names
the report again. :func:`previous_crash_box` tells at start that the last run crashed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .. import crash
from .qt import (
    PYSIDE_VERSION,
    QApplication,
    QDialog,
    QFont,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QObject,
    QPlainTextEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
    qVersion,
)
from .resources import app_icon
from .widgets import named

log = logging.getLogger(__name__)

HEADING = "Something went wrong inside Desktop Care"


def qt_versions() -> dict[str, str]:
    return {"Qt": qVersion(), "PySide6": PYSIDE_VERSION}


class CrashDialog(QDialog):
    """Non-modal: what happened, where the report is, the report itself, and a choice."""

    quit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("Problem — Desktop Care")
        self.setWindowIcon(app_icon())
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setMinimumSize(640, 460)
        self.report: crash.CrashReport | None = None
        self.count = 0

        heading = named(QLabel(HEADING), "dialogHeading")
        self.summary = named(QLabel(), "crashSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = self.summary.font()
        bold.setBold(True)
        self.summary.setFont(bold)
        self.intro = named(QLabel(), "dialogIntro")
        self.intro.setWordWrap(True)
        self.intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = named(QPlainTextEdit(), "crashReport")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(9)
        self.text.setFont(mono)

        self.copy_button = named(QPushButton("Copy report"), "copyReportButton")
        self.copy_button.setToolTip("Copy the report to the clipboard, to paste it into an e-mail or a ticket")
        self.copy_button.clicked.connect(self.copy)
        self.quit_button = named(QPushButton("Quit"), "quitButton")
        self.quit_button.clicked.connect(self.quit_requested)
        self.keep_button = named(QPushButton("Keep working"), "keepWorkingButton")
        self.keep_button.setProperty("role", "primary")
        self.keep_button.setDefault(True)
        self.keep_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addStretch()
        buttons.addWidget(self.quit_button)
        buttons.addWidget(self.keep_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(self.summary)
        layout.addWidget(self.intro)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)

    def show_report(self, report: crash.CrashReport) -> None:
        self.report = report
        self.count += 1
        where = (f"It is also saved in {report.path}." if report.path is not None
                 else "It could not be saved; copy it before you close this window.")
        again = f" (this has happened {self.count} times in this run)" if self.count > 1 else ""
        self.summary.setText(f"{report.summary}{again}")
        self.intro.setText(
            "Your changes are safe: they are kept on this computer and sync as "
            "usual. You can keep working, or quit and start again. Please send the report below to whoever "
            f"supports Desktop Care: it helps them fix this. {where}"
        )
        self.text.setPlainText(report.text())
        self.copy_button.setText("Copy report")
        self.show()
        self.raise_()

    def copy(self) -> None:
        if self.report is not None:
            QApplication.clipboard().setText(self.report.text())
            self.copy_button.setText("Copied")


class CrashHandler(QObject):
    """Installs the hooks; shows each report in the one crash dialog, on the GUI thread."""

    _reported = Signal(object)
    #: The person chose "Quit" in the crash dialog.
    quit_requested = Signal()

    def __init__(self, run: crash.Run | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.dialog: CrashDialog | None = None
        self.reports: list[crash.CrashReport] = []
        self._hooks = crash.Hooks(run, self._reported.emit, qt_versions())
        self._reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> CrashHandler:
        self._hooks.install()
        return self

    def uninstall(self) -> None:
        self._hooks.uninstall()

    def _show(self, report: crash.CrashReport) -> None:
        self.reports.append(report)
        if self.dialog is None:
            self.dialog = CrashDialog()
            self.dialog.quit_requested.connect(self.quit_requested)
        self.dialog.show_report(report)


def previous_crash_box(previous: crash.PreviousCrash, parent: QWidget | None = None,
                       on_close: Callable[[], None] | None = None) -> QMessageBox:
    """A non-modal notice: the last run crashed, and where its report is."""
    box = QMessageBox(parent)
    box.setObjectName("previousCrashBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Desktop Care")
    box.setText("The last time, Desktop Care stopped because of a problem.")
    box.setInformativeText(
        f"{previous.summary}\n\nThe report is saved in {previous.report_path}. Please send it to whoever "
        "supports Desktop Care. Your changes were kept."
    )
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setWindowModality(Qt.WindowModality.NonModal)
    if on_close is not None:
        box.finished.connect(lambda _result: on_close())
    box.show()
    return box
