"""The dialogs that change a member: Edit info, Email prefs, Adjust points, Block for payment.

Each one only collects input. It checks it by building the command (the rules live in
``commands/``): pydantic errors are shown under the fields they concern, in plain
words. A valid command goes to ``send`` — the one path every change takes (the
workspace queues it locally and nudges the syncer; the Sync issues panel resolves an
issue with it) — and the dialog closes once it is safely queued.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from pydantic import ValidationError

from ...commands import AddressIn, AdjustPoints, BlockForPayment, Command, Rejected, SetEmailPreference, UpdateContact
from ...models import OPTIONAL_CATEGORIES, AddressKind, EmailCategory, Member, PointsType
from ...models.contact import DEFAULT_REGION, InvalidContact, normalize_phone
from ...schemas import MemberDetail
from .. import format as fmt
from ..errors import describe, sentence
from ..qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
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


def member_as_shown(member: MemberDetail) -> Member:
    """A detached Member with the values on screen, for ``Command.check`` (never saved)."""
    return Member(
        id=member.id, member_no=member.member_no, logon_id=member.logon_id, first_name=member.first_name,
        last_name=member.last_name, email=member.email, phone=member.phone, status=member.status,
        email_opt_in=member.email_opt_in, points_balance=member.points_balance,
        blocked_for_balance=member.blocked_for_balance, blocked_reason=member.blocked_reason,
    )


class CommandDialog(QDialog):
    """What the three dialogs share: fields with errors, a form error, Save/Cancel."""

    #: The command was queued (the dialog then closes).
    submitted = Signal(object)

    labels: ClassVar[dict[str, str]] = {}
    aliases: ClassVar[dict[str, str]] = {}
    #: Save queues the change in one step (Adjust points' first step is Next).
    saves_at_once: ClassVar[bool] = True

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
        self.heading.setWordWrap(True)
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
        """Build the command and check the rules against the member as shown (so a
        confirmation never shows what the server would refuse), or show what is wrong
        and return None."""
        self.clear_errors()
        try:
            command = self.build_command()
            command.check(member_as_shown(self.member))
            return command
        except Rejected as exc:
            where = next((name for name in exc.fields if name in self.fields), None)
            if where is None:
                self.show_form_error(sentence(exc.reason))
            else:
                self.fields[where].set_error(sentence(exc.reason))
                self.fields[where].edit.setFocus()
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

    def has_unsaved_changes(self) -> bool:
        """Whether closing now would lose something: the fields make a change (valid or
        not yet), or something was typed (closing its member's tab asks first)."""
        try:
            self.build_command()
        except NothingChanged:
            return False
        except (ValidationError, Invalid, Rejected):
            return any(getattr(box.edit, "isModified", lambda: False)() for box in self.fields.values())
        return True

    def _fit(self) -> None:
        grow_to_fit(self)
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            # Wrapped labels need their height at this width, which a window's own
            # size hint does not ask for.
            needed = layout.totalHeightForWidth(self.width())
            if needed > self.height():
                self.resize(self.width(), needed)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._fit()

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

_PERSON_LABELS = {
    "title": "Title", "first_name": "First name", "last_name": "Last name", "email": "E-mail", "phone": "Phone",
}
_ADDRESS_LABELS = {
    "line1": "Address line 1", "line2": "Address line 2", "city": "Town or city", "region": "County or region",
    "postcode": "Postcode", "country": "Country",
}
_ADDRESS_KEYS = tuple(_ADDRESS_LABELS)
_CONTACT_LABELS = {**_PERSON_LABELS, **_ADDRESS_LABELS}
#: Fields that must not be left blank (marked with * in the dialog).
REQUIRED = frozenset({"first_name", "last_name", "line1", "city"})
#: The address groups: kind → (title, field-name prefix). Home's fields have no prefix.
_ADDRESS_GROUPS = {
    AddressKind.HOME: ("Home address", ""),
    AddressKind.POSTAL: ("Postal address", "postal."),
    AddressKind.BILLING: ("Billing address", "billing."),
}


def address_values(member: MemberDetail, kind: AddressKind) -> dict[str, str]:
    address = next((a for a in member.addresses if a.kind == kind), None)
    if address is None:
        return {key: "" for key in _ADDRESS_KEYS}
    return {key: getattr(address, key) for key in _ADDRESS_KEYS}


def home_address(member: MemberDetail) -> dict[str, str]:
    return address_values(member, AddressKind.HOME)


def _stored_phone(text: str, country: str) -> str:
    """A phone as it would be stored (E.164), or as it is if it does not parse."""
    try:
        return normalize_phone(text, country or None)
    except InvalidContact:
        return " ".join(text.split())


class EditContactDialog(CommandDialog):
    """Names, e-mail, phone and the home, postal and billing addresses; the logon ID is
    shown but not editable. Required fields carry a *; a postal or billing address
    left blank is removed."""

    labels: ClassVar[dict[str, str]] = _CONTACT_LABELS
    aliases: ClassVar[dict[str, str]] = {"home_address": "line1"}

    def __init__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(member, send, "Edit info", parent)
        self.setObjectName("editContactDialog")
        self.setMinimumWidth(860)
        home_country = address_values(member, AddressKind.HOME)["country"] or DEFAULT_REGION
        self._before: dict[str, str] = {
            "title": member.title, "first_name": member.first_name, "last_name": member.last_name,
            "email": member.email, "phone": fmt.display_phone(member.phone, home_country),
        }
        for kind, (_, prefix) in _ADDRESS_GROUPS.items():
            self._before.update({prefix + k: v for k, v in address_values(member, kind).items()})
        self._stored_before_phone = _stored_phone(member.phone, home_country)
        start = dict(self._before)
        for key, value in (initial or {}).items():
            kind_name = key.removesuffix("_address")
            prefixes = {k.value: prefix for k, (_, prefix) in _ADDRESS_GROUPS.items()}
            if kind_name in prefixes and isinstance(value, Mapping):
                start.update({prefixes[kind_name] + k: str(v or "") for k, v in value.items() if k in _ADDRESS_KEYS})
            elif key == "remove_addresses" and isinstance(value, (list, tuple)):
                for gone in value:
                    start.update({f"{gone}.{k}": "" for k in _ADDRESS_KEYS})
            elif key == "phone" and value is not None:
                start["phone"] = fmt.display_phone(str(value), home_country)
            elif key in start and value is not None:
                start[key] = str(value)

        self.logon_id = named(QLabel(member.logon_id), "logonId")
        self.logon_id.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.logon_id.setToolTip("The logon ID cannot be changed")
        fixed = named(QLabel("cannot be changed"), "logonIdNote")
        fixed.setProperty("role", "muted")
        logon_row = QHBoxLayout()
        logon_row.addWidget(self.logon_id)
        logon_row.addWidget(fixed)
        logon_row.addStretch()
        person = QGroupBox("Contact")
        form = QFormLayout(person)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Logon ID:", logon_row)
        for name, label in _PERSON_LABELS.items():
            form.addRow(self._label(name, label), self._field(name, QLineEdit(start[name])))
        phone_edit = self.fields["phone"].edit
        phone_edit.setPlaceholderText("e.g. 01573 224111, or +33 1 42 68 53 00")
        phone_edit.setToolTip("Numbers without a country code are read in the home address's country")

        groups: list[QGroupBox] = [person]
        for kind, (title, prefix) in _ADDRESS_GROUPS.items():
            box = QGroupBox(title if kind == AddressKind.HOME else f"{title} (optional)")
            box.setObjectName(f"{kind.value}AddressBox")
            address_form = QFormLayout(box)
            address_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            for key, label in _ADDRESS_LABELS.items():
                edit = QLineEdit(start[prefix + key])
                if key == "country":
                    edit.setMaxLength(2)
                    edit.setPlaceholderText(DEFAULT_REGION)
                    edit.setToolTip("Two-letter country code (ISO 3166): GB, IE, FR…")
                address_form.addRow(self._label(key, label, optional=kind != AddressKind.HOME),
                                    self._field(prefix + key, edit))
            if kind != AddressKind.HOME:
                hint = named(QLabel("Leave blank for none; clear every line to remove it."), "dialogIntro")
                hint.setWordWrap(True)
                address_form.addRow(hint)
            groups.append(box)
        legend = named(QLabel("* required"), "requiredLegend")
        legend.setProperty("role", "muted")
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(14)
        for index, box in enumerate(groups):
            grid.addWidget(box, index // 2, index % 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self._layout(grid_host, legend)

    @staticmethod
    def _label(name: str, label: str, *, optional: bool = False) -> str:
        return f"{label} *:" if name in REQUIRED and not optional else f"{label}:"

    def value(self, name: str) -> str:
        edit = self.fields[name].edit
        assert isinstance(edit, QLineEdit)
        return edit.text()

    def _address(self, prefix: str) -> dict[str, str]:
        values = {key: self.value(prefix + key) for key in _ADDRESS_KEYS}
        if not values["country"].strip():
            values["country"] = DEFAULT_REGION
        return values

    def checked_address(self, prefix: str, fields: dict[str, str]) -> AddressIn | None:
        """The address in the fields named ``prefix…``, or None with what is wrong
        added to ``fields`` (required lines, the country's postcode rules)."""
        for key in REQUIRED & set(_ADDRESS_KEYS):
            if not self.value(prefix + key).strip():
                fields.setdefault(prefix + key, f"{_ADDRESS_LABELS[key]} is required.")
        try:
            return AddressIn.model_validate(self._address(prefix))
        except ValidationError as exc:
            for error in exc.errors():
                key = str(error["loc"][0]) if error.get("loc") else "line1"
                fields.setdefault(prefix + key, describe_field_error(_ADDRESS_LABELS.get(key, key), error))
            return None

    def _address_changed(self, prefix: str) -> bool:
        return any(self.value(prefix + k).strip() != self._before[prefix + k] for k in _ADDRESS_KEYS
                   if not (k == "country" and not self.value(prefix + k).strip() and not self._before[prefix + k]))

    def build_command(self) -> Command:
        fields: dict[str, str] = {}
        form: list[str] = []
        changed: dict[str, Any] = {name: self.value(name) for name in ("title", "first_name", "last_name", "email")
                                   if self.value(name).strip() != self._before[name]}
        for name in REQUIRED & set(_PERSON_LABELS):
            if not self.value(name).strip():
                fields[name] = f"{_CONTACT_LABELS[name]} is required."
        # The phone is read in the country of the home address as typed here.
        home_country = self.value("country").strip().upper() or DEFAULT_REGION
        phone = self.value("phone")
        if phone.strip() != self._before["phone"]:
            try:
                stored = normalize_phone(phone, home_country)
            except InvalidContact as exc:
                fields["phone"] = sentence(f"Phone {exc}")
            else:
                if stored != self._stored_before_phone:
                    changed["phone"] = stored

        addresses: dict[str, AddressIn] = {}
        removed: list[Any] = []
        for kind, (_, prefix) in _ADDRESS_GROUPS.items():
            if not self._address_changed(prefix):
                continue
            blank = not any(self.value(prefix + k).strip() for k in _ADDRESS_KEYS if k != "country")
            if blank:
                if kind == AddressKind.HOME:
                    form.append("A home address cannot be removed; change its lines instead.")
                elif self._before[prefix + "line1"]:
                    removed.append(kind.value)
                continue
            address = self.checked_address(prefix, fields)
            if address is not None:
                addresses[f"{kind.value}_address"] = address
        if not changed and not addresses and not removed and not fields and not form:
            raise NothingChanged("Nothing has changed.")
        # The simple fields are checked by the command itself, even when others already
        # failed, so that every error shows at once.
        simple = {k: v for k, v in changed.items() if k not in fields}
        command: UpdateContact | None = None
        try:
            command = UpdateContact.model_validate({
                "member_id": self.member.id, "base_version": self.member.version,
                "remove_addresses": tuple(removed), **addresses, **simple})
        except ValidationError as exc:
            more_fields, more_form = field_errors(exc, self.labels, self.aliases)
            for name, text in more_fields.items():
                fields.setdefault(name, text)
            form += [text for text in more_form if text != "Nothing to change."]
        if fields or form or command is None:
            raise Invalid(fields, form or ([] if fields else ["Nothing has changed."]))
        return command


# --------------------------------------------------------------------- Email prefs


_CATEGORY_HELP = {
    EmailCategory.NEWSLETTERS: "News from the society, a few times a year",
    EmailCategory.OFFERS: "Offers and promotions",
    EmailCategory.EVENT_REMINDERS: "Reminders of shows, sales and other events",
}


def _initial_choice(initial: Mapping[str, Any], category: EmailCategory, current: bool) -> bool:
    """A category's choice from a queued command's payload (Sync issues' Edit…): its
    own field, else the single ``email_opt_in`` of older payloads, else as now."""
    value = initial.get(category.value, initial.get(category.column))
    if value is None:
        value = initial.get("email_opt_in")
    return current if value is None else bool(value)


class EmailPrefsDialog(CommandDialog):
    """The member's e-mail choices by category; service mail is always sent."""

    labels: ClassVar[dict[str, str]] = {c.value: c.label for c in OPTIONAL_CATEGORIES} | {"email_opt_in": "E-mail"}

    def __init__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(member, send, "Email prefs", parent)
        self.setObjectName("emailPrefsDialog")
        self.current = {c: bool(getattr(member, c.column)) for c in OPTIONAL_CATEGORIES}
        box = QGroupBox("Send this member")
        layout = QVBoxLayout(box)
        self.checks: dict[EmailCategory, QCheckBox] = {}
        for category in OPTIONAL_CATEGORIES:
            check = QCheckBox(f"{category.label} — {_CATEGORY_HELP[category]}")
            check.setChecked(_initial_choice(initial or {}, category, self.current[category]))
            self.checks[category] = check
            layout.addWidget(self._field(category.value, check))
            check.toggled.connect(lambda *_: self.clear_errors())
        where = named(QLabel(f"E-mails go to: {fmt.or_none(member.email)}"), "emailTarget")
        where.setWordWrap(True)
        service = named(QLabel("Service messages (password resets, invitations, confirmations) are always "
                               "sent: the member needs them to use the account."), "serviceNote")
        service.setWordWrap(True)
        self._layout(where, box, service)

    def build_command(self) -> Command:
        changed = {category.value: check.isChecked() for category, check in self.checks.items()
                   if check.isChecked() != self.current[category]}
        if not changed:
            raise NothingChanged("Nothing has changed.")
        return SetEmailPreference(member_id=self.member.id, base_version=self.member.version,
                                  newsletters=changed.get("newsletters"), offers=changed.get("offers"),
                                  event_reminders=changed.get("event_reminders"))


# --------------------------------------------------------------------- Adjust points


def confirmation(command: AdjustPoints, member: MemberDetail) -> str:
    """``"Add 250 bonus points to Jane Doe (1000042)? Reason: …"``"""
    amount = f"{abs(command.delta):,} {command.points_type.value}"
    if command.delta > 0:
        action = f"Add {amount} points to"
    else:
        action = f"Remove {amount} points from"
    return f"{action} {member.name} ({member.member_no})? Reason: {command.reason}"


AMOUNT_MISSING = "Enter an amount."
AMOUNT_NOT_A_NUMBER = "Enter a whole number, such as 250 or -100."
#: An amount as people type it: an optional sign, then ASCII digits (thousands may be
#: separated by commas or spaces, removed before this is matched).
_AMOUNT = re.compile(r"[+-]?[0-9]+")


def parse_amount(text: str) -> int | None:
    """``"+1,500"`` → 1500, ``" -250 "`` → -250; None when blank. Anything else (``+-5``,
    ``²``, ``1e3``) raises :class:`Invalid` naming Amount."""
    compact = text.replace(",", "").replace(" ", "").replace("\u00a0", "")
    if not compact:
        return None
    if not _AMOUNT.fullmatch(compact):
        raise Invalid({"delta": AMOUNT_NOT_A_NUMBER}, [])
    return int(compact)


class AdjustPointsDialog(CommandDialog):
    """Two steps, as in the manual: amount, type and reason → Next → Confirm."""

    saves_at_once: ClassVar[bool] = False

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
        delta = parse_amount(self.amount.text())
        try:
            return AdjustPoints(member_id=self.member.id, base_version=self.member.version,
                                delta=delta if delta is not None else 0,
                                points_type=self.points_type.currentData(), reason=self.reason.text())
        except ValidationError as exc:
            fields, form = field_errors(exc, self.labels, self.aliases)
            if delta is None:
                fields["delta"] = AMOUNT_MISSING
            raise Invalid(fields, form) from None

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


# --------------------------------------------------------------------- Block for payment

#: What the dialog says, as the ILROnline manual warns: blocking is not revoking.
BLOCK_EXPLANATION = (
    "A member blocked for payment can still sign in to the portal, and sees only the page "
    "to renew their membership and pay what they owe. The block stays until you lift it."
)
NOT_REVOKE = (
    "This is not Revoke. A revoked user cannot sign in at all, so cannot pay either, and "
    "must be invited again: use Revoke only to end someone's access."
)


class BlockForPaymentDialog(CommandDialog):
    """Block the member's portal until they pay (with a reason), or lift the block."""

    labels: ClassVar[dict[str, str]] = {"reason": "Reason", "blocked": "Block"}

    def __init__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> None:
        self.blocking = not member.blocked_for_balance
        if initial is not None and "blocked" in initial:
            self.blocking = bool(initial["blocked"])
        super().__init__(member, send, "Block for payment" if self.blocking else "Lift the block for payment", parent)
        self.setObjectName("blockForPaymentDialog")
        self.setMinimumWidth(620)
        self.save_button.setText("Block" if self.blocking else "Lift block")
        owed = named(QLabel(f"Account balance: {fmt.money(member.account_balance_cents)}"
                            + (f" · pending {fmt.pending(member.pending_count, member.pending_cents)}"
                               if member.pending_count else "")), "owed")
        parts: list[QWidget] = []
        if self.blocking:
            explain = named(QLabel(BLOCK_EXPLANATION), "blockExplanation")
            explain.setWordWrap(True)
            warning = named(QLabel(NOT_REVOKE), "notRevoke")
            warning.setWordWrap(True)
            parts += [explain, warning, owed]
        else:
            since = named(QLabel(block_summary(member)), "blockedSince")
            since.setWordWrap(True)
            after = named(QLabel("Lifting the block gives the member their whole portal again at once."),
                          "blockExplanation")
            after.setWordWrap(True)
            parts += [since, owed, after]
        self.reason = QLineEdit(str((initial or {}).get("reason", "")))
        self.reason.setPlaceholderText("e.g. Membership 2026 unpaid" if self.blocking else "e.g. Paid by phone (optional)")
        form_host = QWidget()
        form = QFormLayout(form_host)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Reason *:" if self.blocking else "Reason:", self._field("reason", self.reason))
        parts.append(form_host)
        self._layout(*parts)

    def build_command(self) -> Command:
        return BlockForPayment(member_id=self.member.id, base_version=self.member.version, blocked=self.blocking,
                               reason=self.reason.text())


def block_summary(member: MemberDetail) -> str:
    """``"Blocked for payment since 3 Mar 2026 by Ann Lee: Membership unpaid"``."""
    text = "Blocked for payment"
    if member.blocked_at is not None:
        text += f" since {fmt.day(member.blocked_at)}"
    if member.blocked_by:
        text += f" by {member.blocked_by}"
    if not member.blocked_at and not member.blocked_by:
        text += " (waiting to sync)"
    return f"{text}: {member.blocked_reason}" if member.blocked_reason else text


class OpensCommandDialog(Protocol):
    """What the concrete dialogs share: their constructor (the base's takes a title)."""

    def __call__(self, member: MemberDetail, send: Send, parent: QWidget | None = None, *,
                 initial: Mapping[str, Any] | None = None) -> CommandDialog: ...


def dialog_for(kind: str) -> OpensCommandDialog:
    """The edit dialog for a command kind (the Sync issues panel's Edit…)."""
    return {"update_contact": EditContactDialog, "set_email_preference": EmailPrefsDialog,
            "adjust_points": AdjustPointsDialog, "block_for_payment": BlockForPaymentDialog}[kind]


def editable(kind: str) -> bool:
    """Whether a command kind has an edit dialog (a status change is made by its wizard)."""
    return kind in ("update_contact", "set_email_preference", "adjust_points", "block_for_payment")
