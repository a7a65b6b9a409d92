"""The named choices of the domain: the states, kinds and roles the models store and the
wire shapes carry. Plain enums, no SQLAlchemy: :mod:`desktop_care.schemas` takes them
from here, so the workstation's first screen loads its wire shapes without the ORM
models of tickets, animals, money or staff (docs/decisions/0045). Each model module
imports its own from here, and stays where the rest of the code takes them from.
"""

from __future__ import annotations

import enum

# --------------------------------------------------------------------------- animals


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class AnimalStatus(enum.StrEnum):
    REGISTERED = "registered"
    DECEASED = "deceased"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class TransferState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class EventKind(enum.StrEnum):
    REGISTERED = "registered"
    CORRECTED = "corrected"
    TRANSFER_OFFERED = "transfer_offered"
    TRANSFER_ACCEPTED = "transfer_accepted"
    TRANSFER_DECLINED = "transfer_declined"
    TRANSFER_CANCELLED = "transfer_cancelled"
    TRANSFER_EXPIRED = "transfer_expired"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# --------------------------------------------------------------------------- fraud


class BlockKind(enum.StrEnum):
    IP = "ip"
    CARD = "card"
    EMAIL = "email"

    @property
    def label(self) -> str:
        return {"ip": "IP address or range", "card": "Card", "email": "E-mail address or domain"}[self.value]


class BlockReason(enum.StrEnum):
    """Why a block was made: the fixed list staff choose from (the note says more)."""

    CHARGEBACK = "chargeback"
    STOLEN_CARD = "stolen_card"
    CARD_TESTING = "card_testing"
    FAKE_ACCOUNT = "fake_account"
    ABUSE = "abuse"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "chargeback": "Chargeback or disputed payment", "stolen_card": "Stolen card",
            "card_testing": "Card testing", "fake_account": "Fake or duplicate account",
            "abuse": "Abuse of staff or members", "other": "Other (see the note)",
        }[self.value]


class BlockState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    LIFTED = "lifted"


# --------------------------------------------------------------------------- ledger


class PointsType(enum.StrEnum):
    BASE = "base"
    BONUS = "bonus"
    PROMOTIONAL = "promotional"
    GOODWILL = "goodwill"
    CORRECTION = "correction"
    REDEMPTION = "redemption"


class TxnStatus(enum.StrEnum):
    SETTLED = "settled"
    PENDING = "pending"
    #: A pending transaction that never happened (a refund the provider failed): it
    #: counts in no balance and stays in the ledger for the record.
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class TxnKind(enum.StrEnum):
    """What a money transaction is. Charges are positive (the member owes more),
    payments negative, refunds positive (money paid back to the member: what the payment
    had taken off the balance comes back), credit notes negative (what the member owes
    is reduced without money moving)."""

    CHARGE = "charge"
    PAYMENT = "payment"
    REFUND = "refund"
    CREDIT_NOTE = "credit_note"

    @property
    def label(self) -> str:
        return {"charge": "Charge", "payment": "Payment", "refund": "Refund",
                "credit_note": "Credit note"}[self.value]


class PaymentMethod(enum.StrEnum):
    """How money moved: by card through the provider, or by hand at the desk. A refund
    goes back by the method of the payment it refunds."""

    CARD = "card"
    CASH = "cash"
    CHEQUE = "cheque"
    BANK_TRANSFER = "bank_transfer"

    @property
    def label(self) -> str:
        return {"card": "Card", "cash": "Cash", "cheque": "Cheque", "bank_transfer": "Bank transfer"}[self.value]

    @property
    def manual(self) -> bool:
        """Taken by hand (recorded by staff), not through the provider."""
        return self != PaymentMethod.CARD


# --------------------------------------------------------------------------- mail


class MailState(enum.StrEnum):
    QUEUED = "queued"
    #: Claimed by a sender that is delivering it now.
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


# --------------------------------------------------------------------------- refunds


class RefundState(enum.StrEnum):
    #: Above the threshold: waits for another staff member (no money moves yet).
    AWAITING_APPROVAL = "awaiting_approval"
    #: Turned down by the approver (nothing was refunded).
    REJECTED = "rejected"
    #: Gone ahead; the provider has not yet said the money went back.
    PENDING = "pending"
    #: The money went back (the refund transaction is settled).
    SETTLED = "settled"
    #: The provider could not refund it (the refund transaction is cancelled).
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"awaiting_approval": "Awaiting approval", "rejected": "Rejected", "pending": "Pending",
                "settled": "Refunded", "failed": "Failed"}[self.value]


# --------------------------------------------------------------------------- tickets


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 (low) to 3 (urgent), for sorting."""
        return list(TicketPriority).index(self)


class TicketState(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    #: Waiting for the member (the due clock keeps running: see the decision record).
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"
    #: Merged into another ticket (``merged_into_id``), whose thread shows this one's
    #: too; reversible (:class:`~desktop_care.models.tickets.TicketMerge`).
    MERGED = "merged"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


OPEN_STATES = frozenset({TicketState.NEW, TicketState.OPEN, TicketState.PENDING})


class EntryKind(enum.StrEnum):
    #: To the member: e-mailed through the outbox.
    REPLY = "reply"
    #: Staff only: never sent, never shown to the member.
    NOTE = "note"
    #: From the member (the portal's Contact us).
    MESSAGE = "message"


# --------------------------------------------------------------------------- user


class UserRole(enum.StrEnum):
    #: Portal user of a member account who may invite further users to it.
    FULL = "full"
    #: Portal user of a member account.
    STANDARD = "standard"
    #: A user with no membership (e.g. saves animal searches).
    NON_MEMBER = "non_member"
    #: Staff: everything, including inviting and revoking staff.
    SOCIETY_ADMIN = "society_admin"
    #: Staff: member work, no staff administration.
    SOCIETY_STAFF = "society_staff"

    @property
    def is_staff(self) -> bool:
        return self in (UserRole.SOCIETY_ADMIN, UserRole.SOCIETY_STAFF)

    @property
    def label(self) -> str:
        return {
            UserRole.FULL: "Full",
            UserRole.STANDARD: "Standard",
            UserRole.NON_MEMBER: "Non-member",
            UserRole.SOCIETY_ADMIN: "Society Admin",
            UserRole.SOCIETY_STAFF: "Society Staff",
        }[self]


class UserState(enum.StrEnum):
    """What staff made of an account. Too many failed sign-ins are not a state but a
    time-limited throttle (:class:`~desktop_care.models.user.SignInThrottle`), so no stranger can lock anyone
    out for good."""

    INVITED = "invited"
    ACTIVE = "active"
    #: Disabled by staff; staff can enable it again.
    DISABLED = "disabled"
    #: Access revoked; the user must be invited again.
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return self.value.capitalize()
