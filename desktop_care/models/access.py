"""What a portal user may reach: the rule behind Block for payment and Revoke.

The ILROnline manual's warning, as a rule: a member *blocked for payment* can still sign
in, and sees only the page to renew and pay; a *revoked* user cannot sign in at all (so
cannot pay either) and must be invited again. The portal's sign-in and page guard ask
:func:`portal_access`; nothing else decides it.
"""

from __future__ import annotations

import enum

from .member import Member, MemberStatus
from .user import User, UserState


class PortalAccess(enum.StrEnum):
    #: Every page of the member's portal.
    FULL = "full"
    #: Signed in, but only the renew-and-pay page (blocked for payment).
    RENEW_AND_PAY = "renew_and_pay"
    #: No sign-in (revoked, disabled, locked, invited, or no account to act on).
    NONE = "none"


def portal_access(user: User, member: Member | None) -> PortalAccess:
    """What ``user`` (of ``member``'s account, or a non-member user) may reach now."""
    if user.state != UserState.ACTIVE:
        return PortalAccess.NONE
    if member is None:
        return PortalAccess.FULL
    if member.status in (MemberStatus.MERGED, MemberStatus.INACTIVE):
        return PortalAccess.NONE
    if member.blocked_for_balance:
        return PortalAccess.RENEW_AND_PAY
    return PortalAccess.FULL


__all__ = ["PortalAccess", "portal_access"]
