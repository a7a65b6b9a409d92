"""Merge… and Undo merge…: the pages of
:class:`~desktop_care.commands.merge_wizard.MergeWizard` (pick → compare → plan →
confirm → result) and :class:`~desktop_care.commands.merge_wizard.UndoMergeWizard`.

The pick page uses the main window's search (the same fast search, off the GUI thread);
once one other member is chosen, the server's plan for the pair is fetched in an op and
handed to the machine, which decides whether the wizard may go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...commands.merge import MergeInfo, MergePlan
from ...commands.merge_wizard import MergeWizard, UndoMergeWizard
from ...commands.wizard import MemberFacts
from ...schemas import MemberDetail
from .. import format as fmt
from ..errors import describe
from ..members.search_view import SearchView
from ..qt import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QRadioButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)
from ..widgets import make_read_only_table, named
from .host import ResultPage, StepPage, WizardHost, bullets, facts_of, text_label

if TYPE_CHECKING:
    from ..workspace import Workspace


def _machine(page: StepPage) -> MergeWizard:
    machine = page.machine
    assert isinstance(machine, MergeWizard)
    return machine


class PickPage(StepPage):
    step = "pick"
    fills = True

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        machine = _machine(self)
        current = machine.current.title
        self.into_other = named(QRadioButton(f"Merge this member, {current}, into the one chosen below"),
                                "intoOtherRadio")
        self.into_current = named(QRadioButton("Merge the one chosen below into this member (this one survives)"),
                                  "intoCurrentRadio")
        self.into_other.setChecked(True)
        group = QButtonGroup(self)
        for radio in (self.into_other, self.into_current):
            group.addButton(radio)
            self.body.addWidget(radio)
            radio.toggled.connect(self._direction_changed)
        self.search = SearchView(host.workspace, self)
        self.search.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for column in range(self.search.model.columnCount()):
            title = self.search.model.headerData(column, Qt.Orientation.Horizontal)
            if title in ("Pending", "Last login", "Sync"):
                self.search.table.setColumnHidden(column, True)
        self.search.table.selectionModel().selectionChanged.connect(self._picked)
        self.search.table.open_requested.connect(lambda _id: host.next())
        self.status = text_label("Find the other member, then select them in the list.", "pickStatus")
        self.body.addWidget(self.search, 1)
        self.body.addWidget(self.status)
        self._generation = 0

    def initializePage(self) -> None:
        super().initializePage()
        self.search.focus_search()

    def _direction_changed(self) -> None:
        _machine(self).set_direction("into_other" if self.into_other.isChecked() else "into_current")
        self._fetch_plan()

    def _picked(self, *_args: Any) -> None:
        rows = sorted({index.row() for index in self.search.table.selectionModel().selectedRows()})
        picked = []
        for row in rows:
            s = self.search.model.summary(row)
            picked.append(MemberFacts(id=s.id, member_no=s.member_no, name=s.name, status=s.status, version=0,
                                      email=s.email))
        _machine(self).pick(picked)
        self._fetch_plan()

    def _fetch_plan(self) -> None:
        machine = _machine(self)
        pair = machine.pair()
        self.show_error("")
        if len(machine.picked) > 1:
            self.status.setText(f"{len(machine.picked)} members are selected: choose one.")
            return
        if pair is None:
            self.status.setText("Find the other member, then select them in the list.")
            return
        if pair[0] == pair[1]:
            self.status.setText("That is this member: choose another one.")
            return
        if machine.plan_matches():
            self._show_plan_status()
            return
        self._generation += 1
        generation = self._generation
        self.status.setText("Asking the server about both members…")
        client = self.host.workspace.client
        self.host.load(lambda: client.merge_plan(*pair),
                       lambda plan: self._plan_arrived(generation, plan),
                       lambda exc: self._plan_failed(generation, exc))

    def _plan_arrived(self, generation: int, plan: MergePlan) -> None:
        machine = _machine(self)
        if generation != self._generation or (plan.merged.id, plan.survivor.id) != machine.pair():
            return  # a newer choice was made meanwhile
        machine.plan = plan
        self._show_plan_status()

    def _show_plan_status(self) -> None:
        plan = _machine(self).plan
        assert plan is not None
        if plan.refusals:
            self.status.setText("")
            self.show_error(" ".join(plan.refusals))
        else:
            self.status.setText(f"Ready: {plan.merged.name} ({plan.merged.member_no}) will be merged into "
                                f"{plan.survivor.name} ({plan.survivor.member_no}). Press Next to compare them.")

    def _plan_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.status.setText("")
            self.show_error(f"The server could not plan this merge: {describe(exc).text}")


def _display(field: str, text: str) -> str:
    """A plan value as the rest of the app shows it (counts with separators, money)."""
    if not text:
        return fmt.NONE
    if field in ("points_balance", "pending_count") and text.lstrip("-").isdigit():
        return fmt.count(int(text))
    if field == "account_balance_cents" and text.lstrip("-").isdigit():
        return fmt.money(int(text))
    return text


def _item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(text)
    return item


class ComparePage(StepPage):
    step = "compare"
    fills = True

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.heading = text_label("", "compareHeading")
        self.table = named(QTableWidget(0, 4), "compareTable")
        self.table.setHorizontalHeaderLabels(["Field", "Merged away", "Survivor", "The survivor keeps"])
        make_read_only_table(self.table)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.emails = named(QCheckBox(), "emailsConfirmed")
        self.combos: dict[str, QComboBox] = {}
        self.body.addWidget(self.heading)
        self.body.addWidget(self.table, 1)
        self.body.addWidget(self.emails)

    def show_step(self) -> None:
        machine = _machine(self)
        plan = machine.plan
        assert plan is not None
        self.heading.setText(f"{plan.merged.name} ({plan.merged.member_no}) is merged into "
                             f"{plan.survivor.name} ({plan.survivor.member_no}). Where they differ, choose "
                             "what the survivor keeps.")
        self.table.setRowCount(len(plan.fields))
        self.combos = {}
        for row, field in enumerate(plan.fields):
            merged, survivor = _display(field.field, field.merged), _display(field.field, field.survivor)
            for column, text in enumerate((field.label, merged, survivor)):
                self.table.setItem(row, column, _item(text))
            if field.choosable:
                combo = named(QComboBox(), f"choice_{field.field}")
                combo.addItem(f"{survivor}  (survivor)", "survivor")
                combo.addItem(f"{merged}  (merged away)", "merged")
                combo.setCurrentIndex(combo.findData(machine.choice(field.field)))
                combo.setAccessibleName(f"{field.label}: the survivor keeps")
                self.combos[field.field] = combo
                self.table.setCellWidget(row, 3, combo)
            else:
                self.table.setItem(row, 3, _item(_display(field.field, field.result or field.survivor)))
        self.table.resizeRowsToContents()
        self.emails.setVisible(plan.emails_differ)
        self.emails.setText(f"I have checked that {plan.merged.email} and {plan.survivor.email} belong to the "
                            "same person")
        self.emails.setChecked(machine.emails_confirmed)

    def collect(self) -> None:
        machine = _machine(self)
        for field, combo in self.combos.items():
            machine.choose(field, combo.currentData())
        machine.emails_confirmed = self.emails.isChecked()


class PlanPage(StepPage):
    step = "plan"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.moves = text_label("", "planMoves")
        self.after = text_label("", "planAfter")
        self.body.addWidget(text_label("Everything of the merged-away member moves to the survivor, in one step:"))
        self.body.addWidget(self.moves)
        self.body.addSpacing(10)
        self.body.addWidget(text_label("After the merge:"))
        self.body.addWidget(self.after)

    def show_step(self) -> None:
        machine = _machine(self)
        plan = machine.plan
        assert plan is not None
        self.moves.setText(bullets([f"{m.label.capitalize()}: {m.count:,}" for m in plan.moves]))
        values = machine.surviving_values()
        self.after.setText(bullets([
            (f"{plan.survivor.name} ({plan.survivor.member_no}) then has {fmt.count(plan.points_after)} points and "
            f"an account balance of {fmt.money(plan.balance_after_cents)}."),
            (f"Name: {values.get('first_name', '')} {values.get('last_name', '')}; e-mail: "
            f"{values.get('email') or fmt.NONE}; phone: {values.get('phone') or fmt.NONE}."),
            f"{plan.merged.name} ({plan.merged.member_no}) stays on record as Merged, pointing at the survivor.",
            "The merge can be undone for 30 days while neither member changes.",
        ]))


class MergeConfirmPage(StepPage):
    step = "confirm"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.prompt = text_label("", "confirmPrompt")
        self.typed = named(QLineEdit(), "confirmMemberNo")
        self.body.addWidget(self.prompt)
        self.body.addWidget(self.typed)

    def show_step(self) -> None:
        plan = _machine(self).plan
        assert plan is not None
        self.prompt.setText(f"To merge {plan.merged.name} ({plan.merged.member_no}) into {plan.survivor.name}, "
                            f"type the surviving member's ID, {plan.survivor.member_no}, and press Confirm.")
        self.typed.setPlaceholderText(plan.survivor.member_no)
        self.typed.setFocus()

    def collect(self) -> None:
        _machine(self).typed_member_no = self.typed.text()


def open_merge_wizard(workspace: Workspace, member: MemberDetail, parent: QWidget | None = None) -> WizardHost:
    machine = MergeWizard(facts_of(member))
    host = WizardHost(machine, [PickPage, ComparePage, PlanPage, MergeConfirmPage, ResultPage], workspace,
                      f"Merge — {member.name} ({member.member_no})", parent)
    host.setObjectName("mergeWizard")
    host.resize(900, 640)

    def finished(_result: object) -> None:
        if machine.plan is not None:
            host.changed_members(machine.plan.merged.id, machine.plan.survivor.id)

    host.on_finished.append(finished)
    return host


# ---------------------------------------------------------------------- undo


class ChooseMergePage(StepPage):
    step = "choose"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.status = text_label("Looking up this member's merges…", "mergesStatus")
        self.group = QButtonGroup(self)
        self.radios: dict[int, QRadioButton] = {}
        self.body.addWidget(self.status)

    def _undo(self) -> UndoMergeWizard:
        machine = self.machine
        assert isinstance(machine, UndoMergeWizard)
        return machine

    def show_merges(self) -> None:
        machine = self._undo()
        merges = machine.merges or []
        if not merges:
            self.status.setText(f"{machine.member.title} has not been merged with anyone.")
            return
        self.status.setText("Choose the merge to undo:")
        for info in merges:
            radio = named(QRadioButton(_merge_line(info)), f"merge{info.id}Radio")
            radio.setEnabled(info.undo_refusal is None)
            note = text_label(bullets(info.restores) if info.undo_refusal is None
                              else f"Cannot be undone: {info.undo_refusal}", f"merge{info.id}Note")
            note.setIndent(24)
            self.group.addButton(radio)
            self.radios[info.id] = radio
            self.body.addWidget(radio)
            self.body.addWidget(note)
        undoable = machine.undoable()
        if len(undoable) == 1:
            self.radios[undoable[0].id].setChecked(True)

    def collect(self) -> None:
        self._undo().chosen = next((i for i, r in self.radios.items() if r.isChecked()), None)


def _merge_line(info: MergeInfo) -> str:
    return (f"{info.merged.name} ({info.merged.member_no}) merged into {info.survivor.name} "
            f"({info.survivor.member_no}) on {fmt.when(info.created_at)} by {info.actor_name}")


class UndoConfirmPage(StepPage):
    step = "confirm"

    def __init__(self, host: WizardHost) -> None:
        super().__init__(host)
        self.text = text_label("", "undoConfirmText")
        self.body.addWidget(self.text)

    def show_step(self) -> None:
        machine = self.machine
        assert isinstance(machine, UndoMergeWizard)
        chosen = machine.selected()
        assert chosen is not None
        self.text.setText(f"Undo this merge?\n\n{_merge_line(chosen)}\n\n{bullets(chosen.restores)}")


def open_undo_wizard(workspace: Workspace, member: MemberDetail, parent: QWidget | None = None) -> WizardHost:
    machine = UndoMergeWizard(facts_of(member))
    host = WizardHost(machine, [ChooseMergePage, UndoConfirmPage, ResultPage], workspace,
                      f"Undo merge — {member.name} ({member.member_no})", parent)
    host.setObjectName("undoMergeWizard")
    page = host.page_for("choose")
    assert isinstance(page, ChooseMergePage)
    client = workspace.client

    def loaded(merges: list[MergeInfo]) -> None:
        machine.merges = merges
        page.show_merges()

    host.load(lambda: client.merges(member.id), loaded,
              lambda exc: page.show_error(f"The merges could not be loaded: {describe(exc).text}"))

    def finished(_result: object) -> None:
        chosen = machine.selected()
        if chosen is not None:
            host.changed_members(chosen.merged.id, chosen.survivor.id)

    host.on_finished.append(finished)
    return host
