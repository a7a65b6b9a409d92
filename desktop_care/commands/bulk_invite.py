"""Bulk invite: invite many people to members' portal accounts from one CSV file.

Three steps, each a plain function the server's router calls:

1. :func:`read_csv` turns the uploaded bytes into rows (decoding UTF-8 with or without
   a BOM, UTF-16, or Windows-1252; sniffing the delimiter; finding the columns by
   name), or raises :class:`CsvFileError` saying what is wrong with the file as a whole.
2. :func:`plan` checks every row against the database as it is now (the dry run):
   bad e-mail, unknown member, duplicate in the file, already a user or already
   invited, unknown role, missing value. It reads only.
3. :func:`apply_rows` invites a chunk of rows in the caller's transaction: checked as
   the dry run checks them, the good ones written together, each exactly as
   ``execute(InviteUser)`` writes one; if an address was taken meanwhile, row by row
   through :func:`~desktop_care.commands.runner.execute`, each in a savepoint of its
   own, so a bad row never stops a good one and a row is done whole or not at all
   (decision 0015).

Each row's command has an op id derived from the member and the e-mail address
(:func:`row_op_id`): running the same file again finds every invited row already run
and invites nobody twice.
"""

from __future__ import annotations

import csv
import enum
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import AuditEvent, MailMessage, Member, User, UserRole, UserState, utcnow
from ..models.mail import QUEUED_KEY, new_mail
from ..models.sync import ProcessedCommand
from ..models.tokens import (
    INVITATION_LIFETIME,
    TokenPurpose,
    UserToken,
    cancel_links,
    digest,
    new_secret,
)
from ..models.user_search import user_search_text
from .accounts import (
    ALREADY_A_USER,
    ALREADY_INVITED,
    InviteUser,
    PortalRole,
    invitation_details,
    invitation_mail,
    invite_member_refusal,
    normalize_email,
    refusal_for_user,
)
from .base import Actor, NotPermitted
from .runner import CommandResult, OpIdReused, Status, execute

#: The largest file and the most rows a bulk invite takes at once.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
#: How many rows one run request may carry (each request is one transaction).
MAX_CHUNK = 500

#: The columns of the file, each with the header names people use for it.
COLUMNS: dict[str, tuple[str, ...]] = {
    "member_id": ("member_id", "member", "member_no", "member_number", "membership_number", "member_nr"),
    "email": ("email", "e_mail", "email_address", "e_mail_address", "mail"),
    "role": ("role", "user_role", "access", "type"),
    "name": ("name", "display_name", "full_name", "person", "user_name"),
}
REQUIRED_COLUMNS = ("member_id", "email", "role")
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}

#: The namespace of the op ids of bulk-invited rows (see :func:`row_op_id`).
_OP_NAMESPACE = uuid.UUID("6f1d8a52-3c0e-4b8e-9a55-2b1b4c1f0e15")


#: How the API's 422 names a file it cannot read (``fields.content_base64``), before the reason.
UNREADABLE = "is not a file bulk invite can read: "


