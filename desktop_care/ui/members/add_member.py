"""Add a customer (HCL "Add a Customer"): register a new member from the console.

The form is Edit info's (same fields, labels, required marks and the same validation:
``AddMember`` shares ``UpdateContact``'s rules). Save first asks whether a likely
duplicate exists — the server when online, this computer's directory otherwise — and
lists them as links (open that member) with "Add anyway"; then the registration is
queued (it works offline: the member is pending, with a provisional number, until the
server registers them) and ``registered`` announces the new member's id so the window
opens their details. ``registered`` is also the hook for continuing straight into
acting on behalf of the new member (issue 8).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ...commands import AddMember, Command
from ...models import AddressKind, MemberStatus
from ...models.contact import DEFAULT_REGION, InvalidContact, normalize_phone
from ...models.duplicates import DuplicateReason
from ...schemas import DuplicateCheckIn, DuplicateList, MemberDetail
from ..errors import describe, sentence
from ..ops import Op
from ..qt import QLabel, QVBoxLayout, QWidget, Signal
from ..widgets import named
from .editing import (
    _ADDRESS_GROUPS,
    _ADDRESS_KEYS,
    _CONTACT_LABELS,
    REQUIRED,
    EditContactDialog,
    Invalid,
    field_errors,
)

#: ``check(values, done, failed)``: look for likely duplicates off the GUI thread.
CheckDuplicates = Callable[[DuplicateCheckIn, Callable[[DuplicateList], None], Callable[[BaseException], None]], None]
#: ``add(command, done(member_id), failed)``: queue the registration.
Register = Callable[[AddMember, Callable[[int], None], Callable[[BaseException], None]], None]


def blank_member() -> MemberDetail:
    """A member with nothing filled in (the form starts from it)."""
    now = dt.datetime.now(dt.UTC)
    return MemberDetail(
        id=-1, member_no="", logon_id="", title="", first_name="", last_name="", email="", phone="",
        status=MemberStatus.ENROLLED, merged_into_id=None, blocked_for_balance=False, points_balance=0,
        account_balance_cents=0, pending_count=0, pending_cents=0, last_login_at=None, created_at=now,
        updated_at=now, version=1, addresses=[], name="", users=[], pending_transactions=[],
    )


def duplicate_links(found: DuplicateList) -> str:
    """The warning's rich text: one link per likely duplicate, with why."""
    rows = []
    for item in found.items:
        member = item.member
        why = " and ".join(DuplicateReason(r).label for r in item.reasons)
        where = f", {html.escape(member.postcode)}" if member.postcode else ""
        rows.append(f'<li><a href="member:{member.id}">{html.escape(member.name)} ({html.escape(member.member_no)})'
                    f"</a>{where} — {why}</li>")
    count = len(found.items)
    head = "A member with these details may already exist" if count == 1 else \
        f"{count} members with these details may already exist"
    return (f"<b>{head}.</b> Open one to check (links), or choose <i>Add anyway</i> if this is "
            f"someone else.<ul style='margin:4px 0 0 -20px'>{''.join(rows)}</ul>")


#: The texts the Save button takes (it is made wide enough for each).
_SAVE_TEXTS = ("Add customer", "Add anyway", "Checking…")


