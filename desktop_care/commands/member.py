"""Commands on a member's account: contact details, e-mail preference, points."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, JsonValue, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy.orm import Session

from ..models import Address, AddressKind, Member, MemberStatus, PointsType, add_points
from .base import Actor, Command, JsonInt, Rejected
from .registry import register

_PHONE = re.compile(r"^\+?[0-9 ()\-.]{6,25}$")
_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$")

#: The largest single adjustment staff may make, either way.
MAX_POINTS_ADJUSTMENT = 1_000_000


def _clean(value: str) -> str:
    return " ".join(value.split())


class AddressIn(BaseModel):
    """A whole postal address; replaces the member's address of the same kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=20,
                          description="Letters, digits, spaces and dashes, starting with a letter or digit")
    country: str = Field(default="GB", min_length=2, max_length=2, json_schema_extra={"pattern": "^[A-Za-z]{2}$"},
                         description="ISO 3166 two-letter code")

    @field_validator("line1", "line2", "city", "region")
    @classmethod
    def _trim(cls, value: str) -> str:
        return _clean(value)

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str) -> str:
        value = _clean(value).upper()
        if value and not _POSTCODE.match(value):
            raise ValueError("is not a valid postcode")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not (value.isascii() and value.isalpha()):
            raise ValueError("must be a two-letter country code")
        return value.upper()


#: For the document: a name has a character that is not a space (``_name`` checks it).
_NOT_BLANK: dict[str, JsonValue] = {"pattern": r"\S"}


