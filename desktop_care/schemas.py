"""The REST contract (``/api/v1``): pydantic models shared by server and client.

The server returns these; the workstation's ``ApiClient`` parses responses into the
same classes, so plain, typed, immutable data (never ORM objects) crosses threads.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from .models.choices import (
    AnimalStatus,
    BlockKind,
    BlockReason,
    BlockState,
    EntryKind,
    EventKind,
    MailState,
    PaymentMethod,
    PointsType,
    RefundState,
    Sex,
    TicketPriority,
    TicketState,
    TransferState,
    TxnKind,
    TxnStatus,
    UserRole,
    UserState,
)
from .models.member import AddressKind, EmailCategory, MemberStatus
from .models.search import MemberSearch


class Schema(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class Health(Schema):
    status: str
    version: str
    database: str


class LoginRequest(Schema):
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=1024)
    #: "Remember me": also issue a long-lived credential for this workstation's keyring.
    remember: bool = False


class ResumeRequest(Schema):
    """A workstation's remembered sign-in (``LoginResponse.remember_token``)."""

    remember_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(Schema):
    #: The workstation's remembered sign-in, to end with the session (sign out).
    remember_token: str | None = Field(default=None, max_length=200)


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
    #: With ``remember``: the remembered sign-in, for the system keyring only; it can
    #: only be exchanged at ``POST /auth/resume``, until ``remember_expires_at``.
    remember_token: str | None = None
    remember_expires_at: dt.datetime | None = None


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


#: The member columns a compact feed page carries, in this order (``MemberRecord``'s
#: fields without the addresses).
COMPACT_MEMBER_COLUMNS: tuple[str, ...] = tuple(name for name in MemberRecord.model_fields if name != "addresses")
#: The address columns, in this order (``AddressOut``'s fields and the owner).
COMPACT_ADDRESS_COLUMNS: tuple[str, ...] = ("member_id", *AddressOut.model_fields)
#: The search row's columns, in this order (the server's ``member_search`` without the id).
COMPACT_SEARCH_COLUMNS: tuple[str, ...] = tuple(c.name for c in MemberSearch.__table__.columns if c.name != "member_id")


def wire_time(value: dt.datetime) -> str:
    """A time as the compact feed writes it: UTC, always with microseconds
    (``2026-12-03T08:00:00.000000Z``), so that a workstation stores it without parsing."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CompactFeedPage(BaseModel):
    """``GET /sync/changes/compact``: the change feed as ``GET /sync/changes`` serves it
    (the same changes, cursor and epoch), with the rows as arrays under their column
    names given once, and each member's search row as the server keeps it. Made for a
    workstation's first sync of a large directory (docs/decisions/0040)."""

    model_config = ConfigDict(frozen=True)

    #: The names of the values in each ``members`` row: the member's columns, then the
    #: server's search row for it (``search_columns``; all null for a member the search
    #: does not find, a merged one).
    member_columns: list[str]
    search_columns: list[str]
    #: The members changed in this page, each its current state, in sequence order.
    #: Times are UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; statuses by their value.
    members: list[list[Any]]
    address_columns: list[str]
    #: Every address of those members.
    addresses: list[list[Any]]
    #: Ids of members deleted (tombstones).
    deleted: list[int]
    #: How many changes the page holds (members and tombstones).
    size: int
    cursor: int
    has_more: bool
    latest: int | None = None
    epoch: str | None = None


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


class TimelineKind(enum.StrEnum):
    """The filter chips of a member's timeline (``GET /members/{id}/timeline?kind=``)."""

    ACCOUNT = "account"
    STATUS = "status"
    MERGE = "merge"
    MAIL = "mail"
    TICKETS = "tickets"
    MONEY = "money"
    COURSES = "courses"
    ANIMALS = "animals"
    ON_BEHALF = "on_behalf"

    @property
    def label(self) -> str:
        return {"account": "Account", "status": "Status", "merge": "Merges", "mail": "Mail",
                "tickets": "Tickets", "money": "Orders & payments", "courses": "Courses",
                "animals": "Animals", "on_behalf": "On behalf"}[self.value]


