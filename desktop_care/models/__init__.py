"""Entities and the pure rules that guard them. No Qt, no FastAPI."""

from .audit import AuditEvent, AuditLogIsAppendOnly, record
from .base import Base, UTCDateTime, utcnow
from .ledger import (
    ACCOUNT_CURRENCY,
    AccountTransaction,
    PointsEntry,
    PointsType,
    TxnKind,
    TxnStatus,
    add_points,
    post_transaction,
    settle_transaction,
)
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
from .on_behalf import OnBehalfSession, ServerSetting
from .orders import Invoice, LineIn, Order, OrderKind, OrderLine, OrderRegistrant, OrderState, place_order
from .payments import CheckoutState, Payment
from .search import MemberSearch, normalize, search_fields
from .status import StatusAction, may_accrue_points, may_receive_offers, may_sign_in, sign_in_refusal
from .tickets import EntryKind, Ticket, TicketEntry, TicketMerge, TicketPriority, TicketState
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
    "ACCOUNT_CURRENCY",
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
    "CheckoutState",
    "EmailCategory",
    "EntryKind",
    "ImmutableFieldError",
    "Invoice",
    "LineIn",
    "MailMessage",
    "MailState",
    "Member",
    "MemberReference",
    "MemberSearch",
    "MemberStatus",
    "MergeRecord",
    "OnBehalfSession",
    "Order",
    "OrderKind",
    "OrderLine",
    "OrderRegistrant",
    "OrderState",
    "Payment",
    "PointsEntry",
    "PointsType",
    "PortalSession",
    "ServerSetting",
    "SignInThrottle",
    "StaffToken",
    "StatusAction",
    "Ticket",
    "TicketEntry",
    "TicketMerge",
    "TicketPriority",
    "TicketState",
    "TokenPurpose",
    "TxnKind",
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
    "place_order",
    "post_transaction",
    "queue_mail",
    "record",
    "search_fields",
    "settle_transaction",
    "sign_in_refusal",
    "uncovered_references",
    "user_search_text",
    "utcnow",
]
