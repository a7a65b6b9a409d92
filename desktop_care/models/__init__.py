"""Entities and the pure rules that guard them. No Qt, no FastAPI.

The names below load with their module on first use. A name of the member directory's
modules (the member, its search and sort rows, its status rules) or of the plain enums
(``choices``) loads only those: the workstation's first screen needs no more
(docs/decisions/0044, 0045). Any other name, ``Base`` among them, loads every model
module first, so that ``Base.metadata`` and the mappers always know every table.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .animals import (
        Animal,
        AnimalEvent,
        AnimalOwner,
        AnimalStatus,
        AnimalTransfer,
        Breed,
        EventKind,
        Sex,
        TransferState,
    )
    from .audit import AuditEvent, AuditLogIsAppendOnly, record
    from .base import Base, UTCDateTime, utcnow
    from .fraud import BlockKind, BlockReason, FraudBlock
    from .ledger import (
        ACCOUNT_CURRENCY,
        AccountTransaction,
        PaymentMethod,
        PointsEntry,
        PointsType,
        TxnKind,
        TxnStatus,
        add_points,
        cancel_transaction,
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
    from .refunds import Refund, RefundState
    from .search import MemberSearch, normalize, search_fields
    from .search_sort import MemberSort
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
    "Animal",
    "AnimalEvent",
    "AnimalOwner",
    "AnimalStatus",
    "AnimalTransfer",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "Base",
    "BlockKind",
    "BlockReason",
    "Breed",
    "CheckoutState",
    "EmailCategory",
    "EntryKind",
    "EventKind",
    "FraudBlock",
    "ImmutableFieldError",
    "Invoice",
    "LineIn",
    "MailMessage",
    "MailState",
    "Member",
    "MemberReference",
    "MemberSearch",
    "MemberSort",
    "MemberStatus",
    "MergeRecord",
    "OnBehalfSession",
    "Order",
    "OrderKind",
    "OrderLine",
    "OrderRegistrant",
    "OrderState",
    "Payment",
    "PaymentMethod",
    "PointsEntry",
    "PointsType",
    "PortalSession",
    "Refund",
    "RefundState",
    "ServerSetting",
    "Sex",
    "SignInThrottle",
    "StaffToken",
    "StatusAction",
    "Ticket",
    "TicketEntry",
    "TicketMerge",
    "TicketPriority",
    "TicketState",
    "TokenPurpose",
    "TransferState",
    "TxnKind",
    "TxnStatus",
    "UTCDateTime",
    "User",
    "UserCredential",
    "UserRole",
    "UserState",
    "UserToken",
    "add_points",
    "cancel_transaction",
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

#: The model modules of the member directory (light: what the replica's search needs).
_LIGHT = ("base", "choices", "member", "search", "search_sort", "status")
#: Every model module (their tables make ``Base.metadata``).
_ALL = (
    "animals", "audit", "base", "choices", "courses", "fraud", "ledger", "mail", "member", "merge",
    "on_behalf", "orders", "payments", "refunds", "search", "search_sort", "status", "tickets", "tokens", "user", "user_search",
)
_MISSING = object()


def load_all() -> None:
    """Load every model module and bind the names they export here."""
    for module in _ALL:
        loaded = importlib.import_module(f"{__name__}.{module}")
        for name in __all__:
            value = getattr(loaded, name, _MISSING)
            if value is not _MISSING:
                globals().setdefault(name, value)


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name != "Base":
        for module in _LIGHT:
            value = getattr(importlib.import_module(f"{__name__}.{module}"), name, _MISSING)
            if value is not _MISSING:
                globals()[name] = value
                return value
    load_all()
    return globals()[name]
