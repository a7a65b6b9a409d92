"""What every command is: a named, serialisable change a person makes.

A command carries an ``op_id`` (UUID, chosen once by whoever recorded it) and declares,
on its class, who may run it and whether it can wait in an offline outbox. Member
commands (:class:`Command`) also carry the member version they were based on. It validates its own payload (pydantic), checks
the business rules against the member as it is now, and applies itself to a Session;
:mod:`desktop_care.commands.runner` runs it once and only once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator
from sqlalchemy.orm import Session

from ..models import Member, User, UserRole
from ..models.base import MAX_ID, Base


@dataclass(frozen=True)
class Actor:
    """Who is making a change: the real staff user, never a shared account.

    ``role`` is the role of the signed-in user, taken by the server from the session
    (never from the client's word). ``None`` marks a trusted in-process caller with no
    session (the command-line tools, the demo seeder, tests of the rules themselves).
    """

    user_id: int | None
    username: str
    impersonation_id: str | None = None
    client_address: str = ""
    role: UserRole | None = None


class Rejected(Exception):
    """The command breaks a business rule; ``reason`` says which, in plain words."""

    def __init__(self, reason: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = fields or {}


def json_integer(value: object) -> object:
    # JSON Schema counts 5.0 as the integer 5; "5" and true are not integers.
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: An integer as JSON has them: 5 or 5.0, never "5" or true (pydantic's lax mode
#: would take both).
JsonInt = Annotated[int, BeforeValidator(json_integer), Strict()]


#: Shortest reason staff must give where a command asks why.
MIN_REASON = 3

#: What a reason is, for the document: once spaces are tidied, at least MIN_REASON
#: characters (a character that is not a space, then anything, then another).
REASON_SCHEMA: dict[str, Any] = {"pattern": r"\S[\s\S]+\S"}


def clean_reason(value: str) -> str:
    """A reason with its spaces tidied; ValueError when it is too short to say why."""
    value = " ".join(value.split())
    if len(value) < MIN_REASON:
        raise ValueError(f"must say why, in at least {MIN_REASON} characters")
    return value


def kind_is_required(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "kind" not in required:
        required.insert(0, "kind")


@dataclass(frozen=True)
class DirectChange:
    """What a command's direct path (:meth:`Command.apply_direct`) changes, as plain
    values for Core statements: the member's columns, the audit details, and the rows
    of other tables it adds (``(model, values)``: a ledger entry)."""

    values: dict[str, Any]
    details: dict[str, Any]
    rows: tuple[tuple[type[Base], dict[str, Any]], ...] = ()


class NotPermitted(Exception):
    """The actor's role may not run this kind of command (403 at the API)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Staff tiers, lowest first: a tier may do what every lower tier may.
STAFF_TIERS: tuple[UserRole, ...] = (UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN)


def role_permits(role: UserRole | None, required: UserRole) -> bool:
    """Whether a user of ``role`` may run a command that requires ``required``."""
    if role is None:
        return True  # a trusted in-process caller (see Actor)
    if role not in STAFF_TIERS or required not in STAFF_TIERS:
        return role == required
    return STAFF_TIERS.index(role) >= STAFF_TIERS.index(required)


class BaseCommand(BaseModel):
    """What every command is, whatever it targets. Subclasses declare, once, on the
    class: ``kind`` (a Literal), ``action`` (audit name), ``label`` (for people),
    ``required_role`` (checked by ``execute`` on the server; the UI reads it to hide
    or disable what would be refused) and ``online_only`` (run at once through
    ``POST /commands``, never queued offline). Register each with ``@register``."""

    # The document requires ``kind``, which tells the kinds apart (a default for Python only).
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=kind_is_required)

    #: Set by each subclass as ``kind: Literal["..."] = "..."``.
    kind: str
    op_id: uuid.UUID = Field(default_factory=uuid.uuid4)

    #: Audit action name, e.g. "member.update_contact".
    action: ClassVar[str] = ""
    #: A short label for people (pending marks, Sync issues panel, menus).
    label: ClassVar[str] = ""
    #: The least staff tier that may run it.
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_STAFF
    #: Needs the server now (reset password, invitations, revoke…): never queued.
    online_only: ClassVar[bool] = False
    #: What ``target_id`` names: "member" or "user" (audit entity type).
    target_type: ClassVar[str] = "member"

    @classmethod
    def permits(cls, role: UserRole | None) -> bool:
        return role_permits(role, cls.required_role)

    @classmethod
    def refusal(cls, role: UserRole | None) -> str | None:
        """Why a user of ``role`` may not run this, in plain words (None if they may)."""
        if cls.permits(role):
            return None
        return f"{cls.label or cls.__name__}: only a {cls.required_role.label} may do this"

    @property
    def target_id(self) -> int:
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


