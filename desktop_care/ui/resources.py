"""The app's icon and style sheet, from ``resources/`` (see ``config.resources_dir``)."""

from __future__ import annotations

import functools
import logging

from .. import config
from .qt import QApplication, QIcon

log = logging.getLogger(__name__)


@functools.cache
def app_icon() -> QIcon:
    icon = QIcon()
    for name in ("icon.svg", "icon-256.png", "icon-64.png", "icon-32.png"):
        path = config.resources_dir() / name
        if path.exists():
            icon.addFile(str(path))
    return icon


def style_sheet() -> str:
    path = config.resources_dir() / "style.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        log.info("no style sheet at %s (%s); using the platform style", path, exc)
        return ""


def apply_look(app: QApplication) -> None:
    """The app's icon, style and style sheet."""
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    app.setStyleSheet(style_sheet())
