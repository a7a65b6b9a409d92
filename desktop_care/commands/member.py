"""Commands on a member's account: contact details, e-mail preference, points, block for payment."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy.orm import Session

from ..models import (
    OPTIONAL_CATEGORIES,
    Address,
    AddressKind,
    EmailCategory,
    Member,
    MemberStatus,
    PointsEntry,
    PointsType,
    User,
    add_points,
    utcnow,
)
from ..models.contact import POSTCODE_PATTERN, InvalidContact, is_country, normalize_phone, normalize_postcode
from ..models.ledger import points_entry_values
from ..models.status import accrual_refusal
from .base import REASON_SCHEMA, Actor, Command, DirectChange, JsonInt, Rejected, clean_reason, kind_is_required
from .registry import register

#: The largest single adjustment staff may make, either way.
MAX_POINTS_ADJUSTMENT = 1_000_000
#: The member columns of the e-mail categories a member chooses.
_CATEGORY_COLUMNS = tuple(c.column for c in OPTIONAL_CATEGORIES)

#: Member fields no command may write, with the reason given when one tries.
FIXED_FIELDS: dict[str, str] = {"logon_id": "the logon ID can never be changed"}

_ADDRESS_KEYS = ("line1", "line2", "city", "region", "postcode", "country")
#: Address kinds an edit may remove (a member always keeps a home address).
RemovableAddress = Literal["postal", "billing"]


def _clean(value: str) -> str:
    return " ".join(value.split())


class AddressIn(BaseModel):
    """A whole postal address; replaces the member's address of the same kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(default="", max_length=100)
    #: Validated after ``country`` (field order), in that country's terms.
    country: str = Field(default="GB", min_length=2, max_length=2, json_schema_extra={"pattern": "^[A-Za-z]{2}$"},
                         description="ISO 3166 two-letter code")
    postcode: str = Field(default="", max_length=20, json_schema_extra={"pattern": POSTCODE_PATTERN})

    @field_validator("line1", "line2", "city", "region")
    @classmethod
    def _trim(cls, value: str) -> str:
        return _clean(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.strip().upper()
        if not is_country(value):
            raise ValueError("must be a two-letter country code such as GB or FR")
        return value

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str, info: ValidationInfo) -> str:
        try:
            return normalize_postcode(value, info.data.get("country", "GB"))
        except InvalidContact as exc:
            raise ValueError(str(exc)) from None

    def as_dict(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in _ADDRESS_KEYS}


def clean_name(value: str) -> str:
    """A first or last name, white space tidied; a blank one is refused."""
    value = _clean(value)
    if not value:
        raise ValueError("may not be blank")
    return value


def clean_email(value: str) -> str:
    """An e-mail address normalised by ``email-validator`` ("" stays "": none)."""
    if value.strip() == "":
        return ""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid e-mail address ({exc})") from None


def clean_phone(value: str, home: object) -> str:
    """A phone number in E.164, a national one read in the country of ``home`` (the
    home address given with it, if any), else GB."""
    try:
        return normalize_phone(value, home.country if isinstance(home, AddressIn) else None)
    except InvalidContact as exc:
        raise ValueError(str(exc)) from None


#: For the document: a name has a character that is not a space (``_name`` checks it).
_NOT_BLANK: dict[str, JsonValue] = {"pattern": r"\S"}


