"""``POST /members/likely-duplicates``: members who may be the person about to be
registered ("Add a customer" warns before saving; docs/decisions/0014)."""

from __future__ import annotations

from fastapi import APIRouter

from desktop_care.models.duplicates import likely_duplicates
from desktop_care.schemas import DuplicateCheckIn, DuplicateList, LikelyDuplicate

from ..deps import CurrentStaff, SessionDep
from ..errors import ERROR_RESPONSES
from .members import member_summary

router = APIRouter(prefix="/members", tags=["members"], responses=ERROR_RESPONSES)


@router.post("/likely-duplicates", operation_id="findLikelyDuplicates", response_model=DuplicateList)
def find_likely_duplicates(body: DuplicateCheckIn, session: SessionDep, staff: CurrentStaff) -> DuplicateList:
    """Members with the same e-mail address, or the same first and last name and a
    postcode in common (case, accents and spacing aside); at most 10, oldest first.
    Merged members are never listed. Reads only: nothing is stored."""
    found = likely_duplicates(session, email=body.email, first_name=body.first_name, last_name=body.last_name,
                              postcode=body.postcode)
    return DuplicateList(items=[
        LikelyDuplicate(member=member_summary(d.member), reasons=[r.value for r in d.reasons]) for d in found
    ])
