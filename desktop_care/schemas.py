"""The REST contract (``/api/v1``): pydantic models shared by server and client.

The server returns these; the workstation's ``ApiClient`` parses responses into the
same classes, so plain, typed, immutable data (never ORM objects) crosses threads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from .commands import AnyCommand, CommandResult, QueueableCommand
from .commands.accounts import PortalRole
from .commands.merge import MergeInfo, MergePlan  # noqa: F401  (part of the contract)
from .models.ledger import PointsType, TxnStatus
from .models.mail import MailState
from .models.member import AddressKind, EmailCategory, MemberStatus
from .models.tickets import EntryKind, TicketPriority, TicketState
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
    #: The portal shows only the renew-and-pay page (see ``MemberRecord``).
    blocked_for_balance: bool = False
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
    #: For an invited user: until when the newest invitation link works.
    invitation_expires_at: dt.datetime | None = None
    #: Failed sign-ins in a row, and until when sign-in is refused (throttled) if it is.
    failed_sign_ins: int = 0
    locked_until: dt.datetime | None = None


class UserListItem(PortalUserOut):
    """One row of the Society Users page: any user, staff or not."""

    member_id: int | None
    #: The member ID of the account a portal user belongs to.
    member_no: str | None
    created_at: dt.datetime
    version: int


class UserPage(Schema):
    items: list[UserListItem]
    #: How many users match in all; when ``total_exact`` is false, at least this many.
    total: int
    total_exact: bool = True
    #: Pass as ``cursor`` to get the next page; None on the last page.
    next_cursor: str | None = None


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
    #: E-mail choices by category (service mail is always sent).
    email_newsletters: bool = False
    email_offers: bool = False
    email_event_reminders: bool = False
    status: MemberStatus
    #: While deactivated: the status Reactivate restores.
    status_before_hold: MemberStatus | None = None
    merged_into_id: int | None
    #: Blocked for payment: the member can sign in to the portal but sees only the
    #: page to renew and pay; why, when and by whom (blank/None while not blocked).
    blocked_for_balance: bool
    blocked_reason: str = ""
    blocked_at: dt.datetime | None = None
    blocked_by: str = ""
    points_balance: int
    account_balance_cents: int
    pending_count: int
    pending_cents: int
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    addresses: list[AddressOut]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def email_opt_in(self) -> bool:
        """Opted in to at least one category of e-mail."""
        return self.email_newsletters or self.email_offers or self.email_event_reminders


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
    #: The feed's epoch: a random id made with the server's database. A workstation
    #: that stored another epoch is looking at another database (a restored backup, a
    #: replacement, even one whose feed is ahead of its cursor) and pulls everything again.
    epoch: str | None = None


class CommandBatch(BaseModel):
    """``POST /sync/commands``: commands to run in order, each once (by op_id)."""

    commands: list[QueueableCommand] = Field(min_length=1, max_length=200)


class CommandRequest(BaseModel):
    """``POST /commands``: one command of any kind, run at once."""

    command: AnyCommand


class CommandBatchResult(Schema):
    results: list[CommandResult]


class PointsEntryOut(Schema):
    """One line of a member's points ledger (the Points tab)."""

    id: int
    at: dt.datetime
    delta: int
    points_type: PointsType
    reason: str
    #: The staff member who made it (their display name), or "System" (imports, demo).
    actor_name: str


class PointsPage(Schema):
    """``GET /members/{id}/points``: the ledger, newest first."""

    items: list[PointsEntryOut]
    total: int
    next_cursor: str | None = None


class HistoryEvent(Schema):
    """One audited action on a member's account (the History tab)."""

    id: int
    at: dt.datetime
    #: e.g. "member.update_contact", "member.adjust_points", "mail.queued".
    action: str
    #: The real staff member: their display name (username if they have none).
    actor_name: str
    actor_username: str
    #: The workstation that recorded the change (its id), and the address it came from.
    origin: str
    client_address: str
    impersonation_id: str | None = None
    #: What changed: ``before``/``after`` for edits; template/to for mail; etc.
    details: dict[str, Any]


class HistoryPage(Schema):
    """``GET /members/{id}/history``: newest first."""

    items: list[HistoryEvent]
    total: int
    next_cursor: str | None = None
class MailOut(Schema):
    """One e-mail queued for a member, and how its delivery went."""

    id: int
    message_id: str
    template: str
    category: EmailCategory
    to: str
    subject: str
    state: MailState
    attempts: int
    last_error: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class MailPage(Schema):
    items: list[MailOut]
    total: int
    #: Pass as ``cursor`` for the next (older) page; None on the last page.
    next_cursor: str | None = None


class OnlineCommandIn(BaseModel):
    """The body of an online-only action: an optional op_id makes a retry safe (the
    same op_id runs once)."""

    model_config = ConfigDict(extra="forbid")
    op_id: uuid.UUID | None = None


class InvitationIn(OnlineCommandIn):
    """``POST /members/{id}/invitations``: who to invite to the member's portal account."""

    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(min_length=1, max_length=200)
    role: PortalRole


class StaffInvitationIn(BaseModel):
    """``POST /staff/invitations``: a person to invite as staff."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(min_length=1, max_length=200)
    role: Literal[UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN]


class AccountActionOut(Schema):
    """What an account action did: the user it concerned, where the e-mail went and
    until when its link works."""

    op_id: str
    status: str
    user: PortalUserOut
    to: str = ""
    expires_at: dt.datetime | None = None
    message: str


class ErrorDetail(Schema):
    """Body of every error response: ``{"detail": ..., "fields": {...}}``."""

    detail: str
    #: For 422: the offending field names mapped to a plain-words message.
    fields: dict[str, str] = Field(default_factory=dict)


# ---------------------------------------------------------------------- tickets


class TicketSummary(Schema):
    """One row of a ticket queue (``GET /tickets``, ``GET /members/{id}/tickets``)."""

    id: int
    #: The op_id of the OpenTicket that created it; commands name the ticket by it.
    uid: str
    member_id: int
    member_no: str
    member_name: str
    subject: str
    queue: str
    priority: TicketPriority
    state: TicketState
    assignee_id: int | None
    assignee_name: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: The due time that matters now: the first response's until there is one, then
    #: the resolution's.
    next_due_at: dt.datetime
    due_kind: Literal["first response", "resolution"]
    #: Business minutes left until ``next_due_at`` (negative: overdue); None once the
    #: ticket is resolved or closed.
    minutes_left: int | None
    overdue: bool


class TicketPage(Schema):
    items: list[TicketSummary]
    #: How many tickets match in all; when ``total_exact`` is false, at least this many.
    total: int
    total_exact: bool = True
    #: Pass as ``cursor`` to get the next page; None on the last page.
    next_cursor: str | None = None


class TicketEntryOut(Schema):
    """One entry of a ticket's thread."""

    id: int
    #: ``reply``: e-mailed to the member; ``note``: internal, staff only.
    kind: EntryKind
    body: str
    author_name: str
    created_at: dt.datetime
    #: For a reply: the delivery state of its e-mail (None when none was queued).
    mail_state: MailState | None = None


class TicketDetail(TicketSummary):
    """``GET /tickets/{id}``: a ticket with its whole thread, oldest first."""

    created_by: str
    first_response_due_at: dt.datetime
    resolution_due_at: dt.datetime
    first_responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    entries: list[TicketEntryOut]
