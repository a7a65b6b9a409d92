"""The Fraud stop page (Customer Care → Fraud stop, Ctrl+Shift+F): every block, with
who made it, when and why, when it expires and how often it would have blocked.

A text filter (a value, a note, who made it; an IP address finds the ranges it lies in;
debounced, off the GUI thread), filters by kind and state (active by default), a lazily
paged table, **Add a block…** (by hand) and **Lift…** for the selected active block
(Society Admin)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...commands import AddBlock, BaseCommand, CommandResult, LiftBlock
from ...models.fraud import BlockKind, BlockReason, BlockState
from ...schemas import FraudBlockOut, FraudBlockPage
from .. import format as fmt
from ..paging import PagedTableModel, show_results
from ..qt import (
    QColor,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QModelIndex,
    QObject,
    QPushButton,
    QStackedWidget,
    Qt,
    QTableView,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from ..widgets import StatePanel, make_results_table, named, page_title
from .dialogs import KIND_WORDS, AddBlockDialog, LiftBlockDialog, block_text

if TYPE_CHECKING:
    from ...sync.api_client import ApiClient
    from ..workspace import Workspace

DEBOUNCE_MS = 250
PLACEHOLDER = "Address, card, e-mail, note or who blocked it"
_DIMMED = QColor("#7a818c")
STATE_LABELS = {BlockState.ACTIVE: "Active", BlockState.EXPIRED: "Expired", BlockState.LIFTED: "Lifted"}


@dataclass(frozen=True)
class BlockQuery:
    text: str = ""
    kind: str | None = None
    state: str = "active"


def _expires(block: FraudBlockOut) -> str:
    if block.lifted_at is not None:
        return f"Lifted {fmt.when(block.lifted_at)}"
    return fmt.when(block.expires_at, never="Never")


def _why(block: FraudBlockOut) -> str:
    reason = BlockReason(block.reason_code).label
    return f"{reason}: {block.note}" if block.note else reason


COLUMNS: tuple[tuple[str, Callable[[FraudBlockOut], str]], ...] = (
    ("#", lambda b: str(b.id)),
    ("Kind", lambda b: KIND_WORDS[b.kind]),
    ("Blocked", lambda b: block_text(b.kind, b.value, b.card_brand, b.card_bin, b.card_last4)),
    ("Why", _why),
    ("By", lambda b: b.created_by),
    ("When", lambda b: fmt.when(b.created_at)),
    ("Expires", _expires),
    ("State", lambda b: STATE_LABELS[b.state]),
    ("Would have blocked", lambda b: f"{b.would_have_blocked:,}"),
)
_COUNT = len(COLUMNS) - 1


class BlockTableModel(PagedTableModel):
    def __init__(self, client: ApiClient, parent: QObject | None = None) -> None:
        super().__init__(parent, 50)
        self._client = client

    def fetch_page(self, request: Any, cursor: str | None, limit: int) -> FraudBlockPage:
        query: BlockQuery = request
        return self._client.fraud_blocks(query.text, kind=query.kind, state=query.state, limit=limit, cursor=cursor)

    @property
    def query(self) -> BlockQuery | None:
        return self._shown  # type: ignore[no-any-return]

    def block(self, row: int) -> FraudBlockOut:
        return self._rows[row]  # type: ignore[no-any-return]

    def columnCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        block: FraudBlockOut = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[index.column()][1](block)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Block #{block.id} by {block.created_by}, {fmt.when(block.created_at)}"]
            if block.source:
                lines.append(block.source)
            if block.lift_reason:
                lines.append(f"Lifted by {block.lifted_by}: {block.lift_reason}")
            if block.last_blocked_at is not None:
                lines.append(f"Last refused something {fmt.when(block.last_blocked_at)}")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.ForegroundRole and block.state != BlockState.ACTIVE:
            return _DIMMED
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == _COUNT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and \
                0 <= section < len(COLUMNS):
            return COLUMNS[section][0]
        return None

    def flags(self, index: Any) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


class FraudStopView(QWidget):
    """The Fraud stop page."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.setObjectName("fraudStopView")
        self.workspace = workspace
        self.model = BlockTableModel(workspace.client, self)
        self.dialog: QWidget | None = None

        title = page_title("Fraud stop")
        self.search_box = named(QLineEdit(placeholderText=PLACEHOLDER), "blockSearchBox")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setAccessibleName("Filter blocks")
        self.kind_box = named(QComboBox(), "blockKindFilter")
        self.kind_box.addItem("All kinds", None)
        for kind in BlockKind:
            self.kind_box.addItem(kind.label, kind.value)
        self.state_box = named(QComboBox(), "blockStateFilter")
        for label, value in (("Active", "active"), ("Expired", "expired"), ("Lifted", "lifted"), ("All", "all")):
            self.state_box.addItem(label, value)
        self.summary = named(QLabel(), "blocksSummary")
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.add_button = named(QPushButton("Add a block…"), "addBlockButton")
        self.add_button.setProperty("role", "danger")
        self.lift_button = named(QPushButton("Lift…"), "liftBlockButton")
        hint = named(QLabel("A blocked IP address, card or e-mail can no longer open an account or pay. "
                            "IP blocks expire (addresses are reallocated); lifting needs a Society Admin."),
                     "blocksHint")
        hint.setWordWrap(True)
        hint.setProperty("role", "muted")

        self.table = named(QTableView(self), "blocksTable")
        self.table.setModel(self.model)
        make_results_table(self.table)
        header = self.table.horizontalHeader()
        metrics = self.table.fontMetrics()
        samples = {"#": "100000", "Kind": "IP address", "Blocked": "2001:db8:ffff:ffff::/64",
                   "By": "Firstname Lastname", "When": "30 Sep 2025, 23:59", "Expires": "Lifted 30 Sep 2025, 23:59",
                   "State": "Expired"}
        for section, (name, _text) in enumerate(COLUMNS):
            if name == "Why":
                header.setSectionResizeMode(section, QHeaderView.ResizeMode.Stretch)
                continue
            header.setSectionResizeMode(section, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(section, max(metrics.horizontalAdvance(samples.get(name, name)),
                                                   header.fontMetrics().horizontalAdvance(name)) + 32)
        self.state = StatePanel(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.state)

        filters = QHBoxLayout()
        filters.addWidget(self.search_box, 3)
        filters.addWidget(self.kind_box, 1)
        filters.addWidget(self.state_box, 1)
        filters.addWidget(self.summary, 2)
        actions = QHBoxLayout()
        actions.addWidget(hint, 1)
        actions.addWidget(self.lift_button)
        actions.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 6)
        layout.addWidget(title)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addLayout(actions)

        self._debounce = QTimer(self, singleShot=True, interval=debounce_ms)
        self._debounce.timeout.connect(self.search_now)
        self.search_box.textEdited.connect(self._debounce.start)
        self.search_box.returnPressed.connect(self.search_now)
        self.kind_box.currentIndexChanged.connect(self.search_now)
        self.state_box.currentIndexChanged.connect(self.search_now)
        self.state.retry_button.clicked.connect(self.model.retry)
        self.model.state_changed.connect(self._update)
        self.add_button.clicked.connect(self.open_add)
        self.lift_button.clicked.connect(self.open_lift)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._enable())
        workspace.status_changed.connect(lambda _status: self._enable())
        self._update()

    # ----------------------------------------------------------------- actions

    def current_query(self) -> BlockQuery:
        return BlockQuery(text=self.search_box.text().strip(), kind=self.kind_box.currentData(),
                          state=self.state_box.currentData())

    def search_now(self) -> None:
        self._debounce.stop()
        self.model.load(self.current_query())

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def selected(self) -> FraudBlockOut | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.block(rows[0].row()) if rows else None

    def _run(self, command: BaseCommand, done: Callable[[CommandResult], None],
             failed: Callable[[BaseException], None]) -> None:
        self.workspace.run_now(command, parent=self, on_done=done, on_failed=failed)

    def _show(self, dialog: QWidget) -> QWidget:
        dialog.finished_action.connect(lambda _result: self.model.reload())  # type: ignore[attr-defined]
        dialog.show()
        self.dialog = dialog
        return dialog

    def open_add(self) -> AddBlockDialog:
        dialog = AddBlockDialog(self._run, self)
        dialog.setModal(True)
        self._show(dialog)
        return dialog

    def open_lift(self) -> LiftBlockDialog | None:
        block = self.selected()
        if block is None or block.state != BlockState.ACTIVE:
            return None
        dialog = LiftBlockDialog(block, self._run, self)
        dialog.setModal(True)
        self._show(dialog)
        return dialog

    # ----------------------------------------------------------------- internals

    def _enable(self) -> None:
        add = self.workspace.refusal(AddBlock)
        self.add_button.setEnabled(add is None)
        self.add_button.setToolTip(add or "Block an IP address or range, a card or an e-mail address or domain")
        lift = self.workspace.refusal(LiftBlock)
        block = self.selected()
        if lift is None and block is None:
            lift = "Select a block first"
        elif lift is None and block is not None and block.state != BlockState.ACTIVE:
            lift = f"This block is {block.state.value} already"
        self.lift_button.setEnabled(lift is None)
        self.lift_button.setToolTip(lift or "Lift the selected block, saying why")

    def _update(self) -> None:
        self._enable()
        query = self.model.query
        self.summary.setText(show_results(
            self.model, self.stack, self.table, self.state, rows_word="block", failed="The blocks could not be listed",
            no_match=("No blocks match", "Check the spelling, or clear the filter."),
            empty=(f"No {self.state_box.currentText().lower()} blocks",
                   "Add a block by hand, or use FRAUD-STOP on a member or an order."),
            filtered=bool(query is not None and query.text)))


__all__ = ["BlockQuery", "BlockTableModel", "FraudStopView"]
