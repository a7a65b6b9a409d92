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
from .member import OPTIONAL_CATEGORIES, Address, AddressKind, EmailCategory, ImmutableFieldError, Member, MemberStatus
from .tokens import PortalSession, TokenPurpose, UserToken
from .search import MemberSearch, normalize, search_fields
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
from .merge import UNDO_WINDOW, MemberReference, MergeRecord, member_reference, uncovered_references
from .orders import Invoice, LineIn, Order, OrderKind, OrderLine, OrderRegistrant, OrderState, place_order
from .payments import CheckoutState, Payment
from .status import StatusAction, may_accrue_points, may_receive_offers, may_sign_in, sign_in_refusal

__all__ = [
    "ACCOUNT_CURRENCY",
    "CheckoutState",
    "Invoice",
    "LineIn",
    "Order",
    "OrderKind",
    "OrderLine",
    "OrderRegistrant",
    "OrderState",
    "Payment",
    "TxnKind",
    "place_order",
    "settle_transaction",
    "AccountTransaction",
    "Address",
    "AddressKind",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "EmailCategory",
    "MailMessage",
    "MailState",
    "OPTIONAL_CATEGORIES",
    "PortalSession",
    "TokenPurpose",
    "UserToken",
    "queue_mail",
    "Base",
    "ImmutableFieldError",
    "MAX_FAILED_LOGINS",
    "Member",
    "MemberReference",
    "MemberSearch",
    "MergeRecord",
    "MemberStatus",
    "PointsEntry",
    "PointsType",
    "SignInThrottle",
    "StaffToken",
    "StatusAction",
    "TxnStatus",
    "UNDO_WINDOW",
    "UTCDateTime",
    "User",
    "UserCredential",
    "UserRole",
    "UserState",
    "add_points",
    "clear_sign_in_throttle",
    "end_sessions",
    "may_accrue_points",
    "may_receive_offers",
    "may_sign_in",
    "member_reference",
    "normalize",
    "post_transaction",
    "record",
    "search_fields",
    "user_search_text",
    "sign_in_refusal",
    "uncovered_references",
    "utcnow",
]
