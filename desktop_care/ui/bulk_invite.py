"""Bulk invite (Customer Care → Bulk invite…, Ctrl+Shift+B): invite many people to
members' portal accounts from a CSV file.

1. **Choose file…**: the file goes to the server's dry run (an op), which says row by
   row what will happen or what is wrong; nothing is written.
2. **Invite N people**: the rows that will be invited go to the server in chunks, one
   op per chunk, one after the other: the progress bar moves with each answer, and
   **Stop** waits for the chunk under way and sends no more (each chunk is one
   transaction on the server, so a row is done whole or not at all).
3. **Save report…**: every row with what happened to it, as CSV.

Running the same file again invites nobody twice (each row's op id comes from its
member and e-mail, on the server). Online only: offline, the buttons are disabled with
the reason (``Workspace.refusal``).
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..command_schemas import BulkPlanOut, BulkRowIn, BulkRowPlanOut, BulkRowResultOut, BulkRunOut
from ..commands.bulk_invite import UNREADABLE, BulkInvite
from ..sync.api_client import ApiClient, ValidationFailed
from ..sync.syncer import SyncStatus
from .errors import describe
from .ops import Op
from .qt import (
    ModelIndex,
    QAbstractTableModel,
    QCheckBox,
    QColor,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QModelIndex,
    QProgressBar,
    QPushButton,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from .widgets import make_read_only_table, named
from .workspace import Workspace

#: Rows per request of the run: small enough that the bar moves often and Stop is
#: quick (a chunk takes about a second), large enough that requests cost little.
CHUNK_ROWS = 200
SAMPLE_NAME = "bulk-invite-sample.csv"
REPORT_COLUMNS = ("row", "member_id", "member_name", "email", "role", "name", "result", "message")
_ERROR_COLOUR = QColor("#a61b1b")
#: The errors of a row, in a few words (the message says more).
ERROR_LABELS = {
    "missing_value": "missing value", "bad_email": "bad e-mail", "unknown_role": "unknown role",
    "unknown_member": "unknown member", "member_closed": "account closed", "duplicate": "duplicate in the file",
    "already_user": "already a user", "already_invited": "already invited", "refused": "refused",
}
_DONE_COLOUR = QColor("#1d6b2f")


def sample_path() -> Path:
    """The sample file shipped with the app (``resources/bulk-invite-sample.csv``)."""
    return config.resources_dir() / SAMPLE_NAME


@dataclass
class Line:
    """One row of the file: the dry run's plan and, once run, its result."""

    plan: BulkRowPlanOut
    result: BulkRowResultOut | None = None
    #: The run stopped (Stop, or the server went away) before this row was sent.
    not_run: bool = False

    @property
    def is_error(self) -> bool:
        if self.result is not None:
            return self.result.outcome == "error"
        return self.plan.action == "error"

    @property
    def outcome(self) -> str:
        if self.result is not None:
            return {"invited": "Invited", "already_done": "Already invited", "error": "Not invited"}[
                self.result.outcome]
        if self.plan.action == "error":
            return "Skipped" if self.not_run or self._ran else "Error"
        return "Not run" if self.not_run else "Will be invited"

    _ran: bool = False

    @property
    def message(self) -> str:
        return self.result.message if self.result is not None else self.plan.message

    @property
    def shown(self) -> str:
        """The outcome column: what will happen (or happened), and any error in words."""
        error = self.result.error if self.result is not None else self.plan.error
        if error is not None:
            label = ERROR_LABELS.get(error, error)
            said = self.message if not self.message.lower().startswith(label) else self.message[len(label):].lstrip(" :")
            return f"{self.outcome} — {label}: {said}"
        if self.result is not None and self.result.outcome == "already_done":
            return "Already invited by an earlier run"
        return self.outcome

    def report(self) -> list[str]:
        p = self.plan
        return [str(p.row), p.member_id, p.member_name, p.email, p.role, p.name, self.outcome, self.message]