@register
class UpdateContact(Command):
    """Edit names, e-mail, phone and the home, postal and billing addresses. The logon
    ID is never editable (a payload naming it is refused)."""

    kind: Literal["update_contact"] = "update_contact"
    #: Required: what the person saw decides whether a later edit conflicts.
    base_version: JsonInt = Field(ge=1)
    title: str | None = Field(default=None, max_length=20)
    first_name: str | None = Field(default=None, min_length=1, max_length=100, json_schema_extra=_NOT_BLANK)
    last_name: str | None = Field(default=None, min_length=1, max_length=100, json_schema_extra=_NOT_BLANK)
    email: str | None = Field(default=None, max_length=254)
    home_address: AddressIn | None = None
    postal_address: AddressIn | None = None
    billing_address: AddressIn | None = None
    remove_addresses: tuple[RemovableAddress, ...] = ()
    #: Stored in E.164; a national number is read in the home address's country (the
    #: one sent with it), else GB. Declared after the addresses so it can see it.
    phone: str | None = Field(default=None, max_length=40)

    action: ClassVar[str] = "member.update_contact"
    label: ClassVar[str] = "Edit contact details"

    _SIMPLE: ClassVar[tuple[str, ...]] = ("title", "first_name", "last_name", "email", "phone")
    _ADDRESSES: ClassVar[dict[AddressKind, str]] = {
        AddressKind.HOME: "home_address", AddressKind.POSTAL: "postal_address", AddressKind.BILLING: "billing_address",
    }
    #: Left out of the payload while unset, so that commands recorded before they
    #: existed keep their digest (a replay must match its first run).
    _OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = ("postal_address", "billing_address", "remove_addresses")

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
        return None if value is None else clean_name(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else clean_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else clean_phone(value, info.data.get("home_address"))

    @field_validator("remove_addresses")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _something(self) -> UpdateContact:
        for kind in self.remove_addresses:
            if getattr(self, f"{kind}_address") is not None:
                raise ValueError(f"the {kind} address cannot be both replaced and removed")
        if not self.changed_fields():
            raise ValueError("nothing to change")
        return self

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        for key in self._OPTIONAL_KEYS:
            if not data.get(key):
                data.pop(key, None)
        return data

    @property
    def clears_email(self) -> bool:
        """Removing the e-mail address also opts the member out of e-mail (nothing
        could be sent), as SetEmailPreference refuses an opt-in without an address."""
        return self.email == ""

    def new_addresses(self) -> dict[AddressKind, AddressIn]:
        found = {kind: getattr(self, name) for kind, name in self._ADDRESSES.items()}
        return {kind: address for kind, address in found.items() if address is not None}

    def changed_fields(self) -> frozenset[str]:
        fields = {name for name in self._SIMPLE if getattr(self, name) is not None}
        fields |= {f"address.{kind.value}" for kind in self.new_addresses()}
        fields |= {f"address.{kind}" for kind in self.remove_addresses}
        if self.clears_email:
            fields.update(_CATEGORY_COLUMNS)
        return frozenset(fields)

    def check(self, member: Member) -> None:
        if member.status == MemberStatus.MERGED:
            raise Rejected(f"member {member.member_no} was merged into another account")

    def _column_changes(self, member: Member) -> tuple[dict[str, Any], dict[str, Any]]:
        """The member columns this edit changes (names, e-mail, phone, and the e-mail
        choices a cleared address turns off): their values before and after."""
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name in self._SIMPLE:
            value = getattr(self, name)
            if value is not None and value != getattr(member, name):
                before[name], after[name] = getattr(member, name), value
        if self.clears_email:
            for column in _CATEGORY_COLUMNS:
                if getattr(member, column):
                    before[column], after[column] = True, False
        return before, after

    def direct(self) -> bool:
        return not self.new_addresses() and not self.remove_addresses

    def apply_direct(self, member: Member, actor: Actor) -> DirectChange:
        before, after = self._column_changes(member)
        return DirectChange(values=dict(after), details={"before": before, "after": after})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        before, after = self._column_changes(member)
        for name, value in after.items():
            setattr(member, name, value)
        for kind, new_address in self.new_addresses().items():
            address = next((a for a in member.addresses if a.kind == kind), None)
            if address is None:
                address = Address(kind=kind)
                member.addresses.append(address)
                old: dict[str, str] | None = None
            else:
                old = _address_dict(address)
            new = new_address.as_dict()
            if old != new:
                before[f"address.{kind.value}"], after[f"address.{kind.value}"] = old, new
                for key, value in new.items():
                    setattr(address, key, value)
        for kind_name in self.remove_addresses:
            gone = next((a for a in member.addresses if a.kind.value == kind_name), None)
            if gone is not None:
                before[f"address.{kind_name}"], after[f"address.{kind_name}"] = _address_dict(gone), None
                member.addresses.remove(gone)
        return {"before": before, "after": after}

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for name in self._SIMPLE:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.clears_email:
            out.update({column: False for column in _CATEGORY_COLUMNS}, email_opt_in=False)
        if self.first_name is not None or self.last_name is not None:
            out["name"] = " ".join(p for p in (out.get("first_name"), out.get("last_name")) if p)
        new = self.new_addresses()
        if new or self.remove_addresses:
            replaced = {kind.value for kind in new} | set(self.remove_addresses)
            kept = [a for a in out.get("addresses", []) if a.get("kind") not in replaced]
            added = [{"kind": kind.value, **address.as_dict()} for kind, address in new.items()]
            order = [k.value for k in AddressKind]
            out["addresses"] = sorted([*added, *kept], key=lambda a: order.index(a.get("kind", "home")))
        if AddressKind.HOME in new:
            out["postcode"] = new[AddressKind.HOME].postcode
        return out

    def summary(self) -> str:
        names = ", ".join(sorted(self.changed_fields()))
        return f"Edit contact details ({names})"


def _address_dict(address: Address) -> dict[str, str]:
    return {key: getattr(address, key) or "" for key in _ADDRESS_KEYS}


_CHOICE_FIELDS = ("newsletters", "offers", "event_reminders", "email_opt_in")


def _some_category_is_given(schema: dict[str, Any]) -> None:
    """For the document: at least one of the choices is true or false (``null`` is no choice)."""
    kind_is_required(schema)
    schema["anyOf"] = [{"required": [name], "properties": {name: {"type": "boolean"}}} for name in _CHOICE_FIELDS]


@register
class SetEmailPreference(Command):
    """Opt the member in to, or out of, categories of e-mail (newsletters, offers,
    event reminders). Only the categories given change, so two workstations changing
    different categories never conflict. ``email_opt_in`` (the single choice of
    earlier versions) sets every category at once."""

    kind: Literal["set_email_preference"] = "set_email_preference"
    base_version: JsonInt = Field(ge=1)
    # JSON's true or false, not 1 or "yes"
    newsletters: bool | None = Field(default=None, strict=True)
    offers: bool | None = Field(default=None, strict=True)
    event_reminders: bool | None = Field(default=None, strict=True)
    email_opt_in: bool | None = Field(default=None, strict=True)

    action: ClassVar[str] = "member.set_email_preference"
    label: ClassVar[str] = "E-mail preferences"
    model_config = ConfigDict(json_schema_extra=_some_category_is_given)

    @model_validator(mode="after")
    def _something(self) -> SetEmailPreference:
        if not self.choices():
            raise ValueError("choose at least one e-mail category to change")
        return self

    def choices(self) -> dict[EmailCategory, bool]:
        """The categories this command sets, and to what."""
        out: dict[EmailCategory, bool] = {}
        if self.email_opt_in is not None:
            out = {category: self.email_opt_in for category in OPTIONAL_CATEGORIES}
        for category in OPTIONAL_CATEGORIES:
            value = getattr(self, category.value)
            if value is not None:
                out[category] = value
        return out

    def changed_fields(self) -> frozenset[str]:
        return frozenset(category.column for category in self.choices())

    def check(self, member: Member) -> None:
        if member.status == MemberStatus.MERGED:
            raise Rejected(f"member {member.member_no} was merged into another account")
        opting_in = [category for category, wanted in self.choices().items() if wanted]
        if opting_in and not member.email:
            # The message goes under the field the command set.
            names = [c.value for c in opting_in if getattr(self, c.value) is not None] or ["email_opt_in"]
            raise Rejected("the member has no e-mail address to send to",
                           {name: "no e-mail address" for name in names})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        before: dict[str, bool] = {}
        after: dict[str, bool] = {}
        for category, wanted in self.choices().items():
            before[category.value] = getattr(member, category.column)
            after[category.value] = wanted
            setattr(member, category.column, wanted)
        return {"before": before, "after": after}

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        out = {**values, **{category.column: wanted for category, wanted in self.choices().items()}}
        out["email_opt_in"] = any(bool(out.get(column)) for column in _CATEGORY_COLUMNS)
        return out

    def summary(self) -> str:
        choices = self.choices()
        if len(choices) == len(OPTIONAL_CATEGORIES) and len(set(choices.values())) == 1:
            return "Opt in to all e-mail" if next(iter(choices.values())) else "Opt out of all e-mail"
        parts = [f"{'in to' if wanted else 'out of'} {category.label.lower()}" for category, wanted in choices.items()]
        return "Opt " + ", ".join(parts)


@register
class AdjustPoints(Command):
    """Add (positive) or remove (negative) points, with a type and a reason."""

    kind: Literal["adjust_points"] = "adjust_points"
    delta: JsonInt = Field(ge=-MAX_POINTS_ADJUSTMENT, le=MAX_POINTS_ADJUSTMENT,
                           json_schema_extra={"not": {"const": 0}})  # as _not_zero says
    points_type: PointsType
    reason: str = Field(min_length=3, max_length=500, json_schema_extra=REASON_SCHEMA)

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
        return clean_reason(value)

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"points_balance"})

    def check(self, member: Member) -> None:
        if member.status == MemberStatus.MERGED:
            raise Rejected(f"member {member.member_no} was merged into another account: points cannot be adjusted")
        refused = accrual_refusal(member) if self.delta > 0 else None
        if refused is not None:
            raise Rejected(refused, {"delta": "no points can be added"})
        if member.points_balance + self.delta < 0:
            raise Rejected(
                f"the balance is {member.points_balance:,} points: removing {-self.delta:,} would make it negative",
                {"delta": "more than the balance"},
            )

    def _details(self, before: int) -> dict[str, Any]:
        return {"before": before, "after": before + self.delta, "delta": self.delta,
                "points_type": self.points_type.value, "reason": self.reason}

    def direct(self) -> bool:
        return True

    def apply_direct(self, member: Member, actor: Actor) -> DirectChange:
        before = member.points_balance
        entry = points_entry_values(member.id, self.delta, self.points_type, self.reason, actor.user_id)
        return DirectChange(values={"points_balance": before + self.delta}, details=self._details(before),
                            rows=((PointsEntry, entry),))

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        before = member.points_balance
        add_points(session, member, self.delta, self.points_type, self.reason, actor.user_id)
        return self._details(before)

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "points_balance": int(values.get("points_balance", 0)) + self.delta}

    def summary(self) -> str:
        return f"{self.delta:+,} {self.points_type.value} points: {self.reason}"


