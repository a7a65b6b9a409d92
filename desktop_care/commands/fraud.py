"""Fraud stop: block an IP address or range, a card or an e-mail address or domain;
lift a block (docs/decisions/0022-fraud-stop.md).

Both are online-only: a block must hold on the server at once, and a workstation
cannot know whether someone else lifted it. Any staff member may **block** (the support
desk stops fraud as it meets it); only a **Society Admin** may **lift** a block, with a
reason, since lifting lets a known fraudster back in.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AwareDatetime, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import UserRole, utcnow
from ..models.base import MAX_ID
from ..models.fraud import (
    MAX_NOTE,
    MAX_VALUE,
    BlockKind,
    BlockReason,
    BlockState,
    FraudBlock,
    card_key,
    email_keys,
    ip_key,
    ip_network,
)
from .base import REASON_SCHEMA, Actor, JsonInt, RecordCommand, Rejected, clean_reason
from .registry import register

#: Card brands as providers name them.
CardBrand = Literal["visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay", "unknown"]

PAN_REFUSAL = "looks like a card number: never enter one; give the provider's card fingerprint instead"


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def has_card_number(text: str) -> bool:
    """Whether ``text`` holds a run of 12 to 19 digits (spaces and dashes between them
    allowed) that passes the Luhn check: a full card number (PAN), which we never keep."""
    runs: list[str] = []
    current = ""
    for char in text + "x":
        if char.isdigit() and char.isascii():
            current += char
        elif char in " -" and current:
            continue
        else:
            if current:
                runs.append(current)
            current = ""
    return any(12 <= len(run) <= 19 and _luhn(run) for run in runs) or any(
        len(run) > 19 and any(_luhn(run[i:i + n]) for n in (15, 16) for i in range(len(run) - n + 1)) for run in runs)


def _no_pan(value: str) -> str:
    if has_card_number(value):
        raise ValueError(PAN_REFUSAL)
    return value


def clean_email_block(value: str) -> str:
    """An e-mail address or a domain, normalised (lower case); ValueError in plain words."""
    value = value.strip().lower()
    try:
        if "@" in value:
            return str(validate_email(value, check_deliverability=False).normalized).lower()
        return str(validate_email(f"postmaster@{value}", check_deliverability=False).domain).lower()
    except EmailNotValidError as exc:
        what = "an e-mail address" if "@" in value else "a domain (e.g. example.com)"
        raise ValueError(f"is not {what}: {exc}") from None


def clean_fingerprint(value: str) -> str:
    value = value.strip()
    _no_pan(value)
    if not 8 <= len(value) <= 64 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in value):
        raise ValueError("must be the provider's card fingerprint: 8 to 64 letters, digits, _ or -")
    return value


#: Never blocked: this computer's own connections (the embedded server's console and
#: portal view connect from here).
_OWN = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
#: The widest networks a block may be (a wider one would refuse whole continents).
_WIDEST = {4: 8, 6: 16}


def checked_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network to block, or ValueError: not a network, host bits set, too broad, or
    holding this computer's own address."""
    network = ip_network(value)
    if network.prefixlen < _WIDEST[network.version]:
        raise ValueError(f"is too broad: block at most a /{_WIDEST[network.version]} at once")
    if any(own.version == network.version and own in network for own in _OWN):
        raise ValueError("holds this computer's own address (127.0.0.1 or ::1), which the console uses")
    return network


