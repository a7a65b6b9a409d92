"""A generic host for the wizards' state machines (``commands/wizard.py``).

Each :class:`StepPage` shows one step of the machine: ``show()`` reads what the machine
computed, ``collect()`` writes the person's choices into it. Next runs the machine's
transition; if it stays, its reason shows under the page (in plain words) and the page
stays. Back steps the machine back. The confirm step is a commit page (Back is gone
after it), and the result page sends the command the machine built — queued through
``Workspace.submit`` or run now through ``Workspace.run_now`` (online-only kinds) —
and shows what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...commands import Command, CommandResult
from ...commands.wizard import MemberFacts, Wizard
from ...schemas import MemberDetail
from ..errors import describe, sentence
from ..ops import Op
from ..qt import QLabel, Qt, QVBoxLayout, QWidget, QWizard, QWizardPage
from ..widgets import named

if TYPE_CHECKING:
    from ..workspace import Workspace


def facts_of(member: MemberDetail) -> MemberFacts:
    return MemberFacts(id=member.id, member_no=member.member_no, name=member.name, status=member.status,
                       version=member.version, email=member.email,
                       status_before_hold=member.status_before_hold, merged_into_id=member.merged_into_id)


def text_label(text: str = "", name: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"•  {line}" for line in lines)


class StepPage(QWizardPage):
    """One step of the machine. Subclasses build their widgets in ``__init__`` (into
    ``self.body``) and override ``show`` and ``collect``."""

    step = ""
    #: The page's content grows with the window (a table); otherwise the message
    #: under it follows the content directly.
    fills = False

    def __init__(self, host: WizardHost) -> None:
        super().__init__()
        self.host = host
        self.machine = host.machine
        self.setObjectName(f"{self.step}Page")
        self.setTitle(self.machine.titles.get(self.step, self.step.capitalize()))
        self.body = QVBoxLayout()
        self.error = named(QLabel(), "stepError")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(self.body, 1 if self.fills else 0)
        layout.addWidget(self.error)
        if not self.fills:
            layout.addStretch(1)

    # what subclasses fill in
    def show_step(self) -> None:
        """Show what the machine holds for this step."""

    def collect(self) -> None:
        """Write the person's choices into the machine."""

    # QWizardPage
    def initializePage(self) -> None:
        self.show_error("")
        self.show_step()

    def validatePage(self) -> bool:
        self.collect()
        if self.machine.step != self.step:  # already moved (never expected)
            return True
        after = self.machine.next()
        if after == self.step:
            self.show_error(self.machine.error)
            return False
        self.show_error("")
        return True

    def cleanupPage(self) -> None:
        self.machine.back()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    @property
    def error_text(self) -> str:
        return self.error.text() if self.error.isVisible() else ""


class ResultPage(StepPage):
    """Sends the machine's command once, then shows the outcome."""

    step = "result"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.outcome = text_label("", "outcomeText")
        self.body.addWidget(self.outcome)
        self._sent = False

    def show_step(self) -> None:
        if not self._sent:
            self._sent = True
            self.outcome.setText("Working…")
            self.host.send()
        else:
            self.refresh()

    def refresh(self) -> None:
        self.outcome.setText(self.machine.outcome)
        self.outcome.setProperty("role", "" if self.machine.succeeded else "fieldError")
        self.outcome.style().unpolish(self.outcome)
        self.outcome.style().polish(self.outcome)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.machine.succeeded is not None

    def validatePage(self) -> bool:
        return True


class WizardHost(QWizard):
    """Runs one wizard machine with one page per step."""

    def __init__(self, machine: Wizard, pages: Sequence[type[StepPage]], workspace: Workspace,
                 title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.machine = machine
        self.workspace = workspace
        self.setWindowTitle(title)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Confirm")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumSize(720, 520)
        #: Called with the result once the command was answered (tests, refreshes).
        self.on_finished: list[Callable[[CommandResult | None], None]] = []
        self.step_pages: dict[str, StepPage] = {}
        for page_class in pages:
            page = page_class(self)
            self.step_pages[page.step] = page
            self.addPage(page)
        confirm = self.step_pages.get("confirm")
        if confirm is not None:
            confirm.setCommitPage(True)

    def page_for(self, step: str) -> StepPage:
        return self.step_pages[step]

    @property
    def current_step(self) -> str:
        page = self.currentPage()
        return page.step if isinstance(page, StepPage) else ""

    # ----------------------------------------------------------------- sending

    def send(self) -> None:
        command = self.machine.command()
        if type(command).online_only:
            self.workspace.run_now(command, parent=self, on_done=self._answered, on_failed=self._failed)
        else:
            assert isinstance(command, Command)
            self.workspace.submit(command, parent=self, on_done=lambda: self._answered(None),
                                  on_failed=self._failed)

    def _answered(self, result: CommandResult | None) -> None:
        self.machine.finish(result)
        self._done(result)

    def _failed(self, exc: BaseException) -> None:
        text = sentence(str(exc)) if isinstance(exc, ValueError) else describe(exc).text
        self.machine.finish(error=f"Nothing was changed: {text}")
        self._done(None)

    def _done(self, result: CommandResult | None) -> None:
        page = self.step_pages["result"]
        assert isinstance(page, ResultPage)
        page.refresh()
        for callback in self.on_finished:
            callback(result)

    def changed_members(self, *ids: int) -> None:
        self.workspace.members_changed.emit(set(ids))

    def load(self, fn: Callable[[], Any], done: Callable[[Any], None],
             failed: Callable[[BaseException], None]) -> None:
        """Fetch something for a page off the GUI thread (an op owned by the wizard)."""
        Op(self, fn).success(done).failure(failed).run()
