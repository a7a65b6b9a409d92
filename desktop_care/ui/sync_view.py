"""What the person sees of syncing: the status-bar text and the Sync issues panel.

Both take plain data (a ``SyncStatus``, a list of ``SyncIssue``) and emit intents; the
workspace does the work.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..sync.local_store import SyncIssue
from ..sync.syncer import SyncStatus
from . import format as fmt
from .qt import (
    ModelIndex,
    QAbstractTableModel,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QModelIndex,
    QObject,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    Qt,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .widgets import StatePanel, make_read_only_table, named

# --------------------------------------------------------------------- status bar


def waiting(pending: int) -> str:
    return f"{fmt.plural(pending, 'change')} waiting"


def waiting_for_others(waiting_for: Sequence[tuple[str, int]]) -> str:
    """``"2 changes wait for ada to sign in"`` (colleagues' changes queued here)."""
    if not waiting_for:
        return ""
    if len(waiting_for) == 1:
        name, count = waiting_for[0]
        verb = "waits" if count == 1 else "wait"
        return f"{fmt.plural(count, 'change')} {verb} for {name} to sign in"
    total = sum(count for _, count in waiting_for)
    names = [name for name, _ in waiting_for]
    who = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{fmt.plural(total, 'change')} wait for {who} to sign in"


def _others_tooltip(waiting_for: Sequence[tuple[str, int]]) -> str:
    if not waiting_for:
        return ""
    lines = "; ".join(f"{name}: {fmt.plural(count, 'change')}" for name, count in waiting_for)
    return (f"\nMade on this computer by colleagues ({lines}). Each is sent only when its author "
            "signs in here, so the server records who made it.")


def status_text(status: SyncStatus, retry_in: float | None = None) -> tuple[str, str, str]:
    """``(text, state, tooltip)`` for the connection label of the status bar.

    ``retry_in`` overrides ``status.next_retry_in`` (a countdown since the event)."""
    retry = status.next_retry_in if retry_in is None else retry_in
    others = waiting_for_others(status.waiting_for)
    others_text = f" · {others}" if others else ""
    others_tip = _others_tooltip(status.waiting_for)
    if not status.online:
        text = "● Offline"
        if status.pending:
            text += f" — {waiting(status.pending)}"
        if retry is not None:
            text += f" · retrying in {max(1, math.ceil(retry))} s"
        tooltip = status.last_error or "The server can't be reached. Changes are kept here until it can."
        return text + others_text, "offline", tooltip + others_tip
    if status.syncing:
        if status.progress is not None and status.progress[1] > 0:
            done, total = status.progress
            return f"● Syncing {done} of {total}…", "syncing", "Sending changes to the server"
        if status.pulled is not None:
            done, total = status.pulled
            return (f"● Receiving the directory… {fmt.count(done)} of about {fmt.count(total)}", "syncing",
                    "Bringing this computer's copy of the member directory up to date")
        if status.received is not None:
            return (f"● Receiving changes… {status.received:.0%}", "syncing",
                    "Bringing this computer's copy of the member directory up to date")
        return "● Syncing…", "syncing", "Exchanging changes with the server"
    text = "● Online"
    if status.pending:
        text += f" — {waiting(status.pending)}"
    if status.paused:
        return (text + " · sync paused" + others_text, "online",
                "Receiving the directory was cancelled: Sync now (F5) goes on from where it stopped" + others_tip)
    return text + others_text, "online", (status.last_error or "Connected to the server") + others_tip


class SyncProgress(QWidget):
    """The status bar's bar for a long pull (a first sync): rows received of about how
    many, with a Cancel (each page is stored with its cursor, so stopping is safe and the
    next sync goes on from there). Hidden otherwise."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncProgress")
        self.bar = named(QProgressBar(), "syncProgressBar")
        self.bar.setAccessibleName("Directory received")
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.cancel_button = named(QPushButton("Cancel"), "cancelSyncButton")
        self.cancel_button.setToolTip("Stop receiving the directory for now (Sync now goes on from here)")
        self.cancel_button.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()

    def show_status(self, status: SyncStatus) -> None:
        if status.syncing and status.pulled is not None:
            done, total = status.pulled
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(min(done, total))
            self.bar.setToolTip(f"{fmt.count(done)} of about {fmt.count(total)} members received")
            self.cancel_button.setEnabled(True)
            self.setFixedSize(self.sizeHint())  # its own size: never squeezes the status text
            self.show()
        elif not status.syncing:
            self.hide()

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)  # takes effect once the page being written is stored
        self.cancel_requested.emit()


def issues_button_text(count: int) -> str:
    return f"⚠ {fmt.plural(count, 'sync issue')}"


# --------------------------------------------------------------------- issues panel

_FIELD_LABELS = {
    "title": "Title", "first_name": "First name", "last_name": "Last name", "name": "Name",
    "email": "E-mail", "phone": "Phone", "address.home": "Home address", "home_address": "Home address",
    "email_opt_in": "E-mail opt-in", "email_newsletters": "E-mail: newsletters", "email_offers": "E-mail: offers",
    "email_event_reminders": "E-mail: event reminders", "points_balance": "Points balance", "delta": "Points",
    "points_type": "Points type", "reason": "Reason",
    "address.postal": "Postal address", "address.billing": "Billing address",
    "blocked_for_balance": "Blocked for payment", "blocked_reason": "Reason for the block",
}
_STATUS_LABELS = {"conflict": "Conflict", "rejected": "Refused"}


def field_label(name: str) -> str:
    return _FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return fmt.yes_no(value)
    if isinstance(value, int):
        return fmt.count(value)
    if isinstance(value, Mapping):
        parts = [str(value.get(k) or "") for k in ("line1", "line2", "city", "region", "postcode", "country")]
        return ", ".join(p for p in parts if p) or "—"
    return str(value) or "(empty)"


def mine_command(issue: SyncIssue) -> dict[str, Any]:
    """The payload of the command the issue is about."""
    command = issue.mine.get("command")
    return dict(command) if isinstance(command, Mapping) else {}


def compare_rows(issue: SyncIssue) -> list[tuple[str, str, str]]:
    """``(field, mine, theirs)`` for every field the change touches; the fields in
    conflict first (a field the server did not name in a conflict says so)."""
    mine_values = issue.mine.get("values")
    mine = dict(mine_values) if isinstance(mine_values, Mapping) else {}
    names = [name for name in issue.theirs]
    names += [name for name in mine if name not in issue.theirs]
    missing = "(no conflict)" if issue.status == "conflict" else "—"
    return [(field_label(n), value_text(mine.get(n)), value_text(issue.theirs[n]) if n in issue.theirs
             else missing) for n in names]


class IssuesModel(QAbstractTableModel):
    """The open sync issues: member, change, what happened."""

    HEADERS = ("Member", "Change", "Problem")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._issues: list[SyncIssue] = []

    def set_issues(self, issues: Sequence[SyncIssue]) -> None:
        self.beginResetModel()
        self._issues = list(issues)
        self.endResetModel()

    def issue(self, row: int) -> SyncIssue:
        return self._issues[row]

    def row_of(self, issue_id: int) -> int | None:
        return next((row for row, i in enumerate(self._issues) if i.id == issue_id), None)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._issues)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._issues):
            return None
        issue = self._issues[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            column = index.column()
            if column == 0:
                return f"{issue.name} ({issue.member_no})"
            if column == 1:
                return issue.summary
            return _STATUS_LABELS.get(issue.status, issue.status.capitalize())
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


class SyncIssuesPanel(QDialog):
    """The changes the server did not take, each with its reason, both versions and the
    three ways out. Resolving is asked for (signals); the owner does it and refreshes."""

    #: (issue, "keep_mine" | "take_theirs")
    resolve_requested = Signal(object, str)
    #: (issue): open the matching edit dialog, prefilled with mine.
    edit_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncIssuesPanel")
        self.setWindowTitle("Sync issues — Desktop Care")
        self.setModal(False)
        self.resize(960, 520)
        self.model = IssuesModel(self)
        self.table = named(QTableView(), "issuesTable")
        self.table.setModel(self.model)
        make_read_only_table(self.table)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)

        intro = named(QLabel("These changes were not accepted by the server. Nothing is lost: choose what "
                             "to keep for each one."), "dialogIntro")
        intro.setWordWrap(True)

        self.reason = named(QLabel(), "issueReason")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compare = named(QTableWidget(0, 3), "compareTable")
        self.compare.setHorizontalHeaderLabels(["Field", "Mine (this computer)", "Theirs (the server)"])
        make_read_only_table(self.compare)
        self.compare.setWordWrap(True)
        self.compare.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.compare.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.keep_mine_button = named(QPushButton("Keep mine"), "keepMineButton")
        self.keep_mine_button.setToolTip("Send my change again, on top of the server's current version")
        self.take_theirs_button = named(QPushButton("Take theirs"), "takeTheirsButton")
        self.take_theirs_button.setToolTip("Drop my change and keep what the server has")
        self.edit_button = named(QPushButton("Edit…"), "editButton")
        self.edit_button.setToolTip("Change my version, then send it")
        self.keep_mine_button.clicked.connect(lambda: self._resolve("keep_mine"))
        self.take_theirs_button.clicked.connect(lambda: self._resolve("take_theirs"))
        self.edit_button.clicked.connect(self._edit)
        choices = QHBoxLayout()
        choices.addStretch()
        for button in (self.keep_mine_button, self.take_theirs_button, self.edit_button):
            choices.addWidget(button)

        detail = QGroupBox("The selected change")
        detail_layout = QVBoxLayout(detail)
        detail_layout.addWidget(self.reason)
        detail_layout.addWidget(self.compare, 1)
        detail_layout.addLayout(choices)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(detail)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([400, 560])
        self.empty = StatePanel(self)
        self.empty.show_state("No sync issues", "Every change made here was accepted by the server.")
        self.stack = QStackedWidget()
        self.stack.addWidget(splitter)
        self.stack.addWidget(self.empty)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.stack, 1)
        layout.addWidget(buttons)
        self.set_issues([])

    # ----------------------------------------------------------------- data

    def set_issues(self, issues: Sequence[SyncIssue]) -> None:
        """Show ``issues``, keeping the selected one selected while it is still open."""
        selected = self.current_issue()
        self.model.set_issues(issues)
        self.stack.setCurrentIndex(0 if issues else 1)
        row = self.model.row_of(selected.id) if selected is not None else None
        if issues:
            self.table.selectRow(row if row is not None else 0)
        self._show(self.current_issue())

    def current_issue(self) -> SyncIssue | None:
        index = self.table.currentIndex()
        return self.model.issue(index.row()) if index.isValid() else None

    def select(self, issue_id: int) -> None:
        row = self.model.row_of(issue_id)
        if row is not None:
            self.table.selectRow(row)

    def set_busy(self, busy: bool) -> None:
        from .members.editing import editable  # the edit dialogs load with this panel, not at start

        issue = self.current_issue()
        for button in (self.keep_mine_button, self.take_theirs_button, self.edit_button):
            button.setEnabled(issue is not None and not busy)
        if issue is not None and not editable(issue.kind):
            # A status change has no form to edit: keep it, take theirs, or run the wizard again.
            self.edit_button.setEnabled(False)

    # ----------------------------------------------------------------- internals

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show(self.model.issue(current.row()) if current.isValid() else None)

    def _show(self, issue: SyncIssue | None) -> None:
        self.set_busy(False)
        if issue is None:
            self.reason.clear()
            self.compare.setRowCount(0)
            return
        what = "conflicts with a change made elsewhere" if issue.status == "conflict" else "was refused"
        self.reason.setText(f"<b>{issue.summary}</b> for {issue.name} ({issue.member_no}) {what}.<br>"
                            f"The server said: {issue.reason or 'no reason given'}")
        rows = compare_rows(issue)
        self.compare.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.compare.setItem(r, c, QTableWidgetItem(text))
        self.compare.resizeRowsToContents()

    def _resolve(self, choice: str) -> None:
        issue = self.current_issue()
        if issue is not None:
            self.set_busy(True)
            self.resolve_requested.emit(issue, choice)

    def _edit(self) -> None:
        issue = self.current_issue()
        if issue is not None:
            self.edit_requested.emit(issue)
