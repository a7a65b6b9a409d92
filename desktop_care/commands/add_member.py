"""Registering a new member ("Add a customer"), online or offline
(docs/decisions/0014-add-a-customer-offline.md).

``AddMember`` is queueable: a workstation records it in its outbox under a
*provisional* member id (negative, chosen by the local store) and shows the member at
once as pending. The server registers the member once per op id — a retried push
answers ``duplicate`` with the same member — and answers its real id and member number
(``CommandResult.member_id``/``member_no``); the workstation then re-keys the
provisional member and every change queued to it, in one local transaction.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Address, AddressKind, Member, MemberStatus
from ..models.base import MAX_ID
from ..models.fraud import Attempt, Probe, describe, stop
from ..models.search import normalize
from .base import Actor, Command, JsonInt, Rejected
from .member import _NOT_BLANK, AddressIn, clean_email, clean_name, clean_phone
from .registry import register

#: Member numbers are this plus the member's id (as the demo data's are).
MEMBER_NO_BASE = 1_000_000
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def member_no_for(member_id: int) -> str:
    return str(MEMBER_NO_BASE + member_id)


def logon_id_for(first_name: str, last_name: str, member_no: str) -> str:
    """``"jsmith1000042"``: the first name's initial, the last name (ASCII letters and
    digits, at most 30) and the member number, which makes it unique."""
    first = _NOT_SLUG.sub("", normalize(first_name))[:1] or "m"
    return f"{first}{_NOT_SLUG.sub('', normalize(last_name))[:30]}{member_no}"


def _next_member_id(session: Session) -> int:
    """A fresh member id, known before the insert so that the member number (derived
    from it) is written with the row. PostgreSQL: the id column's own sequence;
    SQLite: one more than the largest (writers hold the database's write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.scalar(select(func.nextval(func.pg_get_serial_sequence("member", "id")))) or 0)
    return int(session.scalar(select(func.coalesce(func.max(Member.id), 0))) or 0) + 1


@register
class AddMember(Command):
    """Register a new member: names, e-mail, phone and addresses (validated as in
    ``UpdateContact``). ``member_id`` is the workstation's provisional id for it
    (negative; the local store assigns the next free one when it queues the command);
    the server ignores it and gives the member its own id and number."""

    kind: Literal["add_member"] = "add_member"
    member_id: JsonInt = Field(default=-1, ge=-MAX_ID, le=-1)
    title: str = Field(default="", max_length=20)
    first_name: str = Field(min_length=1, max_length=100, json_schema_extra=_NOT_BLANK)
    last_name: str = Field(min_length=1, max_length=100, json_schema_extra=_NOT_BLANK)
    email: str = Field(default="", max_length=254)
    home_address: AddressIn
    postal_address: AddressIn | None = None
    billing_address: AddressIn | None = None
    #: Stored in E.164; a national number is read in the home address's country.
    phone: str = Field(default="", max_length=40)

    action: ClassVar[str] = "member.add"
    label: ClassVar[str] = "Add a customer"
    creates: ClassVar[bool] = True
    never_conflicts: ClassVar[bool] = True

    _ADDRESSES: ClassVar[dict[AddressKind, str]] = {
        AddressKind.HOME: "home_address", AddressKind.POSTAL: "postal_address", AddressKind.BILLING: "billing_address",
    }

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return " ".join(value.split())

    @field_validator("first_name", "last_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_name(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return clean_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str, info: ValidationInfo) -> str:
        return clean_phone(value, info.data.get("home_address")) if value.strip() else ""

    def addresses(self) -> dict[AddressKind, AddressIn]:
        found = {kind: getattr(self, name) for kind, name in self._ADDRESSES.items()}
        return {kind: address for kind, address in found.items() if address is not None}

    def changed_fields(self) -> frozenset[str]:
        fields = {"title", "first_name", "last_name", "email", "phone"}
        return frozenset(fields | {f"address.{kind.value}" for kind in self.addresses()})

    def member_values(self) -> dict[str, Any]:
        """The new member's own columns (without id, number and logon ID)."""
        return {"title": self.title, "first_name": self.first_name, "last_name": self.last_name,
                "email": self.email, "phone": self.phone}

    def create(self, session: Session, actor: Actor) -> tuple[Member, dict[str, Any]]:
        # Fraud stop: a blocked e-mail (or domain), or a request from a blocked address,
        # opens no account. Staff are told which block (the staff log has it too).
        probes = [Probe.email(self.email)] if self.email else []
        if actor.client_address:
            probes.append(Probe.ip(actor.client_address))
        hits = stop(session, probes, Attempt.OPEN_ACCOUNT, actor_user_id=actor.user_id, actor_name=actor.username,
                    client_address=actor.client_address,
                    details={"entry": "add_member", "name": f"{self.first_name} {self.last_name}"})
        if hits:
            field = "email" if any(h.probe.kind.value == "email" for h in hits) else "client_address"
            raise Rejected(f"this customer cannot be added: {describe(hits)}", {field: "blocked by fraud stop"})
        member_id = _next_member_id(session)
        while session.scalar(select(func.count()).where(Member.member_no == member_no_for(member_id))):
            member_id = _next_member_id(session)  # a number imported from elsewhere
        member_no = member_no_for(member_id)
        member = Member(
            id=member_id, member_no=member_no, logon_id=logon_id_for(self.first_name, self.last_name, member_no),
            status=MemberStatus.ENROLLED, **self.member_values(),
        )
        for kind, address in self.addresses().items():
            member.addresses.append(Address(kind=kind, **address.as_dict()))
        session.add(member)
        after = {**self.member_values(),
                 **{f"address.{kind.value}": a.as_dict() for kind, a in self.addresses().items()}}
        return member, {"after": after}

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        # The local store writes the provisional member's row from this command, so
        # there is nothing to lay over it.
        return dict(values)

    def summary(self) -> str:
        return f"Add a customer ({self.first_name} {self.last_name})"
