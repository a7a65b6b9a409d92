"""The membership status machine of the "Change Status" manual, and what each status
allows (signing in to the portal, accruing points, receiving offers and e-mail).

Pure rules on plain values: the server's commands, the status wizard, the portal's
sign-in and a workstation working offline all ask these functions, so they can never
disagree (docs/decisions/0012-status-machine.md).

    Enroll      Active, Inactive (un-enrolled), Merged (= undo the merge) → Enrolled
    Un-enroll   Enrolled, Active → Inactive; e-mail opt-in off
    Deactivate  Enrolled, Active → Deactivated (on hold); the status is remembered
    Reactivate  Deactivated → the status it had before (the only action there)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from .member import MemberStatus


class StatusAction(enum.StrEnum):
    ENROLL = "enroll"
    UNENROLL = "unenroll"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    StatusAction.ENROLL: "Enroll",
    StatusAction.UNENROLL: "Un-enroll",
    StatusAction.DEACTIVATE: "Deactivate account",
    StatusAction.REACTIVATE: "Reactivate",
}

#: What a person sees for each status (the manual calls both closed kinds "Inactive").
STATUS_LABELS = {
    MemberStatus.ENROLLED: "Enrolled",
    MemberStatus.ACTIVE: "Active",
    MemberStatus.INACTIVE: "Inactive (un-enrolled)",
    MemberStatus.DEACTIVATED: "Inactive (deactivated, on hold)",
    MemberStatus.MERGED: "Merged",
}

#: The actions valid from each status, in the order the wizard offers them.
ACTIONS: dict[MemberStatus, tuple[StatusAction, ...]] = {
    MemberStatus.ENROLLED: (StatusAction.UNENROLL, StatusAction.DEACTIVATE),
    MemberStatus.ACTIVE: (StatusAction.ENROLL, StatusAction.UNENROLL, StatusAction.DEACTIVATE),
    MemberStatus.INACTIVE: (StatusAction.ENROLL,),
    MemberStatus.DEACTIVATED: (StatusAction.REACTIVATE,),
    MemberStatus.MERGED: (StatusAction.ENROLL,),
}

#: Statuses that may sign in to the portal, accrue points and receive offers.
_OPEN = frozenset({MemberStatus.ENROLLED, MemberStatus.ACTIVE})


class HasStatus(Protocol):
    """What the rules read of a member (an ORM Member, a schema, a transient row)."""

    @property
    def status(self) -> MemberStatus: ...

    @property
    def member_no(self) -> str: ...


class StatusRefused(ValueError):
    """An action that is not valid from the member's status; ``str`` says why."""


def actions_from(status: MemberStatus) -> tuple[StatusAction, ...]:
    return ACTIONS.get(status, ())


def refusal(status: MemberStatus, action: StatusAction) -> str | None:
    """Why ``action`` is not valid from ``status``, in plain words (None if it is)."""
    if action in actions_from(status):
        return None
    label = STATUS_LABELS[status]
    if status is MemberStatus.DEACTIVATED:
        return f"{action.label} is not possible: the account is deactivated, and Reactivate is the only valid action"
    if status is MemberStatus.MERGED:
        return f"{action.label} is not possible: the member was merged into another; only Enroll (undo the merge) is"
    if action is StatusAction.ENROLL and status is MemberStatus.ENROLLED:
        return "the member is already enrolled"
    if action is StatusAction.REACTIVATE:
        return f"only a deactivated account can be reactivated; this one is {label.lower()}"
    return f"{action.label} is not possible for a member who is {label.lower()}"


@dataclass(frozen=True)
class Transition:
    """What an action does: the new status, and its side effects."""

    action: StatusAction
    before: MemberStatus
    after: MemberStatus
    #: The status to remember for Reactivate (set on Deactivate, cleared otherwise).
    status_before_hold: MemberStatus | None
    email_opt_out: bool
    #: Enroll from Merged: the change is the merge's undo, not a status write.
    undoes_merge: bool


def transition(status: MemberStatus, action: StatusAction,
               status_before_hold: MemberStatus | None = None) -> Transition:
    """The transition ``action`` makes from ``status`` (raises :class:`StatusRefused`)."""
    reason = refusal(status, action)
    if reason is not None:
        raise StatusRefused(reason)
    if action is StatusAction.ENROLL:
        return Transition(action, status, MemberStatus.ENROLLED, None, False, status is MemberStatus.MERGED)
    if action is StatusAction.UNENROLL:
        return Transition(action, status, MemberStatus.INACTIVE, None, True, False)
    if action is StatusAction.DEACTIVATE:
        return Transition(action, status, MemberStatus.DEACTIVATED, status, False, False)
    after = status_before_hold if status_before_hold in _OPEN else MemberStatus.ENROLLED
    assert after is not None
    return Transition(action, status, after, None, False, False)


def effects(status: MemberStatus, action: StatusAction,
            status_before_hold: MemberStatus | None = None) -> list[str]:
    """What ``action`` will do, in plain words, one line each (for the wizard)."""
    t = transition(status, action, status_before_hold)
    status_line = f"Status changes from {STATUS_LABELS[t.before]} to {STATUS_LABELS[t.after]}."
    if action is StatusAction.ENROLL and t.undoes_merge:
        return [("The merge that merged this member away is undone: the member, its points, "
                 "transactions, addresses and portal users are restored exactly as they were before it, "
                 "status included.")]
    if action is StatusAction.ENROLL:
        return [status_line, ("The member is enrolled in the loyalty programme: points accrue, offers are "
                "sent, and the member can sign in to the portal.")]
    if action is StatusAction.UNENROLL:
        return [status_line, "The membership is closed: no more points or offers.",
                "E-mail opt-in is turned off.", "The member can no longer sign in to the portal.",
                "Existing points and transactions are kept. Enroll undoes this later."]
    if action is StatusAction.DEACTIVATE:
        return [status_line, "The account is put on hold: no portal sign-in, no points accrual.",
                "Existing points, e-mail preferences and everything else are kept.",
                "Reactivate is then the only action, and restores the account with no loss of data."]
    return [status_line, ("Everything is restored as it was before the deactivation: portal sign-in, "
            "points accrual and offers.")]


def sign_in_refusal(member: HasStatus) -> str | None:
    """Why the member's portal users may not sign in now (None if they may). The
    portal's sign-in calls this."""
    if member.status in _OPEN:
        return None
    if member.status is MemberStatus.DEACTIVATED:
        return "this account is on hold; please contact us to reactivate it"
    if member.status is MemberStatus.MERGED:
        return "this account was merged into another; sign in with that account"
    return "this membership is closed (un-enrolled)"


def may_sign_in(member: HasStatus) -> bool:
    return sign_in_refusal(member) is None


def accrual_refusal(member: HasStatus) -> str | None:
    """Why points may not be added to the member now (None if they may); removing
    points stays possible while the account is closed or on hold (the points are kept,
    so corrections and redemptions of them are too), never once merged away."""
    if member.status in _OPEN:
        return None
    return f"member {member.member_no} is {STATUS_LABELS[member.status].lower()}: no points can be added"


def may_accrue_points(member: HasStatus) -> bool:
    return accrual_refusal(member) is None


def may_receive_offers(member: HasStatus) -> bool:
    """Offers (and marketing e-mail) go only to open accounts (the mail work asks this)."""
    return member.status in _OPEN
