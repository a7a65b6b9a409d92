"""Acting on behalf of a member: declared like a command (who may, online only) so the
console greys it out as it does the others, but not a registered kind: it is not a
change to run through ``execute`` but a session the server grants (``POST
/members/{id}/on-behalf``), audited there; the changes made in that session are the
commands (docs/decisions/0017-acting-on-behalf.md)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..models import UserRole
from ..models.on_behalf import MAX_REASON_LENGTH
from .base import BaseCommand


class ActOnBehalf(BaseCommand):
    """The declaration of "Act on behalf" (never queued, never sent as a command)."""

    kind: Literal["act_on_behalf"] = "act_on_behalf"
    member_id: int = Field(gt=0)
    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH)

    action: ClassVar[str] = "on_behalf.start"
    label: ClassVar[str] = "Act on behalf"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_STAFF
    online_only: ClassVar[bool] = True

    @property
    def target_id(self) -> int:
        return self.member_id
