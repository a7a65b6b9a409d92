"""The small window shown while the embedded (local) server starts."""

from __future__ import annotations

from ..seed_progress import FINISHING, SeedProgress
from .errors import Problem
from .qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, Qt, QVBoxLayout, QWidget, Signal
from .resources import app_icon
from .widgets import named

STARTING = "Starting the local server…"
FIRST_START = "The first start prepares demo data, which can take a minute."
CANCELLED = ("Cancelled. No demo data was saved: it will be created the next time Desktop Care starts "
             "(or now, with Try again).")


def seeding_text(progress: SeedProgress) -> str:
    if progress.stage == FINISHING:
        return f"Finishing the demo data ({progress.total:,} members)…"
    return f"Creating demo data… {progress.done:,} of {progress.total:,}"


class StartupWindow(QWidget):
    """"Starting the local server…" with a busy bar; on a first run "Creating demo
    data… N of 3,000" with a bar and Cancel; on failure, why and what next."""

    retry_requested = Signal()
    quit_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("startupWindow")
        self.setWindowTitle("Desktop Care")
        self.setWindowIcon(app_icon())
        self.setMinimumWidth(460)

        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(56, 56))
        title = named(QLabel("Desktop Care"), "dialogHeading")
        self.status = named(QLabel(STARTING), "startupStatus")
        self.status.setWordWrap(True)
        self.note = named(QLabel(FIRST_START), "dialogIntro")
        self.note.setWordWrap(True)
        self.progress = named(QProgressBar(), "startupProgress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.details = named(QLabel(), "startupDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()

        self.retry_button = named(QPushButton("Try again"), "retryButton")
        self.retry_button.setProperty("role", "primary")
        self.quit_button = named(QPushButton("Quit"), "quitButton")
        self.cancel_button = named(QPushButton("Cancel"), "cancelSeedingButton")
        self.cancel_button.setToolTip("Stop creating the demo data: nothing of it is kept, and it is created the "
                                      "next time Desktop Care starts")
        self.retry_button.clicked.connect(self.retry_requested)
        self.quit_button.clicked.connect(self.quit_requested)
        self.cancel_button.clicked.connect(self._cancel)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.quit_button)
        buttons.addWidget(self.retry_button)

        header = QHBoxLayout()
        header.addWidget(icon)
        header.addSpacing(8)
        header.addWidget(title, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 20, 20, 16)
        layout.setSpacing(10)
        layout.addLayout(header)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        layout.addWidget(self.progress)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        self.show_starting()

    def show_starting(self) -> None:
        self.status.setText(STARTING)
        self.note.setText(FIRST_START)
        self.note.show()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.details.hide()
        self.retry_button.hide()
        self.quit_button.hide()
        self.cancel_button.hide()

    def show_seeding(self, progress: SeedProgress) -> None:
        """How far the first run's demo data has got, with Cancel."""
        self.status.setText(seeding_text(progress))
        self.note.setText("This happens once, on the first start.")
        if progress.stage == FINISHING:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, max(progress.total, 1))
            self.progress.setValue(progress.done)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)

    def show_cancelled(self) -> None:
        self.status.setText(CANCELLED)
        self.note.hide()
        self.progress.hide()
        self.details.hide()
        self.cancel_button.hide()
        self.retry_button.show()
        self.quit_button.show()
        self.adjustSize()

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling…")
        self.cancel_requested.emit()

    def show_problem(self, problem: Problem) -> None:
        self.status.setText(problem.text)
        self.note.hide()
        self.progress.hide()
        tail = problem.details.strip().splitlines()[-8:]
        self.details.setText("\n".join(tail))
        self.details.setVisible(bool(tail))
        self.retry_button.show()
        self.quit_button.show()
        self.adjustSize()
