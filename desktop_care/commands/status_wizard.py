"""The Change Status wizard: action → reason → summary → confirm → result.

It offers only the actions the status machine allows from the member's status, and
says in plain words what each will do. Enroll of a merged member is the undo of the
merge that merged it away (:class:`~.merge.UndoMerge`, online only); everything else is
a queueable :class:`~.status.ChangeStatus`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..models import MemberStatus
from ..models.status import (
    STATUS_LABELS,
    StatusAction,
    actions_from,
    effects,
    transition,
)
from .merge import MergeInfo, UndoMerge
from .status import ChangeStatus, clean_reason
from .wizard import MemberFacts, Wizard, WizardError


@dataclass(frozen=True)
class ActionOption:
    action: StatusAction
    label: str
    #: What it will do, one plain sentence each.
    effects: list[str]
    #: Why it cannot be chosen now (None: it can).
    refusal: str | None = None


class StatusWizard(Wizard):
    steps: ClassVar[tuple[str, ...]] = ("action", "reason", "summary", "confirm", "result")
    titles: ClassVar[dict[str, str]] = {
        "action": "Choose the new status", "reason": "Why?", "summary": "What will happen",
        "confirm": "Confirm", "result": "Result",
    }

    def __init__(self, member: MemberFacts, *, online: bool = True) -> None:
        super().__init__()
        self.member = member
        self.online = online
        self.action: StatusAction | None = None
        self.reason = ""
        #: For a merged member: the merge that merged it away (the UI loads it; None
        #: until then, or when there is none).
        self.merge: MergeInfo | None = None
        self.merge_loaded = False

    @property
    def status_text(self) -> str:
        return STATUS_LABELS[self.member.status]

    def options(self) -> list[ActionOption]:
        """The valid actions from the member's status (only those), each with its effects."""
        out = []
        for action in actions_from(self.member.status):
            words = effects(self.member.status, action, self.member.status_before_hold)
            out.append(ActionOption(action, action.label, words, self._refusal(action)))
        return out

    def _refusal(self, action: StatusAction) -> str | None:
        if not (action is StatusAction.ENROLL and self.member.status is MemberStatus.MERGED):
            return None
        if not self.online:
            return "Enrolling a merged member undoes the merge, which needs the server; this computer is offline."
        if not self.merge_loaded:
            return "Checking whether the merge can be undone…"
        if self.merge is None:
            return "No merge of this member is on record, so it cannot be enrolled again."
        return self.merge.undo_refusal

    # ----------------------------------------------------------------- transitions

    def transition_action(self) -> str:
        if self.action is None:
            raise WizardError("Choose what to do.", "action")
        option = next((o for o in self.options() if o.action is self.action), None)
        if option is None:
            raise WizardError(f"{self.action.label} is not possible for a member who is "
                              f"{self.status_text.lower()}.", "action")
        if option.refusal is not None:
            raise WizardError(option.refusal, "action")
        return "reason"

    def transition_reason(self) -> str:
        try:
            self.reason = clean_reason(self.reason)
        except ValueError:
            raise WizardError("Say why, in at least 3 characters.", "reason") from None
        if len(self.reason) > 500:
            raise WizardError("Use at most 500 characters.", "reason")
        return "summary"

    def transition_summary(self) -> str:
        return "confirm"

    def transition_confirm(self) -> str:
        assert self.action is not None
        if self.undoes_merge:
            assert self.merge is not None
            self._command = UndoMerge(member_id=self.member.id, merge_id=self.merge.id,
                                      survivor_id=self.merge.survivor.id)
        else:
            self._command = ChangeStatus(member_id=self.member.id, base_version=self.member.version,
                                         status_action=self.action, reason=self.reason)
        return "result"

    # ----------------------------------------------------------------- what pages show

    @property
    def undoes_merge(self) -> bool:
        return self.action is StatusAction.ENROLL and self.member.status is MemberStatus.MERGED

    def effects(self) -> list[str]:
        assert self.action is not None
        words = effects(self.member.status, self.action, self.member.status_before_hold)
        if self.undoes_merge and self.merge is not None:
            words = [*words, *self.merge.restores]
        return words

    @property
    def new_status(self) -> MemberStatus:
        """The status the member will have (after an undo: the one it had before the merge)."""
        assert self.action is not None
        if self.undoes_merge and self.merge is not None:
            return self.merge.merged_status_before
        return transition(self.member.status, self.action, self.member.status_before_hold).after

    def confirmation(self) -> str:
        assert self.action is not None
        return (f"{self.action.label} {self.member.title}: {self.status_text} → "
                f"{STATUS_LABELS[self.new_status]}. Reason: {self.reason}")

    def queued_text(self) -> str:
        return (f"{self.member.title} will be {STATUS_LABELS[self.new_status].lower()}. The change is saved on "
                "this computer and reaches the server with the next sync.")

    def applied_text(self) -> str:
        return f"{self.member.title} is now {STATUS_LABELS[self.new_status].lower()}."
