"""The message bridge: one way to tell the person something.

``message.error(...)``, ``message.warning(...)`` and ``message.info(...)`` log the text
and emit :attr:`MessageBridge.shown`; the main window shows it in its status bar, and
errors (or anything given a ``parent``) also open a non-modal box over that window.
Tests assert on :attr:`MessageBridge.history` or wait for ``shown``.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass

from .errors import Action, Problem, describe
from .qt import QMessageBox, QObject, Qt, QWidget, Signal, is_alive

log = logging.getLogger(__name__)


class Level(enum.Enum):
    INFO = logging.INFO
    WARNING = logging.WARNING
    ERROR = logging.ERROR


@dataclass(frozen=True)
class Message:
    level: Level
    text: str
    details: str = ""


class MessageBridge(QObject):
    #: Every message, as it is shown.
    shown = Signal(object)
    #: The server no longer accepts our token: whoever owns the session signs in again.
    sign_in_required = Signal(str)

    def __init__(self, history_size: int = 50) -> None:
        super().__init__()
        self.history: deque[Message] = deque(maxlen=history_size)

    def show(self, message: Message, parent: QWidget | None = None) -> None:
        log.log(message.level.value, "%s%s", message.text, f"\n{message.details}" if message.details else "")
        self.history.append(message)
        self.shown.emit(message)
        if parent is not None and is_alive(parent) and message.level is not Level.INFO:
            _show_box(message, parent.window())


bridge = MessageBridge()


def error(text: str, *, details: str = "", parent: QWidget | None = None) -> None:
    bridge.show(Message(Level.ERROR, text, details), parent)


def warning(text: str, *, details: str = "", parent: QWidget | None = None) -> None:
    bridge.show(Message(Level.WARNING, text, details), parent)


def info(text: str) -> None:
    bridge.show(Message(Level.INFO, text))


def problem(exc: BaseException, *, parent: QWidget | None = None) -> Problem:
    """Tell the person about a failed op in the standard way; returns the problem.

    A session that has ended asks for a new sign-in instead of showing a box.
    """
    found = describe(exc)
    if found.action is Action.SIGN_IN_AGAIN:
        bridge.show(Message(Level.WARNING, found.text))
        bridge.sign_in_required.emit(found.text)
    elif found.is_bug:
        error(found.text, details=found.details, parent=parent)
    else:
        warning(found.text, parent=parent)
    return found


def _show_box(message: Message, window: QWidget) -> None:
    icon = QMessageBox.Icon.Critical if message.level is Level.ERROR else QMessageBox.Icon.Warning
    box = QMessageBox(icon, window.windowTitle() or "Desktop Care", message.text,
                      QMessageBox.StandardButton.Close, window)
    if message.details:
        box.setDetailedText(message.details)
    box.setObjectName("messageBox")
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
