"""The herd book over HTTP against the real server: registering an animal (the staff
API and the portal form), each refusal of the pedigree rules with its message, the
API's 422 and the same words under the portal's field; corrections with their reason
and history; transfers accepted, declined, cancelled and expired (time moved by
moving the offer's deadline, never slept); lookups; and all of it on behalf."""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from desktop_care.models import AuditEvent, Member, MemberStatus, User, utcnow
from desktop_care.models.animals import (
    Animal,
    AnimalEvent,
    AnimalOwner,
    AnimalTransfer,
    Breed,
    Sex,
    format_reg_no,
    next_sequence,
    parse_reg_no,
)
from tests.server.conftest import PASSWORD, make_member, make_portal_user, staff_headers, unique
from tests.server.test_on_behalf import Console
from tests.support.portal import Browser
from tests.support.servers import LiveServer

TODAY = utcnow().date()


def _breed(db: Session, name: str = "Hereford") -> Breed:
    taken = set(db.scalars(select(Breed.code)))
    rng = random.Random()
    while (code := "".join(rng.choices(string.ascii_uppercase, k=3))) in taken:
        pass
    breed = Breed(code=code, name=f"{name} {code}", sire_min_months=12, dam_min_months=18)
    db.add(breed)
    db.commit()
    return breed


def _foundation(db: Session, breed: Breed, owner: Member, sex: Sex, born: dt.date, name: str = "") -> Animal:
    """An animal the society recorded without parents (as the demo's foundation stock)."""
    now = utcnow()
    seq = next_sequence(db, breed.id, now.year)
    animal = Animal(reg_no=format_reg_no(breed.code, now.year, seq), breed_id=breed.id, reg_year=now.year,
                    reg_seq=seq, name=name or f"{sex.value.title()} {seq}", sex=sex, born=born,
                    owner_member_id=owner.id, registered_at=now)
    db.add(animal)
    db.flush()
    db.add(AnimalOwner(animal_id=animal.id, member_id=owner.id, since=now))
    db.commit()
    return animal


def _years_ago(years: float) -> dt.date:
    return TODAY - dt.timedelta(days=round(365.25 * years))


@dataclass
class Herd:
    breed: Breed
    owner: Member
    user: User
    bull: Animal
    cow: Animal


def _herd(db: Session, first: str = "Hattie") -> Herd:
    breed = _breed(db)
    owner = make_member(db, first, "Herd", email=f"{unique('herd')}@example.org")
    user = make_portal_user(db, owner, email=owner.email, display_name=f"{first} Herd")
    bull = _foundation(db, breed, owner, Sex.MALE, _years_ago(6), "Samson")
    cow = _foundation(db, breed, owner, Sex.FEMALE, _years_ago(5), "Clover")
    return Herd(breed, owner, user, bull, cow)


def _calf(herd: Herd, **extra: object) -> dict[str, object]:
    return {"name": "Bramble", "breed": herd.breed.code, "sex": "female", "born": _years_ago(1).isoformat(),
            "sire": herd.bull.reg_no, "dam": herd.cow.reg_no, **extra}


def _register(server: LiveServer, headers: dict[str, str], member_id: int, body: dict[str, object]) -> requests.Response:
    return requests.post(f"{server.api}/members/{member_id}/animals", headers=headers, json=body, timeout=10)


def _signed_in(server: LiveServer, user: User) -> Browser:
    browser = Browser(server.url)
    assert browser.sign_in(user.username, PASSWORD).status == 200
    return browser