@register
class UpdateContact(Command):
    """Edit name, e-mail, phone and home address. The logon ID is not editable."""

    kind: Literal["update_contact"] = "update_contact"
    #: Required: what the person saw decides whether a later edit conflicts.
    base_version: JsonInt = Field(ge=1)
    title: str | None = Field(default=None, max_length=20)
    first_name: str | None = Field(default=None, min_length=1, max_length=100, json_schema_extra=_NOT_BLANK)
    last_name: str | None = Field(default=None, min_length=1, max_length=100, json_schema_extra=_NOT_BLANK)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    home_address: AddressIn | None = None

    action: ClassVar[str] = "member.update_contact"
    label: ClassVar[str] = "Edit contact details"

    _SIMPLE: ClassVar[tuple[str, ...]] = ("title", "first_name", "last_name", "email", "phone")

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The document says what ``_something`` checks: at least one field is given."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["anyOf"] = [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
            for name in (*cls._SIMPLE, "home_address")
        ]
        return schema

    @field_validator("title")
    @classmethod
    def _trim(cls, value: str | None) -> str | None:
        return None if value is None else _clean(value)

    @field_validator("first_name", "last_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _clean(value)
        if not value:
            raise ValueError("may not be blank")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None if value is None else ""
        try:
            return validate_email(value.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"is not a valid e-mail address ({exc})") from None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _clean(value)
        if value and not _PHONE.match(value):
            raise ValueError("may contain only digits, spaces, brackets, dashes and a leading +")
        return value

    @model_validator(mode="after")
    def _something(self) -> UpdateContact:
        if not self.changed_fields():
            raise ValueError("nothing to change")
        return self

    @property
    def clears_email(self) -> bool:
        """Removing the e-mail address also opts the member out of e-mail (nothing
        could be sent), as SetEmailPreference refuses an opt-in without an address."""
        return self.email == ""

    def changed_fields(self) -> frozenset[str]:
        fields = {name for name in self._SIMPLE if getattr(self, name) is not None}
        if self.home_address is not None:
            fields.add("address.home")
        if self.clears_email:
            fields.add("email_opt_in")
        return frozenset(fields)

    def check(self, member: Member) -> None:
        if member.status == MemberStatus.MERGED:
            raise Rejected(f"member {member.member_no} was merged into another account")

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name in self._SIMPLE:
            value = getattr(self, name)
            if value is not None and value != getattr(member, name):
                before[name], after[name] = getattr(member, name), value
                setattr(member, name, value)
        if self.clears_email and member.email_opt_in:
            before["email_opt_in"], after["email_opt_in"] = True, False
            member.email_opt_in = False
        if self.home_address is not None:
            address = next((a for a in member.addresses if a.kind == AddressKind.HOME), None)
            if address is None:
                address = Address(kind=AddressKind.HOME)
                member.addresses.append(address)
            old = _address_dict(address)
            new = self.home_address.model_dump()
            if old != new:
                before["address.home"], after["address.home"] = old, new
                for key, value in new.items():
                    setattr(address, key, value)
        return {"before": before, "after": after}

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for name in self._SIMPLE:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.clears_email:
            out["email_opt_in"] = False
        if self.first_name is not None or self.last_name is not None:
            out["name"] = " ".join(p for p in (out.get("first_name"), out.get("last_name")) if p)
        if self.home_address is not None:
            out["postcode"] = self.home_address.postcode
            addresses = [a for a in out.get("addresses", []) if a.get("kind") != AddressKind.HOME.value]
            out["addresses"] = [{"kind": AddressKind.HOME.value, **self.home_address.model_dump()}, *addresses]
        return out

    def summary(self) -> str:
        names = ", ".join(sorted(self.changed_fields()))
        return f"Edit contact details ({names})"


def _address_dict(address: Address) -> dict[str, str]:
    return {
        key: getattr(address, key) or ""
        for key in ("line1", "line2", "city", "region", "postcode", "country")
    }


@register
class SetEmailPreference(Command):
    """Opt the member in to, or out of, e-mail communications."""

    kind: Literal["set_email_preference"] = "set_email_preference"
    base_version: JsonInt = Field(ge=1)
    email_opt_in: bool = Field(strict=True)  # JSON's true or false, not 1 or "yes"

    action: ClassVar[str] = "member.set_email_preference"
    label: ClassVar[str] = "E-mail preference"

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"email_opt_in"})

    def check(self, member: Member) -> None:
        if member.status == MemberStatus.MERGED:
            raise Rejected(f"member {member.member_no} was merged into another account")
        if self.email_opt_in and not member.email:
            raise Rejected("the member has no e-mail address to send to", {"email_opt_in": "no e-mail address"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        before = member.email_opt_in
        member.email_opt_in = self.email_opt_in
        return {"before": before, "after": self.email_opt_in}

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "email_opt_in": self.email_opt_in}

    def summary(self) -> str:
        return "Opt in to e-mail" if self.email_opt_in else "Opt out of e-mail"


@register
class AdjustPoints(Command):
    """Add (positive) or remove (negative) points, with a type and a reason."""

    kind: Literal["adjust_points"] = "adjust_points"
    delta: JsonInt = Field(ge=-MAX_POINTS_ADJUSTMENT, le=MAX_POINTS_ADJUSTMENT,
                           json_schema_extra={"not": {"const": 0}})  # as _not_zero says
    points_type: PointsType
    reason: str = Field(min_length=3, max_length=500)

    never_conflicts: ClassVar[bool] = True
    action: ClassVar[str] = "member.adjust_points"
    label: ClassVar[str] = "Adjust points"

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = _clean(value)
        if len(value) < 3:
            raise ValueError("must say why, in at least 3 characters")
        return value

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"points_balance"})

    def check(self, member: Member) -> None:
        if member.status in (MemberStatus.INACTIVE, MemberStatus.MERGED):
            raise Rejected(f"member {member.member_no} is {member.status.value}: points cannot be adjusted")
        if member.points_balance + self.delta < 0:
            raise Rejected(
                f"the balance is {member.points_balance:,} points: removing {-self.delta:,} would make it negative",
                {"delta": "more than the balance"},
            )

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        before = member.points_balance
        add_points(session, member, self.delta, self.points_type, self.reason, actor.user_id)
        return {"before": before, "after": member.points_balance, "delta": self.delta,
                "points_type": self.points_type.value, "reason": self.reason}

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "points_balance": int(values.get("points_balance", 0)) + self.delta}

    def summary(self) -> str:
        return f"{self.delta:+,} {self.points_type.value} points: {self.reason}"
