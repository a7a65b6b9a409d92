"""FRAUD-STOP's dialogs: the two-click confirm (what a member or an order used, prefilled),
Add a block by hand (its errors under the fields), and Lift (a reason; Society Admin).

Each runs its commands on the server off the GUI thread (an :class:`~desktop_care.ui.ops.Op`)
and says what came of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError

from ...commands import AddBlock, CommandResult, LiftBlock, Status
from ...models import utcnow
from ...models.fraud import DEFAULT_IP_EXPIRY, BlockKind, BlockReason
from ...schemas import FraudBlockOut, FraudStopCandidate, FraudStopOut
from ..errors import describe, sentence
from ..members.accounts import _ActionDialog, _CommandFormDialog
from ..members.editing import field_errors
from ..ops import Op
from ..qt import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget
from ..widgets import grow_to_fit, named

if TYPE_CHECKING:
    from ...sync.api_client import ApiClient

#: Expiry choices: label → days (None: never; not offered for an IP block).
EXPIRIES: tuple[tuple[str, int | None], ...] = (
    ("1 month", 30), ("3 months", 91), ("6 months (default for IP addresses)", DEFAULT_IP_EXPIRY.days),
    ("1 year", 365), ("2 years", 730), ("Never", None),
)
_DEFAULT_EXPIRY = 2

KIND_WORDS = {BlockKind.IP: "IP address", BlockKind.CARD: "Card", BlockKind.EMAIL: "E-mail"}
_NOUNS = {BlockKind.IP: "IP address", BlockKind.CARD: "card", BlockKind.EMAIL: "e-mail"}


def card_text(brand: str, bin_: str, last4: str) -> str:
    """A card as people read it: "Visa 424242 •••• 4242" (never more digits than that)."""
    name = {"amex": "American Express", "mastercard": "Mastercard", "unionpay": "UnionPay"}.get(
        brand, brand.capitalize() if brand else "Card")
    return " ".join(part for part in (name, bin_, "••••" if last4 else "", last4) if part)


def block_text(kind: BlockKind, value: str, brand: str = "", bin_: str = "", last4: str = "") -> str:
    if kind == BlockKind.CARD and (brand or last4):
        return f"{card_text(brand, bin_, last4)} (fingerprint {value})"
    return value


def expiry_box(kind: BlockKind | None = None) -> QComboBox:
    box = QComboBox()
    for label, days in EXPIRIES:
        box.addItem(label, days)
    box.setCurrentIndex(_DEFAULT_EXPIRY)
    return box


def expires_at(days: int | None) -> dt.datetime | None:
    return None if days is None else utcnow() + dt.timedelta(days=days)


def reason_box(default: BlockReason) -> QComboBox:
    box = QComboBox()
    for reason in BlockReason:
        box.addItem(reason.label, reason)
    box.setCurrentIndex(list(BlockReason).index(default))
    return box


RunAll = Callable[[list[AddBlock]], None]


class FraudStopDialog(_ActionDialog):
    """FRAUD-STOP on a member (or one of its orders): what it used, each ticked, a
    reason code, a note and an expiry, prefilled; **Block** makes the blocks. The second
    click of the two."""

    def __init__(self, client: ApiClient, member_id: int, member_name: str, parent: QWidget | None = None, *,
                 order_id: int | None = None, order_no: str = "") -> None:
        what = f"order {order_no} of {member_name}" if order_no else member_name
        super().__init__(f"FRAUD-STOP: {what}", parent)
        self.setObjectName("fraudStopDialog")
        self.setMinimumWidth(560)
        self.client, self.member_id, self.order_id = client, member_id, order_id
        self.stop: FraudStopOut | None = None
        self.checks: list[tuple[QCheckBox, FraudStopCandidate]] = []
        self.message.setText("Looking up what this member used…")
        self.choices = named(QWidget(), "fraudStopChoices")
        self.choices_layout = QVBoxLayout(self.choices)
        self.choices_layout.setContentsMargins(0, 0, 0, 0)
        self.reason = reason_box(BlockReason.STOLEN_CARD if order_id is not None else BlockReason.FAKE_ACCOUNT)
        self.note = QLineEdit(placeholderText="What happened (optional; never a card number)")
        self.expiry = expiry_box()
        self.hint = hint = named(QLabel("Blocked addresses, cards and e-mails can no longer open an account or "
                                        "pay. The member is not told why."), "fraudStopHint")
        hint.setWordWrap(True)
        hint.setProperty("role", "muted")
        self.form = form = self._field_form((("reason_code", "Reason:", self.reason), ("note", "Note:", self.note),
                                             ("expires_at", "Expires after:", self.expiry)), hint)
        self.confirm_button.setText("Block")
        self.confirm_button.setProperty("role", "danger")
        self.confirm_button.setEnabled(False)
        self._layout(self.choices, form)
        Op(self, lambda: client.fraud_stop(member_id, order_id)).success(self._loaded).failure(
            lambda exc: self._failed(f"Could not look it up: {describe(exc).text}", "Block")).run()

    def _loaded(self, stop: FraudStopOut) -> None:
        self.stop = stop
        for candidate in stop.candidates:
            text = f"{KIND_WORDS[candidate.kind]}: {block_text(candidate.kind, candidate.value, candidate.card_brand, candidate.card_bin, candidate.card_last4)}"
            if candidate.seen:
                text += f" — {candidate.seen}"
            box = named(QCheckBox(text), f"block_{candidate.kind.value}_{len(self.checks)}")
            if candidate.blocked_by is not None:
                box.setText(f"{text} (already blocked, #{candidate.blocked_by})")
                box.setEnabled(False)
            else:
                # What it used (its address, its cards) is ticked; its e-mail only by choice.
                box.setChecked(candidate.kind != BlockKind.EMAIL)
            box.toggled.connect(self._update)
            self.choices_layout.addWidget(box)
            box.show()  # added to a dialog already on screen
            self.checks.append((box, candidate))
        if not stop.candidates:
            self.message.setText("This member has signed in to the portal from no address we know, and paid "
                                 "with no card: there is nothing to block. Add a block by hand on the Fraud stop "
                                 "page if you know more.")
        else:
            self.message.setText("Block what this member used (ticked), so it can no longer open an account "
                                 "or pay:" if self.order_id is None else
                                 "Block what this order was paid with and where the member signed in from:")
        self._update()
        grow_to_fit(self)

    def chosen(self) -> list[FraudStopCandidate]:
        return [candidate for box, candidate in self.checks if box.isChecked() and box.isEnabled()]

    def _update(self) -> None:
        self.confirm_button.setEnabled(not self.busy and bool(self.chosen()))

    @staticmethod
    def _card(candidate: FraudStopCandidate) -> dict[str, Any]:
        return {"card_brand": candidate.card_brand or None, "card_bin": candidate.card_bin,
                "card_last4": candidate.card_last4}

    def commands(self) -> list[AddBlock] | None:
        assert self.stop is not None
        for box in self.fields.values():
            box.set_error("")
        out: list[AddBlock] = []
        days = self.expiry.currentData()
        for candidate in self.chosen():
            try:
                out.append(AddBlock(
                    block_kind=candidate.kind, value=candidate.value, reason_code=self.reason.currentData(),
                    note=self.note.text(), source=self.stop.source,
                    expires_at=expires_at(days if days is not None or candidate.kind != BlockKind.IP
                                          else DEFAULT_IP_EXPIRY.days),
                    **self._card(candidate)))
            except ValidationError as exc:
                fields, form = field_errors(exc, {"note": "Note", "expires_at": "Expires after",
                                                  "reason_code": "Reason"})
                for name, text in fields.items():
                    self.fields[name].set_error(text)
                if form:
                    self._failed(" ".join(form), "Block")
                grow_to_fit(self)
                return None
        return out

    def confirm(self) -> None:
        if self.busy or self.stop is None:
            return
        commands = self.commands()
        if not commands:
            return
        self._running("Blocking…")
        client = self.client
        Op(self, lambda: [client.run_command(c) for c in commands]).success(
            lambda results: self._answered(commands, results)).failure(lambda exc: self._error(exc, "Block")).run()

    def _answered(self, commands: list[AddBlock], results: list[CommandResult]) -> None:
        done = [c for c, r in zip(commands, results, strict=True) if r.status is Status.APPLIED or (
            r.status is Status.DUPLICATE and r.original_status is Status.APPLIED)]
        refused = [f"{c.value}: {sentence(r.reason)}" for c, r in zip(commands, results, strict=True)
                   if r.status is Status.REJECTED]
        lines = [f"Blocked {_NOUNS[c.block_kind]} {c.value}." for c in done] + refused
        for box, _candidate in self.checks:
            box.setEnabled(False)
        self.form.setEnabled(False)
        self.hint.hide()
        self._done(" ".join(lines))
        self.finished_action.emit(results)


class AddBlockDialog(_CommandFormDialog):
    """Add a block by hand: kind, value (card: fingerprint, brand, BIN, last four),
    reason, note, expiry; errors under the fields (checked here, and by the server)."""

    labels: ClassVar[dict[str, str]] = {
        "value": "Value", "card_brand": "Brand", "card_bin": "BIN", "card_last4": "Last four",
        "reason_code": "Reason", "note": "Note", "expires_at": "Expires after",
    }
    error_field: ClassVar[str] = "value"
    confirm_text = "Block"
    running_text: ClassVar[str] = "Blocking…"

    def __init__(self, run: Callable[[AddBlock, Callable[[CommandResult], None], Callable[[BaseException], None]],
                                     None], parent: QWidget | None = None) -> None:
        super().__init__("Add a block", parent)
        self.setObjectName("addBlockDialog")
        self._run = run
        self.message.setText("Block an IP address or CIDR range, a card (by the payment provider's fingerprint) "
                             "or an e-mail address or domain. It can no longer open an account or pay.")
        self.kind = QComboBox()
        for kind in BlockKind:
            self.kind.addItem(kind.label, kind)
        self.value = QLineEdit()
        self.card_brand = QComboBox()
        for brand in ("", "visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay", "unknown"):
            self.card_brand.addItem(card_text(brand, "", "") if brand else "—", brand or None)
        self.card_bin = QLineEdit(placeholderText="First 6 or 8 digits")
        self.card_last4 = QLineEdit(placeholderText="Last 4 digits")
        self.reason = reason_box(BlockReason.OTHER)
        self.note = QLineEdit(placeholderText="What happened (never a card number)")
        self.expiry = expiry_box()
        self.pci = named(QLabel("Never enter a full card number: the provider's fingerprint, BIN and last four "
                                "are enough."), "pciHint")
        self.pci.setWordWrap(True)
        self.pci.setProperty("role", "muted")
        self.form = form = self._field_form((
            ("block_kind", "Kind:", self.kind), ("value", "Value *:", self.value),
            ("card_brand", "Brand:", self.card_brand), ("card_bin", "BIN:", self.card_bin),
            ("card_last4", "Last four:", self.card_last4), ("reason_code", "Reason *:", self.reason),
            ("note", "Note:", self.note), ("expires_at", "Expires after:", self.expiry)), self.pci)
        self.confirm_button.setText("Block")
        self.confirm_button.setProperty("role", "danger")
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()
        self._layout(form)

    def _kind_changed(self) -> None:
        kind: BlockKind = self.kind.currentData()
        self.value.setPlaceholderText({
            BlockKind.IP: "203.0.113.7, 203.0.113.0/24 or 2001:db8::/32",
            BlockKind.CARD: "The provider's card fingerprint, e.g. fp_1a2b3c4d5e6f7a8b",
            BlockKind.EMAIL: "someone@example.com, or a domain: example.com",
        }[kind])
        layout = self.form.layout()
        assert isinstance(layout, QFormLayout)
        for name in ("card_brand", "card_bin", "card_last4"):
            layout.setRowVisible(self.fields[name], kind == BlockKind.CARD)
        self.pci.setVisible(kind == BlockKind.CARD)
        for box in self.fields.values():
            box.set_error("")
        grow_to_fit(self)

    def make_command(self) -> AddBlock:
        kind: BlockKind = self.kind.currentData()
        card: dict[str, Any] = {"card_brand": self.card_brand.currentData(), "card_bin": self.card_bin.text(),
                                "card_last4": self.card_last4.text()} if kind == BlockKind.CARD else {}
        return AddBlock(block_kind=kind, value=self.value.text(), reason_code=self.reason.currentData(),
                        note=self.note.text(), expires_at=expires_at(self.expiry.currentData()), **card)

    def send(self, command: AddBlock) -> None:
        self._run(command, self._answered, self._refused)

    def _answered(self, result: CommandResult) -> None:
        if result.status is Status.REJECTED and result.fields:
            self._refused_on_fields(result.fields)
            return
        self._answer(result, f"Blocked {self.value.text().strip()}.", "Block")


class LiftBlockDialog(_ActionDialog):
    """Lift a block, saying why (Society Admin only)."""

    def __init__(self, block: FraudBlockOut, run: Callable[[LiftBlock, Callable[[CommandResult], None],
                                                             Callable[[BaseException], None]], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Lift block #{block.id}", parent)
        self.setObjectName("liftBlockDialog")
        self.block = block
        self._run = run
        self.message.setText(f"{KIND_WORDS[block.kind]} {block_text(block.kind, block.value, block.card_brand, block.card_bin, block.card_last4)} "
                             f"will be able to open accounts and pay again. It would have blocked "
                             f"{block.would_have_blocked} request(s) so far.")
        self.reason = QLineEdit(placeholderText="Why it is safe again")
        form = self._field_form((("reason", "Reason *:", self.reason),), QLabel(""))
        self.confirm_button.setText("Lift block")
        self._layout(form)

    def confirm(self) -> None:
        if self.busy:
            return
        self.fields["reason"].set_error("")
        try:
            command = LiftBlock(block_id=self.block.id, reason=self.reason.text())
        except ValidationError as exc:
            fields, _form = field_errors(exc, {"reason": "Reason"})
            self.fields["reason"].set_error(fields.get("reason", "Say why"))
            grow_to_fit(self)
            return
        self._running("Lifting…")
        self._run(command, lambda r: self._answer(r, f"Block #{self.block.id} is lifted.", "Lift block"),
                  lambda exc: self._error(exc, "Lift block"))


__all__ = ["AddBlockDialog", "FraudStopDialog", "LiftBlockDialog", "block_text", "card_text"]
