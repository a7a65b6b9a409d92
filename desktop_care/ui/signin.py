"""The sign-in dialog: which server, who you are, and what went wrong in plain words."""

from __future__ import annotations

from ..schemas import LoginResponse
from ..sync.api_client import (
    ApiClient,
    Forbidden,
    TimedOut,
    Unauthorized,
    Unreachable,
    ValidationFailed,
    normalize_server_url,
)
from .errors import describe, sentence
from .ops import Op
from .qt import (
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
from .widgets import named


class _Field(QWidget):
    """A line edit with its error message underneath (hidden while there is none)."""

    def __init__(self, name: str, edit: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = edit
        self.edit.setObjectName(f"{name}Edit")
        self.error = named(QLabel(), f"{name}Error")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(edit)
        layout.addWidget(self.error)

    def set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self.edit.setProperty("invalid", bool(text))
        self.edit.style().unpolish(self.edit)
        self.edit.style().polish(self.edit)


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

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self) -> None:
        """Check the fields, then sign in off the GUI thread."""
        if self._busy:
            return
        self._clear_errors()
        try:
            url = normalize_server_url(self.server.edit.text())
        except ValueError as exc:
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

        def sign_in() -> LoginResponse:
            return client.login(username, password)

        (
            Op(self, sign_in)
            .success(lambda response: self._signed_in(client, response))
            .failure(self._failed)
            .run()
        )

    # ----------------------------------------------------------------- internals

    def _signed_in(self, client: ApiClient, response: LoginResponse) -> None:
        self._set_busy(False)
        self.password.edit.clear()
        self.signed_in.emit(StaffSession(client, response.user))
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, Unauthorized):
            self.password.edit.clear()
            self._field_error(self.password, sentence(exc.message))
        elif isinstance(exc, (Unreachable, TimedOut)):
            self._field_error(self.server, describe(exc).text)
        elif isinstance(exc, Forbidden):
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

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for field in (self.server, self.username, self.password):
            field.edit.setEnabled(not busy)
        self.sign_in_button.setEnabled(not busy)
        self.sign_in_button.setText("Signing in…" if busy else "Sign in")

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
        """Grow to show a message that just appeared (never shrink under the person)."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
        height = max(self.height(), self.sizeHint().height())
        if height > self.height():
            self.resize(self.width(), height)
