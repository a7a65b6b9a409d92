"""The herd book for staff registrars: a member's animals and open transfers
(``GET /members/{member_id}/animals``), registering an animal to a member
(``POST /members/{member_id}/animals``), one animal by registration number with its
history, owners and transfers (``GET /animals/{reg_no}``), maintaining it
(``POST /animals/{reg_no}/corrections``) and offering it to another member
(``POST /animals/{reg_no}/transfers``).

Each write is the same command the portal runs (:mod:`desktop_care.commands.animals`),
through ``execute``: audited with the staff member. A refusal by the herd book's rules
is a 422 whose ``fields`` say, per field, what is wrong in plain words.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    BaseCommand,
    CommandResult,
    CorrectAnimal,
    NotPermitted,
    RegisterAnimal,
    Status,
    TransferAnimal,
)
from desktop_care.models import Member, User, utcnow
from desktop_care.models.animals import (
    Animal,
    AnimalTransfer,
    BadRegNo,
    Breed,
    find_animal,
    history,
    member_animals,
    open_transfers,
    owners,
    parse_reg_no,
)
from desktop_care.schemas import (
    AnimalCorrectionIn,
    AnimalDetail,
    AnimalEventOut,
    AnimalIn,
    AnimalList,
    AnimalOut,
    AnimalOwnerOut,
    AnimalParent,
    AnimalTransferIn,
    AnimalTransferOut,
    ErrorDetail,
)

from ..deps import ClientAddress, CurrentStaff, MemberId, SessionDep, Sessions, staff_actor
from ..errors import ERROR_RESPONSES, ApiError, Forbidden, NotFound, plain_message
from ..transactions import run_command

router = APIRouter(tags=["animals"], responses=ERROR_RESPONSES)

RegNo = Annotated[str, Path(min_length=1, max_length=30, description="The registration number, like HER-2026-00017-7")]
_NO_MEMBER: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such member"}}
_NO_ANIMAL: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such animal"}}


class Refused(ApiError):
    """422: the herd book's rules refuse it; ``fields`` say why, per field."""

    status_code = 422


# ---------------------------------------------------------------------- reading


def _members(session: Session, ids: set[int]) -> dict[int, Member]:
    return {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(sorted(ids))))} if ids else {}


def _animals_out(session: Session, animals: list[Animal]) -> list[AnimalOut]:
    breeds = {b.id: b for b in session.scalars(select(Breed))}
    parent_ids = {i for a in animals for i in (a.sire_id, a.dam_id) if i is not None}
    parents = {a.id: a for a in session.scalars(select(Animal).where(Animal.id.in_(sorted(parent_ids))))} \
        if parent_ids else {}
    members = _members(session, {a.owner_member_id for a in animals})

    def parent(animal_id: int | None) -> AnimalParent | None:
        found = parents.get(animal_id) if animal_id is not None else None
        return AnimalParent(reg_no=found.reg_no, name=found.name) if found is not None else None

    out = []
    for a in animals:
        owner = members.get(a.owner_member_id)
        out.append(AnimalOut(
            id=a.id, reg_no=a.reg_no, name=a.name, breed=breeds[a.breed_id].code, breed_name=breeds[a.breed_id].name,
            sex=a.sex, born=a.born, status=a.status, sire=parent(a.sire_id), dam=parent(a.dam_id),
            owner_member_id=a.owner_member_id, owner_member_no=owner.member_no if owner else "",
            owner_name=owner.display_name if owner else "", registered_at=a.registered_at))
    return out


def transfers_out(session: Session, transfers: list[AnimalTransfer]) -> list[AnimalTransferOut]:
    now = utcnow()
    animals = {a.id: a for a in session.scalars(select(Animal).where(
        Animal.id.in_(sorted({t.animal_id for t in transfers}))))} if transfers else {}
    members = _members(session, {m for t in transfers for m in (t.from_member_id, t.to_member_id)})

    def who(member_id: int) -> tuple[str, str]:
        member = members.get(member_id)
        return (member.member_no, member.display_name) if member is not None else ("", "")

    return [AnimalTransferOut(
        id=t.id, reg_no=animals[t.animal_id].reg_no, animal_name=animals[t.animal_id].name,
        from_member_id=t.from_member_id, to_member_id=t.to_member_id, from_member_no=who(t.from_member_id)[0], from_name=who(t.from_member_id)[1],
        to_member_no=who(t.to_member_id)[0], to_name=who(t.to_member_id)[1], state=t.state_at(now),
        created_at=t.created_at, expires_at=t.expires_at, decided_at=t.decided_at) for t in transfers]


def animal_detail(session: Session, animal: Animal) -> AnimalDetail:
    [base] = _animals_out(session, [animal])
    owned = owners(session, animal.id)
    members = _members(session, {o.member_id for o in owned})
    transfers = list(session.scalars(select(AnimalTransfer).where(AnimalTransfer.animal_id == animal.id)
                                     .order_by(AnimalTransfer.id)))
    return AnimalDetail(
        **base.model_dump(),
        history=[AnimalEventOut(at=e.at, kind=e.kind, changes=e.changes, reason=e.reason, actor_name=e.actor_name,
                                impersonation_id=e.impersonation_id) for e in history(session, animal.id)],
        owners=[AnimalOwnerOut(member_no=members[o.member_id].member_no if o.member_id in members else "",
                               name=members[o.member_id].display_name if o.member_id in members else "",
                               since=o.since, until=o.until) for o in owned],
        transfers=transfers_out(session, transfers),
    )