class AddMemberDialog(EditContactDialog):
    """Names, e-mail, phone and addresses of a new member; a warning with links when a
    likely duplicate exists; then the member is registered (queued) and opened."""

    #: The new member was queued: their id (provisional, negative, until the server
    #: registers them). The window opens their details; issue 8 continues from here.
    registered = Signal(int)
    #: A link in the duplicate warning was followed: open that member.
    open_member_requested = Signal(int)

    def __init__(self, check_duplicates: CheckDuplicates, add: Register, parent: QWidget | None = None) -> None:
        self._check_duplicates = check_duplicates
        self._add = add
        self._warned_for: DuplicateCheckIn | None = None
        super().__init__(blank_member(), lambda *_: None, parent)
        self.setObjectName("addMemberDialog")
        self.setWindowTitle("Add a customer")
        self.heading.setText("Add a customer: a new member of the society")
        self.logon_id.setText("given by the server when the member is registered")
        self.logon_id.setProperty("role", "muted")
        note = self.findChild(QLabel, "logonIdNote")
        if note is not None:
            note.hide()
        self.save_button.setText("Add customer")
        metrics = self.save_button.fontMetrics()
        self.save_button.setMinimumWidth(max(metrics.horizontalAdvance(t) for t in _SAVE_TEXTS) + 40)
        for hint in self.findChildren(QLabel, "dialogIntro"):
            hint.setText("Leave blank for none.")
        self.duplicates = named(QLabel(), "duplicateWarning")
        self.duplicates.setWordWrap(True)
        self.duplicates.setOpenExternalLinks(False)
        self.duplicates.linkActivated.connect(self._link)
        self.duplicates.hide()
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(layout.indexOf(self.form_error), self.duplicates)
        self.fields["first_name"].edit.setFocus()
        for box in self.fields.values():
            edited = getattr(box.edit, "textEdited", None)
            if edited is not None:
                edited.connect(self._details_edited)

    # ----------------------------------------------------------------- the command

    def build_command(self) -> Command:
        fields: dict[str, str] = {}
        form: list[str] = []
        values: dict[str, Any] = {name: self.value(name) for name in ("title", "first_name", "last_name", "email")}
        for name in REQUIRED & {"first_name", "last_name"}:
            if not self.value(name).strip():
                fields[name] = f"{_CONTACT_LABELS[name]} is required."
        home_country = self.value("country").strip().upper() or DEFAULT_REGION
        if self.value("phone").strip():
            try:
                values["phone"] = normalize_phone(self.value("phone"), home_country)
            except InvalidContact as exc:
                fields["phone"] = sentence(f"Phone {exc}")
        for kind, (_, prefix) in _ADDRESS_GROUPS.items():
            typed = any(self.value(prefix + k).strip() for k in _ADDRESS_KEYS if k != "country")
            if not typed and kind != AddressKind.HOME:
                continue
            address = self.checked_address(prefix, fields)
            if address is not None:
                values[f"{kind.value}_address"] = address
        command: AddMember | None = None
        try:
            command = AddMember.model_validate({k: v for k, v in values.items() if k not in fields})
        except ValidationError as exc:
            more_fields, more_form = field_errors(exc, self.labels, self.aliases)
            if any(key in fields for key in _ADDRESS_KEYS):  # the home address's own errors say it
                more_fields.pop("line1", None)
            for name, text in more_fields.items():
                fields.setdefault(name, text)
            form += more_form
        if fields or form or command is None:
            raise Invalid(fields, form)
        return command

    def duplicate_query(self, command: AddMember) -> DuplicateCheckIn:
        return DuplicateCheckIn(email=command.email, first_name=command.first_name, last_name=command.last_name,
                                postcode=command.home_address.postcode)

    # ----------------------------------------------------------------- saving

    def save(self) -> None:
        """Check the fields; then look for likely duplicates (once for these details:
        a second Save is "Add anyway"); then register."""
        if self._busy:
            return
        command = self.check()
        if not isinstance(command, AddMember):
            return
        query = self.duplicate_query(command)
        if self._warned_for == query:
            self._register(command)
            return
        self._set_busy(True)
        self.save_button.setText("Checking…")
        self._check_duplicates(query, lambda found: self._checked(command, query, found), self._check_failed)

    def _checked(self, command: AddMember, query: DuplicateCheckIn, found: DuplicateList) -> None:
        self._set_busy(False)
        if not found.items:
            self._register(command)
            return
        self._warned_for = query
        self.duplicates.setText(duplicate_links(found))
        self.duplicates.show()
        self.save_button.setText("Add anyway")
        self._fit()

    def _check_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.save_button.setText("Add customer")
        self.show_form_error(f"Could not check for existing members: {describe(exc).text}")

    def _register(self, command: AddMember) -> None:
        self._set_busy(True)
        self._add(command, self._registered, self._failed)

    def _registered(self, member_id: int) -> None:
        self._set_busy(False)
        self.registered.emit(member_id)
        self.accept()

    def _details_edited(self, *_: object) -> None:
        """What the warning was about changed: check again at the next Save."""
        if self._warned_for is not None:
            self._warned_for = None
            self.duplicates.hide()
            self.save_button.setText("Add customer")

    def _link(self, href: str) -> None:
        if href.startswith("member:"):
            self.open_member_requested.emit(int(href.split(":", 1)[1]))

    @property
    def warning_text(self) -> str:
        """The duplicate warning as plain text ("" when none shows)."""
        if not self.duplicates.isVisible():
            return ""
        return self.duplicates.text()


def open_add_member(workspace: Any, parent: QWidget) -> AddMemberDialog:
    """The dialog wired to a workspace: duplicates checked and the member queued off
    the GUI thread."""

    def check(query: DuplicateCheckIn, done: Callable[[DuplicateList], None],
              failed: Callable[[BaseException], None]) -> None:
        Op(dialog, lambda: workspace.likely_duplicates(query)).success(done).failure(failed).run()

    def add(command: AddMember, done: Callable[[int], None], failed: Callable[[BaseException], None]) -> None:
        workspace.add_member(command, parent=dialog, on_done=done, on_failed=failed)

    dialog = AddMemberDialog(check, add, parent)
    return dialog
