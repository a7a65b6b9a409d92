"""Change status…: the pages of :class:`~desktop_care.commands.status_wizard.StatusWizard`
(action → reason → summary → confirm → result). They show what the machine says and
collect the choice and the reason; the rules are all in the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...commands.status_wizard import StatusWizard
from ...models import MemberStatus
from ...schemas import MemberDetail
from ..errors import describe
from ..qt import QButtonGroup, QLabel, QPlainTextEdit, QRadioButton, QWidget
from ..widgets import named
from .host import ResultPage, StepPage, WizardHost, bullets, facts_of, text_label

if TYPE_CHECKING:
    from ..workspace import Workspace


class ActionPage(StepPage):
    step = "action"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        machine = self._machine
        self.current = text_label(f"{machine.member.title} is now: {machine.status_text}.", "currentStatus")
        self.body.addWidget(self.current)
        self.group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        self.notes: dict[str, QLabel] = {}
        for option in machine.options():
            radio = named(QRadioButton(option.label), f"{option.action.value}Radio")
            note = text_label(bullets(option.effects), f"{option.action.value}Effects")
            note.setIndent(24)
            self.group.addButton(radio)
            self.radios[option.action.value] = radio
            self.notes[option.action.value] = note
            self.body.addWidget(radio)
            self.body.addWidget(note)
        if len(self.radios) == 1:
            next(iter(self.radios.values())).setChecked(True)

    @property
    def _machine(self) -> StatusWizard:
        machine = self.machine
        assert isinstance(machine, StatusWizard)
        return machine

    def show_step(self) -> None:
        for option in self._machine.options():
            radio, note = self.radios[option.action.value], self.notes[option.action.value]
            radio.setEnabled(option.refusal is None)
            radio.setToolTip(option.refusal or "")
            lines = option.effects if option.refusal is None else [*option.effects, f"Not possible now: {option.refusal}"]
            note.setText(bullets(lines))

    def collect(self) -> None:
        machine = self._machine
        machine.action = next((o.action for o in machine.options() if self.radios[o.action.value].isChecked()), None)


class ReasonPage(StepPage):
    step = "reason"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.prompt = text_label("Why is the status changing? The reason is kept with the change in the "
                                 "member's history.", "reasonPrompt")
        self.reason = named(QPlainTextEdit(), "reasonEdit")
        self.reason.setPlaceholderText("e.g. Asked by phone to close the membership")
        self.reason.setTabChangesFocus(True)
        self.reason.setFixedHeight(90)
        self.body.addWidget(self.prompt)
        self.body.addWidget(self.reason)

    def initializePage(self) -> None:
        super().initializePage()
        self.reason.setFocus()

    def collect(self) -> None:
        machine = self.machine
        assert isinstance(machine, StatusWizard)
        machine.reason = self.reason.toPlainText()


class SummaryPage(StepPage):
    step = "summary"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.effects = text_label("", "summaryEffects")
        self.body.addWidget(text_label("This is what will happen:"))
        self.body.addWidget(self.effects)

    def show_step(self) -> None:
        machine = self.machine
        assert isinstance(machine, StatusWizard)
        self.effects.setText(bullets(machine.effects()))


class ConfirmPage(StepPage):
    step = "confirm"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.text = text_label("", "confirmText")
        self.how = text_label("", "howText")
        self.body.addWidget(self.text)
        self.body.addWidget(self.how)

    def show_step(self) -> None:
        machine = self.machine
        assert isinstance(machine, StatusWizard)
        self.text.setText(machine.confirmation())
        if machine.undoes_merge:
            self.how.setText("This undoes the merge on the server now.")
        else:
            self.how.setText("Press Confirm to change the status. Working offline, the change waits on this "
                             "computer and goes to the server with the next sync.")


def open_status_wizard(workspace: Workspace, member: MemberDetail, parent: QWidget | None = None) -> WizardHost:
    """Change status… for ``member`` as shown; for a merged member, its merge is looked
    up (off the GUI thread) to know whether Enroll (the undo) is possible."""
    machine = StatusWizard(facts_of(member), online=workspace.online)
    host = WizardHost(machine, [ActionPage, ReasonPage, SummaryPage, ConfirmPage, ResultPage], workspace,
                      f"Change status — {member.name} ({member.member_no})", parent)
    host.setObjectName("statusWizard")
    if member.status is MemberStatus.MERGED and workspace.online:
        client = workspace.client

        def loaded(merges: object) -> None:
            assert isinstance(merges, list)
            machine.merge = next((m for m in merges if m.merged.id == member.id and m.undone_at is None), None)
            machine.merge_loaded = True
            host.page_for("action").show_step()

        def failed(exc: BaseException) -> None:
            host.page_for("action").show_error(f"Whether the merge can be undone is not known: {describe(exc).text}")

        host.load(lambda: client.merges(member.id), loaded, failed)
    host.on_finished.append(lambda _result: host.changed_members(
        *{member.id, *((machine.merge.survivor.id,) if machine.undoes_merge and machine.merge else ())}))
    return host
