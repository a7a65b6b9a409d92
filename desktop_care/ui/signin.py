"""The sign-in dialog: which server, who you are, and what went wrong in plain words.

After an online sign-in, a verifier of the password is kept on this computer
(:class:`~desktop_care.sync.offline_auth.OfflineCredentials`); when the server can't be
reached, the password is checked against it and the main window opens offline. The
verifier follows the server: a refused account (403) or a password the server no
longer takes drops it; it lapses after ``OFFLINE_SIGN_IN_DAYS``; wrong passwords make
the next try wait. The dialog says which, in plain words.

"Remember me on this computer" keeps a remembered sign-in of the server in the system
keyring (:mod:`desktop_care.sync.remembered`, decision 0036); the next start signs in
with it without asking (:meth:`SignInDialog.resume_saved`). Sign out, or a remembered
sign-in the server no longer takes, deletes it and the dialog says so. Without a usable
keyring the box is disabled, its tooltip says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .. import config
from ..schemas import LoginResponse, StaffPublic
from ..sync import remembered
from ..sync.api_client import (
    ApiClient,
    ApiError,
    Forbidden,
    ServerBusy,
    TimedOut,
    TlsFailed,
    Unauthorized,
    Unreachable,
    ValidationFailed,
    check_transport,
    normalize_server_url,
)
from ..sync.local_store import LocalStore
from ..sync.offline_auth import OfflineCheck, OfflineCredentials, OfflineResult
from .errors import describe, sentence
from .ops import Op
from .qt import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .resources import app_icon
from .session import StaffSession
from .widgets import FieldBox as _Field
from .widgets import grow_to_fit, named

log = logging.getLogger(__name__)

#: A remembered sign-in the server no longer takes (it was deleted from the keyring).
REMEMBERED_ENDED = ("Your saved sign-in has expired or was revoked, so this computer no longer keeps it. "
                    "Sign in with your password.")


@dataclass(frozen=True)
class _Offline:
    """The server could not be reached; the password was checked on this computer."""

    staff: StaffPublic | None
    error: ApiError
    #: Whether this computer has a verifier for the user at all (else: never signed in here).
    known: bool = True
    #: The offline check's answer (why it did not sign in).
    check: OfflineResult | None = None


def sign_in(client: ApiClient, username: str, password: str,
            remember: bool = False) -> tuple[LoginResponse | _Offline, LocalStore | None]:
    """Worker thread: sign in online (then remember a verifier, and with ``remember``
    keep the remembered sign-in in the keyring), or, with the server out of reach, check
    the password against the verifier of the last online sign-in. Once signed in, open
    this server's local store here too, not on the GUI thread."""
    try:
        response = client.login(username, password, remember=remember)
    except (Unreachable, TimedOut) as exc:
        credentials = OfflineCredentials()
        try:
            check = credentials.check(client.base_url, username, password)
        finally:
            credentials.close()
        offline = _Offline(check.staff, exc, known=check.reason is not OfflineCheck.UNKNOWN, check=check)
        return offline, (LocalStore.for_server(client.base_url) if offline.staff is not None else None)
    except Forbidden as refused:  # disabled, revoked: no offline sign-in either
        why = refused.message
        _follow_server(lambda c: c.refuse(client.base_url, username, why))
        raise
    except Unauthorized:  # a password the verifier still takes was changed on the server
        _follow_server(lambda c: c.password_refused(client.base_url, username, password))
        raise
    credentials = OfflineCredentials()
    try:
        credentials.remember(client.base_url, username, password, response.user)
    except Exception as exc:  # noqa: BLE001 - signing in online must not fail because of it
        log.warning("could not keep the offline sign-in verifier: %s", exc)
    finally:
        credentials.close()
    _keep_remembered(client.base_url, username, response.remember_token)
    return response, LocalStore.for_server(client.base_url)


def _keep_remembered(server_url: str, username: str, token: str | None) -> None:
    """The keyring keeps ``token`` for the server (None: it keeps nothing for it)."""
    try:
        if token is None:
            remembered.forget(server_url)
        else:
            remembered.save(server_url, username, token)
    except Exception as exc:  # noqa: BLE001 - signing in must not fail because of the keyring
        log.warning("could not update the remembered sign-in in the keyring: %s", exc)


@dataclass(frozen=True)
class _Resumed:
    response: LoginResponse
    store: LocalStore


def resume(client: ApiClient, saved: remembered.Remembered) -> _Resumed:
    """Worker thread: sign in with this computer's remembered sign-in ``saved`` of the
    server. One the server refuses (expired, revoked, the user may no longer sign in) is
    deleted from the keyring before the refusal is raised."""
    try:
        response = client.resume(saved.token)
    except (Unauthorized, Forbidden):
        remembered.forget(client.base_url)
        raise
    return _Resumed(response, LocalStore.for_server(client.base_url))


