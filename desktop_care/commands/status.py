"""Change Status: Enroll, Un-enroll, Deactivate, Reactivate (the rules are the status
machine in :mod:`desktop_care.models.status`). Queueable: a workstation may record it
offline; a status changed meanwhile by someone else is a conflict on ``status``.

Enroll of a *merged* member is the merge's undo (:class:`~.merge.UndoMerge`, online
only), never this command: the status wizard yields that instead.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from ..models import EMAIL_CHOICE_COLUMNS, Member, MemberStatus
from ..models.status import STATUS_LABELS, StatusAction, StatusRefused, transition
from .base import REASON_SCHEMA, Actor, Command, Rejected, clean_reason
from .registry import register


def turn_off_email(member: Member) -> dict[str, Any]:
    """Un-enroll's e-mail effect, in one place: the member gets no more optional e-mail
    from us (every category off). Returns what changed, for the audit."""
    changed = {column: {"before": True, "after": False}
               for column in sorted(EMAIL_CHOICE_COLUMNS) if getattr(member, column)}
    member.email_opt_in = False
    return changed


@register
class ChangeStatus(Command):
    """Move the member along the status machine, with a reason."""

    kind: Literal["change_status"] = "change_status"
    #: Required: a status changed by someone else since is a conflict.
    base_version: int = Field(ge=1)
    status_action: StatusAction
    reason: str = Field(max_length=500, json_schema_extra=REASON_SCHEMA)

    action: ClassVar[str] = "member.change_status"
    label: ClassVar[str] = "Change status"

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return clean_reason(value)

    def changed_fields(self) -> frozenset[str]:
        fields = {"status", "status_before_hold"}
        if self.status_action is StatusAction.UNENROLL:
            fields |= EMAIL_CHOICE_COLUMNS
        return frozenset(fields)

    def check(self, member: Member) -> None:
        status = MemberStatus(member.status)
        if status is MemberStatus.MERGED and self.status_action is StatusAction.ENROLL:
            raise Rejected(f"member {member.member_no} was merged into another: enrolling it again is "
                           "the merge's undo (Undo merge), which needs the server",
                           {"status_action": "use Undo merge"})
        try:
            transition(status, self.status_action, member.status_before_hold)
        except StatusRefused as exc:
            raise Rejected(f"member {member.member_no}: {exc}", {"status_action": str(exc)}) from None

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        t = transition(MemberStatus(member.status), self.status_action, member.status_before_hold)
        member.status = t.after
        member.status_before_hold = t.status_before_hold
        details: dict[str, Any] = {"status_action": self.status_action.value, "reason": self.reason,
                                   "before": t.before.value, "after": t.after.value}
        if t.email_opt_out:
            details.update(turn_off_email(member))
        return details

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        status = MemberStatus(values.get("status", MemberStatus.ENROLLED))
        held = values.get("status_before_hold")
        try:
            t = transition(status, self.status_action, MemberStatus(held) if held else None)
        except StatusRefused:
            return dict(values)  # the server will refuse it; show the member as it is
        out = {**values, "status": t.after, "status_before_hold": t.status_before_hold}
        if t.email_opt_out:
            out.update(dict.fromkeys(EMAIL_CHOICE_COLUMNS, False), email_opt_in=False)
        return out

    def summary(self) -> str:
        return f"{self.status_action.label}: {self.reason}"


def status_label(status: MemberStatus) -> str:
    return STATUS_LABELS[status]
