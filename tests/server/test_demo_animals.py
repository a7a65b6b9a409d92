"""The demo herd book: filled, and every pedigree in it holds the herd book's rules
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop_care.models import Member, MemberStatus
from desktop_care.models.animals import (
    Animal,
    AnimalEvent,
    AnimalOwner,
    AnimalTransfer,
    Breed,
    EventKind,
    Sex,
    TransferState,
    add_months,
    parse_reg_no,
)
from desktop_care.server.db import make_engine, upgrade
from desktop_care.server.demo import seed_demo
from tests.support.servers import DatabaseFactory

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_the_demo_herd_book_is_filled_and_every_pedigree_holds(databases: DatabaseFactory, backend: str) -> None:
    engine = make_engine(databases.create(backend))
    upgrade(engine)
    seed_demo(engine, 120, seed=5, now=NOW)
    with Session(engine) as session:
        animals = {a.id: a for a in session.scalars(select(Animal))}
        breeds = {b.id: b for b in session.scalars(select(Breed))}
        assert len(breeds) == 4 and 200 <= len(animals) <= 400
        assert len({a.owner_member_id for a in animals.values()}) >= 20
        for animal in animals.values():
            assert parse_reg_no(animal.reg_no) == animal.reg_no and animal.born < NOW.date()
            breed = breeds[animal.breed_id]
            for parent_id, sex, months in ((animal.sire_id, Sex.MALE, breed.sire_min_months),
                                           (animal.dam_id, Sex.FEMALE, breed.dam_min_months)):
                if parent_id is None:
                    continue
                parent = animals[parent_id]
                assert parent.sex == sex and parent.breed_id == animal.breed_id
                assert add_months(parent.born, months) <= animal.born, animal.reg_no
            owners = session.scalars(select(AnimalOwner).where(AnimalOwner.animal_id == animal.id)
                                     .order_by(AnimalOwner.id)).all()
            assert owners[-1].member_id == animal.owner_member_id and owners[-1].until is None
        showcase = session.scalar(select(Member).where(Member.status == MemberStatus.ENROLLED).order_by(Member.id))
        assert showcase is not None
        assert sum(1 for a in animals.values() if a.owner_member_id == showcase.id) >= 8
        pending = session.scalars(select(AnimalTransfer).where(AnimalTransfer.state == TransferState.PENDING)).all()
        assert {t.to_member_id for t in pending} >= {showcase.id}
        assert {t.from_member_id for t in pending} >= {showcase.id}
        assert all(t.expires_at > NOW for t in pending)
        sold = session.scalar(select(func.count()).select_from(AnimalTransfer).where(
            AnimalTransfer.state == TransferState.ACCEPTED)) or 0
        corrected = session.scalars(select(AnimalEvent).where(AnimalEvent.kind == EventKind.CORRECTED)).all()
        assert sold >= 5 and len(corrected) >= 3 and all(e.reason for e in corrected)
    engine.dispose()