class TimelineEntry(Schema):
    """One thing that happened to a member (the Timeline tab), from the audit or from
    the ledger that owns it (docs/decisions/0029-member-timeline.md)."""

    #: ``source:id``, unique in the timeline (``audit:17``, ``account_txn:4``...).
    key: str
    kind: TimelineKind
    at: dt.datetime
    #: The audited action (``member.update_contact``), or the ledger's event
    #: (``txn.payment``, ``ticket.reply``, ``animal.registered``, ``course.registered``).
    action: str
    #: The real actor (staff display name; "System" when nobody did it by hand).
    actor_name: str
    actor_username: str = ""
    #: Set when the actor did it while acting on behalf of the member.
    impersonation_id: str | None = None
    origin: str = ""
    client_address: str = ""
    #: One line ("Payment £20.00 by cash, settled"), and more lines for a tooltip.
    summary: str
    detail: str = ""
    #: An audit event's details as recorded (empty for ledger rows).
    details: dict[str, Any] = Field(default_factory=dict)
    #: What the entry opens, when it is about a ticket or an order.
    ticket_id: int | None = None
    order_no: str | None = None


class TimelinePage(Schema):
    """``GET /members/{id}/timeline``: newest first, a keyset page; ``counts`` (entries
    of each kind, ignoring the kind filter) on the first page only."""

    items: list[TimelineEntry]
    next_cursor: str | None = None
    counts: dict[TimelineKind, int] | None = None
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


# ---------------------------------------------------------------------- acting on behalf


class OnBehalfIn(BaseModel):
    """``POST /members/{id}/on-behalf``: why staff act on the member's behalf, and
    (optionally) as which of its portal users."""

    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str = Field(min_length=1, max_length=500, description="Why; blank after trimming is refused (422)")
    user_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class OnBehalfOut(Schema):
    """A one-time token to open the portal on the member's behalf: load ``url`` (on
    the server's address) before ``token_expires_at``; it works once."""

    session_id: str
    token: str
    #: The portal path that exchanges the token for the session (``/portal/on-behalf?token=…``).
    url: str
    token_expires_at: dt.datetime
    #: The session's hard time limit, counted from the exchange.
    time_limit_seconds: int
    member_id: int
    member_no: str
    member_name: str
    staff_name: str


class OnBehalfState(Schema):
    """``GET /on-behalf/{session_id}``: whether the session is still open."""

    session_id: str
    member_id: int
    staff_user_id: int
    reason: str
    live: bool
    exchanged_at: dt.datetime | None
    expires_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str


class OnBehalfEndIn(BaseModel):
    """``POST /on-behalf/{session_id}/end``: why the console ends the session."""

    model_config = ConfigDict(extra="forbid", strict=True)
    why: Literal["view_closed", "sign_in_as_yourself", "sign_out", "time_limit"] = "view_closed"


class OnBehalfSettings(BaseModel):
    """``GET``/``PUT /settings/on-behalf``: whether members get an e-mail when staff
    act on their behalf (with the reason)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    notify_member: bool
# ---------------------------------------------------------------------- orders


class OrderLineOut(Schema):
    description: str
    quantity: int
    unit_cents: int
    amount_cents: int


class OrderOut(Schema):
    """One order of a member (as order contact or registrant): the console's Orders tab."""

    id: int
    order_no: str
    created_at: dt.datetime
    description: str
    currency: str
    amount_cents: int
    #: unpaid, payment_pending, paid, cancelled
    state: str
    contact_member_id: int
    contact_name: str
    #: Whether this member is the order contact (only then can it be marked exported here).
    is_contact: bool
    exported: bool
    exported_at: dt.datetime | None = None
    exported_by: str = ""
    invoice_no: str | None = None
    lines: list[OrderLineOut]


class OrderList(Schema):
    """``GET /members/{id}/orders``: every order of the member, newest first (one page)."""

    items: list[OrderOut]
    total: int
    #: Always null: the list comes whole (a member has tens of orders, not thousands).
    next_cursor: str | None = None
