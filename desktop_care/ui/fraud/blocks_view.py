"""The Fraud stop page (Customer Care → Fraud stop, Ctrl+Shift+F): every block, with
who made it, when and why, when it expires and how often it would have blocked.

A text filter (a value, a note, who made it; an IP address finds the ranges it lies in;
debounced, off the GUI thread), filters by kind and state (active by default), a lazily
paged table, **Add a block…** (by hand) and **Lift…** for the selected active block
(Society Admin)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ...commands import AddBlock, BaseCommand, CommandResult, LiftBlock
from ...models.fraud import BlockKind, BlockReason, BlockState
from ...schemas import FraudBlockOut, FraudBlockPage
from .. import format as fmt
from ..paging import PagedTableModel
from ..qt import (
    QColor,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QObject,
    QPushButton,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from ..widgets import SearchPage, make_results_table, named, page_title, size_columns
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
    #: The ``sort`` of ``GET /fraud-blocks`` (newest first unless a header says otherwise).
    sort: str = "-created"


def _expires(block: FraudBlockOut) -> str:
    if block.lifted_at is not None:
        return f"Lifted {fmt.when(block.lifted_at)}"
    return fmt.when(block.expires_at, never="Never")


def _why(block: FraudBlockOut) -> str:
    reason = BlockReason(block.reason_code).label
    return f"{reason}: {block.note}" if block.note else reason


class Column(NamedTuple):
    title: str
    text: Callable[[FraudBlockOut], str]
    #: The ``sort`` of ``GET /fraud-blocks`` this column sorts by (None: not sortable).
    sort: str | None = None


COLUMNS: tuple[Column, ...] = (
    Column("#", lambda b: str(b.id), "id"),
    Column("Kind", lambda b: KIND_WORDS[b.kind], "kind"),
    Column("Blocked", lambda b: block_text(b.kind, b.value, b.card_brand, b.card_bin, b.card_last4)),
    Column("Why", _why),
    Column("By", lambda b: b.created_by, "by"),
    Column("When", lambda b: fmt.when(b.created_at), "created"),
    Column("Expires", _expires, "expires"),
    Column("State", lambda b: STATE_LABELS[b.state]),
    Column("Would have blocked", lambda b: f"{b.would_have_blocked:,}", "hits"),
)
_COUNT = len(COLUMNS) - 1
#: The widest text each column expects (its title when wider).
_COLUMN_SAMPLES = {"#": "100000", "Kind": "IP address", "Blocked": "2001:db8:ffff:ffff::/64",
                   "By": "Firstname Lastname", "When": "30 Sep 2025, 23:59", "Expires": "Lifted 30 Sep 2025, 23:59",
                   "State": "Expired"}


class BlockTableModel(PagedTableModel):
    columns = COLUMNS

    def __init__(self, client: ApiClient, parent: QObject | None = None) -> None:
        super().__init__(parent, 50)
        self._client = client

    def fetch_page(self, request: Any, cursor: str | None, limit: int) -> FraudBlockPage:
        query: BlockQuery = request
        return self._client.fraud_blocks(query.text, kind=query.kind, state=query.state, sort=query.sort, limit=limit,
                                         cursor=cursor)

    @property
    def query(self) -> BlockQuery | None:
        return self._shown  # type: ignore[no-any-return]

    def block(self, row: int) -> FraudBlockOut:
        return self._rows[row]  # type: ignore[no-any-return]

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        block: FraudBlockOut = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[index.column()].text(block)
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


class FraudStopView(SearchPage):
    """The Fraud stop page."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.setObjectName("fraudStopView")
        self.workspace = workspace
        model = BlockTableModel(workspace.client, self)
        self.dialog: QWidget | None = None

        title = page_title("Fraud stop")
        table = named(QTableView(self), "blocksTable")
        table.setModel(model)
        make_results_table(table)
        size_columns(table, [column.title for column in COLUMNS], _COLUMN_SAMPLES, stretch="Why",
                     default_sample="", padding=32, title_metrics=table.horizontalHeader().fontMetrics())
        self.setup_search(model, table, box_name="blockSearchBox", placeholder=PLACEHOLDER,
                          accessible_name="Filter blocks", summary_name="blocksSummary", debounce_ms=debounce_ms)
        # Newest first, as before any click; the latest, the most refused first on a first click.
        self.setup_sorting([column.sort for column in COLUMNS], initial="-created",
                           descending_first=("created", "hits"))
        self.kind_box = named(QComboBox(), "blockKindFilter")
        self.kind_box.addItem("All kinds", None)
        for kind in BlockKind:
            self.kind_box.addItem(kind.label, kind.value)
        self.state_box = named(QComboBox(), "blockStateFilter")
        for label, value in (("Active", "active"), ("Expired", "expired"), ("Lifted", "lifted"), ("All", "all")):
            self.state_box.addItem(label, value)
        self.add_button = named(QPushButton("Add a block…"), "addBlockButton")
        self.add_button.setProperty("role", "danger")
        self.lift_button = named(QPushButton("Lift…"), "liftBlockButton")
        hint = named(QLabel("A blocked IP address, card or e-mail can no longer open an account or pay. "
                            "IP blocks expire (addresses are reallocated); lifting needs a Society Admin."),
                     "blocksHint")
        hint.setWordWrap(True)
        hint.setProperty("role", "muted")

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

        self.kind_box.currentIndexChanged.connect(self.search_now)
        self.state_box.currentIndexChanged.connect(self.search_now)
        self.add_button.clicked.connect(self.open_add)
        self.lift_button.clicked.connect(self.open_lift)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._enable())
        workspace.status_changed.connect(lambda _status: self._enable())
        self._update()

    # ----------------------------------------------------------------- actions

    def current_query(self) -> BlockQuery:
        return BlockQuery(text=self.search_box.text().strip(), kind=self.kind_box.currentData(),
                          state=self.state_box.currentData(), sort=self.sort or "-created")

    def search_now(self) -> None:
        self._debounce.stop()
        self.model.load(self.current_query())

    def selected(self) -> FraudBlockOut | None:
        rows = self.table.selectionModel().selectedRows()
        model: BlockTableModel = self.model  # type: ignore[assignment]
        return model.block(rows[0].row()) if rows else None

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
        self.show_filtered("block", "The blocks could not be listed",
                           ("No blocks match", "Check the spelling, or clear the filter."),
                           (f"No {self.state_box.currentText().lower()} blocks",
                            "Add a block by hand, or use FRAUD-STOP on a member or an order."))


__all__ = ["BlockQuery", "BlockTableModel", "FraudStopView"]
