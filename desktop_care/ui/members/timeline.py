"""The Timeline tab of a member's details: everything that happened to the member —
account changes, mail, tickets, orders and payments, course registrations, animals,
status changes, merges, acting on behalf — newest first, from the server's
``GET /members/{id}/timeline`` (an op: it needs the server, and says so when it cannot
be reached).

Filter chips (one checkable button per kind, with its count) narrow the stream; none
checked, or "All", shows everything. Scrolling near the end loads the next page by
itself. Enter or a double-click on an entry about a ticket opens the ticket, on one
about an order shows it in the Orders tab.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from ...schemas import TimelineEntry, TimelineKind, TimelinePage
from .. import format as fmt
from ..qt import (
    QLabel,
    QLayout,
    QLayoutItem,
    QModelIndex,
    QPoint,
    QPushButton,
    QRect,
    QSize,
    QTabWidget,
    QTimer,
    QWidget,
)
from ..widgets import named
from .activity import PAGE, _PagedTab

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .orders import OrdersTab

#: Load the next page when the view is this close to its last row (rows).
PREFETCH_ROWS = 10
#: Audited actions whose own formatting (``fmt.history_change``) is richer than the
#: server's detail; the others show the server's detail on one line.
_SERVER_DETAIL = ("mail.queued", "on_behalf.start")


class ChipRows(QLayout):
    """Widgets left to right, wrapping onto another row when the width runs out (the
    chips stay whole on a narrow window)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._gap = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        widest = max((item.minimumSize().width() for item in self._items), default=0)
        return QSize(widest, self.heightForWidth(max(widest, 1)))

    def _place(self, rect: QRect, *, move: bool) -> int:
        """Lay the items out in ``rect`` (or only measure); returns the height used."""
        x, y, row_height = rect.x(), rect.y(), 0
        for item in self._items:
            size = item.sizeHint()
            if x > rect.x() and x + size.width() > rect.right() + 1:
                x, y, row_height = rect.x(), y + row_height + self._gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), size))
            x += size.width() + self._gap
            row_height = max(row_height, size.height())
        return y + row_height - rect.y()


class TimelineSource(Protocol):
    def member_timeline(self, member_id: int, *, kinds: Sequence[TimelineKind] = (), limit: int = 50,
                        cursor: str | None = None) -> TimelinePage: ...


