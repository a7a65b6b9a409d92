"""The Merge wizard (pick → compare → plan → confirm → result) and the Undo merge
wizard (choose → confirm → result), as state machines.

The wizard never decides what a merge does: the server's :class:`~.merge.MergePlan`
(both members side by side, what moves, why it is refused) is handed in by the UI once
fetched; the wizard checks the person's choices against it and builds the command.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from .merge import MergeInfo, MergeMembers, MergePlan, Side, UndoMerge
from .wizard import MemberFacts, Wizard, WizardError

Direction = Literal["into_other", "into_current"]


class MergeWizard(Wizard):
    steps: ClassVar[tuple[str, ...]] = ("pick", "compare", "plan", "confirm", "result")
    titles: ClassVar[dict[str, str]] = {
        "pick": "Choose the other member", "compare": "Compare and choose what survives",
        "plan": "What moves", "confirm": "Confirm the merge", "result": "Result",
    }

    def __init__(self, current: MemberFacts) -> None:
        super().__init__()
        self.current = current
        #: Merge the current member into the other (it disappears), or the other into it.
        self.direction: Direction = "into_other"
        #: The members picked in the search (one is expected).
        self.picked: list[MemberFacts] = []
        #: The server's plan for the pair, once fetched (see :meth:`pair`).
        self.plan: MergePlan | None = None
        #: Field → whose value survives, where the person changed the default.
        self.choices: dict[str, Side] = {}
        self.emails_confirmed = False
        self.typed_member_no = ""

    # ----------------------------------------------------------------- the pair

    @property
    def other(self) -> MemberFacts | None:
        return self.picked[0] if len(self.picked) == 1 else None

    def pair(self) -> tuple[int, int] | None:
        """(merged-away id, survivor id) for the chosen direction, once one other member
        is picked: what the UI asks the server to plan."""
        other = self.other
        if other is None:
            return None
        if self.direction == "into_other":
            return self.current.id, other.id
        return other.id, self.current.id

    def pick(self, members: list[MemberFacts]) -> None:
        self.picked = list(members)
        self._pair_changed()

    def set_direction(self, direction: Direction) -> None:
        self.direction = direction
        self._pair_changed()

    def _pair_changed(self) -> None:
        if self.plan is not None and (self.plan.merged.id, self.plan.survivor.id) != self.pair():
            self.plan = None
            self.choices = {}
            self.emails_confirmed = False
            self.typed_member_no = ""

    def plan_matches(self) -> bool:
        return self.plan is not None and (self.plan.merged.id, self.plan.survivor.id) == self.pair()

    # ----------------------------------------------------------------- transitions

    def transition_pick(self) -> str:
        if not self.picked:
            raise WizardError("Find and choose the other member.", "other")
        if len(self.picked) > 1:
            raise WizardError("Two members are merged at a time: choose one other member, then merge any "
                              "further duplicate separately.", "other")
        if self.picked[0].id == self.current.id:
            raise WizardError("A member cannot be merged into itself.", "other")
        if not self.plan_matches():
            raise WizardError("The server's view of both members has not arrived yet.", "other")
        assert self.plan is not None
        if self.plan.refusals:
            raise WizardError(" ".join(self.plan.refusals), "other")
        return "compare"

    def transition_compare(self) -> str:
        assert self.plan is not None
        if self.plan.emails_differ and not self.emails_confirmed:
            raise WizardError(f"The e-mail addresses differ ({self.plan.merged.email} and "
                              f"{self.plan.survivor.email}): confirm that both belong to the same person.",
                              "emails_confirmed")
        return "plan"

    def transition_plan(self) -> str:
        return "confirm"

    def transition_confirm(self) -> str:
        plan = self.plan
        assert plan is not None
        if self.typed_member_no.strip() != plan.survivor.member_no:
            raise WizardError(f"Type the surviving member's ID, {plan.survivor.member_no}, to confirm.",
                              "typed_member_no")
        self._command = MergeMembers(
            member_id=plan.merged.id, base_version=plan.merged.version,
            into_member_id=plan.survivor.id, into_base_version=plan.survivor.version,
            choices={f: self.choice(f) for f in self.choosable()},
            confirm_different_emails=self.emails_confirmed, confirm_member_no=self.typed_member_no.strip())
        return "result"

    # ----------------------------------------------------------------- what pages show

    def choosable(self) -> list[str]:
        return [row.field for row in self.plan.fields if row.choosable] if self.plan else []

    def choice(self, field: str) -> Side:
        if field in self.choices:
            return self.choices[field]
        assert self.plan is not None
        return next(row.default for row in self.plan.fields if row.field == field)

    def choose(self, field: str, side: Side) -> None:
        if field not in self.choosable():
            raise WizardError(f"{field} cannot be chosen: the survivor keeps its own.", field)
        self.choices[field] = side

    def surviving_values(self) -> dict[str, str]:
        """Field → the value the survivor will have (for the plan page)."""
        assert self.plan is not None
        out = {}
        for row in self.plan.fields:
            if row.choosable:
                out[row.field] = row.merged if self.choice(row.field) == "merged" else row.survivor
            else:
                out[row.field] = row.result or row.survivor
        return out

    def applied_text(self) -> str:
        assert self.plan is not None
        m, s = self.plan.merged, self.plan.survivor
        return (f"{m.name} ({m.member_no}) was merged into {s.name} ({s.member_no}). It can be undone from "
                "either member's details (Undo merge…) while neither changes.")


class UndoMergeWizard(Wizard):
    """Undo one of the merges a member took part in (as survivor or merged away)."""

    steps: ClassVar[tuple[str, ...]] = ("choose", "confirm", "result")
    titles: ClassVar[dict[str, str]] = {"choose": "Choose the merge to undo", "confirm": "Confirm",
                                        "result": "Result"}

    def __init__(self, member: MemberFacts) -> None:
        super().__init__()
        self.member = member
        #: The member's merges, newest first, once the UI has loaded them.
        self.merges: list[MergeInfo] | None = None
        self.chosen: int | None = None

    def undoable(self) -> list[MergeInfo]:
        return [m for m in self.merges or [] if m.undo_refusal is None]

    def selected(self) -> MergeInfo | None:
        return next((m for m in self.merges or [] if m.id == self.chosen), None)

    def transition_choose(self) -> str:
        if self.merges is None:
            raise WizardError("The member's merges have not arrived yet.", "merge")
        if not self.merges:
            raise WizardError(f"{self.member.title} has not been merged with anyone.", "merge")
        chosen = self.selected()
        if chosen is None:
            raise WizardError("Choose the merge to undo.", "merge")
        if chosen.undo_refusal is not None:
            raise WizardError(chosen.undo_refusal, "merge")
        return "confirm"

    def transition_confirm(self) -> str:
        chosen = self.selected()
        assert chosen is not None
        self._command = UndoMerge(member_id=chosen.merged.id, merge_id=chosen.id, survivor_id=chosen.survivor.id)
        return "result"

    def applied_text(self) -> str:
        chosen = self.selected()
        assert chosen is not None
        return (f"The merge was undone: {chosen.merged.name} ({chosen.merged.member_no}) and "
                f"{chosen.survivor.name} ({chosen.survivor.member_no}) are as they were before it.")
