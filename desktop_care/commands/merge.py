"""Merge two members, and undo a merge (both online only: they need the server's view
of both accounts). See docs/decisions/0013-merge-and-undo.md.

A merge moves everything of the merged-away member to the survivor in one transaction:
the points ledger and account transactions (with their balances), portal users, and the
rows of every table registered with :func:`~desktop_care.models.merge.member_reference`;
addresses move too, and where both have one of a kind the person chose which stays.
The merged-away member stays as a record with status Merged and ``merged_into_id``;
a :class:`~desktop_care.models.merge.MergeRecord` keeps the snapshot Undo restores.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Enum, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    EMAIL_CHOICE_COLUMNS,
    Address,
    AddressKind,
    AuditEvent,
    Member,
    MemberStatus,
    MergeRecord,
    User,
    utcnow,
)
from ..models.merge import UNDO_WINDOW, references
from ..models.status import STATUS_LABELS
from ..models.user import UserRole
from .base import Actor, Command, Rejected
from .registry import register

Side = Literal["merged", "survivor"]

#: The member fields a person chooses between (in the order shown).
CHOICE_FIELDS: dict[str, str] = {
    "title": "Title",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "E-mail",
    "phone": "Phone",
    "email_opt_in": "E-mail opt-in",
}
#: Shown side by side, never chosen: the survivor keeps its own (or they add up).
FIXED_FIELDS: dict[str, str] = {
    "member_no": "Member ID",
    "logon_id": "Logon ID",
    "status": "Status",
    "points_balance": "Points",
    "account_balance_cents": "Account balance",
    "pending_count": "Pending transactions",
    "created_at": "Member since",
    "last_login_at": "Last login",
}
#: Never restored from the snapshot by Undo: they move on as for any change.
_NOT_SNAPSHOTTED = frozenset({"id", "version", "updated_at"})
_ADDRESS_COLUMNS = ("id", "kind", "line1", "line2", "city", "region", "postcode", "country")


# ---------------------------------------------------------------------- the plan


class MemberSide(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    member_no: str
    name: str
    status: MemberStatus
    version: int
    email: str


class FieldRow(BaseModel):
    """One line of the side-by-side comparison."""

    model_config = ConfigDict(frozen=True)

    field: str
    label: str
    merged: str
    survivor: str
    differs: bool
    #: Whether the person may choose (False: the survivor's, or a sum, is kept).
    choosable: bool
    #: The side kept unless the person chooses otherwise: the survivor's non-empty value.
    default: Side = "survivor"
    #: For fixed rows: what the survivor ends up with.
    result: str = ""


class MoveCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    count: int


class MergePlan(BaseModel):
    """What merging ``merged`` into ``survivor`` would do, and why it cannot (if so)."""

    model_config = ConfigDict(frozen=True)

    merged: MemberSide
    survivor: MemberSide
    fields: list[FieldRow]
    moves: list[MoveCount]
    points_after: int
    balance_after_cents: int
    emails_differ: bool
    #: Why the merge is refused, one plain sentence each (empty: it may go ahead).
    refusals: list[str] = Field(default_factory=list)


def _name(member: Member) -> str:
    return f"{member.display_name} ({member.member_no})"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, enum.Enum):
        return STATUS_LABELS.get(value, str(value.value)) if isinstance(value, MemberStatus) else str(value.value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)


def _address_text(address: Address | None) -> str:
    if address is None:
        return ""
    parts = [address.line1, address.line2, address.city, address.region, address.postcode, address.country]
    return ", ".join(p for p in parts if p)


def _side(member: Member) -> MemberSide:
    return MemberSide(id=member.id, member_no=member.member_no, name=member.display_name,
                      status=member.status, version=member.version, email=member.email)


def emails_differ(merged: Member, survivor: Member) -> bool:
    a, b = merged.email.strip().lower(), survivor.email.strip().lower()
    return bool(a and b and a != b)


def merge_refusals(session: Session, merged: Member, survivor: Member) -> list[str]:
    """Why ``merged`` may not be merged into ``survivor``, one sentence each."""
    if merged.id == survivor.id:
        return ["A member cannot be merged into itself."]
    out: list[str] = []
    for member in (merged, survivor):
        if member.status is MemberStatus.MERGED:
            out.append(f"{_name(member)} was already merged away; it can only be enrolled again by undoing "
                       "that merge.")
    if survivor.status is not MemberStatus.MERGED and survivor.status is not MemberStatus.ENROLLED:
        out.append(f"The surviving member must be enrolled; {_name(survivor)} is "
                   f"{STATUS_LABELS[survivor.status].lower()}.")
    staff = session.scalars(select(User.member_id).where(
        User.member_id.in_([merged.id, survivor.id]),
        User.role.in_([UserRole.SOCIETY_ADMIN, UserRole.SOCIETY_STAFF]))).all()
    for member in (merged, survivor):
        if member.id in staff:
            out.append(f"{_name(member)} belongs to a staff account; staff accounts are never merged.")
    if merged.pending_count:
        out.append(f"{_name(merged)} has {merged.pending_count} pending transaction"
                   f"{'s' if merged.pending_count != 1 else ''}: merge once they have settled.")
    return out


def _address_kinds(member: Member) -> dict[str, Address]:
    out: dict[str, Address] = {}
    for address in member.addresses:
        out.setdefault(address.kind.value, address)
    return out


def merge_plan(session: Session, merged: Member, survivor: Member) -> MergePlan:
    """The plan the merge wizard shows (both members side by side, what moves)."""
    rows: list[FieldRow] = []
    for field, label in CHOICE_FIELDS.items():
        a, b = getattr(merged, field), getattr(survivor, field)
        default: Side = "survivor" if (b not in ("", None) or isinstance(b, bool)) else "merged"
        if field == "email_opt_in":
            default = "survivor"
        rows.append(FieldRow(field=field, label=label, merged=_text(a), survivor=_text(b), differs=a != b,
                             choosable=a != b, default=default))
    mine, theirs = _address_kinds(merged), _address_kinds(survivor)
    for kind in sorted(set(mine) | set(theirs)):
        a_text, b_text = _address_text(mine.get(kind)), _address_text(theirs.get(kind))
        both = kind in mine and kind in theirs
        rows.append(FieldRow(
            field=f"address.{kind}", label=f"{kind.capitalize()} address", merged=a_text, survivor=b_text,
            differs=a_text != b_text, choosable=both and a_text != b_text,
            default="survivor" if kind in theirs else "merged",
            result="" if both else (a_text or b_text)))
    points = merged.points_balance + survivor.points_balance
    balance = merged.account_balance_cents + survivor.account_balance_cents
    for field, label in FIXED_FIELDS.items():
        a, b = getattr(merged, field), getattr(survivor, field)
        result = _text(b)
        if field == "points_balance":
            result = _text(points)
        elif field == "account_balance_cents":
            result = _text(balance)
        elif field == "pending_count":
            result = _text(a + b)
        elif field == "created_at":
            result = _text(min(a, b))
        elif field == "last_login_at":
            result = _text(max((v for v in (a, b) if v is not None), default=None))
        rows.append(FieldRow(field=field, label=label, merged=_text(a), survivor=_text(b), differs=a != b,
                             choosable=False, result=result))
    moves = [MoveCount(key=ref.key, label=ref.label, count=ref.count(session, merged.id)) for ref in references()]
    return MergePlan(merged=_side(merged), survivor=_side(survivor), fields=rows, moves=moves,
                     points_after=points, balance_after_cents=balance,
                     emails_differ=emails_differ(merged, survivor),
                     refusals=merge_refusals(session, merged, survivor))


# ---------------------------------------------------------------------- snapshots


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def member_columns(member: Member) -> dict[str, Any]:
    """Every column of the member that Undo restores, as JSON values."""
    return {c.key: _plain(getattr(member, c.key)) for c in Member.__table__.columns
            if c.key not in _NOT_SNAPSHOTTED}


def _restore_columns(member: Member, values: dict[str, Any]) -> None:
    for column in Member.__table__.columns:
        if column.key not in values:
            continue
        value = values[column.key]
        enum_class = getattr(column.type, "enum_class", None) if isinstance(column.type, Enum) else None
        if value is not None and enum_class is not None:
            value = enum_class(value)
        elif value is not None and column.key.endswith("_at"):
            value = dt.datetime.fromisoformat(value)
        if column.key == "logon_id" and value == member.logon_id:
            continue
        setattr(member, column.key, value)


def _address_values(address: Address) -> dict[str, Any]:
    return {key: _plain(getattr(address, key)) for key in _ADDRESS_COLUMNS}


def _stamp(member: Member, fields: set[str]) -> None:
    """Mark fields as written by this change (offline edits based on earlier versions
    of them then conflict instead of silently overwriting)."""
    if fields:
        stamp: list[int | str | None] = [member.version + 1, None]
        member.field_versions = {**member.field_versions, **{f: stamp for f in sorted(fields)}}


# ---------------------------------------------------------------------- merge


@register
class MergeMembers(Command):
    """Merge ``member_id`` (merged away) into ``into_member_id`` (the survivor)."""

    kind: Literal["merge_members"] = "merge_members"
    #: The versions the person reviewed: either member changed since is a refusal.
    base_version: int = Field(ge=1)
    into_member_id: int = Field(gt=0)
    into_base_version: int = Field(ge=1)
    #: Field (``"email"``, ``"address.home"``…) → whose value the survivor keeps;
    #: fields not named keep the plan's default.
    choices: dict[str, Side] = Field(default_factory=dict)
    #: Required when both have an e-mail address and they differ.
    confirm_different_emails: bool = False
    #: The survivor's member ID, typed by the person as confirmation.
    confirm_member_no: str = Field(min_length=1, max_length=20)

    online_only: ClassVar[bool] = True
    never_conflicts: ClassVar[bool] = True
    apply_can_reject: ClassVar[bool] = True
    action: ClassVar[str] = "member.merge"
    label: ClassVar[str] = "Merge members"

    @model_validator(mode="after")
    def _two_members(self) -> MergeMembers:
        if self.member_id == self.into_member_id:
            raise ValueError("a member cannot be merged into itself")
        return self

    def also_locks(self) -> tuple[int, ...]:
        return (self.into_member_id,)

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"status"})

    def _survivor(self, session: Session) -> Member:
        survivor = session.get(Member, self.into_member_id)
        if survivor is None:
            raise Rejected(f"no member with id {self.into_member_id}", {"into_member_id": "no such member"})
        return survivor

    def check_in(self, session: Session, member: Member) -> None:
        survivor = self._survivor(session)
        refusals = merge_refusals(session, member, survivor)
        if refusals:
            raise Rejected(" ".join(refusals))
        for who, seen in ((member, self.base_version), (survivor, self.into_base_version)):
            if who.version != seen:
                raise Rejected(f"{_name(who)} was changed since you reviewed the merge: review it again.",
                               {"base_version" if who is member else "into_base_version": "changed since"})
        if self.confirm_member_no.strip() != survivor.member_no:
            raise Rejected(f"type the surviving member's ID, {survivor.member_no}, to confirm",
                           {"confirm_member_no": f"type {survivor.member_no}"})
        if emails_differ(member, survivor) and not self.confirm_different_emails:
            raise Rejected(f"the e-mail addresses differ ({member.email} and {survivor.email}): confirm that "
                           "both belong to the same person", {"confirm_different_emails": "confirm"})
        unknown = set(self.choices) - set(CHOICE_FIELDS) - {f"address.{a.kind.value}" for a in member.addresses}
        if unknown:
            raise Rejected(f"cannot choose {', '.join(sorted(unknown))}", {"choices": "unknown field"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        try:
            return self._apply(session, member, actor)
        except IntegrityError as exc:
            # The runner's savepoint rolls back whatever had moved: nothing is merged.
            raise Rejected(f"the merge would break a uniqueness rule, so nothing was merged: {exc.orig}") from None

    def _apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        survivor = self._survivor(session)
        plan = merge_plan(session, member, survivor)
        chosen = {row.field: self.choices.get(row.field, row.default) for row in plan.fields if row.choosable}
        snapshot: dict[str, Any] = {
            "members": {"merged": member_columns(member), "survivor": member_columns(survivor)},
            "addresses": {"merged": [_address_values(a) for a in member.addresses],
                          "survivor": [_address_values(a) for a in survivor.addresses]},
            "choices": chosen,
            "moved": {},
        }
        survivor_fields: set[str] = set()
        for field in CHOICE_FIELDS:
            if chosen.get(field) == "merged":
                setattr(survivor, field, getattr(member, field))
                survivor_fields |= EMAIL_CHOICE_COLUMNS if field == "email_opt_in" else {field}
        moved_addresses = self._move_addresses(member, survivor, chosen, survivor_fields)
        snapshot["moved"]["address.member_id"] = moved_addresses
        for reference in references():
            if not reference.custom:
                snapshot["moved"][reference.key] = reference.move(session, member.id, survivor.id)
        survivor.points_balance += member.points_balance
        survivor.account_balance_cents += member.account_balance_cents
        survivor.pending_count += member.pending_count
        survivor.pending_cents += member.pending_cents
        if member.last_login_at is not None and (survivor.last_login_at is None
                                                 or member.last_login_at > survivor.last_login_at):
            survivor.last_login_at = member.last_login_at
        survivor_fields |= {"points_balance", "account_balance_cents"}
        _stamp(survivor, survivor_fields)
        member.points_balance = member.account_balance_cents = member.pending_count = member.pending_cents = 0
        member.status, member.status_before_hold = MemberStatus.MERGED, None
        member.merged_into_id = survivor.id
        member.email_opt_in = False
        _stamp(member, {"status", *EMAIL_CHOICE_COLUMNS, "points_balance"})
        record = MergeRecord(merged_id=member.id, survivor_id=survivor.id, actor_user_id=actor.user_id,
                             actor_name=actor.username, snapshot=snapshot, merged_version=0, survivor_version=0)
        session.add(record)
        session.flush()
        # Both versions as the merge leaves them (nothing changes either member after this).
        record.survivor_version = survivor.version
        record.merged_version = member.version
        session.flush()
        return {"merge_id": record.id, "into_member_id": survivor.id, "into_member_no": survivor.member_no,
                "choices": chosen, "moved": {k: len(v) for k, v in snapshot["moved"].items()}}

    @staticmethod
    def _move_addresses(member: Member, survivor: Member, chosen: dict[str, Side],
                        survivor_fields: set[str]) -> list[int]:
        """Addresses of a kind the survivor lacks move; where both have one, the one
        chosen stays and the other is removed (it is in the snapshot, for Undo)."""
        theirs = _address_kinds(survivor)
        moved: list[int] = []
        for address in list(member.addresses):
            kind = address.kind.value
            existing = theirs.get(kind)
            if existing is not None and chosen.get(f"address.{kind}", "survivor") == "survivor":
                member.addresses.remove(address)  # delete-orphan
                continue
            if existing is not None:
                survivor.addresses.remove(existing)
                theirs.pop(kind)
            address.member = survivor
            moved.append(address.id)
            survivor_fields.add(f"address.{kind}")
        return moved

    def summary(self) -> str:
        return f"Merge into member #{self.into_member_id}"



# ---------------------------------------------------------------------- undo


class MergeInfo(BaseModel):
    """One merge a member took part in, and whether it can be undone now."""

    model_config = ConfigDict(frozen=True)

    id: int
    merged: MemberSide
    survivor: MemberSide
    created_at: dt.datetime
    actor_name: str
    undone_at: dt.datetime | None
    #: What the undo restores, one line each (empty once undone).
    restores: list[str]
    #: Why it cannot be undone now (None: it can).
    undo_refusal: str | None
    undo_until: dt.datetime
    #: The merged-away member's status before the merge (what an undo gives it back).
    merged_status_before: MemberStatus = MemberStatus.ENROLLED


def _change_since(session: Session, member: Member, since: dt.datetime) -> str:
    """The latest audited change of ``member`` after ``since``, in a few words."""
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "member", AuditEvent.entity_id == str(member.id),
                                 AuditEvent.at > since).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1)
    ).first()
    if event is None:
        return ""
    return f" ({event.action.removeprefix('member.').replace('_', ' ')} by {event.actor_name}, {event.at:%d %b %Y %H:%M} UTC)"


def undo_refusal(session: Session, record: MergeRecord, merged: Member, survivor: Member,
                 now: dt.datetime | None = None) -> str | None:
    """Why this merge cannot be undone now (None if it can): already undone; older than
    the window; either member changed since (undoing would lose that change); or rows
    it moved have moved again."""
    now = now or utcnow()
    if record.undone_at is not None:
        return f"This merge was already undone on {record.undone_at:%d %b %Y} by {record.undone_by}."
    if now - record.created_at > UNDO_WINDOW:
        return (f"This merge was made on {record.created_at:%d %b %Y}: merges can be undone for "
                f"{UNDO_WINDOW.days} days only.")
    for member, version in ((survivor, record.survivor_version), (merged, record.merged_version)):
        if member.version != version:
            return (f"{_name(member)} has changed since the merge{_change_since(session, member, record.created_at)}: "
                    "undoing it now would lose that change.")
    moved = record.snapshot.get("moved", {})
    for reference in references():
        if not reference.custom and not reference.still_moved(session, moved.get(reference.key, []), survivor.id):
            return f"Some of the {reference.label} moved by the merge have changed since: undoing it is not safe."
    return None


def merge_info(session: Session, record: MergeRecord) -> MergeInfo:
    merged, survivor = session.get(Member, record.merged_id), session.get(Member, record.survivor_id)
    assert merged is not None and survivor is not None
    moved = record.snapshot.get("moved", {})
    labels = {ref.key: ref.label for ref in references()}
    restores = [(f"{_name(merged)} comes back as it was before the merge, "
                f"{STATUS_LABELS[MemberStatus(record.snapshot['members']['merged']['status'])].lower()}."),
                f"{_name(survivor)} gets back its own details and balances."]
    restores += [f"{labels.get(key, key).capitalize()} move back: {len(ids):,}." for key, ids in moved.items()
                 if ids and key != "address.member_id"]
    restores.append("Both members' addresses come back as they were.")
    return MergeInfo(id=record.id, merged=_side(merged), survivor=_side(survivor), created_at=record.created_at,
                     actor_name=record.actor_name, undone_at=record.undone_at,
                     restores=[] if record.undone_at else restores,
                     undo_refusal=undo_refusal(session, record, merged, survivor),
                     undo_until=record.created_at + UNDO_WINDOW,
                     merged_status_before=MemberStatus(record.snapshot["members"]["merged"]["status"]))


def merges_of(session: Session, member_id: int) -> list[MergeInfo]:
    """The merges ``member_id`` took part in (either side), newest first."""
    records = session.scalars(select(MergeRecord).where(
        (MergeRecord.merged_id == member_id) | (MergeRecord.survivor_id == member_id)
    ).order_by(MergeRecord.created_at.desc(), MergeRecord.id.desc()))
    return [merge_info(session, record) for record in records]


@register
class UndoMerge(Command):
    """Undo merge ``merge_id``: both members, their balances and links exactly as they
    were before it. ``member_id`` is the merged-away member."""

    kind: Literal["undo_merge"] = "undo_merge"
    merge_id: int = Field(gt=0)
    survivor_id: int = Field(gt=0)

    online_only: ClassVar[bool] = True
    never_conflicts: ClassVar[bool] = True
    apply_can_reject: ClassVar[bool] = True
    action: ClassVar[str] = "member.undo_merge"
    label: ClassVar[str] = "Undo merge"

    def also_locks(self) -> tuple[int, ...]:
        return (self.survivor_id,)

    def changed_fields(self) -> frozenset[str]:
        return frozenset({"status"})

    def _parts(self, session: Session, member: Member) -> tuple[MergeRecord, Member]:
        record = session.get(MergeRecord, self.merge_id, with_for_update=True)
        if record is None or record.merged_id != member.id or record.survivor_id != self.survivor_id:
            raise Rejected(f"there is no merge {self.merge_id} of member {member.member_no}",
                           {"merge_id": "no such merge"})
        survivor = session.get(Member, record.survivor_id)
        assert survivor is not None
        return record, survivor

    def check_in(self, session: Session, member: Member) -> None:
        record, survivor = self._parts(session, member)
        reason = undo_refusal(session, record, member, survivor)
        if reason is not None:
            raise Rejected(reason)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        record, survivor = self._parts(session, member)
        snapshot = record.snapshot
        for reference in references():
            if not reference.custom:
                reference.move_back(session, snapshot["moved"].get(reference.key, []), member.id)
        for who in (member, survivor):
            for address in list(who.addresses):
                who.addresses.remove(address)
        session.flush()
        for who, side in ((member, "merged"), (survivor, "survivor")):
            for values in snapshot["addresses"][side]:
                who.addresses.append(Address(**{**values, "kind": AddressKind(values["kind"])}))
            before = {f: getattr(who, f) for f in snapshot["members"][side]}
            _restore_columns(who, snapshot["members"][side])
            changed = {f for f, v in before.items() if getattr(who, f) != v and f != "field_versions"}
            changed |= {f"address.{a['kind']}" for a in snapshot["addresses"][side]}
            _stamp(who, changed)
        record.undone_at = utcnow()
        record.undone_by = actor.username
        session.flush()
        return {"merge_id": record.id, "survivor_id": survivor.id, "survivor_member_no": survivor.member_no}

    def summary(self) -> str:
        return f"Undo merge #{self.merge_id}"
