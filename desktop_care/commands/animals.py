"""Commands on a breed society's herd book: register an animal, maintain (correct) its
details, offer it to another member, and the recipient's answer (accept or decline);
the owner may cancel an offer still waiting.

Each names the member whose account it works on (``member_id``: the owner, or for an
answer the recipient), so the runner locks, audits and versions that member; each
change is also kept in the animal's own history (``animal_event``) with who, why,
before and after. All are online only: registration numbers, pedigrees and ownership
are decided by the server at the moment they happen (docs/decisions/0021-animals.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Member, MemberStatus, UserRole, utcnow
from ..models.animals import (
    MAX_NAME,
    Animal,
    AnimalEvent,
    AnimalOwner,
    AnimalStatus,
    AnimalTransfer,
    BadRegNo,
    Breed,
    EventKind,
    Sex,
    TransferState,
    facts_of,
    find_animal,
    format_reg_no,
    next_sequence,
    offspring_of,
    parse_reg_no,
    pedigree_problems,
    pending_transfer,
    transfer_expiry,
)
from .base import Actor, Command, JsonInt, Rejected, clean_reason
from .registry import register

#: Members who may register animals and receive them.
ACTIVE_STATUSES = frozenset({MemberStatus.ENROLLED, MemberStatus.ACTIVE})
#: Changes that are corrections of the herd book and need a reason.
CORRECTIONS = ("sex", "born", "sire", "dam")
_FIELD_NAMES = {"sex": "sex", "born": "date of birth", "sire": "sire", "dam": "dam"}


class _AnimalCommand(Command):
    """Run now on the server, writing no member field a workstation shows."""

    never_conflicts: ClassVar[bool] = True
    online_only: ClassVar[bool] = True
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_STAFF

    def changed_fields(self) -> frozenset[str]:
        return frozenset()

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values)


def _tidy_name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("enter the animal's name")
    return value


def _event(session: Session, animal: Animal, kind: EventKind, actor: Actor, op_id: str, *,
           changes: dict[str, Any] | None = None, reason: str = "", member_id: int | None = None) -> None:
    session.add(AnimalEvent(animal_id=animal.id, member_id=member_id or animal.owner_member_id, kind=kind,
                            at=utcnow(), changes=changes or {}, reason=reason, actor_user_id=actor.user_id,
                            actor_name=actor.username, impersonation_id=actor.impersonation_id, op_id=op_id))


def _parent(session: Session, typed: str) -> tuple[str, Animal | None, str | None]:
    """(the number as typed and tidied, the animal of it, a problem with the number)."""
    if not typed.strip():
        return "", None, None
    try:
        reg_no = parse_reg_no(typed)
    except BadRegNo as exc:
        return typed.strip(), None, str(exc)
    return reg_no, find_animal(session, reg_no), None


def _problems(session: Session, *, breed: Breed, sex: Sex, born: dt.date | None, sire: str, dam: str,
              animal: Animal | None = None) -> tuple[dict[str, str], Animal | None, Animal | None]:
    sire_no, sire_row, sire_bad = _parent(session, sire)
    dam_no, dam_row, dam_bad = _parent(session, dam)
    problems = pedigree_problems(
        breed=breed.rules, sex=sex, born=born, sire_no=sire_no, sire=facts_of(session, sire_row), dam_no=dam_no,
        dam=facts_of(session, dam_row), today=utcnow().date(), reg_no=animal.reg_no if animal else None,
        offspring=offspring_of(session, animal) if animal is not None else ())
    if sire_bad:
        problems["sire"] = sire_bad
    if dam_bad:
        problems["dam"] = dam_bad
    return problems, sire_row, dam_row


def _refuse(problems: dict[str, str], what: str) -> Rejected:
    first = next(iter(problems.values()))
    return Rejected(f"{what}: {first[:1].lower()}{first[1:]}".rstrip("."), problems)


def _owned(session: Session, member: Member, reg_no: str, *, lock: bool = False) -> Animal:
    try:
        tidy = parse_reg_no(reg_no)
    except BadRegNo as exc:
        raise Rejected(str(exc).rstrip("."), {"reg_no": str(exc)}) from None
    animal = find_animal(session, tidy, lock=lock)
    if animal is None or animal.owner_member_id != member.id:
        raise Rejected(f"member {member.member_no} has no animal {tidy}",
                       {"reg_no": f"{tidy} is not one of this member's animals."})
    return animal


def _active(member: Member, role: str) -> None:
    if member.status not in ACTIVE_STATUSES:
        raise Rejected(f"member {member.member_no} cannot {role}: the membership is not active",
                       {"member_id": "The membership is not active."})


@register
class RegisterAnimal(_AnimalCommand):
    """Register an animal to the member: its breed, sex, date of birth, and its sire and
    dam by registration number (both registered animals of the same breed, of the right
    sex and old enough at the birth). The server assigns its registration number."""

    kind: Literal["register_animal"] = "register_animal"
    name: str = Field(min_length=1, max_length=MAX_NAME)
    breed: str = Field(min_length=3, max_length=3, description="The breed's code, e.g. HER")
    sex: Sex
    born: dt.date
    sire: str = Field(default="", max_length=30, description="The sire's registration number")
    dam: str = Field(default="", max_length=30, description="The dam's registration number")

    action: ClassVar[str] = "animal.registered"
    label: ClassVar[str] = "Register an animal"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _tidy_name(value)

    def _breed(self, session: Session) -> Breed:
        breed = session.scalar(select(Breed).where(Breed.code == self.breed.upper()))
        if breed is None:
            known = ", ".join(f"{b.code} ({b.name})" for b in session.scalars(select(Breed).order_by(Breed.code)))
            raise Rejected(f"there is no breed {self.breed}", {"breed": f"Choose a breed: {known}."})
        return breed

    def check_in(self, session: Session, member: Member) -> None:
        _active(member, "register animals")
        breed = self._breed(session)
        problems, _, _ = _problems(session, breed=breed, sex=self.sex, born=self.born, sire=self.sire, dam=self.dam)
        if problems:
            raise _refuse(problems, "the animal cannot be registered")

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        breed = self._breed(session)
        _, sire, dam = _problems(session, breed=breed, sex=self.sex, born=self.born, sire=self.sire, dam=self.dam)
        now = utcnow()
        seq = next_sequence(session, breed.id, now.year)
        animal = Animal(reg_no=format_reg_no(breed.code, now.year, seq), breed_id=breed.id, reg_year=now.year,
                        reg_seq=seq, name=self.name, sex=self.sex, born=self.born,
                        sire_id=sire.id if sire else None, dam_id=dam.id if dam else None,
                        owner_member_id=member.id, status=AnimalStatus.REGISTERED, registered_at=now,
                        op_id=str(self.op_id))
        session.add(animal)
        session.flush()
        session.add(AnimalOwner(animal_id=animal.id, member_id=member.id, since=now))
        values = {"name": self.name, "breed": breed.code, "sex": self.sex.value, "born": self.born.isoformat(),
                  "sire": sire.reg_no if sire else "", "dam": dam.reg_no if dam else ""}
        _event(session, animal, EventKind.REGISTERED, actor, str(self.op_id),
               changes={k: [None, v] for k, v in values.items()})
        return {"reg_no": animal.reg_no, **values}

    def summary(self) -> str:
        return f"Register {self.name}"


@register
class CorrectAnimal(_AnimalCommand):
    """Maintain an animal's details: its name and status, and corrections of its sex,
    date of birth, sire or dam (each needs a reason, and must still agree with its
    parents and with the animals it is already a parent of). Kept in its history."""

    kind: Literal["correct_animal"] = "correct_animal"
    reg_no: str = Field(min_length=1, max_length=30)
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    status: AnimalStatus | None = None
    sex: Sex | None = None
    born: dt.date | None = None
    sire: str | None = Field(default=None, max_length=30)
    dam: str | None = Field(default=None, max_length=30)
    reason: str = Field(default="", max_length=500, description="Why: needed for a correction of sex, date of "
                                                                  "birth, sire or dam")

    action: ClassVar[str] = "animal.corrected"
    label: ClassVar[str] = "Maintain an animal"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _tidy_name(value)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return clean_reason(value) if value.strip() else ""

    def _changes(self, session: Session, animal: Animal) -> dict[str, list[Any]]:
        sire = session.get(Animal, animal.sire_id) if animal.sire_id else None
        dam = session.get(Animal, animal.dam_id) if animal.dam_id else None
        now = {"name": animal.name, "status": animal.status.value, "sex": animal.sex.value,
               "born": animal.born.isoformat(), "sire": sire.reg_no if sire else "", "dam": dam.reg_no if dam else ""}
        wanted: dict[str, Any] = {
            "name": self.name, "status": self.status.value if self.status else None,
            "sex": self.sex.value if self.sex else None, "born": self.born.isoformat() if self.born else None,
            "sire": _tidied(self.sire), "dam": _tidied(self.dam)}
        return {k: [now[k], v] for k, v in wanted.items() if v is not None and v != now[k]}

    def check_in(self, session: Session, member: Member) -> None:
        animal = _owned(session, member, self.reg_no)
        changes = self._changes(session, animal)
        if not changes:
            raise Rejected("nothing to change: these are the animal's details already",
                           {"reg_no": "Nothing was changed."})
        if changes.get("status", [None, None])[1] == AnimalStatus.DECEASED.value:
            waiting = pending_transfer(session, animal.id, utcnow())
            if waiting is not None:
                raise Rejected(f"{animal.reg_no} is offered to another member",
                               {"status": "A transfer of this animal is waiting for an answer: cancel it first."})
        corrected = [f for f in CORRECTIONS if f in changes]
        if corrected and not self.reason:
            what = " and ".join(_FIELD_NAMES[f] for f in corrected)
            raise Rejected(f"a correction of the {what} needs a reason",
                           {"reason": f"Say why the {what} is corrected (at least 3 characters)."})
        if corrected:
            breed = session.get(Breed, animal.breed_id)
            assert breed is not None
            sex = Sex(changes["sex"][1]) if "sex" in changes else animal.sex
            born = dt.date.fromisoformat(changes["born"][1]) if "born" in changes else animal.born
            sire = changes["sire"][1] if "sire" in changes else _reg_no_of(session, animal.sire_id)
            dam = changes["dam"][1] if "dam" in changes else _reg_no_of(session, animal.dam_id)
            problems, _, _ = _problems(session, breed=breed, sex=sex, born=born, sire=sire, dam=dam, animal=animal)
            # A parent is checked again when it changes, or when the date of birth does
            # (a foundation animal has none recorded: nothing to check then).
            for role, recorded in (("sire", animal.sire_id), ("dam", animal.dam_id)):
                if role not in changes and not ("born" in changes and recorded):
                    problems.pop(role, None)
            if problems:
                raise _refuse(problems, "the correction cannot be made")

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        animal = _owned(session, member, self.reg_no, lock=True)
        changes = self._changes(session, animal)
        for field, (_, after) in changes.items():
            if field == "name":
                animal.name = after
            elif field == "status":
                animal.status = AnimalStatus(after)
            elif field == "sex":
                animal.sex = Sex(after)
            elif field == "born":
                animal.born = dt.date.fromisoformat(after)
            else:
                parent = find_animal(session, after) if after else None
                setattr(animal, f"{field}_id", parent.id if parent else None)
        _event(session, animal, EventKind.CORRECTED, actor, str(self.op_id), changes=changes, reason=self.reason)
        return {"reg_no": animal.reg_no, "changes": changes, "reason": self.reason}

    def summary(self) -> str:
        return f"Maintain {self.reg_no}"


def _tidied(typed: str | None) -> str | None:
    if typed is None:
        return None
    try:
        return parse_reg_no(typed) if typed.strip() else ""
    except BadRegNo:
        return typed.strip()


def _reg_no_of(session: Session, animal_id: int | None) -> str:
    animal = session.get(Animal, animal_id) if animal_id else None
    return animal.reg_no if animal else ""


def expire_stale(session: Session, animal: Animal, actor: Actor, op_id: str) -> None:
    """Mark the animal's pending transfers that are past their time as expired."""
    now = utcnow()
    for transfer in session.scalars(select(AnimalTransfer).where(
            AnimalTransfer.animal_id == animal.id, AnimalTransfer.state == TransferState.PENDING,
            AnimalTransfer.expires_at <= now)):
        transfer.state, transfer.decided_at, transfer.decided_by = TransferState.EXPIRED, now, "expiry"
        _event(session, animal, EventKind.TRANSFER_EXPIRED, actor, op_id,
               changes={"transfer": [transfer.id, None]}, member_id=transfer.from_member_id)


