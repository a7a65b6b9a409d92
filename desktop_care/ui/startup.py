"""The small window shown while the embedded (local) server starts."""

from __future__ import annotations

from .errors import Problem
from .qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, Qt, QVBoxLayout, QWidget, Signal
from .resources import app_icon
from .widgets import named

STARTING = "Starting the local server…"


class StartupWindow(QWidget):
    """"Starting the local server…" with a busy bar; on failure, why and what next."""

    retry_requested = Signal()
    quit_requested = Signal()

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
        self.note = named(QLabel("The first start prepares demo data, which can take a minute."),
                          "dialogIntro")
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
        self.retry_button.clicked.connect(self.retry_requested)
        self.quit_button.clicked.connect(self.quit_requested)
        buttons = QHBoxLayout()
        buttons.addStretch()
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
        self.note.show()
        self.progress.show()
        self.details.hide()
        self.retry_button.hide()
        self.quit_button.hide()

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