def report_csv(lines: list[Line]) -> str:
    """The result report: every row of the file with what happened to it."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    writer.writerows(line.report() for line in lines)
    return out.getvalue()


class PlanModel(QAbstractTableModel):
    """The rows of the file with what will happen (or happened) to each; optionally
    only the rows with errors."""

    HEADERS = ("Row", "Member ID", "Member", "E-mail", "Role", "Outcome")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lines: list[Line] = []
        self._shown: list[int] = []
        self.errors_only = False

    def set_lines(self, lines: list[Line]) -> None:
        self.beginResetModel()
        self.lines = lines
        self._refilter()
        self.endResetModel()

    def set_errors_only(self, errors_only: bool) -> None:
        self.beginResetModel()
        self.errors_only = errors_only
        self._refilter()
        self.endResetModel()

    def _refilter(self) -> None:
        self._shown = [n for n, line in enumerate(self.lines) if not self.errors_only or line.is_error]

    def changed(self) -> None:
        """Results arrived: show them (and keep the filter right)."""
        self.set_errors_only(self.errors_only)

    def line(self, row: int) -> Line:
        return self.lines[self._shown[row]]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._shown):
            return None
        line = self.line(index.row())
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            p = line.plan
            if column == 0:
                return str(p.row)
            if column == 1:
                return p.member_id
            if column == 2:
                return p.member_name
            if column == 3:
                return p.email
            if column == 4:
                return p.role.capitalize()
            return line.shown
        if role == Qt.ItemDataRole.ToolTipRole and column == 5:
            return line.message
        if role == Qt.ItemDataRole.ForegroundRole and column == 5:
            if line.is_error:
                return _ERROR_COLOUR
            if line.result is not None:
                return _DONE_COLOUR
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class BulkInviteDialog(QDialog):
    """Choose a CSV file, see the dry run, invite, watch the progress, stop, save the report."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bulkInviteDialog")
        self.setWindowTitle("Bulk invite")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(1000, 640)
        self.workspace = workspace
        self.client: ApiClient = workspace.client
        self.plan: BulkPlanOut | None = None
        self.path: Path | None = None
        self.file_dialog: QFileDialog | None = None
        self.running = False
        self.stop_requested = False
        self._queue: list[Line] = []
        self._sent = 0
        self._done = 0

        heading = named(QLabel("Bulk invite"), "dialogHeading")
        self.intro = named(QLabel(
            "Invite people to members' portal accounts from a CSV file with the columns <b>member_id</b>, "
            "<b>email</b>, <b>role</b> (Full or Standard) and, optionally, <b>name</b> (the member's name "
            "when empty). First the server checks every row and shows what will happen; nobody is invited "
            "until you press Invite. Running the same file again invites nobody twice."), "bulkIntro")
        self.intro.setWordWrap(True)
        self.choose_button = named(QPushButton("Choose file…"), "chooseFileButton")
        self.choose_button.setProperty("role", "primary")
        self.choose_button.clicked.connect(self.choose_file)
        self.sample_button = named(QPushButton("Save sample file…"), "saveSampleButton")
        self.sample_button.clicked.connect(self.save_sample)
        self.file_label = named(QLabel("No file chosen."), "fileLabel")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.choose_button)
        file_row.addWidget(self.file_label, 1)
        file_row.addWidget(self.sample_button)
        self.file_error = named(QLabel(), "fileError")
        self.file_error.setProperty("role", "fieldError")
        self.file_error.setWordWrap(True)
        self.file_error.hide()
        self.offline_note = named(QLabel(), "offlineNote")
        self.offline_note.setWordWrap(True)
        self.offline_note.hide()

        self.summary = named(QLabel(), "planSummary")
        self.summary.setWordWrap(True)
        self.errors_only = named(QCheckBox("Show only rows with errors"), "errorsOnly")
        self.errors_only.toggled.connect(self._errors_only)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary, 1)
        summary_row.addWidget(self.errors_only)
        self.model = PlanModel(self)
        self.table = named(QTableView(), "planTable")
        make_read_only_table(self.table)
        self.table.setModel(self.model)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        for column, width in enumerate((56, 110, 170, 230, 80)):
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)

        self.placeholder = named(QLabel("Choose a CSV file: every row and what will happen to it shows here."),
                                 "planPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setProperty("role", "muted")

        self.progress = named(QProgressBar(), "runProgress")
        self.progress.setTextVisible(False)
        self.progress_label = named(QLabel(), "progressLabel")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)

        self.report_button = named(QPushButton("Save report…"), "saveReportButton")
        self.report_button.clicked.connect(self.choose_report_file)
        self.run_button = named(QPushButton("Invite"), "runButton")
        self.run_button.setProperty("role", "primary")
        self.run_button.clicked.connect(self.run)
        self.stop_button = named(QPushButton("Stop"), "stopButton")
        self.stop_button.setToolTip("Stop after the rows being sent now; the others are not invited")
        self.stop_button.clicked.connect(self.stop)
        self.close_button = named(QPushButton("Close"), "closeButton")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.report_button)
        buttons.addStretch()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(self.intro)
        layout.addLayout(file_row)
        layout.addWidget(self.file_error)
        layout.addWidget(self.offline_note)
        layout.addLayout(summary_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.placeholder, 1)
        layout.addLayout(progress_row)
        layout.addLayout(buttons)
        workspace.status_changed.connect(self._status_changed)
        self._update()

    # ----------------------------------------------------------------- state

    @property
    def lines(self) -> list[Line]:
        return self.model.lines

    def refusal(self) -> str | None:
        return self.workspace.refusal(BulkInvite)

    def _status_changed(self, _status: SyncStatus) -> None:
        self._update()

    def _update(self) -> None:
        """Enable what can be done now; say why not in the tooltips."""
        refusal = self.refusal()
        self.offline_note.setText(f"{refusal}." if refusal else "")
        self.offline_note.setVisible(bool(refusal) and not self.running)
        to_invite = self._to_invite()
        self.choose_button.setEnabled(not self.running and refusal is None)
        self.choose_button.setToolTip(refusal or "Choose a CSV file: the server checks it first, inviting nobody")
        self.run_button.setText(f"Invite {len(to_invite):,} {'person' if len(to_invite) == 1 else 'people'}"
                                if to_invite else "Invite")
        self.run_button.setEnabled(not self.running and refusal is None and bool(to_invite))
        self.run_button.setToolTip(refusal or ("Invite the rows that will be invited; rows with errors are skipped"
                                               if to_invite else "Choose a file with rows to invite first"))
        self.run_button.setVisible(not self.running)
        self.stop_button.setVisible(self.running)
        self.stop_button.setEnabled(self.running and not self.stop_requested)
        self.close_button.setEnabled(not self.running)
        self.close_button.setToolTip("Stop the run first" if self.running else "")
        self.report_button.setEnabled(bool(self.lines) and not self.running)
        self.errors_only.setVisible(bool(self.lines))
        self.table.setVisible(bool(self.lines))
        self.placeholder.setVisible(not self.lines)
        self.progress.setVisible(self.running or self._sent > 0)
        self.progress_label.setVisible(self.progress.isVisible())

    def _to_invite(self) -> list[Line]:
        return [line for line in self.lines if line.plan.action == "invite" and line.result is None]

    def _errors_only(self, checked: bool) -> None:
        self.model.set_errors_only(checked)

    # ----------------------------------------------------------------- the dry run

    def choose_file(self) -> QFileDialog:
        """The file picker (not modal to the app: the GUI keeps going)."""
        picker = QFileDialog(self, "Choose a CSV file to invite from")
        picker.setObjectName("openFileDialog")
        picker.setFileMode(QFileDialog.FileMode.ExistingFile)
        picker.setNameFilters(["CSV files (*.csv *.txt)", "All files (*)"])
        picker.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        picker.fileSelected.connect(lambda name: self.load_file(Path(name)))
        self.file_dialog = picker
        picker.open()
        return picker

    def load_file(self, path: Path) -> None:
        """Send ``path`` to the dry run (an op: the file is read off the GUI thread too)."""
        if self.running or self.refusal() is not None:
            return
        self.path = path
        self.plan = None
        self.model.set_lines([])
        self._sent = self._done = 0
        self.file_label.setText(f"{path.name} — checking every row…")
        self.file_error.hide()
        self.summary.setText("")
        self.choose_button.setEnabled(False)
        client = self.client

        def check() -> BulkPlanOut:
            return client.bulk_invite_dry_run(path.read_bytes(), path.name)

        Op(self, check).success(self._planned).failure(self._plan_failed).finally_(self._update).run()

    def _planned(self, plan: BulkPlanOut) -> None:
        self.plan = plan
        self.model.set_lines([Line(row) for row in plan.rows])
        assert self.path is not None
        self.file_label.setText(f"{self.path.name} — {plan.total:,} rows, read as {plan.encoding}, "
                                f"{plan.delimiter}-separated")
        errors = f"{plan.errors:,} {'row has an error' if plan.errors == 1 else 'rows have errors'}"
        if plan.to_invite:
            self.summary.setText(f"<b>{plan.to_invite:,} will be invited.</b> {errors}"
                                 + (" and will be skipped." if plan.errors else "."))
        else:
            self.summary.setText(f"<b>Nobody will be invited:</b> {errors}.")
        self.errors_only.setChecked(False)

    def _plan_failed(self, exc: BaseException) -> None:
        name = self.path.name if self.path else "The file"
        self.file_label.setText(name)
        if isinstance(exc, OSError):
            text = f"The file cannot be read: {exc.strerror or exc}."
        elif isinstance(exc, ValidationFailed) and "content_base64" in exc.fields:
            text = exc.fields["content_base64"].removeprefix(UNREADABLE)
        else:
            text = f"The file was not checked: {describe(exc).text}"
        self.file_error.setText(text)
        self.file_error.show()

    # ----------------------------------------------------------------- the run

    def run(self) -> None:
        queue = self._to_invite()
        if self.running or not queue or self.refusal() is not None:
            return
        for line in self.lines:
            line.not_run = False
            line._ran = True
        self._queue, self._sent, self._done = queue, 0, 0
        self.running, self.stop_requested = True, False
        self.progress.setRange(0, len(queue))
        self.progress.setValue(0)
        self._progress_text()
        self._update()
        self._send_next()

    def _send_next(self) -> None:
        if self.stop_requested or self._sent >= len(self._queue):
            self._finish()
            return
        chunk = self._queue[self._sent:self._sent + CHUNK_ROWS]
        self._sent += len(chunk)
        rows = [BulkRowIn(row=line.plan.row, member_id=line.plan.member_id, email=line.plan.email,
                          role=line.plan.role, name=line.plan.name) for line in chunk]
        client = self.client
        Op(self, lambda: client.bulk_invite_run(rows)).success(
            lambda out: self._chunk_done(chunk, out)).failure(self._chunk_failed).run()

    def _chunk_done(self, chunk: list[Line], out: BulkRunOut) -> None:
        results = {result.row: result for result in out.results}
        for line in chunk:
            line.result = results.get(line.plan.row)
        self._done += len(chunk)
        self.progress.setValue(self._done)
        self._progress_text()
        self.model.changed()
        self._send_next()

    def _chunk_failed(self, exc: BaseException) -> None:
        # The chunk may or may not have been applied: it is a transaction of its own on
        # the server, and its rows' op ids make running the file again safe either way.
        self._finish(f"The run stopped: {describe(exc).text}")

    def stop(self) -> None:
        """Send no more chunks; the one under way finishes (whole rows only)."""
        if self.running:
            self.stop_requested = True
            self.progress_label.setText(f"Stopping after the rows being sent… {self._done:,} of "
                                        f"{len(self._queue):,} done")
            self._update()

    def _progress_text(self) -> None:
        self.progress_label.setText(f"Inviting… {self._done:,} of {len(self._queue):,}")

    def _finish(self, failure: str = "") -> None:
        stopped = self.stop_requested or bool(failure)
        for line in self._queue:
            if line.result is None:
                line.not_run = True
        self.running = False
        counts = {"invited": 0, "already_done": 0, "error": 0}
        for line in self._queue:
            if line.result is not None:
                counts[line.result.outcome] += 1
        skipped = self.plan.errors if self.plan else 0
        text = f"<b>{counts['invited']:,} invited.</b>"
        if counts["already_done"]:
            text += f" {counts['already_done']:,} were already invited by an earlier run."
        if counts["error"]:
            text += f" {counts['error']:,} could not be invited (see the rows)."
        if skipped:
            text += f" {skipped:,} rows with errors were skipped."
        not_run = len(self._queue) - self._done
        if stopped:
            why = failure or "Stopped"
            text = (f"{why}. {text} {not_run:,} rows were not sent: run the same file again to invite them "
                    "(nobody is invited twice).")
        self.summary.setText(text)
        self.progress_label.setText(f"{'Stopped' if stopped else 'Done'}: {self._done:,} of "
                                    f"{len(self._queue):,} rows sent")
        self.model.changed()
        self._update()

    # ----------------------------------------------------------------- files

    def _save_picker(self, title: str, name: str) -> QFileDialog:
        picker = QFileDialog(self, title)
        picker.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        picker.setNameFilters(["CSV files (*.csv)", "All files (*)"])
        picker.setDefaultSuffix("csv")
        picker.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        picker.selectFile(name)
        self.file_dialog = picker
        return picker

    def choose_report_file(self) -> QFileDialog:
        stem = self.path.stem if self.path else "bulk-invite"
        picker = self._save_picker("Save the report", f"{stem}-report.csv")
        picker.setObjectName("saveReportDialog")
        picker.fileSelected.connect(lambda name: self.save_report(Path(name)))
        picker.open()
        return picker

    def save_report(self, path: Path) -> None:
        """Write the report (an op), then say where it went."""
        text = report_csv(self.lines)

        def write() -> Path:
            path.write_text(text, encoding="utf-8-sig")  # with a BOM: Excel then reads it as UTF-8
            return path

        Op(self, write).success(lambda p: self.progress_label.setText(f"Report saved to {p}")).failure(
            lambda exc: self._file_problem("The report was not saved", exc)).run()
        self.progress_label.show()

    def save_sample(self) -> QFileDialog:
        picker = self._save_picker("Save the sample file", SAMPLE_NAME)
        picker.setObjectName("saveSampleDialog")
        picker.fileSelected.connect(lambda name: self.write_sample(Path(name)))
        picker.open()
        return picker

    def write_sample(self, path: Path) -> None:
        def copy() -> Path:
            shutil.copyfile(sample_path(), path)
            return path

        Op(self, copy).success(lambda p: self.file_label.setText(f"Sample saved to {p}: fill it in, then choose it.")
                               ).failure(lambda exc: self._file_problem("The sample was not saved", exc)).run()

    def _file_problem(self, what: str, exc: BaseException) -> None:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self.file_error.setText(f"{what}: {reason}.")
        self.file_error.show()

    # ----------------------------------------------------------------- closing

    def reject(self) -> None:  # Escape
        if not self.running:
            super().reject()

    def closeEvent(self, event: Any) -> None:
        if self.running:
            event.ignore()
            return
        super().closeEvent(event)