class CsvFileError(ValueError):
    """The file as a whole cannot be read; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RowError(enum.StrEnum):
    """Why one row cannot be invited (the code in the dry run and the report)."""

    MISSING_VALUE = "missing_value"
    BAD_EMAIL = "bad_email"
    UNKNOWN_ROLE = "unknown_role"
    UNKNOWN_MEMBER = "unknown_member"
    MEMBER_CLOSED = "member_closed"
    DUPLICATE = "duplicate"
    ALREADY_USER = "already_user"
    ALREADY_INVITED = "already_invited"
    REFUSED = "refused"


@dataclass(frozen=True)
class CsvRow:
    """One data row as the file has it. ``row`` is its row number as a spreadsheet
    shows it (the header is row 1)."""

    row: int
    member_id: str
    email: str
    role: str
    name: str


@dataclass(frozen=True)
class CsvFile:
    rows: list[CsvRow]
    encoding: str
    delimiter: str
    #: The header names found, in file order.
    columns: list[str]

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


@dataclass(frozen=True)
class RowPlan:
    """What will happen to one row: ``error`` None means it will be invited."""

    row: int
    member_id: str
    email: str
    role: str
    name: str
    member_name: str = ""
    error: RowError | None = None
    message: str = ""

    @property
    def will_invite(self) -> bool:
        return self.error is None


class Outcome(enum.StrEnum):
    INVITED = "invited"
    #: Invited by an earlier run of a file with the same member and e-mail.
    ALREADY_DONE = "already_done"
    ERROR = "error"


@dataclass(frozen=True)
class RowOutcome:
    row: int
    member_id: str
    email: str
    outcome: Outcome
    error: RowError | None = None
    message: str = ""


# ------------------------------------------------------------------ reading the file


def _decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the encoding it was in."""
    if data.startswith(b"PK\x03\x04"):
        raise CsvFileError("This is a spreadsheet (.xlsx), not a CSV file. In Excel, use File → Save As → "
                           "CSV UTF-8 (Comma delimited), then choose that file.")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise CsvFileError("This is an old Excel workbook (.xls), not a CSV file. In Excel, use File → Save As → "
                           "CSV UTF-8 (Comma delimited), then choose that file.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise CsvFileError("The file says it is UTF-16 but is not: save it again as CSV UTF-8.") from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "UTF-8 (with BOM)"
        except UnicodeDecodeError as exc:
            raise CsvFileError(f"The file says it is UTF-8 but byte {exc.start + 4} is not: "
                               "save it again as CSV UTF-8.") from None
    try:
        text, encoding = data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        try:
            # What Excel's plain "CSV (Comma delimited)" writes on Western European Windows.
            text, encoding = data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError as exc:
            raise CsvFileError(f"The file is not text this app can read (byte {exc.start + 1} is neither UTF-8 nor "
                               "Windows-1252). Save it as CSV UTF-8 and choose it again.") from None
    if "\x00" in text:
        raise CsvFileError("The file contains binary data, not CSV text. Save it as CSV UTF-8 and choose it again.")
    return text, encoding


def _header_key(name: str) -> str:
    return "_".join(name.strip().strip('"').lower().replace("-", " ").replace(".", " ").split())


def _column_of(header: str) -> str | None:
    key = _header_key(header)
    return next((column for column, names in COLUMNS.items() if key in names), None)


def _sniff(first_line: str) -> str:
    """The delimiter that splits the header line into the most known column names
    (Excel writes ``;`` where the decimal separator is a comma)."""

    def known(delimiter: str) -> int:
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        return sum(1 for cell in cells if _column_of(cell) is not None)

    return max(_DELIMITERS, key=lambda d: (known(d), first_line.count(d)))


def read_csv(data: bytes) -> CsvFile:
    """The rows of a bulk-invite file (raises :class:`CsvFileError`)."""
    if not data.strip():
        raise CsvFileError("The file is empty: it needs a header row (member_id, email, role, name) and one row "
                           "per person to invite.")
    if len(data) > MAX_FILE_BYTES:
        raise CsvFileError(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: split it into smaller "
                           "files.")
    text, encoding = _decode(data)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise CsvFileError("The file is empty: it needs a header row (member_id, email, role, name) and one row "
                           "per person to invite.")
    delimiter = _sniff(lines[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise CsvFileError(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from None
    # The header is the first non-blank record; its position is its spreadsheet row.
    start = next((n for n, cells in enumerate(records) if any(cell.strip() for cell in cells)), None)
    if start is None:
        raise CsvFileError("The file has no header row: its first row must name the columns member_id, email, "
                           "role and (optionally) name.")
    header = records[start]
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        column = _column_of(name)
        if column is not None and column not in positions:
            positions[column] = index
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        found = ", ".join(repr(h.strip()) for h in header if h.strip()) or "none"
        raise CsvFileError(
            f"The file has no {' and no '.join(repr(m) for m in missing)} column. The first row must name the "
            f"columns: member_id, email, role and (optionally) name. Columns found: {found}.")
    rows: list[CsvRow] = []
    for number, cells in enumerate(records[start + 1:], start=start + 2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line: nothing to invite

        def cell(column: str, cells: list[str] = cells) -> str:
            index = positions.get(column)
            return " ".join(cells[index].split()) if index is not None and index < len(cells) else ""

        rows.append(CsvRow(number, cell("member_id"), cell("email"), cell("role"), cell("name")))
        if len(rows) > MAX_ROWS:
            raise CsvFileError(f"The file has more than {MAX_ROWS:,} rows: split it into smaller files.")
    if not rows:
        raise CsvFileError("The file has a header row but no one to invite.")
    return CsvFile(rows, encoding, delimiter, [h.strip() for h in header])


# ------------------------------------------------------------------ checking rows


def parse_role(text: str) -> PortalRole | None:
    key = _header_key(text).removesuffix("_user")
    return next((role for role in PortalRole if role.value == key), None)


def _role_message(text: str) -> str:
    if _header_key(text) in ("society_staff", "society_admin", "staff", "admin"):
        return f"{text!r} is a staff role: staff are invited from the Society Users page, not to a member account"
    return f"unknown role {text!r}: must be Full or Standard"


def _static_problem(row: CsvRow) -> tuple[RowError, str] | tuple[None, str]:
    """A problem of the row itself (no database needed); else (None, normalised e-mail)."""
    missing = [name for name, value in (("member_id", row.member_id), ("email", row.email), ("role", row.role))
               if not value]
    if missing:
        return RowError.MISSING_VALUE, f"no {' and no '.join(missing)} in this row"
    try:
        email = normalize_email(row.email)
    except ValueError as exc:
        return RowError.BAD_EMAIL, f"{row.email!r} {exc}"
    if parse_role(row.role) is None:
        return RowError.UNKNOWN_ROLE, _role_message(row.role)
    return None, email


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def members_by_number(session: Session, numbers: Iterable[str], *, lock: bool = False) -> dict[str, Member]:
    """The members of these member IDs (locked, in id order, with ``lock``: two runs
    that share members then wait for each other instead of deadlocking)."""
    wanted = sorted(set(numbers))
    found: dict[str, Member] = {}
    for part in _chunks(wanted):
        query = select(Member).where(Member.member_no.in_(part))
        if lock:
            query = query.order_by(Member.id).with_for_update()
        found.update((m.member_no, m) for m in session.scalars(query))
    return found


def users_by_email(session: Session, emails: Iterable[str]) -> dict[str, User]:
    """The existing user for each address (lower case), as ``existing_user`` picks it:
    the one whose username is the address first, else the oldest with that e-mail."""
    wanted = sorted({e.lower() for e in emails})
    by_username: dict[str, User] = {}
    by_email: dict[str, User] = {}
    for part in _chunks(wanted):
        query = select(User).where(or_(func.lower(User.username).in_(part), func.lower(User.email).in_(part)))
        for user in session.scalars(query.order_by(User.id)):
            by_username.setdefault(user.username.lower(), user)
            by_email.setdefault(user.email.lower(), user)
    return {e: u for e in wanted if (u := by_username.get(e) or by_email.get(e)) is not None}


def plan(session: Session, rows: Sequence[CsvRow], members: dict[str, Member] | None = None) -> list[RowPlan]:
    """What inviting each row would do now (the dry run; reads only). ``members``: the
    rows' members when the caller has them already."""
    return _plan(session, rows, members)[0]


def _plan(session: Session, rows: Sequence[CsvRow], members: dict[str, Member] | None
          ) -> tuple[list[RowPlan], dict[str, User]]:
    if members is None:
        members = members_by_number(session, (r.member_id for r in rows if r.member_id))
    checked = [(row, *_static_problem(row)) for row in rows]
    users = users_by_email(session, (email for _row, error, email in checked if error is None))
    first_row: dict[str, int] = {}
    plans: list[RowPlan] = []
    for row, error, detail in checked:
        base = RowPlan(row.row, row.member_id, row.email, row.role, row.name)
        member = members.get(row.member_id)
        if member is not None:
            base = replace(base, member_name=member.display_name, name=row.name or member.display_name)
        if error is not None:
            plans.append(replace(base, error=error, message=detail))
            continue
        email = detail
        role = parse_role(row.role)
        assert role is not None
        base = replace(base, email=email, role=role.value)
        earlier = first_row.setdefault(email.lower(), row.row)
        if member is None:
            plans.append(replace(base, error=RowError.UNKNOWN_MEMBER, message=f"no member with ID {row.member_id!r}"))
        elif earlier != row.row:
            plans.append(replace(base, error=RowError.DUPLICATE,
                                 message=f"{email} is already in row {earlier} of this file"))
        elif (refusal := invite_member_refusal(member)) is not None:
            plans.append(replace(base, error=RowError.MEMBER_CLOSED, message=refusal))
        elif (reason := refusal_for_user(users.get(email.lower()), email, member.id)) is not None:
            code = RowError.ALREADY_INVITED if ALREADY_INVITED in reason else RowError.ALREADY_USER
            plans.append(replace(base, error=code, message=reason))
        else:
            plans.append(replace(base, message=f"invite {email} to {member.display_name}'s account as "
                                               f"{role.value.capitalize()}"))
    return plans, users


# ------------------------------------------------------------------ running rows


def row_op_id(member_id: int, email: str) -> uuid.UUID:
    """The op id of inviting ``email`` to member ``member_id`` by bulk invite: the same
    for every run of every file, so a row runs once."""
    return uuid.uuid5(_OP_NAMESPACE, f"bulk-invite:{member_id}:{email.strip().lower()}")


class BulkInvite(InviteUser):
    """The invitation of one bulk-invite row: an :class:`InviteUser` (same kind, same
    audit action, same rules); not registered anew, only labelled for people."""

    label: ClassVar[str] = "Bulk invite"


@dataclass
class _Run:
    session: Session
    actor: Actor
    members: dict[str, Member] = field(default_factory=dict)


def _display_name(row: CsvRow, member: Member) -> str:
    """The invited person's name, as the command's validator leaves it."""
    return " ".join((row.name or member.display_name or row.email)[:200].split())


def _apply_batch(run: _Run, rows: Sequence[CsvRow]) -> list[RowOutcome]:
    """The chunk in a few statements: every row checked as the dry run checks it, then
    the invitations of the good ones written together, each exactly as
    ``execute(InviteUser)`` writes one (user, link, mail, audit, op id). Raises
    IntegrityError when someone wrote one of the addresses meanwhile (the caller then
    goes row by row)."""
    session, actor = run.session, run.actor
    plans, users = _plan(session, rows, run.members)
    commands: dict[int, BulkInvite] = {}
    for n, (row, p) in enumerate(zip(rows, plans, strict=True)):
        member = run.members.get(row.member_id)
        role = parse_role(row.role)
        if member is not None and role is not None and p.error not in (
                RowError.MISSING_VALUE, RowError.BAD_EMAIL, RowError.UNKNOWN_ROLE, RowError.MEMBER_CLOSED):
            commands[n] = BulkInvite.model_construct(
                op_id=row_op_id(member.id, row.email), member_id=member.id, email=p.email,
                display_name=_display_name(row, member), role=role)
    keys = [str(c.op_id) for c in commands.values()]
    prior: dict[str, ProcessedCommand] = {}
    for part in _chunks(keys):
        prior.update((pc.op_id, pc) for pc in session.scalars(select(ProcessedCommand).where(
            ProcessedCommand.op_id.in_(part))))
    outcomes: list[RowOutcome | None] = [None] * len(rows)
    todo: list[tuple[int, BulkInvite, Member]] = []
    for n, (row, p) in enumerate(zip(rows, plans, strict=True)):
        command = commands.get(n)
        earlier = prior.get(str(command.op_id)) if command is not None else None
        if earlier is not None and command is not None:
            same = earlier.digest == command.digest()
            outcomes[n] = RowOutcome(row.row, row.member_id, p.email, Outcome.ALREADY_DONE, None,
                                     f"{p.email} was already invited by an earlier run of this file" if same else
                                     f"{p.email} was invited to this member by an earlier bulk invite "
                                     "(with another name or role)")
        elif p.error is not None:
            outcomes[n] = RowOutcome(row.row, row.member_id, row.email, Outcome.ERROR, p.error, p.message)
        else:
            assert command is not None
            todo.append((n, command, run.members[row.member_id]))
    if todo:
        _invite_all(session, todo, users, actor)
        for n, command, _member in todo:
            outcomes[n] = RowOutcome(rows[n].row, rows[n].member_id, command.email, Outcome.INVITED, None,
                                     f"invited {command.email}")
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def _columns(obj: object) -> dict[str, Any]:
    """The attributes set on a new, unsaved entity: the values of its INSERT (the
    columns' defaults fill the rest)."""
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _audit_row(actor: Actor, action: str, entity_type: str, entity_id: int | str, details: dict[str, Any]
               ) -> dict[str, Any]:
    """One ``audit_event`` as :func:`~desktop_care.models.record` writes it."""
    return {"at": utcnow(), "actor_user_id": actor.user_id, "actor_name": actor.username, "action": action,
            "entity_type": entity_type, "entity_id": str(entity_id), "details": details,
            "impersonation_id": actor.impersonation_id, "client_address": actor.client_address, "origin": ""}


def _invite_all(session: Session, todo: list[tuple[int, BulkInvite, Member]], users: dict[str, User],
                actor: Actor) -> None:
    """Write the invitations of ``todo`` with a few multi-row INSERTs (one per table)."""
    invited: list[User] = []
    new_rows: list[dict[str, Any]] = []
    for _n, command, member in todo:
        role = UserRole(command.role.value)
        user = users.get(command.email.lower())  # a revoked user of the same account: invited again
        if user is None:
            user = User(username=command.email.lower(), email=command.email, display_name=command.display_name,
                        role=role, state=UserState.INVITED, member_id=member.id)
            new_rows.append({**_columns(user), "search_text": user_search_text(
                user.username, user.display_name, user.email, member.member_no)})
        else:
            user.email, user.display_name, user.role, user.state = (
                command.email, command.display_name, role, UserState.INVITED)
        invited.append(user)
    session.flush()  # the revoked users invited again
    ids = {username: id_ for id_, username in (
        session.execute(insert(User).returning(User.id, User.username), new_rows).all() if new_rows else [])}
    for user in invited:
        if user.id is None:
            user.id = ids[user.username]  # a plain object now (not in the session): read only below
        else:
            cancel_links(session, user.id, TokenPurpose.INVITATION)
    now = utcnow()
    links: list[tuple[UserToken, str]] = []
    for (_n, _command, member), user in zip(todo, invited, strict=True):
        token = new_secret()
        links.append((UserToken(token_hash=digest(token), user_id=user.id, member_id=member.id,
                                purpose=TokenPurpose.INVITATION, created_at=now,
                                expires_at=now + INVITATION_LIFETIME, created_by_user_id=actor.user_id), token))
    session.execute(insert(UserToken), [_columns(link) for link, _token in links])
    mails = [new_mail(**invitation_mail(user, member, token, actor))
             for (_n, _c, member), user, (_row, token) in zip(todo, invited, links, strict=True)]
    queued = [m for m in mails if m is not None]
    if queued:
        mail_ids = {message_id: id_ for id_, message_id in session.execute(
            insert(MailMessage).returning(MailMessage.id, MailMessage.message_id), [_columns(m) for m in queued])}
        for message in queued:
            message.id = mail_ids[message.message_id]
        session.info[QUEUED_KEY] = True  # the sender looks at the outbox after the commit
    audits: list[dict[str, Any]] = []
    processed: list[dict[str, Any]] = []
    for (_n, command, member), user, (link, _token), mail in zip(todo, invited, links, mails, strict=True):
        if mail is not None:
            audits.append(_audit_row(actor, "mail.queued", "member", member.id, {
                "template": mail.template, "to": mail.to_address, "message_id": mail.message_id,
                "mail_id": mail.id, "category": mail.category.value}))
        op_id = str(command.op_id)
        details = invitation_details(user, link.expires_at, mail.message_id if mail is not None else None)
        audits.append(_audit_row(actor, command.action, "member", member.id,
                                 {"op_id": op_id, "member_no": member.member_no, **details}))
        processed.append({
            "op_id": op_id, "kind": command.kind, "digest": command.digest(), "entity": "member",
            "entity_id": member.id, "actor_user_id": actor.user_id,
            "result": CommandResult(op_id=op_id, status=Status.APPLIED,
                                    member_version=member.version).model_dump(mode="json")})
    session.execute(insert(AuditEvent), audits)
    session.execute(insert(ProcessedCommand), processed)


def _apply_one(run: _Run, row: CsvRow) -> RowOutcome:
    def error(code: RowError, message: str) -> RowOutcome:
        return RowOutcome(row.row, row.member_id, row.email, Outcome.ERROR, code, message)

    missing, _ = _static_problem(replace(row, email="a@example.org"))  # the e-mail is checked once, below
    if missing is not None:
        return error(missing, _)
    member = run.members.get(row.member_id)
    if member is None:
        return error(RowError.UNKNOWN_MEMBER, f"no member with ID {row.member_id!r}")
    refusal = invite_member_refusal(member)
    if refusal is not None:
        return error(RowError.MEMBER_CLOSED, refusal)
    role = parse_role(row.role)
    assert role is not None
    try:
        command = BulkInvite(op_id=row_op_id(member.id, row.email), member_id=member.id, email=row.email,
                             display_name=(row.name or member.display_name or row.email)[:200], role=role)
    except ValidationError as exc:
        problem = exc.errors()[0]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["loc"] and problem["loc"][0] == "email":
            return error(RowError.BAD_EMAIL, f"{row.email!r} {message}")
        return error(RowError.MISSING_VALUE, message)
    email = command.email
    savepoint = run.session.begin_nested()
    try:
        result = execute(run.session, command, run.actor)
    except IntegrityError:
        # Someone invited the same address at the same moment (a unique username).
        savepoint.rollback()
        return error(RowError.ALREADY_INVITED, f"{email} was invited by someone else at the same moment")
    except OpIdReused:
        savepoint.rollback()
        return RowOutcome(row.row, row.member_id, email, Outcome.ALREADY_DONE, None,
                          f"{email} was invited to this member by an earlier bulk invite (with another name or role)")
    except BaseException:
        savepoint.rollback()
        raise
    if result.status is Status.APPLIED:
        savepoint.commit()
        return RowOutcome(row.row, row.member_id, email, Outcome.INVITED, None, f"invited {email}")
    # Rejected: nothing of it is kept (not even its op id), so a later run may try it again.
    savepoint.rollback()
    if result.status is Status.DUPLICATE and result.original_status is Status.APPLIED:
        return RowOutcome(row.row, row.member_id, email, Outcome.ALREADY_DONE, None,
                          f"{email} was already invited by an earlier run of this file")
    code = RowError.REFUSED
    if ALREADY_INVITED in result.reason:
        code = RowError.ALREADY_INVITED
    elif ALREADY_A_USER in result.reason:
        code = RowError.ALREADY_USER
    return RowOutcome(row.row, row.member_id, email, Outcome.ERROR, code, result.reason)


def apply_rows(session: Session, rows: Sequence[CsvRow], actor: Actor) -> list[RowOutcome]:
    """Invite ``rows`` in the caller's transaction, each row whole or not at all (a
    savepoint each); one outcome per row, in order. Raises NotPermitted (before
    anything is done) when the actor may not invite."""
    reason = BulkInvite.refusal(actor.role)
    if reason is not None:
        raise NotPermitted(reason)
    numbers = [r.member_id for r in rows if r.member_id]
    run = _Run(session, actor, members_by_number(session, numbers, lock=True))
    try:
        with session.begin_nested():
            return _apply_batch(run, rows)
    except IntegrityError:
        # Someone invited one of these addresses at the same moment: row by row now,
        # each in its own savepoint, so that only that row is refused.
        return [_apply_one(run, row) for row in rows]