@register
class AddBlock(RecordCommand):
    """Block an IP address or CIDR range (an expiry is required), a card (by the
    provider's fingerprint) or an e-mail address or domain."""

    kind: Literal["add_fraud_block"] = "add_fraud_block"
    block_kind: BlockKind
    #: "203.0.113.7", "2001:db8::/32", "someone@example.com", "example.com", or a
    #: card fingerprint.
    value: str = Field(min_length=1, max_length=MAX_VALUE)
    card_brand: CardBrand | None = None
    card_bin: str = Field(default="", max_length=8, json_schema_extra={"pattern": "^([0-9]{6}|[0-9]{8})?$"})
    card_last4: str = Field(default="", max_length=4, json_schema_extra={"pattern": "^([0-9]{4})?$"})
    reason_code: BlockReason
    note: str = Field(default="", max_length=MAX_NOTE)
    expires_at: AwareDatetime | None = Field(default=None, validate_default=True)
    source: str = Field(default="", max_length=200)

    action: ClassVar[str] = "fraud.block"
    label: ClassVar[str] = "Block (fraud stop)"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_STAFF
    target_type: ClassVar[str] = "fraud_block"

    @field_validator("value")
    @classmethod
    def _value(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("block_kind")
        if kind == BlockKind.IP:
            return str(checked_network(value))
        if kind == BlockKind.EMAIL:
            return clean_email_block(value)
        if kind == BlockKind.CARD:
            return clean_fingerprint(value)
        return value

    @field_validator("card_bin")
    @classmethod
    def _bin(cls, value: str) -> str:
        if value and (len(value) not in (6, 8) or not value.isdigit() or not value.isascii()):
            raise ValueError("must be the card's first 6 or 8 digits")
        return value

    @field_validator("card_last4")
    @classmethod
    def _last4(cls, value: str) -> str:
        if value and (len(value) != 4 or not value.isdigit() or not value.isascii()):
            raise ValueError("must be the card's last 4 digits")
        return value

    @field_validator("note", "source")
    @classmethod
    def _text(cls, value: str) -> str:
        return _no_pan(value.strip())

    @field_validator("expires_at")
    @classmethod
    def _expires(cls, value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        if value is None:
            if info.data.get("block_kind") == BlockKind.IP:
                raise ValueError("is required for an IP block (addresses are reallocated): six months by default")
            return None
        if value <= utcnow():
            raise ValueError("must be in the future")
        return value

    def match_key(self) -> str:
        if self.block_kind == BlockKind.IP:
            return ip_key(ip_network(self.value))
        if self.block_kind == BlockKind.CARD:
            return card_key(self.value)
        keys = email_keys(self.value)
        return keys[0] if "@" in self.value else f"d:{self.value}"

    def summary(self) -> str:
        return f"Block {self.block_kind.label.lower()} {self.value}"

    def run(self, session: Session, actor: Actor) -> tuple[int, dict[str, Any]]:
        now = utcnow()
        key = self.match_key()
        for other in session.scalars(select(FraudBlock).where(FraudBlock.match_key == key)):
            if other.state(now) == BlockState.ACTIVE:
                raise Rejected(f"{self.value} is already blocked (fraud block #{other.id})",
                               {"value": f"already blocked by block #{other.id}"})
        if self.block_kind != BlockKind.CARD and (self.card_brand or self.card_bin or self.card_last4):
            raise Rejected("only a card block has a brand, BIN or last four", {"card_brand": "only for a card"})
        block = FraudBlock(
            kind=self.block_kind, value=self.value, match_key=key, card_brand=self.card_brand or "",
            card_bin=self.card_bin, card_last4=self.card_last4, reason_code=self.reason_code, note=self.note,
            source=self.source, created_at=now, created_by_id=actor.user_id, created_by=actor.username,
            expires_at=self.expires_at,
        )
        session.add(block)
        session.flush()
        details: dict[str, Any] = {
            "block_kind": self.block_kind.value, "value": self.value, "reason_code": self.reason_code.value,
            "note": self.note, "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
        if self.source:
            details["source"] = self.source
        if self.block_kind == BlockKind.CARD:
            details.update(card_brand=self.card_brand or "", card_bin=self.card_bin, card_last4=self.card_last4)
        return block.id, details


@register
class LiftBlock(RecordCommand):
    """Lift an active block, saying why (Society Admin only)."""

    kind: Literal["lift_fraud_block"] = "lift_fraud_block"
    block_id: JsonInt = Field(gt=0, le=MAX_ID)
    reason: str = Field(min_length=1, max_length=MAX_NOTE, json_schema_extra=REASON_SCHEMA)

    action: ClassVar[str] = "fraud.lift"
    label: ClassVar[str] = "Lift a fraud block"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_ADMIN
    target_type: ClassVar[str] = "fraud_block"

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _no_pan(clean_reason(value))

    @property
    def target_id(self) -> int:
        return self.block_id

    def summary(self) -> str:
        return f"Lift fraud block #{self.block_id}"

    def run(self, session: Session, actor: Actor) -> tuple[int, dict[str, Any]]:
        block = session.scalar(select(FraudBlock).where(FraudBlock.id == self.block_id).with_for_update())
        if block is None:
            raise Rejected(f"no fraud block #{self.block_id}", {"block_id": "no such block"})
        now = utcnow()
        state = block.state(now)
        if state != BlockState.ACTIVE:
            raise Rejected(f"fraud block #{block.id} is {state.value} already", {"block_id": f"already {state.value}"})
        block.lifted_at, block.lifted_by, block.lift_reason = now, actor.username, self.reason
        return block.id, {"block_kind": block.kind.value, "value": block.value, "reason": self.reason,
                          "would_have_blocked": block.would_have_blocked}


__all__ = ["PAN_REFUSAL", "AddBlock", "CardBrand", "LiftBlock", "clean_email_block", "has_card_number"]
