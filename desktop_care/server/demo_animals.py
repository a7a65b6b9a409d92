"""Demo herd book: four breeds, a few hundred animals over several generations with
pedigrees that hold (every sire and dam registered, of the breed, of the right sex and
old enough at the birth), owned across the demo members, some sold on (ownership
history and accepted transfers), a few corrections in their history, and transfers
waiting for an answer both ways for the first enrolled demo member (the showcase herd,
named in docs/server.md)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import Member, MemberStatus
from desktop_care.models.animals import (
    TRANSFER_DAYS,
    Animal,
    AnimalEvent,
    AnimalOwner,
    AnimalStatus,
    AnimalTransfer,
    Breed,
    EventKind,
    Sex,
    TransferState,
    add_months,
    format_reg_no,
    next_sequence,
)

#: (code, name, youngest sire, youngest dam in months)
DEMO_BREEDS = (("HER", "Hereford", 12, 18), ("ANG", "Aberdeen-Angus", 12, 18), ("HIG", "Highland", 18, 24),
               ("DEX", "Dexter", 10, 15))
#: How many demo members (the first enrolled or active ones) own animals.
DEMO_HERD_MEMBERS = 60
FOUNDATION_BULLS = 5
FOUNDATION_COWS = 10
GENERATIONS = 3
PER_GENERATION = 20
_NAMES = ("Bramble", "Duchess", "Hector", "Juniper", "Maple", "Nutmeg", "Oakley", "Pippin", "Rosie", "Thistle",
          "Clover", "Samson", "Heather", "Barley", "Willow", "Bracken", "Fern", "Rowan", "Hazel", "Blossom",
          "Duke", "Major", "Primrose", "Ivy", "Sorrel", "Tansy", "Basil", "Magnus", "Flora", "Bonnie")
_PREFIXES = ("Hill", "Brook", "Moor", "Glen", "Vale", "Ridge", "Mead", "Holt")
_CORRECTIONS = (("born", "Birth date mistyped on the notification"), ("name", "Owner asked to add the herd prefix"),
                ("sex", "Vet checked at weaning: recorded wrongly"))
REGISTRAR = "registrar (demo)"


@dataclass
class _Herd:
    session: Session
    rng: random.Random
    now: dt.datetime
    seqs: dict[tuple[int, int], int]

    def register(self, breed: Breed, owner: Member, sex: Sex, born: dt.date, sire: Animal | None,
                 dam: Animal | None) -> Animal:
        at = dt.datetime.combine(born, dt.time(10), dt.UTC) + dt.timedelta(days=self.rng.randint(20, 90))
        at = min(at, self.now - dt.timedelta(days=1))
        key = (breed.id, at.year)
        if key not in self.seqs:
            self.seqs[key] = next_sequence(self.session, breed.id, at.year)
        seq = self.seqs[key]
        self.seqs[key] = seq + 1
        name = f"{self.rng.choice(_PREFIXES)} {self.rng.choice(_NAMES)}"
        animal = Animal(reg_no=format_reg_no(breed.code, at.year, seq), breed_id=breed.id, reg_year=at.year,
                        reg_seq=seq, name=name, sex=sex, born=born, sire_id=sire.id if sire else None,
                        dam_id=dam.id if dam else None, owner_member_id=owner.id, status=AnimalStatus.REGISTERED,
                        registered_at=at)
        self.session.add(animal)
        self.session.flush()
        self.session.add(AnimalOwner(animal_id=animal.id, member_id=owner.id, since=at))
        values = {"name": name, "breed": breed.code, "sex": sex.value, "born": born.isoformat(),
                  "sire": sire.reg_no if sire else "", "dam": dam.reg_no if dam else ""}
        self.event(animal, EventKind.REGISTERED, at, changes={k: [None, v] for k, v in values.items()})
        return animal

    def event(self, animal: Animal, kind: EventKind, at: dt.datetime, *, changes: dict[str, list[object]],
              reason: str = "", member_id: int | None = None) -> None:
        self.session.add(AnimalEvent(animal_id=animal.id, member_id=member_id or animal.owner_member_id, kind=kind,
                                     at=at, changes=changes, reason=reason, actor_name=REGISTRAR, op_id=""))

    def sell(self, animal: Animal, seller: Member, buyer: Member, at: dt.datetime) -> None:
        transfer = AnimalTransfer(animal_id=animal.id, from_member_id=seller.id, to_member_id=buyer.id,
                                  state=TransferState.ACCEPTED, created_at=at,
                                  expires_at=at + dt.timedelta(days=TRANSFER_DAYS),
                                  decided_at=at + dt.timedelta(days=2), created_by=REGISTRAR, decided_by=REGISTRAR)
        self.session.add(transfer)
        self.session.flush()
        for row in self.session.scalars(select(AnimalOwner).where(AnimalOwner.animal_id == animal.id,
                                                                  AnimalOwner.until.is_(None))):
            row.until = transfer.decided_at
        self.session.add(AnimalOwner(animal_id=animal.id, member_id=buyer.id, since=transfer.decided_at,
                                     transfer_id=transfer.id))
        owner_change: dict[str, list[object]] = {"owner": [seller.member_no, buyer.member_no]}
        self.event(animal, EventKind.TRANSFER_OFFERED, at, changes=owner_change, member_id=seller.id)
        assert transfer.decided_at is not None
        self.event(animal, EventKind.TRANSFER_ACCEPTED, transfer.decided_at, changes=owner_change,
                   member_id=buyer.id)
        animal.owner_member_id = buyer.id

    def offer(self, animal: Animal, seller: Member, buyer: Member, days_ago: int) -> None:
        at = self.now - dt.timedelta(days=days_ago)
        self.session.add(AnimalTransfer(animal_id=animal.id, from_member_id=seller.id, to_member_id=buyer.id,
                                        state=TransferState.PENDING, created_at=at,
                                        expires_at=at + dt.timedelta(days=TRANSFER_DAYS), created_by=REGISTRAR))
        self.event(animal, EventKind.TRANSFER_OFFERED, at, changes={"owner": [seller.member_no, buyer.member_no]},
                   member_id=seller.id)


def _breeds(session: Session) -> list[Breed]:
    out = []
    for code, name, sire_months, dam_months in DEMO_BREEDS:
        breed = session.scalar(select(Breed).where(Breed.code == code))
        if breed is None:
            breed = Breed(code=code, name=name, sire_min_months=sire_months, dam_min_months=dam_months)
            session.add(breed)
            session.flush()
        out.append(breed)
    return out


def demo_animals(session: Session, rng: random.Random, now: dt.datetime, member_ids: range) -> int:
    """The demo herd book for the members ``member_ids`` (only enrolled or active ones
    own animals); the number of animals made."""
    members = list(session.scalars(select(Member).where(
        # A range, not a list of ids: a million bound parameters is over every driver's limit.
        Member.id >= member_ids.start, Member.id < member_ids.stop,
        Member.status.in_((MemberStatus.ENROLLED, MemberStatus.ACTIVE)))
        .order_by(Member.id).limit(DEMO_HERD_MEMBERS)))
    if len(members) < 2:
        return 0
    showcase = next((m for m in members if m.status == MemberStatus.ENROLLED), members[0])
    herd = _Herd(session, rng, now, {})
    today = now.date()
    made: list[Animal] = []
    for breed in _breeds(session):
        males: list[Animal] = []
        females: list[Animal] = []
        for index in range(FOUNDATION_BULLS + FOUNDATION_COWS):
            sex = Sex.MALE if index < FOUNDATION_BULLS else Sex.FEMALE
            born = today - dt.timedelta(days=rng.randint(9 * 365, 13 * 365))
            owner = showcase if index in (0, FOUNDATION_BULLS) else rng.choice(members)
            animal = herd.register(breed, owner, sex, born, None, None)
            (males if sex == Sex.MALE else females).append(animal)
        for generation in range(GENERATIONS):
            for _ in range(PER_GENERATION):
                sire, dam = rng.choice(males), rng.choice(females)
                earliest = max(add_months(sire.born, breed.sire_min_months), add_months(dam.born, breed.dam_min_months))
                latest = today - dt.timedelta(days=40)
                if earliest > latest:
                    continue
                span = (latest - earliest).days
                born = earliest + dt.timedelta(days=rng.randint(0, max(0, span // (GENERATIONS - generation))))
                owner_id = dam.owner_member_id
                owner = showcase if rng.random() < 0.12 else next(m for m in members if m.id == owner_id)
                child = herd.register(breed, owner, rng.choice(list(Sex)), born, sire, dam)
                (males if child.sex == Sex.MALE else females).append(child)
                made.append(child)
        made.extend(males[:FOUNDATION_BULLS] + females[:FOUNDATION_COWS])
    by_id = {m.id: m for m in members}
    for animal in made:
        roll = rng.random()
        if roll < 0.1 and animal.born < today - dt.timedelta(days=400):
            buyer = rng.choice(members)
            if buyer.id != animal.owner_member_id and animal.owner_member_id != showcase.id:
                at = dt.datetime.combine(animal.born, dt.time(11), dt.UTC) + dt.timedelta(days=rng.randint(200, 380))
                herd.sell(animal, by_id[animal.owner_member_id], buyer, min(at, now - dt.timedelta(days=5)))
        elif roll > 0.95 and animal.sire_id is not None:
            field, reason = rng.choice(_CORRECTIONS)
            at = animal.registered_at + dt.timedelta(days=rng.randint(5, 60))
            at = min(at, now - dt.timedelta(hours=1))
            before: object
            if field == "born":
                before = (animal.born + dt.timedelta(days=rng.choice((-10, 10, 31)))).isoformat()
                after: object = animal.born.isoformat()
            elif field == "name":
                before, after = animal.name.split(" ", 1)[-1], animal.name
            else:
                before = (Sex.FEMALE if animal.sex == Sex.MALE else Sex.MALE).value
                after = animal.sex.value
                if session.scalar(select(Animal.id).where((Animal.sire_id == animal.id) | (Animal.dam_id == animal.id))
                                  .limit(1)) is not None:
                    continue  # a parent's sex was never in doubt
            herd.event(animal, EventKind.CORRECTED, at, changes={field: [before, after]}, reason=reason)
    # The showcase member: an animal offered to them, and one of theirs offered to another.
    others = [a for a in made if a.owner_member_id != showcase.id and a.sire_id is not None]
    mine = [a for a in made if a.owner_member_id == showcase.id and a.sire_id is not None]
    if others:
        offered = others[0]
        herd.offer(offered, by_id[offered.owner_member_id], showcase, days_ago=3)
    if mine:
        buyer = next(m for m in members if m.id != showcase.id)
        herd.offer(mine[0], showcase, buyer, days_ago=1)
    # A correction the showcase member sees at once.
    if mine:
        animal = mine[-1]
        herd.event(animal, EventKind.CORRECTED, now - dt.timedelta(days=2),
                   changes={"born": [(animal.born + dt.timedelta(days=7)).isoformat(), animal.born.isoformat()]},
                   reason="Passport shows the right date of birth")
    session.flush()
    return len(made)
