"""How values read on screen: money, counts, dates, statuses. No Qt."""

from __future__ import annotations

import datetime as dt

from .. import config
from ..models.ledger import TxnStatus
from ..models.member import AddressKind, MemberStatus
from ..models.status import STATUS_LABELS
from ..models.user import UserRole, UserState

_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$",
            "IEP": "£", "ZAR": "R", "JPY": "¥", "INR": "₹", "CHF": "CHF "}

#: Shown where a value is absent (no pending transactions, no phone number...).
NONE = "—"


def money(cents: int, currency: str | None = None) -> str:
    """``1250`` → ``"£12.50"``; ``-500`` → ``"-£5.00"``; unknown currencies by code."""
    code = (currency or config.CURRENCY).upper()
    symbol = _SYMBOLS.get(code, f"{code} ")
    sign = "-" if cents < 0 else ""
    units, minor = divmod(abs(cents), 100)
    return f"{sign}{symbol}{units:,}.{minor:02d}"


def count(n: int) -> str:
    return f"{n:,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``plural(1, "member")`` → ``"1 member"``; ``plural(1234, "member")`` → ``"1,234 members"``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def pending(n: int, cents: int) -> str:
    """Pending transactions: ``"2 (£30.00)"``, or a dash when there are none."""
    return f"{n:,} ({money(cents)})" if n else NONE


def when(moment: dt.datetime | None, never: str = "Never") -> str:
    """A timestamp in the local time zone: ``"3 Mar 2025, 14:05"``."""
    if moment is None:
        return never
    local = moment.astimezone()
    return f"{local.day} {local:%b %Y, %H:%M}"


def day(moment: dt.datetime) -> str:
    local = moment.astimezone()
    return f"{local.day} {local:%b %Y}"


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def or_none(text: str) -> str:
    return text if text.strip() else NONE


_MEMBER_STATUS = {
    MemberStatus.ENROLLED: "Enrolled",
    MemberStatus.ACTIVE: "Active",
    MemberStatus.INACTIVE: "Un-enrolled",
    MemberStatus.DEACTIVATED: "Deactivated",
    MemberStatus.MERGED: "Merged",
}


def member_status(status: MemberStatus, *, long: bool = False) -> str:
    """``"Deactivated"`` (short, for tables) or the manual's words (``long``):
    ``"Inactive (deactivated, on hold)"``."""
    if long:
        return STATUS_LABELS.get(status, str(status).capitalize())
    return _MEMBER_STATUS.get(status, str(status).capitalize())


def address_kind(kind: AddressKind) -> str:
    return f"{str(kind).capitalize()} address"


def role(value: UserRole) -> str:
    return value.label


def user_state(value: UserState) -> str:
    return value.label


def txn_status(value: TxnStatus) -> str:
    return str(value).capitalize()