def test_staff_register_an_animal_and_get_a_checked_registration_number(server: LiveServer, db: Session) -> None:
    herd = _herd(db)
    headers = staff_headers(server, db)
    answer = _register(server, headers, herd.owner.id, _calf(herd, name="  Bramble   Rose "))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    code, year, seq, check = body["reg_no"].split("-")
    assert (code, int(year), len(seq), len(check)) == (herd.breed.code, utcnow().year, 5, 1)
    assert parse_reg_no(body["reg_no"].lower()) == body["reg_no"]
    assert body["name"] == "Bramble Rose" and body["sire"] == {"reg_no": herd.bull.reg_no, "name": "Samson"}
    assert body["owner_member_no"] == herd.owner.member_no
    assert [e["kind"] for e in body["history"]] == ["registered"] and len(body["owners"]) == 1
    # The lookup forgives small letters and spaces; the member's list shows it.
    found = requests.get(f"{server.api}/animals/{body['reg_no'].lower()}", headers=headers, timeout=10)
    assert found.status_code == 200 and found.json()["id"] == body["id"]
    listed = requests.get(f"{server.api}/members/{herd.owner.id}/animals", headers=headers, timeout=10).json()
    assert listed["items"][0]["reg_no"] == body["reg_no"] and listed["total"] == 3
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "animal.registered",
                                               AuditEvent.entity_id == str(herd.owner.id)))
    assert audit is not None and audit.details["reg_no"] == body["reg_no"]
    # Unknown numbers are 404, typing mistakes too (with why).
    missing = requests.get(f"{server.api}/animals/{herd.breed.code}-1999-00001-{'X'}", headers=headers, timeout=10)
    assert missing.status_code == 404
    assert "does not match" in missing.json()["detail"] or "no animal" in missing.json()["detail"]


def test_every_pedigree_rule_refuses_with_its_own_words(server: LiveServer, db: Session) -> None:
    herd = _herd(db)
    headers = staff_headers(server, db)
    young_bull = _foundation(db, herd.breed, herd.owner, Sex.MALE, _years_ago(1.2), "Junior")
    other = _breed(db, "Angus")
    foreign_cow = _foundation(db, other, herd.owner, Sex.FEMALE, _years_ago(5), "Heather")
    unknown = format_reg_no(herd.breed.code, 2001, 99999)
    typo = herd.bull.reg_no[:-1] + ("A" if herd.bull.reg_no[-1] != "A" else "B")
    cases = {
        "sire": [
            ({"sire": herd.cow.reg_no}, f"Clover ({herd.cow.reg_no}) is registered as female: the sire must be male."),
            ({"sire": ""}, "Enter the sire's registration number."),
            ({"sire": unknown}, f"No animal is registered as {unknown}."),
            ({"sire": typo}, f"{typo} is not a registration number: its last character does not match "
                             "(check it for a typing mistake)."),
            ({"sire": "12345"}, "12345 is not a registration number: they look like HER-2026-00017-7."),
            ({"sire": young_bull.reg_no, "born": _years_ago(0.5).isoformat()},
             f"Junior ({young_bull.reg_no}) was too young: a sire of {herd.breed.name} must be at least 12 months "
             f"old at the birth (born {young_bull.born:%d %b %Y})."),
        ],
        "dam": [
            ({"dam": herd.bull.reg_no}, f"Samson ({herd.bull.reg_no}) is registered as male: the dam must be female."),
            ({"dam": foreign_cow.reg_no}, f"Heather ({foreign_cow.reg_no}) is a different breed: an animal of "
                                          f"{herd.breed.name} needs a dam of {herd.breed.name}."),
        ],
        "born": [
            ({"born": (TODAY + dt.timedelta(days=2)).isoformat()}, "The date of birth cannot be in the future."),
            ({"born": "1900-05-01"}, "The herd book starts in 1950: check the year of birth."),
        ],
    }
    for field, tries in cases.items():
        for extra, message in tries:
            answer = _register(server, headers, herd.owner.id, _calf(herd, **extra))
            assert answer.status_code == 422, (extra, answer.text)
            assert answer.json()["fields"][field] == message, extra
    bad_breed = _register(server, headers, herd.owner.id, _calf(herd, breed="ZZZ" if herd.breed.code != "ZZZ" else "ZZY"))
    assert bad_breed.status_code == 422 and bad_breed.json()["fields"]["breed"].startswith("Choose a breed: ")
    # A dam born after the calf: not "too young", but plainly not its mother.
    late = _register(server, headers, herd.owner.id, _calf(herd, born=_years_ago(5.5).isoformat()))
    assert late.json()["fields"]["dam"] == (f"Clover ({herd.cow.reg_no}) was born on {herd.cow.born:%d %b %Y}, "
                                            "not before this animal.")
    closed = make_member(db, "Closed", "Herd", status=MemberStatus.INACTIVE)
    refused = _register(server, headers, closed.id, _calf(herd))
    assert refused.status_code == 422 and refused.json()["fields"] == {"member_id": "The membership is not active."}
    assert _register(server, headers, 2**31 - 1, _calf(herd)).status_code == 404
    db.expire_all()
    assert db.scalar(select(Animal).where(Animal.owner_member_id == closed.id)) is None  # nothing half-made


