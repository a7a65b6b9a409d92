"""Acting on behalf of a member: the reason, the one-time token, and the portal in an
embedded web view of its own (docs/decisions/0017-acting-on-behalf.md).

Each :class:`OnBehalfWindow` has its own off-the-record ``QWebEngineProfile``, made
for that session only: its cookies live in memory, die with the window, and are never
shared with another member's session (nor with the member's own browser). Above the
view, outside the page's reach, a banner says who acts for whom, with **Sign in as
yourself** and **Sign out**; the portal draws its own banner inside every page too.
Whatever ends it (those buttons, closing the window, the time limit, the staff member
signing out of the console) ends the session on the server.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from ...schemas import OnBehalfOut
from ...sync.api_client import ApiClient, Forbidden, ValidationFailed
from ..errors import describe, sentence
from ..ops import Op
from ..qt import (
    QApplication,
    QCloseEvent,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QObject,
    QPushButton,
    Qt,
    QTimer,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
    is_alive,
)
from ..widgets import FieldBox, named
from .trust import distrust, refusal_page

if TYPE_CHECKING:
    from ..qt import QWebEngineCertificateError

log = logging.getLogger(__name__)

#: Where the portal's own banner buttons lead (``server/portal/on_behalf.py``).
ENDED_PATH = "/portal/on-behalf/ended"
#: The console's banner: dark amber, unlike anything a portal page draws.
BANNER_STYLE = ("QFrame#onBehalfBanner { background: #3d2c00; }"
                "QFrame#onBehalfBanner QLabel { color: #ffffff; font-weight: 600; }"
                "QFrame#onBehalfBanner QPushButton { background: #fff4ce; color: #3d2c00; border: 0;"
                " border-radius: 3px; padding: 4px 12px; }")
INDICATOR_STYLE = "QLabel { background: #fff4ce; color: #3d2c00; border: 1px solid #c98a00; padding: 0 6px; }"
#: The console closes the view this long before the server's hard limit.
_LIMIT_MARGIN_MS = 1_000


class OnBehalfWindows(QObject):
    """Every open on-behalf window, announced: the main window shows them in its title
    and status bar, returns to the member on Sign in as yourself, signs out on Sign out."""

    opened = Signal(object)
    closed = Signal(object)
    #: Sign in as yourself (the window): show the member's details again.
    returned = Signal(object)
    #: Sign out (the window): sign out of the console.
    sign_out_requested = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.windows: list[OnBehalfWindow] = []

    def add(self, window: OnBehalfWindow) -> None:
        self.windows.append(window)
        self.opened.emit(window)

    def remove(self, window: OnBehalfWindow) -> None:
        if window in self.windows:
            self.windows.remove(window)
            self.closed.emit(window)

    def close_all(self, client: ApiClient | None = None) -> None:
        """Close the windows (of ``client``'s session only, when given)."""
        for window in list(self.windows):
            if client is None or window.client is client:
                window.close()


_windows: OnBehalfWindows | None = None


def on_behalf_windows() -> OnBehalfWindows:
    global _windows
    if _windows is None:
        _windows = OnBehalfWindows()
    return _windows


class OnBehalfWindow(QMainWindow):
    """The portal, as the member, for one on-behalf session."""

    #: The session ended (the reason it ended, as the server names it).
    ended = Signal(str)
    #: The first portal page finished loading (True when it loaded).
    first_page = Signal(bool)
    #: A page was refused for its certificate, and the view now says why.
    refusal_shown = Signal()

    def __init__(self, client: ApiClient, grant: OnBehalfOut, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("onBehalfWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.client = client
        self.grant = grant
        self.session_id = grant.session_id
        self.member_id = grant.member_id
        self.end_reason = ""
        self._first = True
        self.started_at = dt.datetime.now(dt.UTC)
        self.ends_by = self.started_at + dt.timedelta(seconds=grant.time_limit_seconds)
        self.setWindowTitle(f"Acting on behalf of {grant.member_name} ({grant.member_no}) — Desktop Care")
        self.resize(1180, 820)

        # A profile of its own, off the record (no storage name: nothing on disk), for
        # this session only. Owned by the application so that it outlives its page,
        # which must go first (see _release).
        from ..qt import QWebEnginePage, QWebEngineProfile, QWebEngineView  # QtWebEngine loads here

        self.profile = QWebEngineProfile(QApplication.instance())
        assert self.profile.isOffTheRecord()
        self.page = QWebEnginePage(self.profile, self.profile)
        self.view = named(QWebEngineView(self), "portalView")
        self.view.setPage(self.page)
        self.view.loadFinished.connect(self._load_finished)
        self.view.urlChanged.connect(self._url_changed)
        self.page.certificateError.connect(self._certificate_error)
        #: Set when a page's certificate was refused (the view then says why).
        self.certificate_refused = ""
        self._refusal_page = ""
        self._showing_refusal = False

        self.banner = named(QFrame(), "onBehalfBanner")
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner_text = named(QLabel(f"Desktop Care · {self.banner_line}"), "onBehalfBannerText")
        self.banner_text.setTextFormat(Qt.TextFormat.PlainText)
        self.yourself_button = named(QPushButton("Sign in as &yourself"), "signInAsYourselfButton")
        self.yourself_button.setToolTip("End this session and return to the member's details")
        self.sign_out_button = named(QPushButton("Sign &out"), "onBehalfSignOutButton")
        self.sign_out_button.setToolTip("End this session and sign out of Desktop Care")
        self.yourself_button.clicked.connect(lambda: self.finish("sign_in_as_yourself"))
        self.sign_out_button.clicked.connect(lambda: self.finish("sign_out"))
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(12, 8, 12, 8)
        row.addWidget(self.banner_text, 1)
        row.addWidget(self.yourself_button)
        row.addWidget(self.sign_out_button)

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.status_text = named(QLabel(f"{self.banner_line} · ends by {self.ends_by.astimezone():%H:%M} "
                                        "at the latest"), "onBehalfStatus")
        self.statusBar().addPermanentWidget(self.status_text, 1)

        self._limit = QTimer(self, singleShot=True)
        self._limit.timeout.connect(lambda: self.finish("time_limit"))
        self._limit.start(max(0, grant.time_limit_seconds * 1000 - _LIMIT_MARGIN_MS))
        on_behalf_windows().add(self)
        self.view.load(QUrl(f"{client.base_url}{grant.url}"))

    # ----------------------------------------------------------------- state

    @property
    def banner_line(self) -> str:
        return f"{self.grant.staff_name} acting on behalf of {self.grant.member_name} · member {self.grant.member_no}"

    @property
    def active(self) -> bool:
        return not self.end_reason

    # ----------------------------------------------------------------- ending

    def finish(self, why: str) -> None:
        """End the session on the server (once), then close; Sign in as yourself
        returns to the member, Sign out signs out of the console."""
        if not self.active:
            return
        self._end_on_server(why)
        self._ended(why)
        self.close()

    def _ended(self, why: str) -> None:
        self.end_reason = why
        self.ended.emit(why)
        windows = on_behalf_windows()
        if why == "sign_in_as_yourself":
            windows.returned.emit(self)
        elif why == "sign_out":
            windows.sign_out_requested.emit(self)

    def _end_on_server(self, why: str) -> None:
        client, session_id = self.client, self.session_id
        # Owned by the registry, not the window: the window is closing, the request must still go.
        Op(on_behalf_windows(), lambda: client.end_on_behalf(session_id, why)).failure(
            lambda exc: log.info("ending on-behalf session %s: %s", session_id, exc)).run()

    def _url_changed(self, url: QUrl) -> None:
        """The portal's own banner buttons end the session there; follow it here."""
        if url.path() == ENDED_PATH and self.active:
            then = parse_qs(url.query()).get("then", ["yourself"])[0]
            self._ended("sign_out" if then == "sign_out" else "sign_in_as_yourself")
            QTimer.singleShot(0, self.close)

    def _certificate_error(self, error: QWebEngineCertificateError) -> None:
        """Trust what the console trusts (its CA file too), and nothing else: see trust.py."""
        why = distrust(error, self.client.base_url, self.client.transport)
        if why is None:
            error.acceptCertificate()
            return
        error.rejectCertificate()
        self.certificate_refused = why
        self._refusal_page = refusal_page(error, why)
        log.warning("on-behalf view refused the certificate of %s: %s", error.url().toString(), error.description())

    def _load_finished(self, ok: bool) -> None:
        if self._first:
            self._first = False
            self.first_page.emit(ok)
        if not ok and self._refusal_page:
            # Chromium's own error page has replaced the page by now: say why instead.
            page, self._refusal_page = self._refusal_page, ""
            self._showing_refusal = True
            self.page.setHtml(page)
        elif ok and self._showing_refusal:
            self._showing_refusal = False
            self.refusal_shown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.active:
            self._end_on_server("view_closed")
            self._ended("view_closed")
        self._limit.stop()
        on_behalf_windows().remove(self)
        self._release()
        super().closeEvent(event)

    def _release(self) -> None:
        """The page goes before its profile (Qt warns otherwise); both go with the window."""
        page, profile = self.page, self.profile
        if is_alive(page):
            from ..qt import QWebEnginePage

            self.view.setPage(QWebEnginePage(self.view))  # a blank page the view owns
            page.destroyed.connect(profile.deleteLater)
            page.deleteLater()


class OnBehalfIndicator(QObject):
    """What the console's main window shows while one of its sessions acts on behalf:
    its title and status bar say so; Sign in as yourself brings back the member's
    details; Sign out signs out of the console."""

    def __init__(self, main: QMainWindow, client: ApiClient, open_member: Callable[[int], object],
                 sign_out: Callable[[], None]) -> None:
        super().__init__(main)
        self.main = main
        self.client = client
        self._open_member = open_member
        self._sign_out = sign_out
        self._title = ""
        self.label = named(QLabel(), "onBehalfIndicator")
        self.label.setStyleSheet(INDICATOR_STYLE)
        self.label.hide()
        main.statusBar().addPermanentWidget(self.label)
        windows = on_behalf_windows()
        windows.opened.connect(self._changed)
        windows.closed.connect(self._changed)
        windows.returned.connect(self._returned)
        windows.sign_out_requested.connect(self._signed_out)

    def _mine(self) -> list[OnBehalfWindow]:
        return [w for w in on_behalf_windows().windows if w.client is self.client]

    def _changed(self, _window: object = None) -> None:
        mine = self._mine()
        title = self.main.windowTitle().split(" — Acting on behalf of ")[0]
        if mine:
            names = ", ".join(w.grant.member_name for w in mine)
            self.label.setText(f"Acting on behalf of {names}")
            self.label.setToolTip("\n".join(w.banner_line for w in mine))
            self.main.setWindowTitle(f"{title} — Acting on behalf of {names}")
        else:
            self.main.setWindowTitle(title)
        self.label.setVisible(bool(mine))

    def _returned(self, window: OnBehalfWindow) -> None:
        if window.client is self.client:
            self._open_member(window.member_id)

    def _signed_out(self, window: OnBehalfWindow) -> None:
        if window.client is self.client:
            self._sign_out()


class ActOnBehalfDialog(QDialog):
    """Act on behalf…: asks the reason, then opens the portal as the member."""

    opened = Signal(object)

    def __init__(self, client: ApiClient, member_id: int, member_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("actOnBehalfDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(f"Act on behalf of {member_name}")
        self.setMinimumWidth(480)
        self.client = client
        self.member_id = member_id
        self.window_opened: OnBehalfWindow | None = None
        intro = named(QLabel(f"Open the member portal as {member_name}. Everything you do there is recorded "
                             "in the member's history with your name, and the member is told by e-mail, with "
                             "the reason. You cannot change their password or e-mail address there."),
                      "actOnBehalfIntro")
        intro.setWordWrap(True)
        self.reason = FieldBox("reason", QLineEdit())
        self.reason.edit.setPlaceholderText("e.g. Member phoned: cannot renew online")
        self.reason.edit.setMaxLength(500)
        label = QLabel("&Reason (required)")
        label.setBuddy(self.reason.edit)
        self.form_error = named(QLabel(), "formError")
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm = named(QPushButton("Act on behalf"), "actOnBehalfConfirm")
        self.confirm.setDefault(True)
        self.buttons.addButton(self.confirm, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(label)
        layout.addWidget(self.reason)
        layout.addWidget(self.form_error)
        layout.addWidget(self.buttons)

    def submit(self) -> None:
        text = " ".join(self.reason.edit.text().split())
        self.form_error.hide()
        if not text:
            self.reason.set_error("Give the reason for acting on the member's behalf.")
            return
        self.reason.set_error("")
        self.confirm.setEnabled(False)
        self.confirm.setText("Opening the portal…")
        start_acting_on_behalf(self.client, self.member_id, text, on_open=self._opened, on_failed=self._failed,
                               owner=self)

    def _opened(self, window: OnBehalfWindow) -> None:
        self.window_opened = window
        self.opened.emit(window)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.confirm.setEnabled(True)
        self.confirm.setText("Act on behalf")
        if isinstance(exc, ValidationFailed) and "reason" in exc.fields:
            self.reason.set_error(sentence(exc.fields["reason"]))
            return
        text = sentence(exc.message) if isinstance(exc, Forbidden) else describe(exc).text
        self.form_error.setText(f"You cannot act on behalf of this member: {text[:1].lower()}{text[1:]}"
                                if isinstance(exc, Forbidden) else text)
        self.form_error.show()


def start_acting_on_behalf(
    client: ApiClient,
    member_id: int,
    reason: str,
    *,
    on_open: Callable[[OnBehalfWindow], None] | None = None,
    on_failed: Callable[[BaseException], None] | None = None,
    owner: QObject | None = None,
) -> None:
    """Ask the server for a one-time token and open the portal on the member's behalf
    (an op: the GUI thread never waits). The one call for every way in: Act on behalf…
    on a member's details, and "Add a customer", which goes straight to acting on
    behalf of the member it just created. The window has no parent: it stays open
    whatever else closes, until its session ends (the main window closes it on sign-out)."""
    def opened(grant: OnBehalfOut) -> None:
        window = OnBehalfWindow(client, grant)
        window.show()
        if on_open is not None:
            on_open(window)

    Op(owner or on_behalf_windows(), lambda: client.act_on_behalf(member_id, reason)).success(opened).failure(
        on_failed or (lambda exc: log.info("act on behalf of member %s: %s", member_id, exc))).run()


def act_on_behalf_refusal(role_refusal: str | None, online: bool, merged: bool) -> str | None:
    """Why Act on behalf is greyed out here and now (None when it is not)."""
    from ...commands import ActOnBehalf
    if role_refusal is not None:
        return role_refusal
    if merged:
        return "This member was merged into another: act on behalf of that one"
    if not online:
        return f"{ActOnBehalf.label} needs the server, and this computer is offline"
    return None
