"""Bulk-invite files for tests and the benchmark: members and users arranged in the
server's database, and a CSV file over them whose every row's fate is known.

A share of the rows is bad in each way a row can be bad (``BAD_KINDS``), spread at
random (seeded) through the file; the rest will be invited.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from desktop_care.commands.bulk_invite import RowError
from desktop_care.models import Member, User, UserRole, UserState

#: The kinds of bad row every big file holds, each ``bad_share`` of the rows.
BAD_KINDS: tuple[RowError, ...] = (
    RowError.BAD_EMAIL, RowError.UNKNOWN_MEMBER, RowError.DUPLICATE, RowError.ALREADY_USER,
    RowError.ALREADY_INVITED, RowError.UNKNOWN_ROLE, RowError.MISSING_VALUE,
)


@dataclass
class BulkCase:
    """A file and, per row number, the error it must be reported with (None: invited)."""

    tag: str
    content: bytes
    expected: dict[int, RowError | None]
    #: Row number → (member id in the database, e-mail) of the rows to be invited.
    good: dict[int, tuple[int, str]] = field(default_factory=dict)

    @property
    def bad(self) -> dict[int, RowError]:
        return {row: code for row, code in self.expected.items() if code is not None}


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def arrange_bulk(session: Session, rows: int = 10_000, *, bad_share: float = 0.05, seed: int = 6) -> BulkCase:
    """Members and users for a file of ``rows`` rows, and the file (header + rows)."""
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    per_kind = int(rows * bad_share)
    kinds: list[RowError | None] = [k for k in BAD_KINDS for _ in range(per_kind)]
    kinds += [None] * (rows - len(kinds))
    rng.shuffle(kinds)
    # A duplicate repeats an earlier good row's e-mail: move each after one.
    first_good = kinds.index(None)
    for n in range(first_good):
        if kinds[n] == RowError.DUPLICATE:
            kinds[n], kinds[first_good + 1 + n] = kinds[first_good + 1 + n], kinds[n]
    base = 900_000_000 + rng.randrange(90_000_000)
    numbers = [f"B{tag[:4]}{base + n}" for n in range(rows)]
    session.execute(insert(Member), [
        {"member_no": numbers[n], "logon_id": f"bulk.{tag}.{n}", "first_name": f"Bulk{n}", "last_name": f"Test {tag}",
         "field_versions": {}}
        for n in range(rows)
    ])
    ids = {no: id_ for no, id_ in session.execute(
        select(Member.member_no, Member.id).where(Member.member_no.in_([numbers[0], numbers[-1]])))}
    # Inserted in one statement, in order: the ids are consecutive on both databases.
    first_id = ids[numbers[0]]
    assert ids[numbers[-1]] == first_id + rows - 1
    users: list[dict[str, object]] = []
    lines: list[list[str]] = [["member_id", "email", "role", "name"]]
    expected: dict[int, RowError | None] = {}
    good: dict[int, tuple[int, str]] = {}
    good_emails: list[str] = []
    for n, kind in enumerate(kinds):
        row = n + 2
        email = f"bulk.{tag}.{n}@example.org"
        member_no, role, name = numbers[n], rng.choice(["Full", "Standard", "full", "STANDARD"]), f"Person {n}"
        if kind == RowError.BAD_EMAIL:
            email = rng.choice([f"bulk.{tag}.{n}@", f"bulk {tag} {n}@example.org", f"bulk.{tag}.{n}.example.org"])
        elif kind == RowError.UNKNOWN_MEMBER:
            member_no = f"N{tag}{n}"
        elif kind == RowError.DUPLICATE:
            email = rng.choice(good_emails).upper()
        elif kind in (RowError.ALREADY_USER, RowError.ALREADY_INVITED):
            users.append({"username": email, "email": email, "display_name": name, "role": UserRole.STANDARD,
                          "state": UserState.INVITED if kind == RowError.ALREADY_INVITED else UserState.ACTIVE,
                          "member_id": first_id + rng.randrange(rows)})
        elif kind == RowError.UNKNOWN_ROLE:
            role = rng.choice(["Gold", "Society Admin", "owner"])
        elif kind == RowError.MISSING_VALUE:
            if rng.random() < 0.5:
                role = ""
            else:
                email = ""
        else:
            good[row] = (first_id + n, email)
            good_emails.append(email)
        if rng.random() < 0.2:
            name = ""  # no name: the member's name is used
        lines.append([member_no, email, role, name])
        expected[row] = kind
    if users:
        session.execute(insert(User), users)
    session.commit()
    return BulkCase(tag, csv_bytes(lines), expected, good)
