"""How values read on screen: money, counts, dates, statuses, phones, history. No Qt."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from .. import config
from ..models.choices import TxnStatus, UserRole, UserState
from ..models.contact import display_phone as display_phone  # re-exported for the views
from ..models.member import AddressKind, MemberStatus
from ..models.status import STATUS_LABELS

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


# --------------------------------------------------------------------- contact and history


def phone(value: str, country: str | None = None) -> str:
    """A stored (E.164) number as people read it: national form for the member's own
    country, international otherwise (``"+442079460000"`` → ``"020 7946 0000"``)."""
    return or_none(display_phone(value, country))


def workstation(origin: str, client_address: str = "") -> str:
    """Which computer a change came from: its workstation id, shortened, and address."""
    short = origin[:8] if origin else ""
    if short and client_address:
        return f"{short} ({client_address})"
    return short or client_address or NONE


#: The actions audited under a name of their own (a command's are its label).
_OTHER_ACTION_LABELS: dict[str, str] = {
    "mail.queued": "E-mail sent",
    "ticket.open": "Ticket opened", "ticket.note": "Ticket note added", "ticket.reply": "Ticket reply sent",
    "ticket.assign": "Ticket assigned", "ticket.state": "Ticket state changed",
    "ticket.priority": "Ticket priority changed",
    "on_behalf.start": "Acting on behalf started",
    "on_behalf.end": "Acting on behalf ended",
    "on_behalf.refused": "Refused while acting on behalf",
    "portal.password_changed": "Password changed in the portal",
    "portal.password_change_failed": "Wrong current password in the portal",
}


@functools.cache
def _action_labels() -> dict[str, str]:
    """Every audited action's label: the commands' own, with the others (the command
    classes load on first use, not at start: decision 0044)."""
    from ..commands import AdjustPoints, BlockForPayment, SetEmailPreference, UpdateContact

    commands = (UpdateContact, SetEmailPreference, AdjustPoints, BlockForPayment)
    return {**{cls.action: cls.label for cls in commands}, **_OTHER_ACTION_LABELS}

#: Why an on-behalf session ended, in words (``on_behalf.end`` ``why``).
_ON_BEHALF_ENDS = {
    "sign_in_as_yourself": "Sign in as yourself", "sign_out": "Sign out", "view_closed": "the window was closed",
    "staff_signed_out": "the staff member signed out", "time_limit": "the 30-minute limit",
}

_FIELD_LABELS = {
    "title": "Title", "first_name": "First name", "last_name": "Last name", "email": "E-mail", "phone": "Phone",
    "email_opt_in": "E-mail opt-in", "address.home": "Home address", "address.postal": "Postal address",
    "address.billing": "Billing address",
}


def action_label(action: str) -> str:
    """``"member.update_contact"`` → ``"Edit contact details"``; unknown ones readably."""
    known = _action_labels().get(action)
    if known:
        return known
    words = action.split(".", 1)[-1].replace("_", " ")
    return words[:1].upper() + words[1:]


def _value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, dict):
        parts = [value.get(k, "") for k in ("line1", "line2", "city", "region", "postcode", "country")]
        return ", ".join(p for p in parts if p)
    if field == "phone":
        return display_phone(str(value))
    return str(value)


def history_lines(action: str, details: dict[str, Any]) -> list[str]:
    """What an audited action changed, one line per field (``"E-mail: a → b"``)."""
    from ..commands import AdjustPoints, BlockForPayment, SetEmailPreference

    if action == "mail.queued":
        lines = [f"Template: {details.get('template', '?')}", f"To: {details.get('to', '?')}"]
        if details.get("subject"):
            lines.append(f"Subject: {details['subject']}")
        if details.get("state"):
            lines.append(f"Delivery: {details['state']}")
        return lines
    if action == "on_behalf.start":
        return [f"Reason: {details.get('reason', '')}"]
    if action == "on_behalf.end":
        ended = str(details.get("why", ""))
        return [f"Ended by {_ON_BEHALF_ENDS.get(ended, ended.replace('_', ' '))}"]
    if action == "on_behalf.refused":
        return [f"Not allowed to {details.get('attempted', 'do this')}"]
    if action.startswith("ticket.") and "ticket_id" in details:
        lines = [f"Ticket #{details['ticket_id']}: {details.get('subject', '')}"]
        before, after = details.get("before"), details.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            lines += [f"{key.capitalize()}: {_value(key, old)} → {_value(key, after.get(key))}"
                      for key, old in before.items()]
        if details.get("to"):
            lines.append(f"E-mailed to {details['to']}")
        return lines
    if action == AdjustPoints.action:
        delta, kind = int(details.get("delta", 0)), details.get("points_type", "")
        line = f"{delta:+,} {kind} points"
        if "before" in details and "after" in details:
            line += f" (balance {int(details['before']):,} → {int(details['after']):,})"
        return [line + (f": {details['reason']}" if details.get("reason") else "")]
    if action == BlockForPayment.action:
        after = details.get("after") or {}
        if after.get("blocked"):
            return [f"Blocked for payment: {after.get('reason', '')}"]
        why = details.get("unblock_reason")
        return ["Block for payment lifted" + (f": {why}" if why else "")]
    before, after = details.get("before"), details.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        return [f"{_FIELD_LABELS.get(f, f)}: {_value(f, before.get(f))} → {_value(f, after.get(f))}"
                for f in sorted(set(before) | set(after), key=lambda f: list(_FIELD_LABELS).index(f)
                                if f in _FIELD_LABELS else 99)]
    if action == SetEmailPreference.action and isinstance(after, bool):
        return ["Opted in to e-mail" if after else "Opted out of e-mail"]
    shown = {k: v for k, v in details.items() if k not in ("op_id", "member_no")}
    return [f"{k.replace('_', ' ').capitalize()}: {_value(k, v)}" for k, v in shown.items()]


def history_change(action: str, details: dict[str, Any]) -> str:
    """:func:`history_lines` on one line (the History table's last column)."""
    lines = history_lines(action, details)
    return "; ".join(lines) if lines else NONE
