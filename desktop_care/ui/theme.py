"""Light and dark looks, and the text size: the style sheet (``resources/style.qss``, a
``string.Template``) filled in with one palette and the scaled point sizes, and a
matching ``QPalette`` for what the style sheet does not cover (menus, message boxes,
scroll bars). "Follow the system" reads the platform's colour scheme and follows it
when it changes."""

from __future__ import annotations

import logging
import string

from ..settings import Theme
from .qt import QApplication, QColor, QPalette, Qt

log = logging.getLogger(__name__)

#: The colours the style sheet names. Each dark one keeps its light counterpart's role
#: (and contrast with its background); the accent stays teal.
LIGHT: dict[str, str] = {
    "ink": "#1f2933", "ink_soft": "#3e4a59", "muted": "#5f6b7a", "disabled_ink": "#8a94a3",
    "canvas": "#f4f6f9", "surface": "#ffffff", "alternate": "#f8fafc", "subtle": "#eef1f5",
    "hover": "#f0f3f7", "pressed": "#e3e8ee", "line": "#d5dbe3", "input_line": "#c4ccd6", "grid": "#e6eaef",
    "selection": "#d3ece9", "text_selection": "#99d5cf",
    "accent": "#0f766e", "accent_hover": "#115e59", "accent_strong": "#0b5f59", "accent_disabled": "#7fb6b0",
    "on_accent": "#ffffff", "on_accent_disabled": "#f4f6f9",
    "success": "#067647", "warning": "#b54708", "warning_ink": "#7a2e0e", "warning_bg": "#fffaeb",
    "warning_line": "#fedf89", "danger": "#b42318", "danger_ink": "#7a271a", "danger_bg": "#fef3f2",
    "danger_line": "#fda29b",
}

DARK: dict[str, str] = {
    "ink": "#e6e9ed", "ink_soft": "#c9d0d8", "muted": "#a3adb9", "disabled_ink": "#6f7985",
    "canvas": "#16191e", "surface": "#1f242b", "alternate": "#242a32", "subtle": "#262c34",
    "hover": "#2b323b", "pressed": "#343c46", "line": "#3a424d", "input_line": "#4a5361", "grid": "#2f363f",
    "selection": "#1d4d48", "text_selection": "#2a6b64",
    "accent": "#14897f", "accent_hover": "#1a9c91", "accent_strong": "#5cc8bd", "accent_disabled": "#2f5f5a",
    "on_accent": "#ffffff", "on_accent_disabled": "#9fb5b2",
    "success": "#47cd89", "warning": "#fdb022", "warning_ink": "#fec84b", "warning_bg": "#2e2410",
    "warning_line": "#7a5a12", "danger": "#f97066", "danger_ink": "#fda29b", "danger_bg": "#33191a",
    "danger_line": "#7a2e28",
}

#: Point sizes the style sheet uses (``${pt10}`` and so on), before scaling.
POINT_SIZES: tuple[int, ...] = (9, 10, 11, 12, 14, 15)


def is_dark(theme: Theme) -> bool:
    """Whether ``theme`` means dark now (for SYSTEM: the platform's colour scheme)."""
    if theme is Theme.SYSTEM:
        return QApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    return theme is Theme.DARK


def style_sheet(template: str, *, dark: bool, text_size: int) -> str:
    """The style sheet for one palette and text size (percent). A placeholder the
    palettes do not fill is left as it is (and logged), never an exception at start."""
    values: dict[str, str] = dict(DARK if dark else LIGHT)
    values.update({f"pt{size}": f"{size * text_size / 100:.1f}pt" for size in POINT_SIZES})
    sheet = string.Template(template)
    unknown = {name for name in sheet.get_identifiers() if name not in values}
    if unknown:
        log.warning("the style sheet names colours no palette has: %s", ", ".join(sorted(unknown)))
    return sheet.safe_substitute(values)


def palette(dark: bool) -> QPalette:
    """A Qt palette of the same colours, for widgets the style sheet does not reach."""
    colours = DARK if dark else LIGHT
    out = QPalette()
    roles = {
        QPalette.ColorRole.Window: "canvas", QPalette.ColorRole.WindowText: "ink",
        QPalette.ColorRole.Base: "surface", QPalette.ColorRole.AlternateBase: "alternate",
        QPalette.ColorRole.Text: "ink", QPalette.ColorRole.Button: "surface", QPalette.ColorRole.ButtonText: "ink",
        QPalette.ColorRole.ToolTipBase: "surface", QPalette.ColorRole.ToolTipText: "ink",
        QPalette.ColorRole.PlaceholderText: "disabled_ink", QPalette.ColorRole.Highlight: "selection",
        QPalette.ColorRole.HighlightedText: "ink", QPalette.ColorRole.Link: "accent_strong",
        QPalette.ColorRole.Mid: "line", QPalette.ColorRole.Dark: "input_line",
    }
    for role, name in roles.items():
        out.setColor(role, QColor(colours[name]))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        out.setColor(QPalette.ColorGroup.Disabled, role, QColor(colours["disabled_ink"]))
    return out