class DuplicateCheckIn(BaseModel):
    """``POST /members/likely-duplicates``: the person about to be registered (in the
    body, so that e-mail addresses stay out of URLs and access logs)."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(default="", max_length=254)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=20)


class LikelyDuplicate(Schema):
    """A member who may be the same person, and why (``same_email``,
    ``same_name_and_postcode``)."""

    member: MemberSummary
    reasons: list[Literal["same_email", "same_name_and_postcode"]]


class DuplicateList(Schema):
    items: list[LikelyDuplicate]
# ---------------------------------------------------------------------- fraud stop (decision 0022)


class FraudBlockOut(Schema):
    id: int
    kind: BlockKind
    value: str
    card_brand: str = ""
    card_bin: str = ""
    card_last4: str = ""
    reason_code: BlockReason
    note: str = ""
    source: str = ""
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None = None
    lifted_at: dt.datetime | None = None
    lifted_by: str = ""
    lift_reason: str = ""
    state: BlockState
    would_have_blocked: int = 0
    last_blocked_at: dt.datetime | None = None


class FraudBlockPage(Schema):
    items: list[FraudBlockOut]
    total: int
    total_exact: bool = True
    #: The ``offset`` of the next page (None on the last).
    next_cursor: str | None = None


class FraudStopCandidate(Schema):
    """One thing a FRAUD-STOP would block, prefilled for the confirm dialog."""

    kind: BlockKind
    value: str
    #: Where it was seen, for people ("last portal sign-in, 2 Dec 10:04").
    seen: str = ""
    card_brand: str = ""
    card_bin: str = ""
    card_last4: str = ""
    #: Already blocked by this active block (nothing to do).
    blocked_by: int | None = None


class FraudStopOut(Schema):
    member_id: int
    member_no: str
    source: str
    candidates: list[FraudStopCandidate]


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
    #: ``reply``: e-mailed to the member; ``note``: internal, staff only;
    #: ``message``: from the member (the portal's Contact us).
    kind: EntryKind
    body: str
    author_name: str
    created_at: dt.datetime
    #: The ticket it was written on: another one's when that was merged into this.
    ticket_id: int
    #: For a reply: the delivery state of its e-mail (None when none was queued).
    mail_state: MailState | None = None


class TicketDetail(TicketSummary):
    """``GET /tickets/{id}``: a ticket with its whole thread, oldest first."""

    created_by: str
    first_response_due_at: dt.datetime
    resolution_due_at: dt.datetime
    first_responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    #: While merged (state ``merged``): the ticket whose thread shows this one's.
    merged_into_id: int | None = None
    #: The tickets merged into this one (their entries are in ``entries``).
    merged_ids: list[int] = []
    entries: list[TicketEntryOut]


# ---------------------------------------------------------------------- payment manager


class LedgerEntryOut(Schema):
    """One transaction of a member's account (the Payments tab), with the running
    balance: the settled balance once this entry is counted (a pending entry counts
    once it settles; a cancelled one never does)."""

    id: int
    at: dt.datetime
    kind: TxnKind
    status: TxnStatus
    description: str
    #: Minor units of ``currency``: positive is owed (charges, refunds), negative paid
    #: or credited (payments, credit notes).
    amount_cents: int
    currency: str
    balance_cents: int
    method: PaymentMethod | None = None
    #: A manual payment's cheque number, bank reference or receipt number.
    method_reference: str = ""
    #: A credit note's or refund's reason.
    note: str = ""
    order_id: int | None = None
    order_no: str | None = None
    #: A refund: the payment it pays back.
    refund_of_id: int | None = None
    recorded_by: str = ""
    settled_at: dt.datetime | None = None
    #: A payment: what refunds paid back or are paying back (pending at the provider),
    #: what refunds awaiting approval hold, and what may still be refunded.
    refunded_cents: int = 0
    awaiting_approval_cents: int = 0
    refundable_cents: int = 0


class LedgerPage(Schema):
    """``GET /members/{id}/ledger``: the account's transactions, newest first, with the
    account's figures (the first entry's ``balance_cents`` equals ``balance_cents``)."""

    items: list[LedgerEntryOut]
    total: int
    next_cursor: str | None = None
    #: The settled balance (positive: the member owes it; negative: in credit).
    balance_cents: int
    pending_count: int
    pending_cents: int
    #: Refunds above this need a second staff member's approval.
    approval_threshold_cents: int


class RefundOut(Schema):
    """One refund: asked for, awaiting approval, gone ahead, done, rejected or failed."""

    id: int
    member_id: int
    member_no: str
    member_name: str
    payment_txn_id: int
    amount_cents: int
    currency: str
    method: PaymentMethod
    reason: str
    state: RefundState
    requested_at: dt.datetime
    requested_by: str
    requested_by_user_id: int | None = None
    decided_at: dt.datetime | None = None
    decided_by: str = ""
    decision_reason: str = ""
    failure: str = ""


class RefundList(Schema):
    """Refunds, one page (``total`` counts them all)."""

    items: list[RefundOut]
    total: int


class RefundSettings(Schema):
    """``GET /settings/refunds``; changed by the ``set_refund_approval_threshold`` command."""

    approval_threshold_cents: int
# ---------------------------------------------------------------- courses (decision 0020)


class CourseRegistrationOut(Schema):
    """One course registration of a member (as registrant or order contact)."""

    id: int
    course_code: str
    course_title: str
    session_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    where: str
    #: registered, transferred, cancelled, completed
    state: str
    registrant_member_id: int
    registrant_name: str
    contact_member_id: int
    contact_name: str
    #: Whether this member attends (else they booked it for the registrant).
    is_registrant: bool
    order_no: str | None = None
    order_state: str | None = None
    currency: str
    price_cents: int
    #: A cancelled paid registration: what is due back (staff manage the refund).
    refund_due_cents: int = 0
    certificate_code: str | None = None


class WaitingEntryOut(Schema):
    """One waiting-list place of a member."""

    id: int
    course_code: str
    course_title: str
    session_id: int
    starts_at: dt.datetime
    #: waiting, offered, accepted, declined, expired, removed
    state: str
    #: 1 for the next in line (waiting entries only).
    queue_position: int | None = None
    offer_expires_at: dt.datetime | None = None
    #: Free places on the session now (an offer needs one).
    free_places: int


class EnrolmentOut(Schema):
    """One e-learning enrolment of a member, with its progress."""

    id: int
    module_code: str
    module_title: str
    sections_done: int
    sections_total: int
    enrolled_at: dt.datetime
    completed_at: dt.datetime | None = None


class MemberCourses(Schema):
    """``GET /members/{id}/courses``: a member's registrations, waiting-list places and
    e-learning (whole lists: tens of rows, not thousands)."""

    registrations: list[CourseRegistrationOut]
    waiting: list[WaitingEntryOut]
    elearning: list[EnrolmentOut]
# ---------------------------------------------------------------------- animals (herd book)


class AnimalParent(Schema):
    reg_no: str
    name: str


class AnimalOut(Schema):
    """One registered animal (the console's Animals tab, lookups)."""

    id: int
    reg_no: str
    name: str
    #: The breed's code and name.
    breed: str
    breed_name: str
    sex: Sex
    born: dt.date
    status: AnimalStatus
    sire: AnimalParent | None
    dam: AnimalParent | None
    owner_member_id: int
    owner_member_no: str
    owner_name: str
    registered_at: dt.datetime


class AnimalEventOut(Schema):
    at: dt.datetime
    kind: EventKind
    #: {field: [before, after]}
    changes: dict[str, Any]
    reason: str
    actor_name: str
    #: The on-behalf session the change was made in, if any.
    impersonation_id: str | None


class AnimalOwnerOut(Schema):
    member_no: str
    name: str
    since: dt.datetime
    until: dt.datetime | None


class AnimalTransferOut(Schema):
    id: int
    reg_no: str
    animal_name: str
    from_member_id: int
    from_member_no: str
    from_name: str
    to_member_id: int
    to_member_no: str
    to_name: str
    #: As it is now: a pending transfer past ``expires_at`` is ``expired``.
    state: TransferState
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None


class AnimalDetail(AnimalOut):
    """``GET /animals/{reg_no}``: an animal with its history, owners and transfers."""

    history: list[AnimalEventOut]
    owners: list[AnimalOwnerOut]
    transfers: list[AnimalTransferOut]


class AnimalList(Schema):
    """``GET /members/{id}/animals``: the member's animals (youngest first, one page)
    and the transfers waiting for an answer that they offered or may accept."""

    items: list[AnimalOut]
    total: int
    #: Always null: the list comes whole.
    next_cursor: str | None = None
    transfers: list[AnimalTransferOut]


_REG_NO = Field(default="", max_length=30, description="A registration number, like HER-2026-00017-7")


class AnimalIn(BaseModel):
    """``POST /members/{id}/animals``: register an animal to the member."""

    model_config = ConfigDict(extra="forbid")
    op_id: uuid.UUID | None = Field(default=None, description="Sent again, the same registration is not made twice")
    name: str = Field(min_length=1, max_length=60, pattern=r"\S")
    breed: str = Field(min_length=3, max_length=3, description="The breed's code, e.g. HER")
    sex: Sex
    born: dt.date
    sire: str = _REG_NO
    dam: str = _REG_NO


class AnimalCorrectionIn(BaseModel):
    """``POST /animals/{reg_no}/corrections``: maintain an animal's details. Fields left
    out stay as they are; a change of sex, date of birth, sire or dam needs a reason."""

    model_config = ConfigDict(extra="forbid")
    op_id: uuid.UUID | None = None
    name: str | None = Field(default=None, min_length=1, max_length=60, pattern=r"\S")
    status: AnimalStatus | None = None
    sex: Sex | None = None
    born: dt.date | None = None
    sire: str | None = Field(default=None, max_length=30)
    dam: str | None = Field(default=None, max_length=30)
    reason: str = Field(default="", max_length=500)


class AnimalTransferIn(BaseModel):
    """``POST /animals/{reg_no}/transfers``: offer the animal to another member."""

    model_config = ConfigDict(extra="forbid")
    op_id: uuid.UUID | None = None
    to_member: str = Field(min_length=1, max_length=20, pattern=r"\S", description="The recipient's member ID")
