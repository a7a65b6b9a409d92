"""Entities and the pure rules that guard them. No Qt, no FastAPI."""

from .audit import AuditEvent, AuditLogIsAppendOnly, record
from .base import Base, UTCDateTime, utcnow
from .ledger import AccountTransaction, PointsEntry, PointsType, TxnStatus, add_points, post_transaction
from .mail import MailMessage, MailState, queue_mail
from .member import (
    EMAIL_CHOICE_COLUMNS,
    OPTIONAL_CATEGORIES,
    Address,
    AddressKind,
    EmailCategory,
    ImmutableFieldError,
    Member,
    MemberStatus,
)
from .merge import UNDO_WINDOW, MemberReference, MergeRecord, member_reference, uncovered_references
from .search import MemberSearch, normalize, search_fields
from .status import StatusAction, may_accrue_points, may_receive_offers, may_sign_in, sign_in_refusal
from .tickets import EntryKind, Ticket, TicketEntry, TicketPriority, TicketState
from .tokens import PortalSession, TokenPurpose, UserToken
from .user import (
    MAX_FAILED_LOGINS,
    SignInThrottle,
    StaffToken,
    User,
    UserCredential,
    UserRole,
    UserState,
    clear_sign_in_throttle,
    end_sessions,
)
from .user_search import user_search_text

__all__ = [
    "EMAIL_CHOICE_COLUMNS",
    "MAX_FAILED_LOGINS",
    "OPTIONAL_CATEGORIES",
    "UNDO_WINDOW",
    "AccountTransaction",
    "Address",
    "AddressKind",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "Base",
    "EmailCategory",
    "EntryKind",
    "ImmutableFieldError",
    "MailMessage",
    "MailState",
    "Member",
    "MemberReference",
    "MemberSearch",
    "MemberStatus",
    "MergeRecord",
    "PointsEntry",
    "PointsType",
    "PortalSession",
    "SignInThrottle",
    "StaffToken",
    "StatusAction",
    "Ticket",
    "TicketEntry",
    "TicketPriority",
    "TicketState",
    "TokenPurpose",
    "TxnStatus",
    "UTCDateTime",
    "User",
    "UserCredential",
    "UserRole",
    "UserState",
    "UserToken",
    "add_points",
    "clear_sign_in_throttle",
    "end_sessions",
    "may_accrue_points",
    "may_receive_offers",
    "may_sign_in",
    "member_reference",
    "normalize",
    "post_transaction",
    "queue_mail",
    "record",
    "search_fields",
    "sign_in_refusal",
    "uncovered_references",
    "user_search_text",
    "utcnow",
]
