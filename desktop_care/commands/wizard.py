"""Wizards as explicit state machines, with no Qt (trytond's ``wizard.py`` is the model).

A wizard has named steps; ``next()`` runs ``transition_<step>()``, which checks the
choices made on that step and returns the name of the next step, or raises
:class:`WizardError` with what is wrong in plain words (the step stays). ``back()``
returns to the step before. The last step before ``result`` builds the command; the UI
sends it (queued or run now) and hands the answer to :meth:`Wizard.finish`.

The Qt pages in ``ui/wizards/`` only collect the choices and show what the wizard
computed, so every rule can be run and tested headlessly, step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..models import MemberStatus
from .base import Command
from .runner import CommandResult, Status


class WizardError(ValueError):
    """What stops the wizard leaving a step, in plain words; ``field`` names the choice."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class MemberFacts:
    """What a wizard knows of a member (plain values, from a MemberDetail)."""

    id: int
    member_no: str
    name: str
    status: MemberStatus
    version: int
    email: str = ""
    status_before_hold: MemberStatus | None = None
    merged_into_id: int | None = None

    @property
    def title(self) -> str:
        return f"{self.name} ({self.member_no})"


class Wizard:
    """Named steps, a transition per step, and a history for Back."""

    #: The steps in the order they are normally shown; the last is the result.
    steps: ClassVar[tuple[str, ...]] = ()
    #: A short title per step (the page titles).
    titles: ClassVar[dict[str, str]] = {}
    end: ClassVar[str] = "result"

    def __init__(self) -> None:
        self.step = self.steps[0]
        self.history: list[str] = []
        #: Why the last ``next()`` stayed on its step ("" when it moved on).
        self.error = ""
        self.error_field = ""
        self._command: Command | None = None
        #: Set by :meth:`finish`: the outcome in plain words, and whether it worked.
        self.outcome = ""
        self.succeeded: bool | None = None

    # ----------------------------------------------------------------- moving

    def next(self) -> str:
        """Leave the current step if its choices are valid; the step we are on after."""
        if self.finished:
            return self.step
        self.error = self.error_field = ""
        try:
            following = getattr(self, f"transition_{self.step}")()
        except WizardError as exc:
            self.error, self.error_field = exc.message, exc.field
            return self.step
        self.history.append(self.step)
        self.step = following
        return following

    def back(self) -> str:
        if self.can_go_back:
            self.step = self.history.pop()
            self.error = self.error_field = ""
            if self.step != self.end:
                self._command = None
        return self.step

    @property
    def can_go_back(self) -> bool:
        return bool(self.history) and not self.finished

    @property
    def finished(self) -> bool:
        return self.step == self.end

    # ----------------------------------------------------------------- the command

    def command(self) -> Command:
        """The command the wizard built (only once it reached the result step)."""
        if self._command is None:
            raise RuntimeError("the wizard has not built its command yet")
        return self._command

    @property
    def online_only(self) -> bool:
        return type(self.command()).online_only

    def finish(self, result: CommandResult | None = None, error: str = "") -> None:
        """Record what happened to the command: ``result`` when the server answered
        (run now), None when it was queued; ``error`` when it could not be sent."""
        if error:
            self.outcome, self.succeeded = error, False
        elif result is None:
            self.outcome, self.succeeded = self.queued_text(), True
        elif result.status in (Status.APPLIED, Status.DUPLICATE):
            self.outcome, self.succeeded = self.applied_text(), True
        else:
            self.outcome, self.succeeded = self.refused_text(result.reason), False

    def queued_text(self) -> str:
        return "Saved on this computer; it reaches the server with the next sync."

    def applied_text(self) -> str:
        return "Done."

    def refused_text(self, reason: str) -> str:
        text = reason.strip()
        return f"The server refused it: {text[:1].upper()}{text[1:]}" if text else "The server refused it."
