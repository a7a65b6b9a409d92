"""Entities and the pure rules that guard them. No Qt, no FastAPI."""

from .audit import AuditEvent, AuditLogIsAppendOnly, record
from .base import Base, UTCDateTime, utcnow
from .ledger import AccountTransaction, PointsEntry, PointsType, TxnStatus, add_points, post_transaction
from .member import Address, AddressKind, ImmutableFieldError, Member, MemberStatus
from .search import MemberSearch, normalize, search_fields
from .user import MAX_FAILED_LOGINS, StaffToken, User, UserCredential, UserRole, UserState

__all__ = [
    "MAX_FAILED_LOGINS",
    "AccountTransaction",
    "Address",
    "AddressKind",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "Base",
    "ImmutableFieldError",
    "Member",
    "MemberSearch",
    "MemberStatus",
    "PointsEntry",
    "PointsType",
    "StaffToken",
    "TxnStatus",
    "UTCDateTime",
    "User",
    "UserCredential",
    "UserRole",
    "UserState",
    "add_points",
    "normalize",
    "post_transaction",
    "record",
    "search_fields",
    "utcnow",
]