class TimelineTab(_PagedTab):
    """One stream of the member's events, with a chip per kind and endless scrolling."""

    headers = ("When", "Kind", "Who", "What", "Details")
    noun = "entry"
    nouns = "entries"
    failed_title = "The timeline could not be loaded."

    def __init__(self, source: TimelineSource, member_id: int, parent: QWidget | None = None, *,
                 workspace: Workspace | None = None, open_order: Callable[[str], None] | None = None) -> None:
        super().__init__(source, member_id, "timelineTab", parent)  # type: ignore[arg-type]
        self.timeline_source = source
        self.workspace = workspace
        self.open_order = open_order
        self.entries: list[TimelineEntry] = []
        self.counts: dict[TimelineKind, int] = {}
        self.opened: QWidget | None = None
        #: Opens a ticket in a tab of the main window (set by the window hosting this).
        self.open_ticket_in: Callable[[int], QWidget] | None = None

        self.chip_bar = named(QWidget(), "timelineChips")
        chips = ChipRows(self.chip_bar)
        show = QLabel("Show:")
        show.setMinimumHeight(22)
        chips.addWidget(show)
        self.all_chip = self._chip("All", "timelineChip_all", "Show every kind of entry")
        self.all_chip.setChecked(True)
        self.all_chip.clicked.connect(self._show_all)
        chips.addWidget(self.all_chip)
        self.chips: dict[TimelineKind, QPushButton] = {}
        for kind in TimelineKind:
            chip = self._chip(kind.label.replace("&", "&&"), f"timelineChip_{kind.value}", f"Show {kind.label.lower()}")
            chip.toggled.connect(lambda _on: self._chips_changed())
            self.chips[kind] = chip
            chips.addWidget(chip)
        self.more_button.hide()
        self.more_button.setEnabled(False)  # pages load as the list scrolls
        self.table.verticalScrollBar().valueChanged.connect(lambda _v: self._maybe_more())
        self.table.activated.connect(self._activated)
        self.table.doubleClicked.connect(self._activated)
        self.table.setAccessibleName("Timeline of the member")
        # Toggling several chips quickly reloads once.
        self._reload_soon = QTimer(self)
        self._reload_soon.setSingleShot(True)
        self._reload_soon.setInterval(150)
        self._reload_soon.timeout.connect(self.reload)
        self._finish_layout(self.chip_bar)

    def _chip(self, text: str, name: str, accessible: str) -> QPushButton:
        chip = named(QPushButton(text), name)
        chip.setCheckable(True)
        chip.setProperty("role", "chip")
        chip.setAccessibleName(accessible)
        return chip

    # ----------------------------------------------------------------- filters

    @property
    def kinds(self) -> list[TimelineKind]:
        """The kinds shown (empty: every kind)."""
        return [kind for kind, chip in self.chips.items() if chip.isChecked()]

    def _show_all(self) -> None:
        for chip in self.chips.values():
            chip.blockSignals(True)
            chip.setChecked(False)
            chip.blockSignals(False)
        self._chips_changed()

    def _chips_changed(self) -> None:
        self.all_chip.setChecked(not self.kinds)
        self._reload_soon.start()

    def _label_chips(self) -> None:
        for kind, chip in self.chips.items():
            n = self.counts.get(kind)
            text = kind.label.replace("&", "&&")  # a plain ampersand, not a mnemonic
            chip.setText(text if n is None else f"{text} {n:,}")
            chip.setAccessibleName(f"Show {kind.label.lower()}" + ("" if n is None else f" ({fmt.plural(n, 'entry', 'entries')})"))
        if self.counts:
            self.all_chip.setText(f"All {sum(self.counts.values()):,}")

    # ----------------------------------------------------------------- loading

    def reload(self) -> None:
        self._reload_soon.stop()
        self.entries = []
        super().reload()

    def fetch_page(self, cursor: str | None) -> Callable[[], TimelinePage]:
        source, member_id, kinds = self.timeline_source, self.member_id, self.kinds
        return lambda: source.member_timeline(member_id, kinds=kinds, limit=PAGE, cursor=cursor)

    def _arrived(self, page: TimelinePage, first: bool) -> None:  # type: ignore[override]
        if page.counts is not None:
            self.counts = dict(page.counts)
            self._label_chips()
        self.entries += page.items
        super()._arrived(page, first)
        self.more_button.hide()  # no button: the list loads on as it scrolls
        # A first page that fits without a scroll bar: fetch on until it scrolls or ends.
        QTimer.singleShot(0, self._maybe_more)

    def show_count(self, page: TimelinePage) -> str:
        shown = fmt.plural(self.table.rowCount(), "entry", "entries")
        return f"{shown}, scroll for older ones" if page.next_cursor else shown

    def _maybe_more(self) -> None:
        if self._cursor is None or self.loading or not self.table.rowCount():
            return
        bar = self.table.verticalScrollBar()
        last_visible = self.table.rowAt(self.table.viewport().height() - 1)
        if bar.maximum() == 0 or bar.value() >= bar.maximum() - 2 \
                or (last_visible >= 0 and last_visible >= self.table.rowCount() - PREFETCH_ROWS):
            self.load_more()

    def empty_state(self) -> tuple[str, str]:
        if self.kinds:
            return "Nothing of this kind yet.", "Choose “All” or other chips to see more."
        return "Nothing has happened on this account yet.", \
            "Changes, mail, tickets, payments, courses and animals are listed here as they happen."

    # ----------------------------------------------------------------- rows

    def row(self, item: TimelineEntry) -> list[str]:
        who = f"{item.actor_name} (on behalf)" if item.impersonation_id else item.actor_name
        return [fmt.when(item.at), item.kind.label, who, item.summary, self._details(item)]

    @staticmethod
    def _details(item: TimelineEntry) -> str:
        if item.key.startswith("audit:") and item.action not in _SERVER_DETAIL:
            return fmt.history_change(item.action, item.details)
        return "; ".join(line for line in item.detail.splitlines() if line) or fmt.NONE

    def tooltip(self, item: TimelineEntry) -> str:
        lines = [f"{item.summary} — {fmt.when(item.at)}", f"By {item.actor_name}"
                 + (f" ({item.actor_username})" if item.actor_username else "")]
        if item.origin or item.client_address:
            lines.append(f"From workstation {item.origin or 'unknown'} at {item.client_address or 'unknown address'}")
        if item.impersonation_id:
            lines.append(f"Acting on behalf of the member (session {item.impersonation_id})")
        lines += item.detail.splitlines() if not item.key.startswith("audit:") or item.action in _SERVER_DETAIL \
            else fmt.history_lines(item.action, item.details)
        if item.ticket_id is not None and self.workspace is not None:
            lines.append(f"Enter or double-click opens ticket #{item.ticket_id}.")
        elif item.order_no and self.open_order is not None:
            lines.append(f"Enter or double-click shows order {item.order_no}.")
        return "\n".join(lines)

    # ----------------------------------------------------------------- opening

    def _activated(self, index: QModelIndex) -> None:
        if 0 <= index.row() < len(self.entries):
            self.open_entry(self.entries[index.row()])

    def _ticket_changed(self, _ticket_id: int) -> None:
        self.reload()

    def open_entry(self, entry: TimelineEntry) -> QWidget | None:
        """Open what the entry is about: its ticket, or its order (None if nothing)."""
        if entry.ticket_id is not None and self.workspace is not None:
            from ..tickets.ticket_view import open_ticket_view

            self.opened = open_ticket_view(self.workspace, entry.ticket_id, self.open_ticket_in,  # type: ignore[arg-type]
                                           self._ticket_changed)
            return self.opened
        if entry.order_no and self.open_order is not None:
            self.open_order(entry.order_no)
        return None


def select_when_loaded(orders: OrdersTab, order_no: str) -> None:
    """Show the Orders tab (in whatever tab widget holds it) and select order
    ``order_no`` there, now or once its list has arrived."""
    holder = orders.parentWidget()
    while holder is not None and not isinstance(holder, QTabWidget):
        holder = holder.parentWidget()
    if isinstance(holder, QTabWidget):
        holder.setCurrentWidget(orders)
    def select() -> bool:
        if any(order.order_no == order_no for order in orders.orders):
            orders.select(order_no)
            orders.table.setFocus()
            return True
        return False

    if orders.loaded and not orders.loading and select():
        return

    def arrived() -> None:
        orders.page_done.disconnect(arrived)
        select()

    orders.page_done.connect(arrived)
    orders.ensure_loaded()