class Command(BaseCommand):
    """A command on one member's account (the queueable kind: offline workstations
    record these in their outbox, with field-level conflict detection)."""

    #: The member's id. A negative id is *provisional*: a member registered on a
    #: workstation that the server has not registered yet (``AddMember``); the local
    #: store rewrites it to the server's id once the registration is answered, and the
    #: server refuses any other command naming one (docs/decisions/0014).
    #: The document says what the server takes: a server id (1 and up), since only a
    #: registration (``AddMember``, which declares its own bounds) may name a
    #: provisional one; the model itself takes both, for the workstation's outbox.
    member_id: JsonInt = Field(ge=-MAX_ID, le=MAX_ID, json_schema_extra={"minimum": 1})
    #: The member's ``version`` the person saw when they made the change.
    # (The bound before the validators, or the document gets pydantic's "ge" instead of "minimum".)
    base_version: Annotated[int, Field(ge=1), BeforeValidator(json_integer), Strict()] | None = None
    #: The workstation that recorded it: its own earlier changes never conflict with it.
    origin: str | None = Field(default=None, max_length=64)

    #: Deltas (points) commute with everything, so they never conflict.
    never_conflicts: ClassVar[bool] = False
    #: ``apply`` may raise :class:`Rejected` part-way (a merge meeting a unique
    #: constraint): the runner then applies it in a savepoint and rolls it back whole.
    apply_can_reject: ClassVar[bool] = False

    #: This command registers a new member (``AddMember``): there is no member to lock
    #: yet; ``create`` makes it, and the result names the server's id for it.
    creates: ClassVar[bool] = False

    @field_validator("member_id")
    @classmethod
    def _member_id(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must be a member's id")
        return value

    @property
    def provisional(self) -> bool:
        """Whether ``member_id`` is a workstation's provisional id (not the server's)."""
        return self.member_id < 0

    def create(self, session: Session, actor: Actor) -> tuple[Member, dict[str, Any]]:
        """For a command that ``creates``: make the member (added to the session with
        its id, not flushed) and return it with the audit details. Raises
        :class:`Rejected`."""
        raise NotImplementedError

    def also_locks(self) -> tuple[int, ...]:
        """Other members this command reads and writes (a merge's survivor): the runner
        locks them with the target, in id order, so two such commands cannot deadlock."""
        return ()

    @property
    def target_id(self) -> int:
        return self.member_id

    def changed_fields(self) -> frozenset[str]:
        """The member fields this command writes, as named in ``Member.field_versions``."""
        raise NotImplementedError

    def check(self, member: Member) -> None:
        """Raise :class:`Rejected` if the member, as it is now, does not allow this."""

    def check_in(self, session: Session, member: Member) -> None:
        """:meth:`check` with the session at hand, for rules that read other rows (a
        merge reads the survivor, an invitation the users, a reset its rate limit).
        Reads only; raises :class:`Rejected`. The runner calls this; by default it is
        ``check``."""
        self.check(member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        """Make the change; return audit details. Runs inside the caller's transaction."""
        raise NotImplementedError

    def direct(self) -> bool:
        """Whether this command may take a pushed batch's direct path
        (:meth:`apply_direct`): a hot kind whose change is member columns and rows
        appended elsewhere, nothing the ORM must cascade (docs/decisions/0039)."""
        return False

    def apply_direct(self, member: Member, actor: Actor) -> DirectChange:
        """:meth:`apply` as plain values, for the batch runner to write with Core
        statements (one UPDATE of the member, bulk inserts of the rest). Reads
        ``member`` and never changes it or any session: the runner writes, and gives
        the loaded member its new committed values. Called after :meth:`check_in`."""
        raise NotImplementedError

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        """The member's summary/detail values as they will be once this applies
        (for showing queued changes at once). Pure: returns a new dict."""
        raise NotImplementedError


class UserCommand(BaseCommand):
    """A command on one user (a portal user of a member, a non-member user or staff):
    always online-only, since users are not replicated to workstations."""

    user_id: JsonInt = Field(gt=0, le=MAX_ID)

    online_only: ClassVar[bool] = True
    target_type: ClassVar[str] = "user"

    @property
    def target_id(self) -> int:
        return self.user_id

    def check(self, user: User, actor: Actor) -> None:
        """Raise :class:`Rejected` if the user, as they are now, does not allow this."""

    def apply(self, session: Session, user: User, actor: Actor) -> dict[str, Any]:
        """Make the change; return audit details. Runs inside the caller's transaction."""
        raise NotImplementedError


class RecordCommand(BaseCommand):
    """A command on neither a member nor a user: a record of its own (a fraud block) or
    a setting of the whole server (:class:`SettingCommand`). Always online-only, with no
    target row to lock first: ``execute`` runs :meth:`run` in the caller's write
    transaction (two runs of the same op_id meet at the stored result's unique op_id;
    ``run_command`` retries). :meth:`run` checks and makes the change and names what
    it changed: the audit's entity (a record's id, also answered as ``entity_id``)."""

    online_only: ClassVar[bool] = True
    target_type: ClassVar[str] = "record"

    @property
    def target_id(self) -> int:
        return 0

    def run(self, session: Session, actor: Actor) -> tuple[int | str, dict[str, Any]]:
        """Make the change; return the record's id (or the setting's key) and the audit
        details. Raises :class:`Rejected` (before writing anything)."""
        raise NotImplementedError


class SettingCommand(RecordCommand):
    """A command on a setting of the whole server (a Society Admin's): the setting's
    key is the audit's entity."""

    target_type: ClassVar[str] = "setting"
    #: The setting's key (audited as the entity id).
    setting_key: ClassVar[str] = ""

    def check_in(self, session: Session, actor: Actor) -> None:
        """Raise :class:`Rejected` if the change is not allowed now."""

    def apply(self, session: Session, actor: Actor) -> dict[str, Any]:
        """Make the change; return audit details. Runs inside the caller's transaction."""
        raise NotImplementedError

    def run(self, session: Session, actor: Actor) -> tuple[int | str, dict[str, Any]]:
        self.check_in(session, actor)
        return self.setting_key, self.apply(session, actor)