def test_corrections_need_a_reason_recheck_the_pedigree_and_are_kept(server: LiveServer, db: Session) -> None:
    herd = _herd(db)
    headers = staff_headers(server, db)
    calf = _register(server, headers, herd.owner.id, _calf(herd, sex="male", name="Comet")).json()

    def correct(reg_no: str, **body: object) -> requests.Response:
        return requests.post(f"{server.api}/animals/{reg_no}/corrections", headers=headers, json=body, timeout=10)

    no_reason = correct(calf["reg_no"], sex="female")
    assert no_reason.status_code == 422
    assert no_reason.json()["fields"] == {"reason": "Say why the sex is corrected (at least 3 characters)."}
    assert correct(calf["reg_no"], born=_years_ago(2).isoformat(), reason=" ").json()["fields"] == {
        "reason": "Say why the date of birth is corrected (at least 3 characters)."}
    # The name is maintenance, not a correction: no reason needed.
    renamed = correct(calf["reg_no"], name="Comet II")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Comet II"
    fixed = correct(calf["reg_no"], sex="female", reason="Vet checked: a heifer")
    assert fixed.status_code == 200 and fixed.json()["sex"] == "female"
    last = fixed.json()["history"][-1]
    assert last["kind"] == "corrected" and last["changes"] == {"sex": ["male", "female"]}
    assert last["reason"] == "Vet checked: a heifer" and last["actor_name"].startswith("staff.")
    # An animal that is already a sire cannot become female, nor too young for its calves.
    assert correct(herd.bull.reg_no, sex="female", reason="Typed wrong").json()["fields"] == {
        "sex": "This animal is the sire of 1 registered animal (Comet II, " + calf["reg_no"]
               + "): correct their sire first."}
    too_late = correct(herd.bull.reg_no, born=_years_ago(1.5).isoformat(), reason="Passport says so")
    assert too_late.status_code == 422
    assert too_late.json()["fields"]["born"].startswith("Born then, this animal would have been too young to be "
                                                        "the sire of Comet II")
    assert correct(calf["reg_no"], dam=calf["reg_no"], reason="DNA test").json()["fields"]["dam"] == (
        "An animal cannot be its own dam.")
    assert correct(calf["reg_no"], name="Comet II").json()["fields"] == {"reg_no": "Nothing was changed."}
    db.expire_all()
    kinds = list(db.scalars(select(AnimalEvent.kind).where(AnimalEvent.animal_id == calf["id"])
                            .order_by(AnimalEvent.id)))
    assert [k.value for k in kinds] == ["registered", "corrected", "corrected"]  # refusals left no trace


def test_the_portal_form_shows_each_refusal_under_its_field(server: LiveServer, db: Session) -> None:
    herd = _herd(db)
    browser = _signed_in(server, herd.user)
    form = browser.get("/portal/animals/new")
    assert form.title == "Register an animal" and f'value="{herd.breed.code}"' in form.text
    fields = {k: str(v) for k, v in _calf(herd, name="Nutmeg", sire=herd.cow.reg_no, dam="").items()}
    refused = browser.submit("/portal/animals/new", **fields)
    assert refused.status == 400 and refused.form_error == "Please correct the fields marked below."
    assert refused.errors == {
        "sire": f"Clover ({herd.cow.reg_no}) is registered as female: the sire must be male.",
        "dam": "Enter the dam's registration number."}
    assert 'value="Nutmeg"' in refused.text  # nothing typed is lost
    empty = browser.submit("/portal/animals/new", name=" ", breed="", sex="", born="")
    assert empty.errors == {"name": "Enter the animal's name.", "breed": "Choose the breed.",
                            "sex": "Choose male or female.", "born": "Enter the date of birth."}
    done = browser.submit("/portal/animals/new", **{k: str(v) for k, v in _calf(herd, name="Nutmeg").items()})
    assert done.status == 200 and done.title == "Nutmeg" and "The animal is registered." in done.text
    reg_no = done.url.rsplit("/", 1)[1].split("?")[0]
    assert parse_reg_no(reg_no) == reg_no and reg_no in browser.get("/portal/animals").text
    # Correct it in the portal: the reason is asked for under its field, then kept.
    browser.get(f"/portal/animals/{reg_no}/edit")
    page = browser.fill(f"/portal/animals/{reg_no}/edit", born=_years_ago(1.1).isoformat(), sex="female",
                        status="registered")
    assert page.errors == {"reason": "Say why the date of birth is corrected (at least 3 characters)."}
    saved = browser.fill(f"/portal/animals/{reg_no}/edit", born=_years_ago(1.1).isoformat(), sex="female",
                         status="registered", reason="Birth notified late")
    assert "kept in its history" in saved.text and "Birth notified late" in saved.text
    # A forged form is refused, and someone else's animal is not found.
    forged = browser.http.post(f"{server.url}/portal/animals/new", data={**fields, "csrf_token": "x" * 40}, timeout=10)
    assert forged.status_code == 400 and "This form has expired" in forged.text
    stranger = make_member(db, "Stan", "Ger", email=f"{unique('sg')}@example.org")
    theirs = _foundation(db, herd.breed, stranger, Sex.MALE, _years_ago(3))
    assert browser.get(f"/portal/animals/{theirs.reg_no}").status == 404
    assert browser.get(f"/portal/animals/{theirs.reg_no}/edit").status == 404


