"""My animals (a breed society's herd book): the list, an animal's page with its
pedigree, history and owners, Register an animal, Maintain (edit and correct),
Transfer (to a member ID, confirmed on a second page), and Transfers (offers to
accept or decline, and one's own offers to cancel).

Every write is a command of :mod:`desktop_care.commands.animals` run through
``execute`` with the request's actor: the member's user, or the staff registrar acting
on their behalf (audited with staff, member and on-behalf session). A refusal shows
its message under the field it is about.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    AnswerTransfer,
    BaseCommand,
    CancelTransfer,
    CommandResult,
    CorrectAnimal,
    RegisterAnimal,
    Rejected,
    Status,
    TransferAnimal,
)
from desktop_care.models import Member, utcnow
from desktop_care.models.animals import (
    MAX_NAME,
    TRANSFER_DAYS,
    Animal,
    AnimalStatus,
    AnimalTransfer,
    BadRegNo,
    Breed,
    Sex,
    TransferState,
    find_animal,
    history,
    member_animals,
    owners,
    parse_reg_no,
    pending_transfer,
)

from ..deps import ClientAddress, SessionDep, Sessions
from ..transactions import run_command
from .auth import EXPIRED_FORM
from .web import CurrentPortalUser, SignedIn, csrf_ok, page, redirect, renew_csrf

router = APIRouter()
FormText = Annotated[str, Form()]

_DONE = {
    "registered": "The animal is registered. Its registration number is shown below.",
    "corrected": "The animal's details were saved and kept in its history.",
    "offered": "The transfer was offered. The new owner accepts or declines it in their portal.",
    "cancelled": "The transfer was cancelled.",
}
_TRANSFER_DONE = {
    "accepted": "You accepted the transfer: the animal is now yours.",
    "declined": "You declined the transfer.",
    "cancelled": "The transfer was cancelled.",
}
_FORM_FIELDS = ("name", "breed", "sex", "born", "sire", "dam", "status", "reason", "to_member")


def _refused(request: Request, current: SignedIn, status: int, title: str, message: str,
             back: str = "/animals") -> Response:
    return page(request, "refused.html", status, title=title, message=message, back=back, user=current.user,
                active="animals")


def _run(session: Session, sessions: Sessions, command: BaseCommand, current: SignedIn,
         client: str) -> CommandResult:
    session.rollback()  # end this request's read: the command runs in its own write transaction
    result = run_command(sessions, command, current.actor(client))
    session.expire_all()
    return result


def _split(result: CommandResult) -> tuple[dict[str, str], str]:
    """A refusal's messages: those under a field of the form, and the rest for the top."""
    errors = {k: v for k, v in result.fields.items() if k in _FORM_FIELDS}
    rest = [v for k, v in result.fields.items() if k not in _FORM_FIELDS]
    top = rest[0] if rest else ("Please correct the fields marked below." if errors else
                                result.reason[:1].upper() + result.reason[1:] + ".")
    return errors, top


def _breeds(session: Session) -> list[Breed]:
    return list(session.scalars(select(Breed).order_by(Breed.name)))


def _parse_born(value: str, errors: dict[str, str]) -> dt.date | None:
    if not value.strip():
        errors["born"] = "Enter the date of birth."
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        errors["born"] = "Enter the date as year-month-day, like 2025-03-14."
        return None


def _name_error(name: str) -> str | None:
    tidy = " ".join(name.split())
    if not tidy:
        return "Enter the animal's name."
    if len(tidy) > MAX_NAME:
        return f"Use at most {MAX_NAME} characters."
    return None


def _visible(request: Request, session: Session, current: SignedIn, reg_no: str) -> Animal | Response:
    """An animal the member owns, or one offered to them: else a plain 404 page."""
    try:
        animal = find_animal(session, parse_reg_no(reg_no[:40]))
    except BadRegNo:
        animal = None
    if animal is not None and animal.owner_member_id == current.member.id:
        return animal
    if animal is not None:
        offer = pending_transfer(session, animal.id, utcnow())
        if offer is not None and offer.to_member_id == current.member.id:
            return animal
    return _refused(request, current, 404, "No such animal",
                    "There is no such animal among yours. Check the registration number.")


def _owned(request: Request, session: Session, current: SignedIn, reg_no: str) -> Animal | Response:
    animal = _visible(request, session, current, reg_no)
    if isinstance(animal, Animal) and animal.owner_member_id != current.member.id:
        return _refused(request, current, 403, "Not your animal",
                        "Only its owner can change this animal. Accept the transfer first.",
                        back=f"/animals/{animal.reg_no}")
    return animal


def _expired_form(request: Request) -> str:
    renew_csrf(request)
    return EXPIRED_FORM


# ---------------------------------------------------------------------- list and detail


