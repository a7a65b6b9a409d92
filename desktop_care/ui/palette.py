"""The command palette (Ctrl+K) and the list of keyboard shortcuts (?).

The palette offers, as you type: every action of the main window's menus, every action
of the member whose details are in front (its buttons: "Adjust points…", "Reset
password…", …), and members found by ID or name (opening them). Nothing is listed by
hand: what a window shows as a menu action or a button is what the palette offers, so
an action added anywhere appears here too. Actions that cannot run now (offline, a role
that may not) are listed greyed with their reason, never hidden.

The shortcuts list is built the same way, from the actions' own shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..schemas import MemberPage
from .ops import Op
from .qt import (
    QAbstractButton,
    QAction,
    QDialog,
    QEvent,
    QHeaderView,
    QKeyEvent,
    QKeySequence,
    QLabel,
    QLineEdit,
    QPalette,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from .widgets import make_read_only_table, named

#: How many members the palette lists for a query.
MEMBER_LIMIT = 5
#: Wait this long after the last keystroke before looking members up.
MEMBER_DEBOUNCE_MS = 200


def plain(text: str) -> str:
    """A label without its mnemonic ampersands (``"Se&ttings…"`` → ``"Settings…"``)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


@dataclass(frozen=True)
class Entry:
    """One line of the palette."""

    label: str
    #: Where it comes from: "Members", "Sync", "Mary Quant (10001234)", "Member"…
    group: str
    run: Callable[[], object]
    shortcut: str = ""
    enabled: bool = True
    #: Why it cannot run now (its tooltip), when disabled.
    reason: str = ""

    def matches(self, words: Sequence[str]) -> bool:
        text = f"{self.label} {self.group}".casefold()
        return all(word in text for word in words)


def action_entries(actions: Iterable[tuple[str, QAction]]) -> list[Entry]:
    """Palette entries for menu actions (``(menu title, action)``), without separators
    and unlabelled shortcut-only actions."""
    out: list[Entry] = []
    for group, action in actions:
        if action.isSeparator() or not action.text() or action.menu() is not None:
            continue
        out.append(Entry(
            label=plain(action.text()), group=group, run=action.trigger,
            shortcut=action.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
            enabled=action.isEnabled(), reason="" if action.isEnabled() else action.toolTip(),
        ))
    return out


def button_entries(window: QWidget, group: str) -> list[Entry]:
    """Palette entries for the visible buttons of ``window`` that open an action (their
    label ends with "…", as every action button in the app does)."""
    out: list[Entry] = []
    for button in window.findChildren(QAbstractButton):
        label = plain(button.text())
        if not label.endswith("…") or not button.isVisibleTo(window):
            continue
        out.append(Entry(label=label, group=group, run=button.click, enabled=button.isEnabled(),
                         reason="" if button.isEnabled() else button.toolTip()))
    return out


