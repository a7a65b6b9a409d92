"""A breed society's herd book: breeds, registered animals, their history of
corrections, who owned them when, and transfers between members.

The rules are pure functions of their arguments (no session, no clock):

- :func:`format_reg_no` / :func:`parse_reg_no`: the registration number,
  ``CODE-YYYY-NNNNN-C`` (the breed's code, the year of registration, a sequence per
  breed and year, and a check character, Luhn mod 36 over the rest);
- :func:`pedigree_problems`: whether an animal's sex, date of birth, breed, sire and dam
  agree with each other and with the animals it is already a parent of, as plain
  sentences per field;
- :func:`transfer_state`: what a transfer is at a given moment (a pending one past its
  ``expires_at`` is expired).

See docs/decisions/0021-animals.md.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, Integer, String, UniqueConstraint, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, UTCDateTime, utcnow
from .choices import AnimalStatus, EventKind, Sex, TransferState
from .merge import member_reference


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


#: How long the recipient has to accept a transfer.
TRANSFER_DAYS = 14
MAX_NAME = 60
#: The oldest date of birth the herd book takes.
EARLIEST_BIRTH = dt.date(1950, 1, 1)

# ---------------------------------------------------------------------- registration numbers

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CODE_LENGTH = 3
SEQ_DIGITS = 5
MAX_SEQ = 10**SEQ_DIGITS - 1


def check_character(body: str) -> str:
    """Luhn mod 36 check character of ``body`` (digits and capital letters): it changes
    whenever any one character of ``body`` does."""
    total, factor = 0, 2
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        total += addend // len(ALPHABET) + addend % len(ALPHABET)
        factor = 1 if factor == 2 else 2
    return ALPHABET[(len(ALPHABET) - total % len(ALPHABET)) % len(ALPHABET)]


def format_reg_no(code: str, year: int, seq: int) -> str:
    """``HER-2026-00017-7``: breed code, year of registration, sequence, check."""
    if len(code) != CODE_LENGTH or not code.isalpha() or not code.isupper() or not code.isascii():
        raise ValueError(f"a breed code is {CODE_LENGTH} capital letters")
    if not 1000 <= year <= 9999 or not 1 <= seq <= MAX_SEQ:
        raise ValueError("year or sequence out of range")
    body = f"{code}{year:04d}{seq:0{SEQ_DIGITS}d}"
    return f"{code}-{year:04d}-{seq:0{SEQ_DIGITS}d}-{check_character(body)}"


class BadRegNo(ValueError):
    pass


def parse_reg_no(text: str) -> str:
    """The registration number ``text`` names, tidied (capitals, no spaces); raises
    :class:`BadRegNo` with a sentence for a person when it cannot be one."""
    tidy = "".join(text.split()).upper()
    if not tidy:
        raise BadRegNo("Enter a registration number, like HER-2026-00017-7.")
    parts = tidy.split("-")
    shape_ok = (len(parts) == 4 and len(parts[0]) == CODE_LENGTH and parts[0].isalpha() and parts[0].isascii()
                and len(parts[1]) == 4 and parts[1].isdigit() and parts[1].isascii()
                and len(parts[2]) == SEQ_DIGITS and parts[2].isdigit() and parts[2].isascii()
                and len(parts[3]) == 1 and parts[3] in ALPHABET)
    if not shape_ok:
        raise BadRegNo(f"{tidy[:30]} is not a registration number: they look like HER-2026-00017-7.")
    if check_character("".join(parts[:3])) != parts[3]:
        raise BadRegNo(f"{tidy} is not a registration number: its last character does not match "
                       "(check it for a typing mistake).")
    return tidy


# ---------------------------------------------------------------------- pedigree rules


@dataclass(frozen=True)
class BreedRules:
    code: str
    name: str
    #: Youngest a sire or dam may be at the birth of its offspring, in whole months.
    sire_min_months: int
    dam_min_months: int


@dataclass(frozen=True)
class Facts:
    """What the rules need to know of a registered animal."""

    reg_no: str
    name: str
    breed: str
    sex: Sex
    born: dt.date
    status: AnimalStatus = AnimalStatus.REGISTERED


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months (the 31st becomes the month's last day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months(count: int) -> str:
    return "1 month" if count == 1 else f"{count} months"


def _parent_problem(role: str, wanted: Sex, typed: str, parent: Facts | None, *, reg_no: str | None,
                    breed: BreedRules, born: dt.date | None, min_months: int) -> str | None:
    word = "sire" if role == "sire" else "dam"
    if not typed:
        return f"Enter the {word}'s registration number."
    if parent is None:
        return f"No animal is registered as {typed}."
    if reg_no is not None and parent.reg_no == reg_no:
        return f"An animal cannot be its own {word}."
    if parent.sex != wanted:
        return (f"{parent.name} ({parent.reg_no}) is registered as {parent.sex.value}: "
                f"the {word} must be {wanted.value}.")
    if parent.breed != breed.code:
        return (f"{parent.name} ({parent.reg_no}) is a different breed: an animal of {breed.name} "
                f"needs a {word} of {breed.name}.")
    if born is not None and add_months(parent.born, min_months) > born:
        if parent.born >= born:
            return f"{parent.name} ({parent.reg_no}) was born on {parent.born:%d %b %Y}, not before this animal."
        return (f"{parent.name} ({parent.reg_no}) was too young: a {word} of {breed.name} must be at least "
                f"{_months(min_months)} old at the birth (born {parent.born:%d %b %Y}).")
    return None


def pedigree_problems(
    *,
    breed: BreedRules,
    sex: Sex,
    born: dt.date | None,
    sire_no: str,
    sire: Facts | None,
    dam_no: str,
    dam: Facts | None,
    today: dt.date,
    reg_no: str | None = None,
    offspring: Sequence[tuple[str, Facts]] = (),
) -> dict[str, str]:
    """What is wrong with an animal's pedigree, by field (``born``, ``sex``, ``sire``,
    ``dam``); empty when nothing is.

    ``sire_no`` / ``dam_no`` are what was typed (tidied), ``sire`` / ``dam`` the animals
    found by them (None for none). ``reg_no`` is the animal's own number (when it is
    already registered), and ``offspring`` the animals it is already a parent of, each
    with its role ("sire" or "dam"): a correction must keep those true as well.
    """
    problems: dict[str, str] = {}
    if born is None:
        problems["born"] = "Enter the date of birth."
    elif born > today:
        problems["born"] = "The date of birth cannot be in the future."
    elif born < EARLIEST_BIRTH:
        problems["born"] = f"The herd book starts in {EARLIEST_BIRTH.year}: check the year of birth."
    good_born = born if "born" not in problems else None
    sire_problem = _parent_problem("sire", Sex.MALE, sire_no, sire, reg_no=reg_no, breed=breed, born=good_born,
                                   min_months=breed.sire_min_months)
    if sire_problem:
        problems["sire"] = sire_problem
    dam_problem = _parent_problem("dam", Sex.FEMALE, dam_no, dam, reg_no=reg_no, breed=breed, born=good_born,
                                  min_months=breed.dam_min_months)
    if dam_problem:
        problems["dam"] = dam_problem
    as_sire = [child for role, child in offspring if role == "sire"]
    as_dam = [child for role, child in offspring if role == "dam"]
    wrong_sex = as_dam if sex == Sex.MALE else as_sire
    if wrong_sex:
        child = wrong_sex[0]
        was = "dam" if sex == Sex.MALE else "sire"
        problems["sex"] = (f"This animal is the {was} of {_count(len(wrong_sex))} ({child.name}, {child.reg_no}"
                           f"{' and others' if len(wrong_sex) > 1 else ''}): correct their {was} first.")
    if good_born is not None and "sex" not in problems:
        for role, child in offspring:
            need = breed.sire_min_months if role == "sire" else breed.dam_min_months
            if add_months(good_born, need) > child.born:
                problems["born"] = (f"Born then, this animal would have been too young to be the {role} of "
                                    f"{child.name} ({child.reg_no}, born {child.born:%d %b %Y}): a {role} must be "
                                    f"at least {_months(need)} old at the birth.")
                break
    return problems


def _count(n: int) -> str:
    return "1 registered animal" if n == 1 else f"{n} registered animals"


def transfer_state(state: TransferState, expires_at: dt.datetime, now: dt.datetime) -> TransferState:
    """What a transfer is at ``now``: a pending one is expired from ``expires_at`` on."""
    if state == TransferState.PENDING and now >= expires_at:
        return TransferState.EXPIRED
    return state


def transfer_expiry(offered_at: dt.datetime) -> dt.datetime:
    return offered_at + dt.timedelta(days=TRANSFER_DAYS)


# ---------------------------------------------------------------------- tables


class Breed(Base):
    """A breed the society keeps a herd book for."""

    __tablename__ = "breed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    sire_min_months: Mapped[int] = mapped_column(Integer, default=12)
    dam_min_months: Mapped[int] = mapped_column(Integer, default=18)

    @property
    def rules(self) -> BreedRules:
        return BreedRules(self.code, self.name, self.sire_min_months, self.dam_min_months)


class Animal(Base):
    """A registered animal. Server only: workstations read animals over the API."""

    __tablename__ = "animal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reg_no: Mapped[str] = mapped_column(String(20), unique=True)
    breed_id: Mapped[int] = mapped_column(ForeignKey("breed.id"))
    reg_year: Mapped[int] = mapped_column(Integer)
    reg_seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    sex: Mapped[Sex] = mapped_column(_enum(Sex))
    born: Mapped[dt.date] = mapped_column(Date)
    sire_id: Mapped[int | None] = mapped_column(ForeignKey("animal.id"), default=None, index=True)
    dam_id: Mapped[int | None] = mapped_column(ForeignKey("animal.id"), default=None, index=True)
    owner_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    status: Mapped[AnimalStatus] = mapped_column(_enum(AnimalStatus), default=AnimalStatus.REGISTERED)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The op id of the RegisterAnimal that made it ("" for the society's foundation animals).
    op_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=None)

    __table_args__ = (UniqueConstraint("breed_id", "reg_year", "reg_seq", name="uq_animal_breed_year_seq"),)

    def facts(self, breed_code: str) -> Facts:
        return Facts(self.reg_no, self.name, breed_code, self.sex, self.born, self.status)


class AnimalEvent(Base):
    """One line of an animal's history: its registration, each correction (what was
    before and after, why, by whom) and each step of a transfer."""

    __tablename__ = "animal_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    animal_id: Mapped[int] = mapped_column(ForeignKey("animal.id"))
    #: The owner when it happened.
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: {field: [before, after]} (values as shown: dates as ISO, sire/dam as reg nos).
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    impersonation_id: Mapped[str | None] = mapped_column(String(36), default=None)
    op_id: Mapped[str] = mapped_column(String(36), default="")

    __table_args__ = (Index("ix_animal_event_animal", "animal_id", "id"),)


class AnimalOwner(Base):
    """Who owned an animal from when until when (``until`` None: the owner now)."""

    __tablename__ = "animal_owner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    animal_id: Mapped[int] = mapped_column(ForeignKey("animal.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("animal_transfer.id"), default=None)

    # (Named here: the default name of an index on member_id would be that of
    # animal.owner_member_id's.)
    __table_args__ = (Index("ix_animal_owner_animal", "animal_id", "id"), Index("ix_animal_owner_member", "member_id"))


class AnimalTransfer(Base):
    """An owner offering an animal to another member, who accepts or declines it."""

    __tablename__ = "animal_transfer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    animal_id: Mapped[int] = mapped_column(ForeignKey("animal.id"), index=True)
    from_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    to_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    state: Mapped[TransferState] = mapped_column(_enum(TransferState), default=TransferState.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    decided_by: Mapped[str] = mapped_column(String(120), default="")

    def state_at(self, now: dt.datetime) -> TransferState:
        return transfer_state(self.state, self.expires_at, now)


# ---------------------------------------------------------------------- reading


def find_animal(session: Session, reg_no: str, *, lock: bool = False) -> Animal | None:
    query = select(Animal).where(Animal.reg_no == reg_no)
    return session.scalar(query.with_for_update() if lock else query)


def breed_code(session: Session, animal: Animal) -> str:
    breed = session.get(Breed, animal.breed_id)
    assert breed is not None
    return breed.code


def facts_of(session: Session, animal: Animal | None) -> Facts | None:
    return animal.facts(breed_code(session, animal)) if animal is not None else None


def offspring_of(session: Session, animal: Animal) -> list[tuple[str, Facts]]:
    """The animals ``animal`` is recorded as sire or dam of, with that role."""
    children = session.scalars(select(Animal).where(or_(Animal.sire_id == animal.id, Animal.dam_id == animal.id))
                               .order_by(Animal.born, Animal.id)).all()
    code = breed_code(session, animal)
    return [("sire" if child.sire_id == animal.id else "dam", child.facts(code)) for child in children]


def next_sequence(session: Session, breed_id: int, year: int) -> int:
    last = session.scalar(select(func.max(Animal.reg_seq)).where(Animal.breed_id == breed_id,
                                                                   Animal.reg_year == year))
    return int(last or 0) + 1


def member_animals(session: Session, member_id: int) -> list[Animal]:
    return list(session.scalars(select(Animal).where(Animal.owner_member_id == member_id)
                                .order_by(Animal.born.desc(), Animal.id.desc())))


def open_transfers(session: Session, member_id: int, now: dt.datetime) -> list[AnimalTransfer]:
    """Transfers still waiting for an answer that the member offered or may accept."""
    rows = session.scalars(select(AnimalTransfer).where(
        AnimalTransfer.state == TransferState.PENDING, AnimalTransfer.expires_at > now,
        or_(AnimalTransfer.from_member_id == member_id, AnimalTransfer.to_member_id == member_id))
        .order_by(AnimalTransfer.expires_at, AnimalTransfer.id))
    return list(rows)


def pending_transfer(session: Session, animal_id: int, now: dt.datetime) -> AnimalTransfer | None:
    return session.scalar(select(AnimalTransfer).where(
        AnimalTransfer.animal_id == animal_id, AnimalTransfer.state == TransferState.PENDING,
        AnimalTransfer.expires_at > now).limit(1))


def history(session: Session, animal_id: int) -> list[AnimalEvent]:
    return list(session.scalars(select(AnimalEvent).where(AnimalEvent.animal_id == animal_id)
                                .order_by(AnimalEvent.id)))


def owners(session: Session, animal_id: int) -> list[AnimalOwner]:
    return list(session.scalars(select(AnimalOwner).where(AnimalOwner.animal_id == animal_id)
                                .order_by(AnimalOwner.id)))


member_reference("animal", "owner_member_id", "animals")
member_reference("animal_event", "member_id", "animal history entries")
member_reference("animal_owner", "member_id", "animal ownership records")
member_reference("animal_transfer", "from_member_id", "animal transfers offered")
member_reference("animal_transfer", "to_member_id", "animal transfers received")
