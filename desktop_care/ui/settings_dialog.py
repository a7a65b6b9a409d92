"""File → Settings: the central server(s) and their certificate authority, the theme,
the text size, and whether the username is remembered (:mod:`desktop_care.settings`).

The look applies at once when saved; the server addresses at the next sign-in (the
session in use stays on its server)."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

from .. import config
from .. import settings as store
from ..settings import TEXT_SIZES, Settings, Theme
from ..sync.api_client import InsecureServerUrl, check_transport, normalize_server_url
from .qt import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QShowEvent,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .resources import app_icon, apply_look
from .widgets import FieldBox, grow_to_fit, named


def server_list(text: str, transport: config.Transport) -> tuple[str, ...]:
    """The addresses typed one per line, normalised; ValueError naming the line at fault."""
    urls: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            url = normalize_server_url(line)
            check_transport(url, transport)
        except InsecureServerUrl:
            raise ValueError(f"Line {number}: plain http:// to another computer sends passwords unencrypted. "
                             "Use https://, or allow plain http:// below.") from None
        except ValueError as exc:
            raise ValueError(f"Line {number}: {exc}") from None
        if url not in urls:
            urls.append(url)
    return tuple(urls)


def check_ca_file(text: str) -> Path | None:
    """The CA file typed, or None; ValueError when it is not a readable PEM file."""
    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise ValueError("There is no file at that path.")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        raise ValueError("That file holds no certificate in PEM form (-----BEGIN CERTIFICATE-----).") from None
    return path.resolve()


class SettingsDialog(QDialog):
    """Edits the saved settings; emits :attr:`saved` with them once written."""

    saved = Signal(object)

    def __init__(self, current: Settings, parent: QWidget | None = None, *, path: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings — Desktop Care")
        self.setWindowIcon(app_icon())
        self.setMinimumWidth(560)
        self.current, self.path = current, path

        heading = named(QLabel("Settings"), "dialogHeading")

        server_box = QGroupBox("Central server")
        self.servers = FieldBox("servers", QPlainTextEdit("\n".join(current.server_urls)))
        self.servers.edit.setPlaceholderText("https://care.example.org")
        self.servers.edit.setTabChangesFocus(True)
        self.servers.edit.setFixedHeight(72)
        self.servers.edit.setAccessibleName("Central server addresses")
        servers_note = named(QLabel("One address per line; the first is used when Desktop Care starts. "
                                    "Leave it empty to use the local server on this computer. "
                                    "A change applies at the next sign-in."), "dialogIntro")
        servers_note.setWordWrap(True)
        servers_note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.ca_file = FieldBox("caFile", QLineEdit(str(current.ca_file or "")))
        self.ca_file.edit.setPlaceholderText("Only if your organisation runs its own certificate authority")
        self.ca_file.edit.setAccessibleName("Certificate authority file")
        browse = QPushButton("Browse…")
        browse.setObjectName("browseCaFile")
        browse.clicked.connect(self._browse)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(browse)
        self.insecure = QCheckBox("Allow plain http:// to other computers")
        self.insecure.setChecked(current.allow_insecure_http)
        insecure_note = named(QLabel("Only on a network you trust: over plain http:// passwords and member "
                                     "data travel unencrypted."), "dialogIntro")
        insecure_note.setWordWrap(True)
        insecure_note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        server_form = QFormLayout(server_box)
        server_form.addRow("Addresses:", self.servers)
        server_form.addRow("", servers_note)
        server_form.addRow("CA file:", ca_row)
        server_form.addRow("", self.insecure)
        server_form.addRow("", insecure_note)

        look_box = QGroupBox("Appearance")
        self.themes = QButtonGroup(self)
        theme_row = QHBoxLayout()
        self.theme_buttons: dict[Theme, QRadioButton] = {}
        for theme in Theme:
            button = QRadioButton(theme.label)
            button.setObjectName(f"theme_{theme.value}")
            button.setChecked(theme is current.theme)
            self.themes.addButton(button)
            self.theme_buttons[theme] = button
            theme_row.addWidget(button)
        theme_row.addStretch(1)
        self.text_size = QComboBox()
        self.text_size.setObjectName("textSizeCombo")
        self.text_size.setAccessibleName("Text size")
        for size in TEXT_SIZES:
            self.text_size.addItem(f"{size}%" + (" (standard)" if size == 100 else ""), size)
        self.text_size.setCurrentIndex(TEXT_SIZES.index(current.text_size))
        look_form = QFormLayout(look_box)
        look_form.addRow("Theme:", theme_row)
        look_form.addRow("Text size:", self.text_size)

        sign_in_box = QGroupBox("Signing in")
        self.remember = QCheckBox("Remember my username on this computer")
        self.remember.setChecked(current.remember_username)
        QVBoxLayout(sign_in_box).addWidget(self.remember)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setProperty("role", "primary")
        save.setObjectName("saveSettings")
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(server_box)
        layout.addWidget(look_box)
        layout.addWidget(sign_in_box)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        grow_to_fit(self)

    def chosen_theme(self) -> Theme:
        return next(theme for theme, button in self.theme_buttons.items() if button.isChecked())

    def _browse(self) -> None:
        start = self.ca_file.edit.text().strip() or str(Path.home())
        name, _filter = QFileDialog.getOpenFileName(self, "Certificate authority file", start,
                                                    "Certificates (*.pem *.crt *.cer);;All files (*)")
        if name:
            self.ca_file.edit.setText(name)

    def _save(self) -> None:
        for box in (self.servers, self.ca_file):
            box.set_error("")
        transport = config.Transport(allow_insecure_http=self.insecure.isChecked())
        problems = False
        try:
            urls = server_list(self.servers.edit.toPlainText(), transport)
        except ValueError as exc:
            self.servers.set_error(str(exc))
            problems = True
        try:
            ca_file = check_ca_file(self.ca_file.edit.text())
        except ValueError as exc:
            self.ca_file.set_error(str(exc))
            problems = True
        if problems:
            grow_to_fit(self)
            return
        remember = self.remember.isChecked()
        chosen = replace(
            self.current, server_urls=urls, ca_file=ca_file, allow_insecure_http=self.insecure.isChecked(),
            theme=self.chosen_theme(), text_size=int(self.text_size.currentData()), remember_username=remember,
            username=self.current.username if remember else "",
        )
        try:
            store.save(chosen, self.path)
        except OSError as exc:
            self.servers.set_error(f"The settings could not be saved: {exc.strerror or exc}.")
            grow_to_fit(self)
            return
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_look(app, chosen.theme, chosen.text_size)
        config.set_transport(store.transport_of(chosen))
        self.current = chosen
        self.saved.emit(chosen)
        self.accept()