def sign_out(client: ApiClient) -> bool:
    """Worker thread: end the session on the server, and this computer's remembered
    sign-in with it (on the server and in the keyring); True if one was deleted."""
    try:
        saved = remembered.load(client.base_url)
    except Exception as exc:  # noqa: BLE001 - signing out must not fail because of the keyring
        log.warning("could not read the keyring at sign out: %s", exc)
        saved = None
    try:
        client.logout(saved.token if saved is not None else None)
    finally:
        forgotten = saved is not None and remembered.forget(client.base_url)
    return forgotten


def _follow_server(change: Callable[[OfflineCredentials], object]) -> None:
    credentials = OfflineCredentials()
    try:
        change(credentials)
    except Exception as exc:  # noqa: BLE001 - the server's answer is what the person must see
        log.warning("could not update the offline sign-in verifier: %s", exc)
    finally:
        credentials.close()


class SignInDialog(QDialog):
    """Signs a staff member in; emits :attr:`signed_in` with the new session."""

    signed_in = Signal(object)
    #: The embedded default only: sign in again as the demo Society Admin.
    demo_requested = Signal()

    def __init__(
        self,
        server_url: str = "",
        parent: QWidget | None = None,
        *,
        username: str = "",
        offer_demo: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("signInDialog")
        self.setWindowTitle("Sign in — Desktop Care")
        self.setWindowIcon(app_icon())
        self.setMinimumWidth(440)

        heading = named(QLabel("Sign in"), "dialogHeading")
        intro = named(QLabel("Use your staff account on the customer care server."), "dialogIntro")
        intro.setWordWrap(True)

        self.server = _Field("server", QLineEdit(server_url, placeholderText="https://care.example.org"))
        self.username = _Field("username", QLineEdit(username, placeholderText="Your staff username"))
        self.password = _Field("password", QLineEdit(placeholderText="Password"))
        self.password.edit.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Server:", self.server)
        form.addRow("Username:", self.username)
        form.addRow("Password:", self.password)
        self.remember_box = named(QCheckBox("Remember me on this computer"), "rememberBox")
        self.remember_box.setEnabled(False)
        self.remember_box.setToolTip("Checking this computer's keyring…")
        form.addRow("", self.remember_box)

        self.form_error = named(QLabel(), "formError")
        self.form_error.setProperty("role", "fieldError")
        self.form_error.setWordWrap(True)
        self.form_error.hide()

        buttons = QDialogButtonBox()
        self.sign_in_button = named(QPushButton("Sign in"), "signInButton")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.setProperty("role", "primary")
        buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        quit_button = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        quit_button.setObjectName("quitButton")
        if offer_demo:
            demo_button = named(QPushButton("Continue as Demo Admin"), "demoButton")
            demo_button.setToolTip("Restart the local demo server and sign in as its Society Admin")
            buttons.addButton(demo_button, QDialogButtonBox.ButtonRole.ActionRole)
            demo_button.clicked.connect(self.demo_requested)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.form_error)
        layout.addStretch()
        layout.addWidget(buttons)

        for field in (self.server, self.username, self.password):
            field.edit.textEdited.connect(lambda _text, f=field: f.set_error(""))
        (self.password if username else self.username).edit.setFocus()
        self._busy = False
        self._submitted = False
        #: True while signing in with a remembered sign-in.
        self.resuming = False
        self.keyring_checked = False
        Op(self, remembered.unavailable).success(self._keyring_checked).failure(
            lambda exc: self._keyring_checked(remembered.NO_KEYRING)).run()

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self) -> None:
        """Check the fields, then sign in off the GUI thread."""
        if self._busy:
            return
        self._submitted = True
        self._clear_errors()
        try:
            url = normalize_server_url(self.server.edit.text())
            check_transport(url, config.transport())
        except ValueError as exc:  # InsecureServerUrl too: plain http:// to another computer
            self._field_error(self.server, str(exc))
            return
        username, password = self.username.edit.text().strip(), self.password.edit.text()
        if not username:
            self._field_error(self.username, "Enter your username.")
            return
        if not password:
            self._field_error(self.password, "Enter your password.")
            return
        self.server.edit.setText(url)
        client = ApiClient(url)
        self._set_busy(True)
        remember = self.remember_box.isEnabled() and self.remember_box.isChecked()

        (
            Op(self, lambda: sign_in(client, username, password, remember))
            .success(lambda outcome: self._signed_in(client, *outcome))
            .failure(self._failed)
            .run()
        )

    def resume_saved(self) -> None:
        """Sign in with this computer's remembered sign-in of the server, if it keeps
        one: the keyring is read off the GUI thread while the dialog stays usable (a
        password sent meanwhile wins); only a remembered sign-in found makes it busy."""
        try:
            url = normalize_server_url(self.server.edit.text())
            check_transport(url, config.transport())
        except ValueError:
            return
        client = ApiClient(url)
        self._submitted = False
        Op(self, lambda: remembered.load(url)).success(lambda saved: self._saved_found(client, saved)).failure(
            lambda exc: log.warning("could not read the keyring: %s", exc)).run()

    def _saved_found(self, client: ApiClient, saved: remembered.Remembered | None) -> None:
        if saved is None or self._submitted or self._busy:
            return
        self.resuming = True
        self._set_busy(True, "Signing in…")
        self.username.edit.setText(saved.username)
        Op(self, lambda: resume(client, saved)).success(lambda resumed: self._resumed(client, resumed)).failure(
            self._resume_failed).run()

    # ----------------------------------------------------------------- internals

    def _keyring_checked(self, reason: str | None) -> None:
        self.keyring_checked = True
        self.remember_box.setEnabled(reason is None)
        self.remember_box.setToolTip(reason or "Stay signed in on this computer for 30 days: the system keyring "
                                               "keeps the sign-in (Sign out ends it)")

    def _resumed(self, client: ApiClient, resumed: _Resumed) -> None:
        self.resuming = False
        self._set_busy(False)
        self.signed_in.emit(StaffSession(client, resumed.response.user, store=resumed.store, remembered=True))
        self.accept()

    def _resume_failed(self, exc: BaseException) -> None:
        self.resuming = False
        self._set_busy(False)
        if isinstance(exc, Unauthorized):
            self._form_error(REMEMBERED_ENDED)
            self.password.edit.setFocus()
        elif isinstance(exc, Forbidden):  # the account may no longer sign in: the server says why
            self._form_error(f"{sentence(exc.message)} This computer no longer keeps your sign-in.")
            self.password.edit.setFocus()
        elif isinstance(exc, (Unreachable, TimedOut, TlsFailed)):
            self._field_error(self.server, describe(exc).text)
        else:
            self._form_error(describe(exc).text)

    def _signed_in(self, client: ApiClient, response: LoginResponse | _Offline, store: LocalStore | None) -> None:
        self._set_busy(False)
        if isinstance(response, _Offline):
            if response.staff is None:
                self._offline_refused(response)
                return
            self.password.edit.clear()
            self.signed_in.emit(StaffSession(client, response.staff, offline=True, store=store))
            self.accept()
            return
        self.password.edit.clear()
        self.signed_in.emit(StaffSession(client, response.user, store=store,
                                         remembered=response.remember_token is not None))
        self.accept()

    def _offline_refused(self, offline: _Offline) -> None:
        self.password.edit.clear()
        self.server.set_error(describe(offline.error).text)
        if not offline.known:
            self._field_error(self.username, "This user has never signed in to this server on this computer, so "
                                             "the password cannot be checked until the server can be reached.")
            return
        check = offline.check
        if check is not None and check.reason in (OfflineCheck.EXPIRED, OfflineCheck.REFUSED):
            self._form_error(check.message)
            self.password.edit.setFocus()
            return
        if check is not None and check.reason is OfflineCheck.THROTTLED:
            self._field_error(self.password, check.message)
            return
        self._form_error("Only someone who has signed in on this computer before can sign in while the "
                         "server is out of reach.")
        self._field_error(self.password, check.message if check is not None and check.message else
                          "Wrong password (checked offline, against your last sign-in on this computer).")

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, Unauthorized):
            self.password.edit.clear()
            self._field_error(self.password, sentence(exc.message))
        elif isinstance(exc, (Unreachable, TimedOut, TlsFailed)):
            self._field_error(self.server, describe(exc).text)
        elif isinstance(exc, Forbidden) or (isinstance(exc, ServerBusy) and exc.status == 429):
            # Refused (disabled, revoked) or throttled after failed sign-ins: the
            # server's words say why and, when throttled, how long to wait.
            self._form_error(sentence(exc.message))
        elif isinstance(exc, ValidationFailed) and exc.fields:
            fields = {"username": self.username, "password": self.password}
            for name, text in exc.fields.items():
                if name in fields:
                    self._field_error(fields[name], sentence(text))
                else:
                    self._form_error(sentence(f"{name}: {text}"))
        else:
            self._form_error(describe(exc).text)

    def _set_busy(self, busy: bool, text: str = "Signing in…") -> None:
        self._busy = busy
        for field in (self.server, self.username, self.password):
            field.edit.setEnabled(not busy)
        self.sign_in_button.setEnabled(not busy)
        self.sign_in_button.setText(text if busy else "Sign in")

    def _clear_errors(self) -> None:
        for field in (self.server, self.username, self.password):
            field.set_error("")
        self.form_error.clear()
        self.form_error.hide()

    def _field_error(self, field: _Field, text: str) -> None:
        field.set_error(text)
        field.edit.setFocus()
        field.edit.selectAll()
        self._fit()

    def _form_error(self, text: str) -> None:
        self.form_error.setText(text)
        self.form_error.show()
        self._fit()

    def _fit(self) -> None:
        grow_to_fit(self)