@register
class BlockForPayment(Command):
    """Block the member's portal until the membership or balance is paid (``blocked``),
    with a reason; or lift the block. Unlike revoking a user, a blocked member can
    still sign in: the portal shows them only the page to renew and pay
    (:func:`desktop_care.models.access.portal_access`)."""

    kind: Literal["block_for_payment"] = "block_for_payment"
    base_version: int = Field(ge=1)
    blocked: bool
    #: Required to block (at least 3 characters); optional to unblock.
    reason: str = Field(default="", max_length=500, validate_default=True)

    action: ClassVar[str] = "member.block_for_payment"
    label: ClassVar[str] = "Block for payment"

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str, info: ValidationInfo) -> str:
        value = _clean(value)
        if info.data.get("blocked") and len(value) < 3:
            raise ValueError("must say why the member is blocked, in at least 3 characters")
        return value

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"blocked_for_balance", "blocked_reason"})

    def check(self, member: Member) -> None:
        if member.status == MemberStatus.MERGED:
            raise Rejected(f"member {member.member_no} was merged into another account")
        if not self.blocked and not member.blocked_for_balance:
            raise Rejected(f"member {member.member_no} is not blocked for payment", {"blocked": "not blocked"})
        if self.blocked and member.blocked_for_balance and member.blocked_reason == self.reason:
            raise Rejected(f"member {member.member_no} is already blocked for payment: {member.blocked_reason}",
                           {"reason": "already blocked for this reason"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        before = {"blocked": member.blocked_for_balance, "reason": member.blocked_reason}
        staff = session.get(User, actor.user_id) if actor.user_id is not None else None
        member.blocked_for_balance = self.blocked
        member.blocked_reason = self.reason if self.blocked else ""
        member.blocked_at = utcnow() if self.blocked else None
        member.blocked_by = ((staff.display_name or staff.username) if staff else actor.username) if self.blocked else ""
        after = {"blocked": self.blocked, "reason": member.blocked_reason}
        return {"before": before, "after": after, **({"unblock_reason": self.reason} if not self.blocked else {})}

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        out = {**values, "blocked_for_balance": self.blocked, "blocked_reason": self.reason if self.blocked else ""}
        out["blocked_by"], out["blocked_at"] = "", None  # known once the server has run it
        return out

    def summary(self) -> str:
        return f"Block for payment: {self.reason}" if self.blocked else "Lift the block for payment"
