"""The dialogs that change a member: Edit info, Email prefs, Adjust points.

Each one only collects input. It checks it by building the command (the rules live in
``commands/``): pydantic errors are shown under the fields they concern, in plain
words. A valid command goes to ``send`` — the one path every change takes (the
workspace queues it locally and nudges the syncer; the Sync issues panel resolves an
issue with it) — and the dialog closes once it is safely queued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from pydantic import ValidationError

from ...commands import AddressIn, AdjustPoints, Command, SetEmailPreference, UpdateContact
from ...models import AddressKind, PointsType
from ...schemas import MemberDetail
from .. import format as fmt
from ..errors import describe, sentence
from ..qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ..widgets import FieldBox, grow_to_fit, named

#: ``send(command, done, failed)``: queue the command; call ``done()`` once it is safe,
#: or ``failed(exc)`` if it could not be queued.
Send = Callable[[Command, Callable[[], None], Callable[[BaseException], None]], None]


class NothingChanged(ValueError):
    """The person saved without changing anything."""


class Invalid(ValueError):
    """Several checks failed at once: ``fields`` (name → message) and form messages."""

    def __init__(self, fields: dict[str, str], form: list[str]) -> None:
        super().__init__("; ".join([*fields.values(), *form]))
        self.fields = fields
        self.form = form


def describe_field_error(label: str, error: Mapping[str, Any]) -> str:
    """One pydantic error, in plain words, for the field called ``label``."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "Enter a value." if minimum <= 1 else f"Enter at least {minimum} characters."
    if kind == "string_too_long":
        return f"Use at most {ctx.get('max_length')} characters."
    if kind == "greater_than_equal":
        return f"Must be at least {ctx.get('ge'):,}."
    if kind == "less_than_equal":
        return f"Must be at most {ctx.get('le'):,}."
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "Enter a whole number."
    if kind == "enum":
        return "Choose one of the options."
    if kind == "missing":
        return "Enter a value."
    text = str(error.get("msg", "")).removeprefix("Value error, ")
    return sentence(f"{label} {text}")


