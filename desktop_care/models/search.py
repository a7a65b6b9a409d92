"""Member search: the normalised search row of each member and the query over it.

This module has no FastAPI and no Qt: the central server and (later) a workstation's
local cache run the same search over their own SQLAlchemy session.

Each member has one ``member_search`` row holding its searchable text, normalised
(accents removed, case folded) so that "jose" finds "José". The database indexes it for
substring search: an FTS5 ``trigram`` table on SQLite, a ``pg_trgm`` GIN index on
PostgreSQL (both created by the migrations), so no query scans the whole table.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .member import Member

_SPACE = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"\D")


def normalize(text: str) -> str:
    """Case-folded, accent-free text with runs of white space made one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", stripped.casefold()).strip()


def phone_digits(phone: str) -> str:
    return _NOT_DIGIT.sub("", phone)


class MemberSearch(Base):
    """The searchable text of one member (kept up to date by :func:`index_member`)."""

    __tablename__ = "member_search"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    #: Normalised name, email, phone (as typed and digits only) and postcodes, one per
    #: line, so that no substring match can run across two fields.
    text: Mapped[str] = mapped_column(Text)
    #: Normalised first name, last name and email: prefix keys for queries too short
    #: for a trigram index.
    first_key: Mapped[str] = mapped_column(String(100), index=True)
    last_key: Mapped[str] = mapped_column(String(100), index=True)
    email_key: Mapped[str] = mapped_column(String(254), index=True)


def search_fields(member: Member, postcodes: list[str]) -> dict[str, str]:
    """The values of a member's ``member_search`` row."""
    lines = [
        normalize(f"{member.first_name} {member.last_name}"),
        normalize(member.email),
        normalize(member.phone),
        phone_digits(member.phone),
        *(normalize(p) for p in postcodes),
        *(normalize(p).replace(" ", "") for p in postcodes),
    ]
    return {
        "text": "\n".join(line for line in lines if line),
        "first_key": normalize(member.first_name),
        "last_key": normalize(member.last_name),
        "email_key": normalize(member.email),
    }
