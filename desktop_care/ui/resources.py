"""The app's icon and style sheet, from ``resources/`` (see ``config.resources_dir``),
and the look chosen in Settings (theme, text size; :mod:`.theme`)."""

from __future__ import annotations

import functools
import logging

from .. import config
from ..settings import Theme
from . import theme as themes
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


class _Look:
    """The look in force, so that "Follow the system" can follow a change of scheme."""

    theme: Theme = Theme.SYSTEM
    text_size: int = 100
    following: QApplication | None = None


def apply_look(app: QApplication, theme: Theme | None = None, text_size: int | None = None) -> None:
    """The app's icon, style, palette and style sheet, in ``theme`` at ``text_size``
    percent (default: as last applied)."""
    _Look.theme = theme if theme is not None else _Look.theme
    _Look.text_size = text_size if text_size is not None else _Look.text_size
    dark = themes.is_dark(_Look.theme)
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    app.setPalette(themes.palette(dark))
    app.setStyleSheet(themes.style_sheet(style_sheet(), dark=dark, text_size=_Look.text_size))
    if _Look.following is not app:
        _Look.following = app
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: _follow_system(app))


def _follow_system(app: QApplication) -> None:
    if _Look.theme is Theme.SYSTEM:
        apply_look(app)


def current_look() -> tuple[Theme, int]:
    """The theme and text size in force."""
    return _Look.theme, _Look.text_size