def _member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    return member


def _animal(session: Session, reg_no: str) -> Animal:
    try:
        tidy = parse_reg_no(reg_no)
    except BadRegNo as exc:
        raise NotFound(str(exc)) from None
    animal = find_animal(session, tidy)
    if animal is None:
        raise NotFound(f"no animal is registered as {tidy}")
    return animal


@router.get("/members/{member_id}/animals", operation_id="getMemberAnimals", response_model=AnimalList,
            responses=_NO_MEMBER)
def member_animal_list(member_id: MemberId, session: SessionDep, staff: CurrentStaff) -> AnimalList:
    """The animals the member owns, youngest first, and the transfers waiting for an
    answer that the member offered or may accept."""
    _member(session, member_id)
    items = _animals_out(session, member_animals(session, member_id))
    return AnimalList(items=items, total=len(items),
                      transfers=transfers_out(session, open_transfers(session, member_id, utcnow())))


@router.get("/animals/{reg_no}", operation_id="getAnimal", response_model=AnimalDetail, responses=_NO_ANIMAL)
def get_animal(reg_no: RegNo, session: SessionDep, staff: CurrentStaff) -> AnimalDetail:
    """One animal by registration number (spaces and small letters are forgiven), with
    its history of corrections, its owners and its transfers."""
    return animal_detail(session, _animal(session, reg_no))


# ---------------------------------------------------------------------- writing


def _run(sessions: Sessions, command: BaseCommand, staff: User, client: str) -> CommandResult:
    try:
        result = run_command(sessions, command, staff_actor(staff, client))
    except NotPermitted as exc:
        raise Forbidden(exc.reason) from None
    if result.status is Status.REJECTED:
        raise Refused(result.reason[:1].upper() + result.reason[1:] + ".", fields=result.fields)
    return result


def _invalid(exc: ValidationError) -> Refused:
    fields = {str(e["loc"][0]) if e.get("loc") else "body": plain_message(e).removeprefix("Value error, ")
              for e in exc.errors()}
    return Refused("; ".join(f"{k}: {v}" for k, v in fields.items()), fields=fields)


def _op_id(value: uuid.UUID | None) -> dict[str, Any]:
    return {"op_id": value} if value is not None else {}


@router.post("/members/{member_id}/animals", operation_id="registerAnimal", response_model=AnimalDetail,
             status_code=201, responses=_NO_MEMBER)
def register_animal(member_id: MemberId, body: AnimalIn, session: SessionDep, sessions: Sessions,
                    staff: CurrentStaff, client: ClientAddress) -> AnimalDetail:
    """Register an animal to the member; the answer names its registration number.
    Refused (422, per field) when the pedigree does not hold: see docs/server.md."""
    _member(session, member_id)
    session.rollback()  # the command runs in its own write transaction
    try:
        command = RegisterAnimal(member_id=member_id, name=body.name, breed=body.breed, sex=body.sex,
                                 born=body.born, sire=body.sire, dam=body.dam, **_op_id(body.op_id))
    except ValidationError as exc:
        raise _invalid(exc) from None
    _run(sessions, command, staff, client)
    animal = session.scalar(select(Animal).where(Animal.op_id == str(command.op_id)))
    assert animal is not None
    return animal_detail(session, animal)


@router.post("/animals/{reg_no}/corrections", operation_id="correctAnimal", response_model=AnimalDetail,
             responses=_NO_ANIMAL)
def correct_animal(reg_no: RegNo, body: AnimalCorrectionIn, session: SessionDep, sessions: Sessions,
                   staff: CurrentStaff, client: ClientAddress) -> AnimalDetail:
    """Maintain the animal's details (for its owner); kept in its history."""
    animal = _animal(session, reg_no)
    owner_id, number = animal.owner_member_id, animal.reg_no
    session.rollback()
    values = body.model_dump(exclude={"op_id"}, exclude_none=True)
    try:
        command = CorrectAnimal(member_id=owner_id, reg_no=number, **values, **_op_id(body.op_id))
    except ValidationError as exc:  # a reason too short once its spaces are tidied
        raise _invalid(exc) from None
    _run(sessions, command, staff, client)
    session.expire_all()
    return animal_detail(session, _animal(session, number))


@router.post("/animals/{reg_no}/transfers", operation_id="transferAnimal", response_model=AnimalTransferOut,
             status_code=201, responses=_NO_ANIMAL)
def transfer_animal(reg_no: RegNo, body: AnimalTransferIn, session: SessionDep, sessions: Sessions,
                    staff: CurrentStaff, client: ClientAddress) -> AnimalTransferOut:
    """Offer the animal to another member (by member ID), for its owner; the recipient
    accepts or declines in their portal (staff may, acting on their behalf)."""
    animal = _animal(session, reg_no)
    owner_id, number = animal.owner_member_id, animal.reg_no
    session.rollback()
    command = TransferAnimal(member_id=owner_id, reg_no=number, to_member=body.to_member, **_op_id(body.op_id))
    _run(sessions, command, staff, client)
    transfer = session.scalar(select(AnimalTransfer).join(Animal, Animal.id == AnimalTransfer.animal_id)
                              .where(Animal.reg_no == number).order_by(AnimalTransfer.id.desc()).limit(1))
    assert transfer is not None
    [out] = transfers_out(session, [transfer])
    return out