def shortcut_rows(actions: Iterable[tuple[str, QAction]], extra: Iterable[tuple[str, str, str]] = ()
                  ) -> list[tuple[str, str, str]]:
    """``(where, what, keys)`` for every action with a shortcut, and ``extra`` rows."""
    rows = [(group, plain(action.text()), action.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
            for group, action in actions if action.text() and not action.shortcut().isEmpty()]
    return [*rows, *extra]


class CommandPalette(QDialog):
    """Type to filter; Up/Down to choose; Enter to run; Esc to close."""

    def __init__(
        self,
        entries: Sequence[Entry],
        parent: QWidget | None = None,
        *,
        find_members: Callable[[str], MemberPage] | None = None,
        open_member: Callable[[int], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("commandPalette")
        self.setWindowTitle("Command palette")
        self.setMinimumWidth(560)
        self.entries = list(entries)
        self._find_members, self._open_member = find_members, open_member
        self.member_entries: list[Entry] = []
        self._asked = ""

        self.query = named(QLineEdit(), "paletteQuery")
        self.query.setPlaceholderText("Type an action, or a member's ID or name")
        self.query.setAccessibleName("Command or member")
        self.query.textChanged.connect(self._typed)
        self.query.installEventFilter(self)
        self.list = named(QTableWidget(0, 3), "paletteList")
        self.list.setAccessibleName("Matching actions and members")
        make_read_only_table(self.list)
        self.list.horizontalHeader().hide()
        self.list.setShowGrid(False)
        self.list.setWordWrap(False)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.list.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.list.itemActivated.connect(lambda _item: self.run_current())
        self.hint = named(QLabel("Enter runs the chosen line · Esc closes · ? lists every shortcut"), "dialogIntro")
        self._member_timer = QTimer(self, singleShot=True, interval=MEMBER_DEBOUNCE_MS)
        self._member_timer.timeout.connect(self._look_up_members)

        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        self.resize(620, 420)
        self._fill()

    # ----------------------------------------------------------------- showing

    def shown(self) -> list[Entry]:
        """The entries listed now, in order."""
        return [self._entry(row) for row in range(self.list.rowCount())]

    def _entry(self, row: int) -> Entry:
        cell = self.list.item(row, 0)
        assert cell is not None
        entry: Entry = cell.data(Qt.ItemDataRole.UserRole)
        return entry

    def _typed(self, _text: str) -> None:
        self.member_entries = []
        self._fill()
        if self._find_members is not None and len(self.query.text().strip()) >= 2:
            self._member_timer.start()

    def _fill(self) -> None:
        words = self.query.text().casefold().split()
        matching = [e for e in self.entries if e.matches(words)]
        # Runnable first, then the rest (greyed); each kept in its window's order.
        ordered = [e for e in matching if e.enabled] + [e for e in matching if not e.enabled] + self.member_entries
        self.list.setRowCount(len(ordered))
        for row, entry in enumerate(ordered):
            label = entry.label if entry.enabled or not entry.reason else f"{entry.label} ({entry.reason})"
            cells = [QTableWidgetItem(label), QTableWidgetItem(entry.group), QTableWidgetItem(entry.shortcut)]
            cells[0].setData(Qt.ItemDataRole.UserRole, entry)
            cells[1].setForeground(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            cells[2].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, cell in enumerate(cells):
                if not entry.enabled:
                    cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                    cell.setToolTip(entry.reason or "Not available now")
                self.list.setItem(row, column, cell)
        first = next((row for row in range(len(ordered)) if ordered[row].enabled), -1)
        self.list.setCurrentCell(first, 0)

    def _runnable(self, row: int) -> bool:
        return 0 <= row < self.list.rowCount() and self._entry(row).enabled

    # ----------------------------------------------------------------- members

    def _look_up_members(self) -> None:
        q = self.query.text().strip()
        if self._find_members is None or len(q) < 2:
            return
        self._asked = q
        find = self._find_members
        Op(self, lambda: find(q)).success(lambda page: self._got_members(q, page)).failure(
            lambda _exc: None  # the actions stay; members just do not show (offline and not cached)
        ).run()

    def _got_members(self, q: str, page: MemberPage) -> None:
        if q != self.query.text().strip() or self._open_member is None:
            return  # typed on since
        opener = self._open_member

        def opening(member_id: int) -> Callable[[], object]:
            return lambda: opener(member_id)

        self.member_entries = [Entry(label=f"Open {m.name} ({m.member_no})", group="Member", run=opening(m.id))
                               for m in page.items[:MEMBER_LIMIT]]
        self._fill()

    # ----------------------------------------------------------------- keys

    def eventFilter(self, watched: object, event: object) -> bool:
        if watched is self.query and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                self._move(1 if event.key() == Qt.Key.Key_Down else -1)
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.run_current()
                return True
        return super().eventFilter(watched, event)  # type: ignore[arg-type]

    def _move(self, step: int) -> None:
        row = self.list.currentRow()
        for _ in range(self.list.rowCount()):
            row = (row + step) % self.list.rowCount()
            if self._runnable(row):
                self.list.setCurrentCell(row, 0)
                return

    def run_current(self) -> None:
        row = self.list.currentRow()
        if row < 0 or not self._runnable(row):
            return
        entry = self._entry(row)
        self.accept()
        entry.run()


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut, where it works, and what it does."""

    def __init__(self, rows: Sequence[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.table = named(QTableWidget(len(rows), 3), "shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Where", "Action", "Keys"])
        make_read_only_table(self.table)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(named(QLabel("Keyboard shortcuts"), "dialogHeading"))
        layout.addWidget(self.table, 1)
        self.resize(640, 560)
