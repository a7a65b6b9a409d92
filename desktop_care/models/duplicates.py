"""Likely duplicates of a member about to be registered: the same e-mail address, or
the same name and postcode (case, accents and spacing aside). The server and a
workstation's local replica run the same query over their own session, through the
search rows' indexed keys (``member_search.email_key``, ``first_key``, ``last_key``);
merged members have no search row, so they are never offered."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .member import Address, Member
from .search import MemberSearch, normalize

#: At most this many likely duplicates are listed.
MAX_DUPLICATES = 10


class DuplicateReason(enum.StrEnum):
    SAME_EMAIL = "same_email"
    SAME_NAME_AND_POSTCODE = "same_name_and_postcode"

    @property
    def label(self) -> str:
        return "same e-mail" if self is DuplicateReason.SAME_EMAIL else "same name and postcode"


@dataclass(frozen=True)
class Duplicate:
    member: Member
    reasons: tuple[DuplicateReason, ...]


def _compact_postcode(text: str) -> str:
    return "".join(normalize(text).split()).replace("-", "")


def likely_duplicates(
    session: Session, *, email: str = "", first_name: str = "", last_name: str = "", postcode: str = "",
    limit: int = MAX_DUPLICATES,
) -> list[Duplicate]:
    """Members who may be the person described, oldest first, each with why."""
    found: dict[int, set[DuplicateReason]] = {}
    email_key = normalize(email)
    if email_key:
        ids = session.scalars(
            select(MemberSearch.member_id).where(MemberSearch.email_key == email_key)
            .order_by(MemberSearch.member_id).limit(limit)
        )
        for member_id in ids:
            found.setdefault(member_id, set()).add(DuplicateReason.SAME_EMAIL)
    first, last, code = normalize(first_name)[:100], normalize(last_name)[:100], _compact_postcode(postcode)
    if first and last and code:
        compact = func.replace(func.replace(func.lower(Address.postcode), " ", ""), "-", "")
        ids = session.scalars(
            select(MemberSearch.member_id).distinct()
            .join(Address, Address.member_id == MemberSearch.member_id)
            .where(MemberSearch.first_key == first, MemberSearch.last_key == last, compact == code)
            .order_by(MemberSearch.member_id).limit(limit)
        )
        for member_id in ids:
            found.setdefault(member_id, set()).add(DuplicateReason.SAME_NAME_AND_POSTCODE)
    wanted = sorted(found)[:limit]
    if not wanted:
        return []
    members = {m.id: m for m in session.scalars(
        select(Member).where(Member.id.in_(wanted)).options(selectinload(Member.addresses)))}
    order = list(DuplicateReason)
    return [Duplicate(members[i], tuple(sorted(found[i], key=order.index))) for i in wanted if i in members]


__all__ = ["MAX_DUPLICATES", "Duplicate", "DuplicateReason", "likely_duplicates"]
