"""Members (the accounts of the organisation) and their addresses."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE

from .base import Base, UTCDateTime, utcnow


class MemberStatus(enum.StrEnum):
    """Membership status (see the "Change Status" manual; the rules are in
    :mod:`desktop_care.models.status`).

    ``ENROLLED``: a member of the programme; ``ACTIVE``: an account that is not
    enrolled but can sign in; ``INACTIVE``: un-enrolled — the membership is closed
    (no sign-in, no points, no offers, e-mail off) until it is enrolled again;
    ``DEACTIVATED``: also shown as "Inactive" in the manual, but on hold — no sign-in,
    no accrual, points kept — and only Reactivate brings it back, to the status it
    had (``Member.status_before_hold``); ``MERGED``: merged into another member,
    kept only as a pointer (``merged_into_id``).
    """

    ENROLLED = "enrolled"
    ACTIVE = "active"
    INACTIVE = "inactive"
    DEACTIVATED = "deactivated"
    MERGED = "merged"


class AddressKind(enum.StrEnum):
    HOME = "home"
    POSTAL = "postal"
    BILLING = "billing"


class EmailCategory(enum.StrEnum):
    """What an e-mail is about. Members choose, per category except ``SERVICE``,
    whether they get it; service mail (password reset, invitation, confirmations) is
    always sent."""

    NEWSLETTERS = "newsletters"
    OFFERS = "offers"
    EVENT_REMINDERS = "event_reminders"
    SERVICE = "service"

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]

    @property
    def column(self) -> str:
        """The member column that holds the choice (``email_newsletters``)."""
        return f"email_{self.value}"


_CATEGORY_LABELS = {
    EmailCategory.NEWSLETTERS: "Newsletters",
    EmailCategory.OFFERS: "Offers",
    EmailCategory.EVENT_REMINDERS: "Event reminders",
    EmailCategory.SERVICE: "Service messages",
}

#: The categories a member can opt in to or out of, in the order people see them.
OPTIONAL_CATEGORIES: tuple[EmailCategory, ...] = (
    EmailCategory.NEWSLETTERS, EmailCategory.OFFERS, EmailCategory.EVENT_REMINDERS,
)

#: The member columns of those choices: what a change that turns every category on or
#: off writes (and stamps, for field-level conflicts).
EMAIL_CHOICE_COLUMNS: frozenset[str] = frozenset(f"email_{c.value}" for c in OPTIONAL_CATEGORIES)


class ImmutableFieldError(ValueError):
    """Raised when code tries to change a field that never changes (the logon ID)."""


class Member(Base):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The member number staff quote and search by ("1000042").
    member_no: Mapped[str] = mapped_column(String(20), unique=True)
    #: The member's sign-in name for the portal; set once, never changed.
    logon_id: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(20), default="")
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: E-mail choices by category (see EmailCategory; service mail is always sent).
    email_newsletters: Mapped[bool] = mapped_column(Boolean, default=False)
    email_offers: Mapped[bool] = mapped_column(Boolean, default=False)
    email_event_reminders: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[MemberStatus] = mapped_column(
        Enum(MemberStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=MemberStatus.ENROLLED,
    )
    #: While ``DEACTIVATED``: the status Reactivate restores (enrolled or active).
    status_before_hold: Mapped[MemberStatus | None] = mapped_column(
        Enum(MemberStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=None,
    )
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), default=None)
    #: Access to the portal blocked until the unpaid balance is paid.
    blocked_for_balance: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why, when and by whom (the staff member's name) the portal was blocked; blank
    #: and None while not blocked.
    blocked_reason: Mapped[str] = mapped_column(String(500), default="")
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    blocked_by: Mapped[str] = mapped_column(String(120), default="")

    # Summary columns, kept equal to their ledgers by the functions in ledger.py
    # (invariant 2) so that search results need no aggregate per row.
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    account_balance_cents: Mapped[int] = mapped_column(Integer, default=0)
    pending_count: Mapped[int] = mapped_column(Integer, default=0)
    pending_cents: Mapped[int] = mapped_column(Integer, default=0)
    #: The most recent portal sign-in of any user of this member's account.
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: For each field written by a command: [member version that wrote it, origin
    #: workstation] (field-level conflict detection of offline changes).
    field_versions: Mapped[dict[str, list[int | str | None]]] = mapped_column(JSON, default=dict)

    addresses: Mapped[list[Address]] = relationship(
        back_populates="member", cascade="all, delete-orphan", order_by="Address.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy declares its type)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def email_opt_in(self) -> bool:
        """Opted in to at least one category of e-mail."""
        return any(getattr(self, c.column) for c in OPTIONAL_CATEGORIES)

    @email_opt_in.setter
    def email_opt_in(self, wanted: bool) -> None:
        """Opt in to, or out of, every category at once."""
        for category in OPTIONAL_CATEGORIES:
            setattr(self, category.column, wanted)

    def wants(self, category: EmailCategory) -> bool:
        """Whether mail of ``category`` may be sent to this member."""
        if category == EmailCategory.SERVICE:
            return True
        return bool(getattr(self, category.column))

    @property
    def home_address(self) -> Address | None:
        for address in self.addresses:
            if address.kind == AddressKind.HOME:
                return address
        return self.addresses[0] if self.addresses else None


@event.listens_for(Member.logon_id, "set", propagate=True, active_history=True)
def _logon_id_is_immutable(target: Member, value: str, oldvalue: object, initiator: object) -> None:
    if oldvalue in (NO_VALUE, NEVER_SET, None):
        return
    if value != oldvalue:
        raise ImmutableFieldError("the logon ID of a member never changes")


class Address(Base):
    __tablename__ = "address"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AddressKind] = mapped_column(
        Enum(AddressKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=AddressKind.HOME,
    )
    line1: Mapped[str] = mapped_column(String(200), default="")
    line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="GB")

    member: Mapped[Member] = relationship(back_populates="addresses")