@router.get("/animals")
def my_animals(request: Request, session: SessionDep, current: CurrentPortalUser) -> Response:
    animals = member_animals(session, current.member.id)
    breeds = {b.id: b for b in _breeds(session)}
    now = utcnow()
    incoming = session.scalar(select(AnimalTransfer.id).where(
        AnimalTransfer.to_member_id == current.member.id, AnimalTransfer.state == TransferState.PENDING,
        AnimalTransfer.expires_at > now).limit(1)) is not None
    offered = {t.animal_id for t in session.scalars(select(AnimalTransfer).where(
        AnimalTransfer.from_member_id == current.member.id, AnimalTransfer.state == TransferState.PENDING,
        AnimalTransfer.expires_at > now))}
    return page(request, "animals.html", title="My animals", user=current.user, member=current.member,
                animals=animals, breeds=breeds, offered=offered, incoming=incoming, active="animals")


def _detail(request: Request, session: Session, current: SignedIn, animal: Animal, status: int = 200,
            **values: Any) -> Response:
    breed = session.get(Breed, animal.breed_id)
    parents = {a.id: a for a in session.scalars(select(Animal).where(
        Animal.id.in_([i for i in (animal.sire_id, animal.dam_id) if i is not None])))}
    owned = owners(session, animal.id)
    members = {m.id: m for m in session.scalars(select(Member).where(
        Member.id.in_({o.member_id for o in owned})))} if owned else {}
    offer = pending_transfer(session, animal.id, utcnow())
    recipient = session.get(Member, offer.to_member_id) if offer is not None else None
    values.setdefault("done", "")
    return page(request, "animal.html", status, title=f"{animal.name}", user=current.user, member=current.member,
                animal=animal, breed=breed, sire=parents.get(animal.sire_id or 0), dam=parents.get(animal.dam_id or 0),
                events=history(session, animal.id), owners=owned, members=members, offer=offer, recipient=recipient,
                mine=animal.owner_member_id == current.member.id, active="animals", **values)


# ---------------------------------------------------------------------- register


def _register_page(request: Request, session: Session, current: SignedIn, status: int = 200,
                   **values: Any) -> Response:
    values.setdefault("form", {"name": "", "breed": "", "sex": "", "born": "", "sire": "", "dam": ""})
    return page(request, "animal_register.html", status, title="Register an animal", user=current.user,
                member=current.member, breeds=_breeds(session), today=utcnow().date().isoformat(),
                active="animal_register", **values)


@router.get("/animals/new")
def register_page(request: Request, session: SessionDep, current: CurrentPortalUser) -> Response:
    return _register_page(request, session, current)


@router.post("/animals/new")
def register(request: Request, session: SessionDep, sessions: Sessions, client: ClientAddress,
             current: CurrentPortalUser, name: FormText = "", breed: FormText = "", sex: FormText = "",
             born: FormText = "", sire: FormText = "", dam: FormText = "", csrf_token: FormText = "") -> Response:
    form = {"name": name[:200], "breed": breed[:10], "sex": sex[:10], "born": born[:20], "sire": sire[:40],
            "dam": dam[:40]}
    if not csrf_ok(request, csrf_token):
        return _register_page(request, session, current, 400, form=form, form_error=_expired_form(request))
    errors: dict[str, str] = {}
    if (problem := _name_error(name)) is not None:
        errors["name"] = problem
    if not breed:
        errors["breed"] = "Choose the breed."
    if sex not in (Sex.MALE.value, Sex.FEMALE.value):
        errors["sex"] = "Choose male or female."
    day = _parse_born(born, errors)
    if errors or day is None:
        return _register_page(request, session, current, 400, form=form, errors=errors,
                              form_error="Please correct the fields marked below.")
    try:
        command = RegisterAnimal(member_id=current.member.id, name=name, breed=breed, sex=Sex(sex), born=day,
                                 sire=sire[:30], dam=dam[:30])
    except ValidationError:
        errors["breed"] = "Choose the breed."
        return _register_page(request, session, current, 400, form=form, errors=errors,
                              form_error="Please correct the fields marked below.")
    result = _run(session, sessions, command, current, client)
    if result.status is not Status.APPLIED:
        errors, top = _split(result)
        return _register_page(request, session, current, 400, form=form, errors=errors, form_error=top)
    animal = session.scalar(select(Animal).where(Animal.op_id == str(command.op_id)))
    assert animal is not None
    return redirect(request, f"/animals/{animal.reg_no}?done=registered")


# ---------------------------------------------------------------------- maintain


def _edit_values(session: Session, animal: Animal) -> dict[str, str]:
    sire = session.get(Animal, animal.sire_id) if animal.sire_id else None
    dam = session.get(Animal, animal.dam_id) if animal.dam_id else None
    return {"name": animal.name, "status": animal.status.value, "sex": animal.sex.value,
            "born": animal.born.isoformat(), "sire": sire.reg_no if sire else "", "dam": dam.reg_no if dam else "",
            "reason": ""}


