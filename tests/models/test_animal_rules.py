"""The herd book's pure rules, property-tested: registration numbers and their check
character, the pedigree rules (sex, breed, ages, self-parentage, offspring), and what
a transfer is at a given moment."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given
from hypothesis import strategies as st

from desktop_care.models.animals import (
    ALPHABET,
    BadRegNo,
    BreedRules,
    Facts,
    Sex,
    TransferState,
    add_months,
    format_reg_no,
    parse_reg_no,
    pedigree_problems,
    transfer_state,
)

RULES = BreedRules("HER", "Hereford", sire_min_months=12, dam_min_months=18)
TODAY = dt.date(2026, 12, 2)

codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
years = st.integers(min_value=1950, max_value=2100)
seqs = st.integers(min_value=1, max_value=99999)
days = st.dates(min_value=dt.date(1950, 1, 1), max_value=TODAY)


@given(codes, years, seqs)
def test_every_number_made_reads_back_forgiving_case_and_spaces(code: str, year: int, seq: int) -> None:
    reg_no = format_reg_no(code, year, seq)
    assert parse_reg_no(reg_no) == reg_no
    assert parse_reg_no(f"  {reg_no.lower()} ") == reg_no
    assert reg_no.startswith(f"{code}-{year}-") and len(reg_no) == 16


@given(codes, years, seqs, st.data())
def test_any_one_mistyped_character_is_caught(code: str, year: int, seq: int, data: st.DataObject) -> None:
    reg_no = format_reg_no(code, year, seq)
    position = data.draw(st.sampled_from([i for i, c in enumerate(reg_no) if c != "-"]))
    original = reg_no[position]
    kind = ALPHABET[10:] if original.isalpha() else ALPHABET[:10]
    if position == len(reg_no) - 1:
        kind = ALPHABET
    replacement = data.draw(st.sampled_from([c for c in kind if c != original]))
    typo = reg_no[:position] + replacement + reg_no[position + 1:]
    try:
        parse_reg_no(typo)
    except BadRegNo as exc:
        assert "not a registration number" in str(exc)
    else:
        raise AssertionError(f"{typo} (a typo of {reg_no}) was taken")


@given(st.dates(), st.integers(min_value=0, max_value=600))
def test_adding_months_lands_in_the_right_month_never_past_the_day(day: dt.date, months: int) -> None:
    assume(day.year + months // 12 + 1 < 9999)
    later = add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day <= day.day and (later.day == day.day or later.day >= 28)


def _animal(reg_no: str, sex: Sex, born: dt.date, breed: str = "HER") -> Facts:
    return Facts(reg_no, f"Animal {reg_no[-3:]}", breed, sex, born)


SIRE_NO, DAM_NO, CALF_NO = (format_reg_no("HER", 2020, n) for n in (1, 2, 3))


@given(days, st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=400))
def test_parents_old_enough_of_the_right_sex_and_breed_are_accepted(born: dt.date, sire_extra: int,
                                                                      dam_extra: int) -> None:
    assume(born >= dt.date(1990, 1, 1))
    sire = _animal(SIRE_NO, Sex.MALE, add_months(born, -(12 + sire_extra)))
    dam = _animal(DAM_NO, Sex.FEMALE, add_months(born, -(18 + dam_extra)))
    assert pedigree_problems(breed=RULES, sex=Sex.FEMALE, born=born, sire_no=SIRE_NO, sire=sire, dam_no=DAM_NO,
                             dam=dam, today=TODAY) == {}


@given(days, st.integers(min_value=0, max_value=11), st.integers(min_value=0, max_value=17))
def test_a_parent_younger_than_the_minimum_age_is_refused(born: dt.date, sire_months: int, dam_months: int) -> None:
    assume(born >= dt.date(1990, 1, 1))
    sire = _animal(SIRE_NO, Sex.MALE, add_months(born, -sire_months) - dt.timedelta(days=0))
    dam = _animal(DAM_NO, Sex.FEMALE, add_months(born, -dam_months))
    problems = pedigree_problems(breed=RULES, sex=Sex.MALE, born=born, sire_no=SIRE_NO, sire=sire, dam_no=DAM_NO,
                                 dam=dam, today=TODAY)
    assert set(problems) == {"sire", "dam"}
    for role in ("sire", "dam"):
        assert "too young" in problems[role] or "not before this animal" in problems[role]


@given(days, st.sampled_from(list(Sex)))
def test_wrong_sex_other_breed_and_self_each_have_their_own_words(born: dt.date, sex: Sex) -> None:
    assume(born >= dt.date(1990, 1, 1))
    old = add_months(born, -60)
    cow_as_sire = _animal(SIRE_NO, Sex.FEMALE, old)
    foreign_dam = _animal(DAM_NO, Sex.FEMALE, old, breed="ANG")
    problems = pedigree_problems(breed=RULES, sex=sex, born=born, sire_no=SIRE_NO, sire=cow_as_sire, dam_no=DAM_NO,
                                 dam=foreign_dam, today=TODAY)
    assert problems["sire"].endswith("is registered as female: the sire must be male.")
    assert "is a different breed" in problems["dam"]
    me = _animal(CALF_NO, Sex.MALE, old)
    own = pedigree_problems(breed=RULES, sex=Sex.MALE, born=old, sire_no=CALF_NO, sire=me, dam_no=DAM_NO, dam=None,
                            today=TODAY, reg_no=CALF_NO)
    assert own["sire"] == "An animal cannot be its own sire."
    assert own["dam"] == f"No animal is registered as {DAM_NO}."


@given(st.dates(min_value=TODAY + dt.timedelta(days=1), max_value=dt.date(2200, 1, 1)))
def test_a_birth_in_the_future_is_refused(born: dt.date) -> None:
    problems = pedigree_problems(breed=RULES, sex=Sex.MALE, born=born, sire_no="", sire=None, dam_no="", dam=None,
                                 today=TODAY)
    assert problems["born"] == "The date of birth cannot be in the future."
    assert problems["sire"] == "Enter the sire's registration number."


@given(days, st.sampled_from(["sire", "dam"]), st.integers(min_value=-24, max_value=24))
def test_a_correction_keeps_the_animals_it_is_already_a_parent_of_true(born: dt.date, role: str,
                                                                        shift: int) -> None:
    """Moving a parent's date of birth, or its sex, is refused exactly when it would
    make one of its recorded offspring impossible."""
    assume(dt.date(1990, 1, 1) <= born <= dt.date(2022, 1, 1))
    need = RULES.sire_min_months if role == "sire" else RULES.dam_min_months
    child = _animal(CALF_NO, Sex.FEMALE, add_months(born, need + 6))
    new_born = add_months(born, shift)
    assume(new_born <= TODAY)
    sex = Sex.MALE if role == "sire" else Sex.FEMALE
    problems = pedigree_problems(breed=RULES, sex=sex, born=new_born, sire_no=SIRE_NO, sire=None, dam_no=DAM_NO,
                                 dam=None, today=TODAY, reg_no=DAM_NO, offspring=[(role, child)])
    too_young = add_months(new_born, need) > child.born
    assert ("born" in problems) == too_young
    other = Sex.FEMALE if sex == Sex.MALE else Sex.MALE
    flipped = pedigree_problems(breed=RULES, sex=other, born=born, sire_no=SIRE_NO, sire=None, dam_no=DAM_NO,
                                dam=None, today=TODAY, offspring=[(role, child)])
    assert flipped["sex"].startswith(f"This animal is the {role} of 1 registered animal")


@given(st.sampled_from(list(TransferState)), st.datetimes(timezones=st.just(dt.UTC)),
       st.timedeltas(min_value=dt.timedelta(days=-30), max_value=dt.timedelta(days=30)))
def test_a_pending_transfer_expires_at_its_deadline_and_nothing_else_changes(
        state: TransferState, expires: dt.datetime, offset: dt.timedelta) -> None:
    assume(dt.datetime(1, 2, 1, tzinfo=dt.UTC) < expires < dt.datetime(9999, 11, 1, tzinfo=dt.UTC))
    now = expires + offset
    seen = transfer_state(state, expires, now)
    if state == TransferState.PENDING:
        assert seen == (TransferState.EXPIRED if now >= expires else TransferState.PENDING)
    else:
        assert seen == state