def field_errors(exc: ValidationError, labels: Mapping[str, str],
                 aliases: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """Map a command's validation errors to ``{field: message}`` and form-level messages.

    ``loc`` ``("home_address", "postcode")`` is the field ``postcode``; ``aliases``
    maps other locations (``"home_address"`` → ``"line1"``).
    """
    aliases = aliases or {}
    fields: dict[str, str] = {}
    form: list[str] = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        name = next((part for part in reversed(loc) if part in labels), None)
        if name is None and loc:
            name = aliases.get(loc[0])
        if name is None:
            form.append(sentence(str(error.get("msg", "")).removeprefix("Value error, ")))
        else:
            fields.setdefault(name, describe_field_error(labels[name], error))
    return fields, form


class CommandDialog(QDialog):
    """What the three dialogs share: fields with errors, a form error, Save/Cancel."""

    #: The command was queued (the dialog then closes).
    submitted = Signal(object)

    labels: ClassVar[dict[str, str]] = {}
    aliases: ClassVar[dict[str, str]] = {}

    def __init__(self, member: MemberDetail, send: Send, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.member = member
        self._send = send
        self._busy = False
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(f"{title} — {member.name} ({member.member_no})")
        self.setMinimumWidth(480)
        self.fields: dict[str, FieldBox] = {}
        self.form_error = named(QLabel(), "formError")
        self.form_error.setProperty("role", "fieldError")
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        self.heading = named(QLabel(f"{title}: {member.name} · {member.member_no}"), "dialogHeading")
        self.buttons = QDialogButtonBox()
        self.save_button = named(QPushButton("Save"), "saveButton")
        self.save_button.setProperty("role", "primary")
        self.save_button.setDefault(True)
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("cancelButton")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

    def _field(self, name: str, edit: Any) -> FieldBox:
        box = FieldBox(name, edit)
        self.fields[name] = box
        signal = getattr(edit, "textEdited", None) or getattr(edit, "currentIndexChanged", None)
        if signal is not None:
            signal.connect(lambda *_: box.set_error(""))
        return box

    def _layout(self, *parts: QWidget) -> QVBoxLayout:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        for part in parts:
            layout.addWidget(part)
        layout.addWidget(self.form_error)
        layout.addStretch()
        layout.addWidget(self.buttons)
        return layout

    # ----------------------------------------------------------------- checking

    def build_command(self) -> Command:
        """The command for what is in the fields (raises ValidationError/NothingChanged)."""
        raise NotImplementedError

    def check(self) -> Command | None:
        """Build the command, or show what is wrong and return None."""
        self.clear_errors()
        try:
            return self.build_command()
        except (ValidationError, Invalid) as exc:
            if isinstance(exc, Invalid):
                fields, form = exc.fields, exc.form
            else:
                fields, form = field_errors(exc, self.labels, self.aliases)
            for name, text in fields.items():
                self.fields[name].set_error(text)
            if form:
                self.show_form_error(" ".join(form))
            first = next(iter(fields), None)
            if first is not None:
                self.fields[first].edit.setFocus()
        except NothingChanged as exc:
            self.show_form_error(str(exc))
        self._fit()
        return None

    def _fit(self) -> None:
        grow_to_fit(self)

    def save(self) -> None:
        if self._busy:
            return
        command = self.check()
        if command is not None:
            self.send(command)

    def send(self, command: Command) -> None:
        self._set_busy(True)
        self._send(command, lambda: self._sent(command), self._failed)

    def _sent(self, command: Command) -> None:
        self._set_busy(False)
        self.submitted.emit(command)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        text = sentence(str(exc)) if isinstance(exc, ValueError) else describe(exc).text
        self.show_form_error(f"The change was not saved: {text}")

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.save_button.setEnabled(not busy)

    def clear_errors(self) -> None:
        for box in self.fields.values():
            box.set_error("")
        self.form_error.clear()
        self.form_error.hide()

    def show_form_error(self, text: str) -> None:
        self.form_error.setText(text)
        self.form_error.show()
        self._fit()

    def errors(self) -> dict[str, str]:
        """The field errors on show (for tests and screenshots)."""
        return {name: box.error.text() for name, box in self.fields.items() if box.error.isVisible()}


# --------------------------------------------------------------------- Edit info

_CONTACT_LABELS = {
    "title": "Title", "first_name": "First name", "last_name": "Last name", "email": "E-mail",
    "phone": "Phone", "line1": "Address line 1", "line2": "Address line 2", "city": "Town or city",
    "region": "County or region", "postcode": "Postcode", "country": "Country",
}
_ADDRESS_KEYS = ("line1", "line2", "city", "region", "postcode", "country")


def home_address(member: MemberDetail) -> dict[str, str]:
    address = next((a for a in member.addresses if a.kind == AddressKind.HOME), None)
    if address is None:
        return {key: "" for key in _ADDRESS_KEYS}
    return {key: getattr(address, key) for key in _ADDRESS_KEYS}


class EditContactDialog(CommandDialog):
    """Name, e-mail, phone and home address; the logon ID is shown but not editable."""

    labels: ClassVar[dict[str, str]] = _CONTACT_LABELS
    aliases: ClassVar[dict[str, str]] = {"home_address": "line1"}

    def __init__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(member, send, "Edit info", parent)
        self.setObjectName("editContactDialog")
        self._before: dict[str, str] = {
            "title": member.title, "first_name": member.first_name, "last_name": member.last_name,
            "email": member.email, "phone": member.phone, **home_address(member),
        }
        start = dict(self._before)
        for key, value in (initial or {}).items():
            if key == "home_address" and isinstance(value, Mapping):
                start.update({k: str(v or "") for k, v in value.items() if k in _ADDRESS_KEYS})
            elif key in start and value is not None:
                start[key] = str(value)
        self.logon_id = named(QLabel(member.logon_id), "logonId")
        self.logon_id.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.logon_id.setToolTip("The logon ID cannot be changed")
        person = QGroupBox("Contact")
        form = QFormLayout(person)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Logon ID:", self.logon_id)
        address = QGroupBox("Home address")
        address_form = QFormLayout(address)
        address_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for name, label in _CONTACT_LABELS.items():
            target = address_form if name in _ADDRESS_KEYS else form
            target.addRow(f"{label}:", self._field(name, QLineEdit(start[name])))
        self._layout(person, address)

    def value(self, name: str) -> str:
        edit = self.fields[name].edit
        assert isinstance(edit, QLineEdit)
        return edit.text()

    def build_command(self) -> Command:
        changed = {name: self.value(name) for name in ("title", "first_name", "last_name", "email", "phone")
                   if self.value(name).strip() != self._before[name]}
        address = {key: self.value(key) for key in _ADDRESS_KEYS}
        address_changed = any(address[k].strip() != self._before[k] for k in _ADDRESS_KEYS)
        if not changed and not address_changed:
            raise NothingChanged("Nothing has changed.")
        if address_changed and not any(v.strip() for v in address.values()):
            raise NothingChanged("A home address cannot be removed here; change its lines instead.")
        # Check the address and the rest separately, so every error shows at once
        # (AddressIn's errors name the address fields: loc "postcode", …).
        fields: dict[str, str] = {}
        form: list[str] = []
        home = None
        if address_changed:
            try:
                home = AddressIn.model_validate(address)
            except ValidationError as exc:
                fields, form = field_errors(exc, self.labels, self.aliases)
        try:
            command = UpdateContact(member_id=self.member.id, base_version=self.member.version,
                                    home_address=home, **changed)  # type: ignore[arg-type]
        except ValidationError as exc:
            more_fields, more_form = field_errors(exc, self.labels, self.aliases)
            fields.update(more_fields)
            if not (fields and more_form == ["Nothing to change."]):
                form += more_form
        if fields or form:
            raise Invalid(fields, form)
        return command


# --------------------------------------------------------------------- Email prefs


class EmailPrefsDialog(CommandDialog):
    labels: ClassVar[dict[str, str]] = {"email_opt_in": "E-mail opt-in"}

    def __init__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(member, send, "Email prefs", parent)
        self.setObjectName("emailPrefsDialog")
        opt_in = bool((initial or {}).get("email_opt_in", member.email_opt_in))
        self.opt_in = named(QCheckBox("Send this member e-mails (news, renewals and notices)"), "optInCheck")
        self.opt_in.setChecked(opt_in)
        self._field("email_opt_in", self.opt_in)
        where = named(QLabel(f"E-mails go to: {fmt.or_none(member.email)}"), "emailTarget")
        where.setWordWrap(True)
        self._layout(where, self.fields["email_opt_in"])

    def build_command(self) -> Command:
        wanted = self.opt_in.isChecked()
        if wanted == self.member.email_opt_in:
            raise NothingChanged("Nothing has changed.")
        return SetEmailPreference(member_id=self.member.id, base_version=self.member.version,
                                  email_opt_in=wanted)


# --------------------------------------------------------------------- Adjust points


def confirmation(command: AdjustPoints, member: MemberDetail) -> str:
    """``"Add 250 bonus points to Jane Doe (1000042)? Reason: …"``"""
    amount = f"{abs(command.delta):,} {command.points_type.value}"
    if command.delta > 0:
        action = f"Add {amount} points to"
    else:
        action = f"Remove {amount} points from"
    return f"{action} {member.name} ({member.member_no})? Reason: {command.reason}"


class AdjustPointsDialog(CommandDialog):
    """Two steps, as in the manual: amount, type and reason → Next → Confirm."""

    labels: ClassVar[dict[str, str]] = {"delta": "Amount", "points_type": "Points type", "reason": "Reason"}

    def __init__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(member, send, "Adjust points", parent)
        self.setObjectName("adjustPointsDialog")
        initial = initial or {}
        self._pending: AdjustPoints | None = None
        self.amount = QLineEdit(str(initial.get("delta", "")), placeholderText="e.g. 250, or -100 to remove")
        self.points_type = QComboBox()
        for kind in PointsType:
            self.points_type.addItem(kind.value.capitalize(), kind)
        index = self.points_type.findData(PointsType(initial.get("points_type", PointsType.BONUS)))
        self.points_type.setCurrentIndex(max(index, 0))
        self.reason = QLineEdit(str(initial.get("reason", "")), placeholderText="Why (the member can see it)")

        entry = QWidget()
        form = QFormLayout(entry)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        balance = named(QLabel(f"{fmt.count(member.points_balance)} points"), "currentBalance")
        form.addRow("Balance now:", balance)
        form.addRow("Amount:", self._field("delta", self.amount))
        form.addRow("Points type:", self._field("points_type", self.points_type))
        form.addRow("Reason:", self._field("reason", self.reason))

        self.confirm_text = named(QLabel(), "confirmText")
        self.confirm_text.setWordWrap(True)
        self.after_text = named(QLabel(), "afterText")
        confirm = QWidget()
        confirm_layout = QVBoxLayout(confirm)
        confirm_layout.setContentsMargins(0, 0, 0, 0)
        confirm_layout.addWidget(self.confirm_text)
        confirm_layout.addWidget(self.after_text)
        confirm_layout.addStretch()

        self.steps = QStackedWidget()
        self.steps.addWidget(entry)
        self.steps.addWidget(confirm)
        self.back_button = named(QPushButton("Back"), "backButton")
        self.buttons.addButton(self.back_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.back_button.clicked.connect(self.back)
        self._layout(self.steps)
        self._show_step(0)

    @property
    def step(self) -> int:
        return self.steps.currentIndex()

    def _show_step(self, step: int) -> None:
        self.steps.setCurrentIndex(step)
        self.save_button.setText("Next" if step == 0 else "Confirm")
        self.back_button.setVisible(step == 1)

    def back(self) -> None:
        self._pending = None
        self.clear_errors()
        self._show_step(0)
        self.amount.setFocus()

    def build_command(self) -> Command:
        text = self.amount.text().replace(",", "").replace(" ", "")
        delta: Any = text
        if text.lstrip("+-").isdigit():
            delta = int(text)
        return AdjustPoints(member_id=self.member.id, base_version=self.member.version, delta=delta,
                            points_type=self.points_type.currentData(), reason=self.reason.text())

    def save(self) -> None:
        """Next on the first step; Confirm (queue it) on the second."""
        if self._busy:
            return
        if self.step == 0:
            command = self.check()
            if isinstance(command, AdjustPoints):
                self._pending = command
                self.confirm_text.setText(confirmation(command, self.member))
                after = self.member.points_balance + command.delta
                self.after_text.setText(
                    f"The balance goes from {fmt.count(self.member.points_balance)} to {fmt.count(after)} points.")
                self._show_step(1)
        elif self._pending is not None:
            self.send(self._pending)


class OpensCommandDialog(Protocol):
    """What the concrete dialogs share: their constructor (the base's takes a title)."""

    def __call__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> CommandDialog: ...


def dialog_for(kind: str) -> OpensCommandDialog:
    """The edit dialog for a command kind (the Sync issues panel's Edit…)."""
    return {"update_contact": EditContactDialog, "set_email_preference": EmailPrefsDialog,
            "adjust_points": AdjustPointsDialog}[kind]
