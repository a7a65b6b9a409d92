"""What every command is: a named, serialisable change a person makes to one member.

A command carries an ``op_id`` (UUID, chosen once by the workstation that recorded it)
and the member version it was based on. It validates its own payload (pydantic), checks
the business rules against the member as it is now, and applies itself to a Session;
:mod:`desktop_care.commands.runner` runs it once and only once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict
from sqlalchemy.orm import Session

from ..models import Member
from ..models.base import MAX_ID


@dataclass(frozen=True)
class Actor:
    """Who is making a change: the real staff user, never a shared account."""

    user_id: int | None
    username: str
    impersonation_id: str | None = None
    client_address: str = ""


class Rejected(Exception):
    """The command breaks a business rule; ``reason`` says which, in plain words."""

    def __init__(self, reason: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = fields or {}


def _json_integer(value: object) -> object:
    # JSON Schema counts 5.0 as the integer 5; "5" and true are not integers.
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: An integer as JSON has them: 5 or 5.0, never "5" or true (pydantic's lax mode
#: would take both).
JsonInt = Annotated[int, BeforeValidator(_json_integer), Strict()]


def _kind_is_required(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "kind" not in required:
        required.insert(0, "kind")


class Command(BaseModel):
    # The document requires ``kind``, which tells the kinds apart (a default for Python only).
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_kind_is_required)

    #: Set by each subclass as ``kind: Literal["..."] = "..."``.
    kind: str
    op_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    member_id: JsonInt = Field(gt=0, le=MAX_ID)
    #: The member's ``version`` the person saw when they made the change.
    base_version: JsonInt | None = Field(default=None, ge=1)
    #: The workstation that recorded it: its own earlier changes never conflict with it.
    origin: str | None = Field(default=None, max_length=64)

    #: Deltas (points) commute with everything, so they never conflict.
    never_conflicts: ClassVar[bool] = False
    #: Audit action name, e.g. "member.update_contact".
    action: ClassVar[str] = ""
    #: A short label for people (pending marks, Sync issues panel).
    label: ClassVar[str] = ""

    def changed_fields(self) -> frozenset[str]:
        """The member fields this command writes, as named in ``Member.field_versions``."""
        raise NotImplementedError

    def check(self, member: Member) -> None:
        """Raise :class:`Rejected` if the member, as it is now, does not allow this."""

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        """Make the change; return audit details. Runs inside the caller's transaction."""
        raise NotImplementedError

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        """The member's summary/detail values as they will be once this applies
        (for showing queued changes at once). Pure: returns a new dict."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line for people: what this command does."""
        return self.label

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """SHA-256 of the canonical payload: the same op_id must always carry it."""
        canonical = json.dumps(self.payload(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