def _edit_page(request: Request, session: Session, current: SignedIn, animal: Animal, status: int = 200,
               **values: Any) -> Response:
    values.setdefault("form", _edit_values(session, animal))
    return page(request, "animal_edit.html", status, title=f"Maintain {animal.name}", user=current.user,
                member=current.member, animal=animal, breed=session.get(Breed, animal.breed_id),
                today=utcnow().date().isoformat(), active="animals", **values)


@router.get("/animals/{reg_no}/edit")
def edit_page(request: Request, session: SessionDep, current: CurrentPortalUser, reg_no: str) -> Response:
    animal = _owned(request, session, current, reg_no)
    if isinstance(animal, Response):
        return animal
    return _edit_page(request, session, current, animal)


@router.post("/animals/{reg_no}/edit")
def edit(request: Request, session: SessionDep, sessions: Sessions, client: ClientAddress,
         current: CurrentPortalUser, reg_no: str, name: FormText = "", status: FormText = "", sex: FormText = "",
         born: FormText = "", sire: FormText = "", dam: FormText = "", reason: FormText = "",
         csrf_token: FormText = "") -> Response:
    animal = _owned(request, session, current, reg_no)
    if isinstance(animal, Response):
        return animal
    form = {"name": name[:200], "status": status[:20], "sex": sex[:10], "born": born[:20], "sire": sire[:40],
            "dam": dam[:40], "reason": reason[:600]}
    if not csrf_ok(request, csrf_token):
        return _edit_page(request, session, current, animal, 400, form=form, form_error=_expired_form(request))
    errors: dict[str, str] = {}
    if (problem := _name_error(name)) is not None:
        errors["name"] = problem
    if sex not in (Sex.MALE.value, Sex.FEMALE.value):
        errors["sex"] = "Choose male or female."
    if status not in (AnimalStatus.REGISTERED.value, AnimalStatus.DECEASED.value):
        errors["status"] = "Choose registered or deceased."
    day = _parse_born(born, errors)
    if len(" ".join(reason.split())) > 500:
        errors["reason"] = "Use at most 500 characters."
    if errors or day is None:
        return _edit_page(request, session, current, animal, 400, form=form, errors=errors,
                          form_error="Please correct the fields marked below.")
    before = _edit_values(session, animal)
    payload: dict[str, Any] = {}
    if " ".join(name.split()) != before["name"]:
        payload["name"] = name
    for key, value in (("status", status), ("sex", sex), ("born", born.strip())):
        if value != before[key]:
            payload[key] = value
    for key, value in (("sire", sire), ("dam", dam)):
        if "".join(value.split()).upper() != before[key]:
            payload[key] = value[:30]
    if not payload:
        return _edit_page(request, session, current, animal, form=form, notice="Nothing was changed.")
    try:
        command = CorrectAnimal(member_id=current.member.id, reg_no=animal.reg_no, reason=reason, **payload)
    except ValidationError:
        return _edit_page(request, session, current, animal, 400, form=form,
                          errors={"reason": "Say why, in at least 3 characters."},
                          form_error="Please correct the fields marked below.")
    result = _run(session, sessions, command, current, client)
    if result.status is not Status.APPLIED:
        errors, top = _split(result)
        return _edit_page(request, session, current, animal, 400, form=form, errors=errors, form_error=top)
    return redirect(request, f"/animals/{animal.reg_no}?done=corrected")


# ---------------------------------------------------------------------- transfer


def _transfer_page(request: Request, current: SignedIn, animal: Animal, status: int = 200,
                   **values: Any) -> Response:
    values.setdefault("to_member", "")
    values.setdefault("recipient", None)
    return page(request, "animal_transfer.html", status, title=f"Transfer {animal.name}", user=current.user,
                member=current.member, animal=animal, days=TRANSFER_DAYS, active="animals", **values)


@router.get("/animals/{reg_no}/transfer")
def transfer_page(request: Request, session: SessionDep, current: CurrentPortalUser, reg_no: str) -> Response:
    animal = _owned(request, session, current, reg_no)
    if isinstance(animal, Response):
        return animal
    return _transfer_page(request, current, animal)


