"""The wizards: a generic page host (:mod:`.host`) for the state machines in
``commands/`` (Change status…, Merge…, Undo merge…), and what the member details ask
before offering them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...commands import BaseCommand, ChangeStatus, MergeMembers, UndoMerge
from ...models import MemberStatus
from ...schemas import MemberDetail
from ..qt import QWidget
from .host import WizardHost
from .merge import open_merge_wizard, open_undo_wizard
from .status import open_status_wizard

if TYPE_CHECKING:
    from ..workspace import Workspace

#: Button kind → (command kind it yields, opener).
WIZARDS: dict[str, tuple[type[BaseCommand], Callable[..., WizardHost]]] = {
    "status": (ChangeStatus, open_status_wizard),
    "merge": (MergeMembers, open_merge_wizard),
    "undo": (UndoMerge, open_undo_wizard),
}


def wizard_refusal(workspace: Workspace, member: MemberDetail, which: str) -> str | None:
    """Why a wizard's button is disabled for this member now (None: it is enabled)."""
    kind, _ = WIZARDS[which]
    reason = workspace.refusal(kind)
    if reason is None and which == "merge" and member.status is MemberStatus.MERGED:
        reason = "This member was merged away: undo that merge (Undo merge…) before merging it again"
    return reason


def open_wizard(workspace: Workspace, member: MemberDetail, which: str, parent: QWidget | None = None) -> WizardHost:
    _, opener = WIZARDS[which]
    host = opener(workspace, member, parent)
    host.show()
    return host


__all__ = ["WIZARDS", "WizardHost", "open_wizard", "wizard_refusal"]