@register
class TransferAnimal(_AnimalCommand):
    """Offer one of the member's animals to another member, named by member ID: the
    recipient accepts or declines it in their portal within TRANSFER_DAYS days."""

    kind: Literal["transfer_animal"] = "transfer_animal"
    reg_no: str = Field(min_length=1, max_length=30)
    to_member: str = Field(min_length=1, max_length=20, description="The recipient's member ID")

    action: ClassVar[str] = "animal.transfer_offered"
    label: ClassVar[str] = "Transfer an animal"

    def _recipient(self, session: Session, member: Member) -> Member:
        number = "".join(self.to_member.split())
        recipient = session.scalar(select(Member).where(Member.member_no == number))
        if recipient is None:
            raise Rejected(f"no member has the member ID {number}",
                           {"to_member": f"No member has the member ID {number}."})
        if recipient.id == member.id:
            raise Rejected("the animal already belongs to this member",
                           {"to_member": "This is the owner's own member ID: enter the new owner's."})
        if recipient.status not in ACTIVE_STATUSES:
            raise Rejected(f"member {number} cannot receive animals: the membership is not active",
                           {"to_member": f"Member {number} cannot receive animals: their membership is not active."})
        return recipient

    def check_in(self, session: Session, member: Member) -> None:
        animal = _owned(session, member, self.reg_no)
        if animal.status != AnimalStatus.REGISTERED:
            raise Rejected(f"{animal.reg_no} is recorded as {animal.status.value} and cannot be transferred",
                           {"reg_no": f"{animal.name} is recorded as {animal.status.value}: it cannot be transferred."})
        now = utcnow()
        waiting = session.scalar(select(AnimalTransfer).where(
            AnimalTransfer.animal_id == animal.id, AnimalTransfer.state == TransferState.PENDING,
            AnimalTransfer.expires_at > now).limit(1))
        if waiting is not None:
            to = session.get(Member, waiting.to_member_id)
            raise Rejected(f"{animal.reg_no} is already offered to member {to.member_no if to else '?'}",
                           {"reg_no": f"{animal.name} is already offered to member {to.member_no if to else '?'} "
                                      f"until {waiting.expires_at:%d %b %Y}: cancel that offer first."})
        self._recipient(session, member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        animal = _owned(session, member, self.reg_no, lock=True)
        recipient = self._recipient(session, member)
        expire_stale(session, animal, actor, str(self.op_id))
        now = utcnow()
        transfer = AnimalTransfer(animal_id=animal.id, from_member_id=member.id, to_member_id=recipient.id,
                                  state=TransferState.PENDING, created_at=now, expires_at=transfer_expiry(now),
                                  created_by=actor.username)
        session.add(transfer)
        session.flush()
        _event(session, animal, EventKind.TRANSFER_OFFERED, actor, str(self.op_id),
               changes={"owner": [member.member_no, recipient.member_no]})
        return {"reg_no": animal.reg_no, "transfer_id": transfer.id, "to_member_no": recipient.member_no,
                "expires_at": transfer.expires_at.isoformat()}

    def summary(self) -> str:
        return f"Transfer {self.reg_no} to {self.to_member}"


class _TransferCommand(_AnimalCommand):
    transfer_id: JsonInt = Field(gt=0, le=2**31 - 1)

    def _transfer(self, session: Session, member: Member, side: str, *, lock: bool = False) -> AnimalTransfer:
        query = select(AnimalTransfer).where(AnimalTransfer.id == self.transfer_id)
        transfer = session.scalar(query.with_for_update() if lock else query)
        owner = getattr(transfer, f"{side}_member_id", None) if transfer is not None else None
        if transfer is None or owner != member.id:
            raise Rejected(f"member {member.member_no} has no transfer {self.transfer_id}",
                           {"transfer_id": "There is no such transfer for this member."})
        state = transfer.state_at(utcnow())
        if state == TransferState.EXPIRED:
            raise Rejected(f"the transfer expired on {transfer.expires_at:%d %b %Y}",
                           {"transfer_id": f"This transfer expired on {transfer.expires_at:%d %b %Y}: "
                                           "the owner can offer the animal again."})
        if state != TransferState.PENDING:
            raise Rejected(f"the transfer was already {state.value}",
                           {"transfer_id": f"This transfer was already {state.value}."})
        return transfer


@register
class AnswerTransfer(_TransferCommand):
    """The recipient accepts (the animal becomes theirs; ownership history is kept)
    or declines a transfer offered to them, before it expires."""

    kind: Literal["answer_transfer"] = "answer_transfer"
    accept: bool

    action: ClassVar[str] = "animal.transfer_answered"
    label: ClassVar[str] = "Accept or decline a transfer"

    def check_in(self, session: Session, member: Member) -> None:
        transfer = self._transfer(session, member, "to")
        if self.accept:
            _active(member, "receive animals")
            animal = session.get(Animal, transfer.animal_id)
            if animal is None or animal.owner_member_id != transfer.from_member_id:
                raise Rejected("the animal changed owner since it was offered",
                               {"transfer_id": "The animal changed owner since it was offered."})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        transfer = self._transfer(session, member, "to", lock=True)
        animal = session.get(Animal, transfer.animal_id, with_for_update=True)
        assert animal is not None
        giver = session.get(Member, transfer.from_member_id)
        now = utcnow()
        transfer.decided_at, transfer.decided_by = now, actor.username
        if self.accept:
            transfer.state = TransferState.ACCEPTED
            for row in session.scalars(select(AnimalOwner).where(AnimalOwner.animal_id == animal.id,
                                                                 AnimalOwner.until.is_(None))):
                row.until = now
            session.add(AnimalOwner(animal_id=animal.id, member_id=member.id, since=now, transfer_id=transfer.id))
            animal.owner_member_id = member.id
            kind = EventKind.TRANSFER_ACCEPTED
        else:
            transfer.state = TransferState.DECLINED
            kind = EventKind.TRANSFER_DECLINED
        _event(session, animal, kind, actor, str(self.op_id), member_id=member.id,
               changes={"owner": [giver.member_no if giver else "", member.member_no]})
        return {"reg_no": animal.reg_no, "transfer_id": transfer.id, "accepted": self.accept,
                "from_member_no": giver.member_no if giver else ""}

    def summary(self) -> str:
        return "Accept a transfer" if self.accept else "Decline a transfer"


@register
class CancelTransfer(_TransferCommand):
    """The owner withdraws an offer still waiting for an answer."""

    kind: Literal["cancel_transfer"] = "cancel_transfer"

    action: ClassVar[str] = "animal.transfer_cancelled"
    label: ClassVar[str] = "Cancel a transfer"

    def check_in(self, session: Session, member: Member) -> None:
        self._transfer(session, member, "from")

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        transfer = self._transfer(session, member, "from", lock=True)
        animal = session.get(Animal, transfer.animal_id)
        assert animal is not None
        transfer.state, transfer.decided_at, transfer.decided_by = TransferState.CANCELLED, utcnow(), actor.username
        to = session.get(Member, transfer.to_member_id)
        _event(session, animal, EventKind.TRANSFER_CANCELLED, actor, str(self.op_id),
               changes={"owner": [member.member_no, to.member_no if to else ""]})
        return {"reg_no": animal.reg_no, "transfer_id": transfer.id}