@router.post("/animals/{reg_no}/transfer")
def transfer(request: Request, session: SessionDep, sessions: Sessions, client: ClientAddress,
             current: CurrentPortalUser, reg_no: str, to_member: FormText = "", confirm: FormText = "",
             csrf_token: FormText = "") -> Response:
    """First the member ID (the page then names the recipient and asks to confirm),
    then, confirmed, the offer is made."""
    animal = _owned(request, session, current, reg_no)
    if isinstance(animal, Response):
        return animal
    number = "".join(to_member.split())[:20]
    if not csrf_ok(request, csrf_token):
        return _transfer_page(request, current, animal, 400, to_member=number, form_error=_expired_form(request))
    if not number:
        return _transfer_page(request, current, animal, 400, errors={"to_member": "Enter the new owner's member ID."})
    command = TransferAnimal(member_id=current.member.id, reg_no=animal.reg_no, to_member=number)
    if confirm != "yes":
        # Only look: the same rules, without making the offer.
        refusal = _check_only(session, command, current)
        if refusal is not None:
            return _transfer_page(request, current, animal, 400, to_member=number, errors={"to_member": refusal[0]}
                                  if refusal[1] == "to_member" else {}, form_error="" if refusal[1] == "to_member"
                                  else refusal[0])
        recipient = session.scalar(select(Member).where(Member.member_no == number))
        return _transfer_page(request, current, animal, to_member=number, recipient=recipient)
    result = _run(session, sessions, command, current, client)
    if result.status is not Status.APPLIED:
        errors, top = _split(result)
        return _transfer_page(request, current, animal, 400, to_member=number, errors=errors,
                              form_error="" if errors else top)
    return redirect(request, f"/animals/{animal.reg_no}?done=offered")


def _check_only(session: Session, command: TransferAnimal, current: SignedIn) -> tuple[str, str] | None:
    """(message, field) when the offer would be refused; reads only."""
    try:
        command.check_in(session, current.member)
    except Rejected as exc:
        field, message = next(iter(exc.fields.items()), ("", exc.reason))
        return message, field
    return None


# ---------------------------------------------------------------------- transfers


@router.get("/transfers")
def transfers_page(request: Request, session: SessionDep, current: CurrentPortalUser, done: str = "") -> Response:
    now = utcnow()
    mine = current.member.id
    rows = list(session.scalars(select(AnimalTransfer).where(
        (AnimalTransfer.to_member_id == mine) | (AnimalTransfer.from_member_id == mine))
        .order_by(AnimalTransfer.id.desc()).limit(50)))
    animals = {a.id: a for a in session.scalars(select(Animal).where(
        Animal.id.in_({t.animal_id for t in rows})))} if rows else {}
    members = {m.id: m for m in session.scalars(select(Member).where(
        Member.id.in_({i for t in rows for i in (t.from_member_id, t.to_member_id)})))} if rows else {}
    breeds = {b.id: b for b in _breeds(session)}
    incoming = [t for t in rows if t.to_member_id == mine and t.state_at(now) == TransferState.PENDING]
    outgoing = [t for t in rows if t.from_member_id == mine and t.state_at(now) == TransferState.PENDING]
    past = [t for t in rows if t.state_at(now) != TransferState.PENDING]
    return page(request, "transfers.html", title="Transfers", user=current.user, member=current.member,
                incoming=incoming, outgoing=outgoing, past=past, animals=animals, members=members, breeds=breeds,
                now=now, done=_TRANSFER_DONE.get(done, ""), active="transfers")


def _transfer_answer(request: Request, session: Session, sessions: Sessions, client: str, current: SignedIn,
                     command: BaseCommand, csrf_token: str, done: str) -> Response:
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _refused(request, current, 400, "This form has expired", EXPIRED_FORM, back="/transfers")
    result = _run(session, sessions, command, current, client)
    if result.status not in (Status.APPLIED, Status.DUPLICATE):
        message = next(iter(result.fields.values()), result.reason[:1].upper() + result.reason[1:] + ".")
        return _refused(request, current, 409, "The transfer could not be answered", message, back="/transfers")
    return redirect(request, f"/transfers?done={done}")


_ANSWERS = {"accept": "accepted", "decline": "declined", "cancel": "cancelled"}


@router.post("/transfers/{transfer_id}/{answer}")
def answer_transfer(request: Request, session: SessionDep, sessions: Sessions, client: ClientAddress,
                    current: CurrentPortalUser, transfer_id: int, answer: Literal["accept", "decline", "cancel"],
                    csrf_token: FormText = "") -> Response:
    """Accept or Decline (the recipient), Cancel (the owner)."""
    transfer = max(1, min(transfer_id, 2**31 - 1))
    command: BaseCommand = (CancelTransfer(member_id=current.member.id, transfer_id=transfer) if answer == "cancel"
                            else AnswerTransfer(member_id=current.member.id, transfer_id=transfer,
                                                accept=answer == "accept"))
    return _transfer_answer(request, session, sessions, client, current, command, csrf_token, _ANSWERS[answer])


# (Last: "/animals/new" and the others are matched before this one.)
@router.get("/animals/{reg_no}")
def animal_page(request: Request, session: SessionDep, current: CurrentPortalUser, reg_no: str,
                done: str = "") -> Response:
    animal = _visible(request, session, current, reg_no)
    if isinstance(animal, Response):
        return animal
    return _detail(request, session, current, animal, done=_DONE.get(done, ""))