def test_transfer_is_confirmed_then_accepted_declined_cancelled_or_expires(server: LiveServer, db: Session) -> None:
    herd = _herd(db)
    buyer = make_member(db, "Bea", "Buyer", email=f"{unique('bb')}@example.org")
    buyer_user = make_portal_user(db, buyer, email=buyer.email, display_name="Bea Buyer")
    closed = make_member(db, "Cal", "Closed", status=MemberStatus.INACTIVE)
    seller = _signed_in(server, herd.user)
    taker = _signed_in(server, buyer_user)
    path = f"/portal/animals/{herd.cow.reg_no}/transfer"

    seller.get(path)
    assert seller.submit(path, to_member="0000000").errors == {"to_member": "No member has the member ID 0000000."}
    assert seller.submit(path, to_member=closed.member_no).errors == {
        "to_member": f"Member {closed.member_no} cannot receive animals: their membership is not active."}
    assert seller.submit(path, to_member=herd.owner.member_no).errors == {
        "to_member": "This is the owner's own member ID: enter the new owner's."}
    confirm = seller.submit(path, to_member=f" {buyer.member_no} ")
    assert confirm.status == 200 and "Bea Buyer" in confirm.text and 'id="confirm-transfer-button"' in confirm.text
    db.expire_all()
    assert db.scalar(select(AnimalTransfer).where(AnimalTransfer.animal_id == herd.cow.id)) is None  # not yet
    offered = seller.submit(path)  # the confirmation form's own hidden fields
    assert "The transfer was offered." in offered.text and "Offered to Bea Buyer" in offered.text
    again = seller.get(path) and seller.submit(path, to_member=buyer.member_no)
    assert "is already offered to member" in again.form_error

    # The recipient sees it, and may look at the animal before answering.
    incoming = taker.get("/portal/transfers")
    assert herd.cow.reg_no in incoming.text and "Hattie Herd" in incoming.text
    assert "offered to you" in taker.get(f"/portal/animals/{herd.cow.reg_no}").text
    transfer = db.scalar(select(AnimalTransfer).where(AnimalTransfer.animal_id == herd.cow.id))
    assert transfer is not None
    assert transfer.expires_at - transfer.created_at == dt.timedelta(days=14)
    accepted = taker.submit(f"/portal/transfers/{transfer.id}/accept")
    assert "You accepted the transfer" in accepted.text
    db.expire_all()
    cow = db.get(Animal, herd.cow.id)
    assert cow is not None and cow.owner_member_id == buyer.id
    history = list(db.scalars(select(AnimalOwner).where(AnimalOwner.animal_id == cow.id).order_by(AnimalOwner.id)))
    assert [(o.member_id, o.until is None) for o in history] == [(herd.owner.id, False), (buyer.id, True)]
    assert herd.cow.reg_no in taker.get("/portal/animals").text
    assert seller.get(f"/portal/animals/{herd.cow.reg_no}").status == 404  # no longer theirs
    twice = taker.submit(f"/portal/transfers/{transfer.id}/accept")
    assert twice.status == 409 and "This transfer was already accepted." in twice.text

    # Declined: the animal stays; cancelled: likewise.
    bull_path = f"/portal/animals/{herd.bull.reg_no}/transfer"

    def offer_bull() -> str:
        seller.get(bull_path)
        seller.submit(bull_path, to_member=buyer.member_no)
        return seller.submit(bull_path).text  # confirmed

    offer_bull()
    second = db.scalar(select(AnimalTransfer).where(AnimalTransfer.animal_id == herd.bull.id))
    assert second is not None
    taker.get("/portal/transfers")
    assert "You declined the transfer." in taker.submit(f"/portal/transfers/{second.id}/decline").text
    offer_bull()
    db.expire_all()
    third = db.scalar(select(AnimalTransfer).where(AnimalTransfer.animal_id == herd.bull.id)
                      .order_by(AnimalTransfer.id.desc()).limit(1))
    assert third is not None and third.id != second.id
    seller.get(f"/portal/animals/{herd.bull.reg_no}")
    assert "The transfer was cancelled." in seller.submit(f"/portal/transfers/{third.id}/cancel").text

    # Expired: its deadline passes (moved into the past, as time would), then no answer is taken.
    offer_bull()
    db.expire_all()
    fourth = db.scalar(select(AnimalTransfer).where(AnimalTransfer.animal_id == herd.bull.id)
                       .order_by(AnimalTransfer.id.desc()).limit(1))
    assert fourth is not None
    db.execute(update(AnimalTransfer).where(AnimalTransfer.id == fourth.id)
               .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.commit()
    page = taker.get("/portal/transfers")
    assert f'id="accept-{fourth.id}"' not in page.text and "Expired" in page.text
    late = taker.submit(f"/portal/transfers/{fourth.id}/accept")
    assert late.status == 409 and f"This transfer expired on {fourth.expires_at:%d %b %Y}" in late.text
    db.expire_all()
    bull = db.get(Animal, herd.bull.id)
    assert bull is not None and bull.owner_member_id == herd.owner.id
    # The owner may offer it again; the stale offer is then recorded as expired.
    assert "The transfer was offered." in offer_bull()
    db.expire_all()
    states = [t.state.value for t in db.scalars(select(AnimalTransfer).where(
        AnimalTransfer.animal_id == herd.bull.id).order_by(AnimalTransfer.id))]
    assert states == ["declined", "cancelled", "expired", "pending"]
    staff = staff_headers(server, db)
    dead = requests.post(f"{server.api}/animals/{herd.bull.reg_no}/corrections", headers=staff,
                         json={"status": "deceased"}, timeout=10)
    assert dead.status_code == 422 and dead.json()["fields"] == {
        "status": "A transfer of this animal is waiting for an answer: cancel it first."}
    listed = requests.get(f"{server.api}/members/{buyer.id}/animals", headers=staff, timeout=10).json()
    assert [a["reg_no"] for a in listed["items"]] == [herd.cow.reg_no]
    assert [(t["reg_no"], t["state"]) for t in listed["transfers"]] == [(herd.bull.reg_no, "pending")]


def test_staff_acting_on_behalf_register_and_the_audit_names_all_three(server: LiveServer, db: Session) -> None:
    herd = _herd(db)
    console = Console(server, db, name="Rita Registrar")
    view, _page, session_id = console.open(herd.owner.id, reason="Member phoned to register a calf")
    view.get("/portal/animals/new")
    done = view.submit("/portal/animals/new", **{k: str(v) for k, v in _calf(herd, name="Pippin").items()})
    assert done.title == "Pippin" and "on behalf" in done.text
    db.expire_all()
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "animal.registered",
                                               AuditEvent.entity_id == str(herd.owner.id)))
    assert audit is not None and audit.actor_user_id == console.user.id and audit.impersonation_id == session_id
    event = db.scalar(select(AnimalEvent).join(Animal, Animal.id == AnimalEvent.animal_id)
                      .where(Animal.name == "Pippin", Animal.owner_member_id == herd.owner.id))
    assert event is not None and event.actor_user_id == console.user.id and event.impersonation_id == session_id
