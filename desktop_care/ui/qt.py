"""The one module that imports Qt.

Everything else in the UI imports Qt names from here, so the binding (PySide6) and its
version quirks are handled in one place.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRunnable,
    QSize,
    QSocketNotifier,
    Qt,
    QThreadPool,
    QTimer,
    QUrl,
    Signal,
    Slot,
    qVersion,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QShowEvent,
)
from PySide6.QtNetwork import QSslCertificate, QSslConfiguration
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QTabBar,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from shiboken6 import isValid as is_alive

if TYPE_CHECKING:
    from PySide6.QtWebEngineCore import QWebEngineCertificateError, QWebEnginePage, QWebEngineProfile
    from PySide6.QtWebEngineWidgets import QWebEngineView

ModelIndex = QModelIndex | QPersistentModelIndex

#: QtWebEngine (Chromium: ~30 MB resident and a slower start) loads only when the first
#: web view is made (acting on behalf), not at start: its names come from here on first
#: use (:func:`__getattr__`). Loading it after the QApplication exists needs OpenGL
#: contexts shared, which must be set before the QApplication is made: here.
_WEB_ENGINE = {
    "QWebEngineCertificateError": "PySide6.QtWebEngineCore",
    "QWebEnginePage": "PySide6.QtWebEngineCore",
    "QWebEngineProfile": "PySide6.QtWebEngineCore",
    "QWebEngineView": "PySide6.QtWebEngineWidgets",
}
if QCoreApplication.instance() is None:
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def __getattr__(name: str) -> Any:
    """The QtWebEngine names, imported the first time one is asked for."""
    module = _WEB_ENGINE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "PYSIDE_VERSION",
    "ModelIndex",
    "QAbstractButton",
    "QAbstractItemView",
    "QAbstractTableModel",
    "QAction",
    "QApplication",
    "QButtonGroup",
    "QCheckBox",
    "QCloseEvent",
    "QColor",
    "QComboBox",
    "QDialog",
    "QDialogButtonBox",
    "QEvent",
    "QFileDialog",
    "QFont",
    "QFontMetrics",
    "QFormLayout",
    "QFrame",
    "QGridLayout",
    "QGroupBox",
    "QHBoxLayout",
    "QHeaderView",
    "QIcon",
    "QImage",
    "QKeyEvent",
    "QKeySequence",
    "QLabel",
    "QLayout",
    "QLayoutItem",
    "QLineEdit",
    "QMainWindow",
    "QMenu",
    "QMessageBox",
    "QModelIndex",
    "QObject",
    "QPalette",
    "QPersistentModelIndex",
    "QPlainTextEdit",
    "QPoint",
    "QProgressBar",
    "QPushButton",
    "QRadioButton",
    "QRect",
    "QRunnable",
    "QScrollArea",
    "QShowEvent",
    "QSize",
    "QSocketNotifier",
    "QSplitter",
    "QSslCertificate",
    "QSslConfiguration",
    "QStackedWidget",
    "QStatusBar",
    "QTabBar",
    "QTabWidget",
    "QTableView",
    "QTableWidget",
    "QTableWidgetItem",
    "QThreadPool",
    "QTimer",
    "QUrl",
    "QVBoxLayout",
    "QWebEngineCertificateError",
    "QWebEnginePage",
    "QWebEngineProfile",
    "QWebEngineView",
    "QWidget",
    "QWizard",
    "QWizardPage",
    "Qt",
    "Signal",
    "Slot",
    "is_alive",
    "qVersion",
]
