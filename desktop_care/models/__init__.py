"""Entities and the pure rules that guard them. No Qt, no FastAPI."""

from .audit import AuditEvent, AuditLogIsAppendOnly, record
from .base import Base, UTCDateTime, utcnow
from .ledger import AccountTransaction, PointsEntry, PointsType, TxnStatus, add_points, post_transaction
from .member import Address, AddressKind, ImmutableFieldError, Member, MemberStatus
from .merge import UNDO_WINDOW, MemberReference, MergeRecord, member_reference, uncovered_references
from .search import MemberSearch, normalize, search_fields
from .status import StatusAction, may_accrue_points, may_receive_offers, may_sign_in, sign_in_refusal
from .user import MAX_FAILED_LOGINS, StaffToken, User, UserCredential, UserRole, UserState

__all__ = [
    "AccountTransaction",
    "Address",
    "AddressKind",
    "AuditEvent",
    "AuditLogIsAppendOnly",
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
    "may_accrue_points",
    "may_receive_offers",
    "may_sign_in",
    "member_reference",
    "normalize",
    "post_transaction",
    "record",
    "search_fields",
    "sign_in_refusal",
    "uncovered_references",
    "utcnow",
]
