"""The main window: the member search, the menus, and a status bar saying who is
signed in, to which server, and whether that server can be reached."""

from __future__ import annotations

from .. import __version__
from ..schemas import Health
from ..sync.api_client import TimedOut, Unreachable
from . import message
from .errors import describe
from .members.details_dialog import MemberDetailsDialog
from .members.search_view import SearchView
from .ops import Op
from .qt import (
    PYSIDE_VERSION,
    QAction,
    QCloseEvent,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMessageBox,
    Qt,
    QTimer,
    QWidget,
    Signal,
    qVersion,
)
from .resources import app_icon
from .session import StaffSession
from .widgets import named

HEALTH_INTERVAL_MS = 15_000

ONLINE = "● Online"
OFFLINE = "● Offline — server unreachable"
NOT_ANSWERING = "● Offline — server not answering"
CHECKING = "● Connecting…"


class MainWindow(QMainWindow):
    """Signed-in staff's window onto one server."""

    sign_out_requested = Signal()
    quit_requested = Signal()

    def __init__(
        self,
        session: StaffSession,
        parent: QWidget | None = None,
        *,
        health_interval_ms: int = HEALTH_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("mainWindow")
        self.setWindowTitle("Desktop Care — Member search")
        self.setWindowIcon(app_icon())
        self.resize(1280, 760)

        self.search_view = SearchView(session.client, self)
        self.setCentralWidget(self.search_view)
        self.search_view.search_box.setFocus()
        self.search_view.member_opened.connect(self.open_member)
        self._details: dict[int, MemberDetailsDialog] = {}

        self._build_menus()
        self._build_status_bar()
        message.bridge.shown.connect(self._show_message)

        self._health: Health | None = None
        self._checking = False
        self._health_timer = QTimer(self, interval=health_interval_ms)
        self._health_timer.timeout.connect(self.check_connection)
        self._health_timer.start()
        self.check_connection()

    # ----------------------------------------------------------------- building

    def _build_menus(self) -> None:
        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu("&File")
        self.sign_out_action = self._action("Sign &out", self.sign_out_requested.emit,
                                            QKeySequence("Ctrl+Shift+L"))
        self.quit_action = self._action("&Quit", self._quit, QKeySequence(QKeySequence.StandardKey.Quit))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addAction(self.sign_out_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        members_menu = menu_bar.addMenu("&Members")
        self.find_action = self._action("&Find member", self.search_view.focus_search,
                                        QKeySequence(QKeySequence.StandardKey.Find))
        self.refresh_action = self._action("&Refresh results", self.search_view.search_now,
                                           QKeySequence(QKeySequence.StandardKey.Refresh))
        self.open_action = self._action("&Open selected member", self._open_selected, QKeySequence("Ctrl+O"))
        members_menu.addActions([self.find_action, self.open_action, self.refresh_action])

        help_menu = menu_bar.addMenu("&Help")
        self.about_action = self._action("&About Desktop Care", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    def _action(self, text: str, slot: object, shortcut: QKeySequence | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.staff_label = named(QLabel(self.session.staff_label), "staffLabel")
        where = f"{self.session.server_url} (local)" if self.session.local else self.session.server_url
        self.server_label = named(QLabel(where), "serverLabel")
        self.server_label.setToolTip("The server this window works with")
        self.connection_label = named(QLabel(CHECKING), "connectionLabel")
        for label in (self.staff_label, self.server_label, self.connection_label):
            bar.addPermanentWidget(label)

    # ----------------------------------------------------------------- actions

    def open_member(self, member_id: int) -> MemberDetailsDialog:
        """Open (or bring forward) the details of a member."""
        dialog = self._details.get(member_id)
        if dialog is None:
            dialog = MemberDetailsDialog(self.session.client, member_id, self)
            dialog.destroyed.connect(lambda _=None, key=member_id: self._details.pop(key, None))
            self._details[member_id] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _open_selected(self) -> None:
        member = self.search_view.current_member()
        if member is not None:
            self.open_member(member.id)

    def check_connection(self) -> None:
        """Ask the server for its health (off the GUI thread) and show the outcome."""
        if self._checking:
            return
        self._checking = True
        client = self.session.client
        (
            Op(self, client.health)
            .success(self._online)
            .failure(self._offline)
            .finally_(self._checked)
            .run()
        )

    @property
    def connection_state(self) -> str:
        return self.connection_label.text()

    def show_about(self) -> None:
        server = f"{self.session.server_url}"
        if self._health is not None:
            server += f" (version {self._health.version}, {self._health.database})"
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About Desktop Care",
                          f"<h3>Desktop Care {__version__}</h3>"
                          "<p>A customer care console for membership organisations: find a member, "
                          "fix their account, act on their behalf.</p>"
                          f"<p>Server: {server}<br>Signed in as: {self.session.staff_label}<br>"
                          f"Qt {qVersion()}, PySide {PYSIDE_VERSION}</p>",
                          QMessageBox.StandardButton.Close, self)
        box.setObjectName("aboutBox")
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    # ----------------------------------------------------------------- internals

    def _online(self, health: Health) -> None:
        self._health = health
        self._set_connection(ONLINE, "online", f"Server version {health.version}, database {health.database}")

    def _offline(self, exc: BaseException) -> None:
        if isinstance(exc, Unreachable):
            self._set_connection(OFFLINE, "offline", describe(exc).text)
        elif isinstance(exc, TimedOut):
            self._set_connection(NOT_ANSWERING, "offline", describe(exc).text)
        else:
            self._set_connection(f"● Server problem — {describe(exc).text}", "problem", "")

    def _checked(self) -> None:
        self._checking = False

    def _set_connection(self, text: str, state: str, tooltip: str) -> None:
        self.connection_label.setText(text)
        self.connection_label.setToolTip(tooltip)
        self.connection_label.setProperty("state", state)
        self.connection_label.style().unpolish(self.connection_label)
        self.connection_label.style().polish(self.connection_label)

    def _show_message(self, msg: message.Message) -> None:
        self.statusBar().showMessage(msg.text, 10_000)

    def _quit(self) -> None:
        self.quit_requested.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._health_timer.stop()
        for dialog in list(self._details.values()):
            dialog.close()
        super().closeEvent(event)
