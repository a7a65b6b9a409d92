"""The REST contract (``/api/v1``): pydantic models shared by server and client.

The server returns these; the workstation's ``ApiClient`` parses responses into the
same classes, so plain, typed, immutable data (never ORM objects) crosses threads.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from .commands import AnyCommand, CommandResult, QueueableCommand
from .models.ledger import TxnStatus
from .models.member import AddressKind, MemberStatus
from .models.user import UserRole, UserState


class Schema(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class Health(Schema):
    status: str
    version: str
    database: str


class LoginRequest(Schema):
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=1024)


class StaffPublic(Schema):
    id: int
    username: str
    display_name: str
    email: str
    role: UserRole


class LoginResponse(Schema):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    user: StaffPublic


class MemberSummary(Schema):
    """One row of the member search results."""

    id: int
    member_no: str
    name: str
    email: str
    phone: str
    postcode: str
    status: MemberStatus
    points_balance: int
    account_balance_cents: int
    pending_count: int
    pending_cents: int
    last_login_at: dt.datetime | None
    #: Changes queued on this workstation and not yet accepted by the server (the
    #: server always says 0; the workstation's local store fills it in).
    pending_changes: int = 0


class MemberPage(Schema):
    items: list[MemberSummary]
    #: How many members match in all; when ``total_exact`` is false, at least this many.
    total: int
    total_exact: bool = True
    #: Pass as ``cursor`` to get the next page; None on the last page.
    next_cursor: str | None = None


class AddressOut(Schema):
    id: int
    kind: AddressKind
    line1: str
    line2: str
    city: str
    region: str
    postcode: str
    country: str


class PortalUserOut(Schema):
    id: int
    username: str
    email: str
    display_name: str
    role: UserRole
    state: UserState
    last_login_at: dt.datetime | None


class TransactionOut(Schema):
    id: int
    amount_cents: int
    description: str
    status: TxnStatus
    created_at: dt.datetime


class MemberRecord(Schema):
    """One member as replicated to workstations by the change feed (and the core of
    :class:`MemberDetail`)."""

    id: int
    member_no: str
    logon_id: str
    title: str
    first_name: str
    last_name: str
    email: str
    phone: str
    email_opt_in: bool
    status: MemberStatus
    merged_into_id: int | None
    blocked_for_balance: bool
    points_balance: int
    account_balance_cents: int
    pending_count: int
    pending_cents: int
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    addresses: list[AddressOut]


class MemberDetail(MemberRecord):
    """Everything the details view shows about one member."""

    name: str
    users: list[PortalUserOut]
    pending_transactions: list[TransactionOut]
    #: One line per change queued on this workstation for this member (local only).
    pending_changes: list[str] = Field(default_factory=list)
    #: False when a workstation built this from its replicated directory row only
    #: (offline, details never fetched): ``users`` and ``pending_transactions`` are
    #: then unknown, not empty. The server always says True.
    detail_cached: bool = True


class FeedChange(Schema):
    """The latest state of one entity: an upsert (``member`` set) or a tombstone."""

    seq: int
    entity: str
    id: int
    deleted: bool
    member: MemberRecord | None = None


class FeedPage(Schema):
    """``GET /sync/changes``: changes after the cursor, in sequence order."""

    changes: list[FeedChange]
    #: Pass as ``after`` next time: the seq of the last change here (or the ``after``
    #: that was asked for, when there were none).
    cursor: int
    has_more: bool
    #: The highest sequence number the server has handed out. A workstation whose
    #: cursor is above it is looking at a different (reset or restored) database and
    #: must pull everything again.
    latest: int | None = None


class CommandBatch(BaseModel):
    """``POST /sync/commands``: commands to run in order, each once (by op_id)."""

    commands: list[QueueableCommand] = Field(min_length=1, max_length=200)


class CommandRequest(BaseModel):
    """``POST /commands``: one command of any kind, run at once."""

    command: AnyCommand


class CommandBatchResult(Schema):
    results: list[CommandResult]


class ErrorDetail(Schema):
    """Body of every error response: ``{"detail": ..., "fields": {...}}``."""

    detail: str
    #: For 422: the offending field names mapped to a plain-words message.
    fields: dict[str, str] = Field(default_factory=dict)
