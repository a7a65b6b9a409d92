"""The Courses tab of a member's details: their course registrations (course, date,
state, certificate, and the refund due on a cancelled paid one, which staff manage),
their waiting-list places, with **Offer a place** for a waiting one while the session
has a free place, and their e-learning progress. Read from the server (an op); offline
it says it needs the server, as the Orders tab does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ...commands import CommandResult, Status
from ...commands.courses import OfferPlace
from ...models.courses import OFFER_HOURS
from ...schemas import CourseRegistrationOut, MemberCourses, WaitingEntryOut
from .. import format as fmt
from .. import message
from ..errors import describe
from ..ops import Generation, Op
from ..qt import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from ..widgets import StatePanel, make_read_only_table, named

if TYPE_CHECKING:
    from ..workspace import Workspace

_REG_STATES = {"registered": "Registered", "transferred": "Transferred", "cancelled": "Cancelled",
               "completed": "Completed"}
_WAIT_STATES = {"waiting": "Waiting", "offered": "Place offered", "accepted": "Accepted", "declined": "Declined",
                "expired": "Offer expired", "removed": "Removed"}


class CoursesSource(Protocol):
    def member_courses(self, member_id: int) -> MemberCourses: ...


def _table(name: str, headers: tuple[str, ...], stretch: int) -> QTableWidget:
    table = named(QTableWidget(0, len(headers)), name)
    table.setHorizontalHeaderLabels(list(headers))
    make_read_only_table(table)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], tips: list[str] | None = None) -> None:
    table.setRowCount(0)
    for r, cells in enumerate(rows):
        table.insertRow(r)
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if tips and tips[r]:
                item.setToolTip(tips[r])
            table.setItem(r, c, item)


def registration_row(item: CourseRegistrationOut) -> list[str]:
    state = _REG_STATES.get(item.state, item.state)
    if not item.is_registrant:
        state += f" (for {item.registrant_name})"
    refund = f"Refund due: {fmt.money(item.refund_due_cents, item.currency)}" if item.refund_due_cents else ""
    return [f"{item.course_title} ({item.course_code})", fmt.day(item.starts_at), state,
            item.certificate_code or "", item.order_no or "", refund]


def registration_tip(item: CourseRegistrationOut) -> str:
    lines = [f"{item.course_title}: {fmt.when(item.starts_at)}, {item.where}",
             f"Registrant: {item.registrant_name} · order contact: {item.contact_name}"]
    if item.order_no:
        lines.append(f"Order {item.order_no}: {(item.order_state or '').replace('_', ' ')}")
    if item.refund_due_cents:
        lines.append(f"Refund due to the order contact: {fmt.money(item.refund_due_cents, item.currency)} "
                     "(manage it in the payment manager)")
    return "\n".join(lines)


class CoursesTab(QWidget):
    """Three lists from one request: registrations, waiting list, e-learning."""

    def __init__(self, source: CoursesSource, member_id: int, parent: QWidget | None = None, *,
                 workspace: Workspace | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("coursesTab")
        self.source = source
        self.member_id = member_id
        self.workspace = workspace
        self.loaded = False
        self.loading = False
        self.data: MemberCourses | None = None
        self._generation = Generation()

        self.registrations = _table("registrationsTable",
                                    ("Course", "Session", "State", "Certificate", "Order", "Refund"), 0)
        self.waiting = _table("waitingTable", ("Course", "Session", "State", "Queue", "Offer expires", "Free places"), 0)
        self.elearning = _table("elearningTable", ("Module", "Progress", "Enrolled", "Completed"), 0)
        self.offer_button = named(QPushButton(f"Offer a place ({OFFER_HOURS} h)"), "offerPlaceButton")
        if workspace is None:  # not setVisible(True): a parentless button would show as a window
            self.offer_button.hide()
        self.offer_button.setEnabled(False)
        self.offer_button.clicked.connect(self.offer_place)
        self.offer_hint = named(QLabel(), "offerHint")
        self.offer_hint.setProperty("role", "muted")
        self.offer_hint.setWordWrap(True)
        self.waiting.itemSelectionChanged.connect(self._selection_changed)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        self.group_boxes: dict[str, QGroupBox] = {}
        for key, title, table, extra in (
                ("registrations", "Registrations", self.registrations, None),
                ("waiting", "Waiting lists", self.waiting, (self.offer_hint, self.offer_button)),
                ("elearning", "E-learning", self.elearning, None)):
            box = named(QGroupBox(title), f"{key}Box")
            inner = QVBoxLayout(box)
            inner.addWidget(table)
            if extra is not None:
                row = QHBoxLayout()
                row.addWidget(extra[0], 1)
                row.addWidget(extra[1])
                inner.addLayout(row)
            layout.addWidget(box, 2 if key == "registrations" else 1)
            self.group_boxes[key] = box
        self.state = StatePanel(self)
        self.state.retry_button.clicked.connect(self.reload)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.state)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(self.stack)

    # ----------------------------------------------------------------- loading

    def ensure_loaded(self) -> None:
        if not self.loaded and not self.loading:
            self.reload()

    def reload(self) -> None:
        if self.member_id < 0:
            self.loaded = True
            self.state.show_state("This member is not on the server yet.",
                                  "Their courses show once this computer has synced.")
            self.stack.setCurrentIndex(0)
            return
        self.loading = True
        self.state.show_state("Loading…")
        self.stack.setCurrentIndex(0)
        token = self._generation.next()
        source, member_id = self.source, self.member_id
        Op(self, lambda: source.member_courses(member_id)) \
            .success(self._generation.guard(token, self._arrived)) \
            .failure(self._generation.guard(token, self._failed)).run()

    def _arrived(self, data: MemberCourses) -> None:
        self.loading, self.loaded, self.data = False, True, data
        if not (data.registrations or data.waiting or data.elearning):
            self.state.show_state("No courses.", "Course registrations, waiting-list places and e-learning "
                                                 "of this member are listed here.")
            self.stack.setCurrentIndex(0)
            return
        _fill(self.registrations, [registration_row(r) for r in data.registrations],
              [registration_tip(r) for r in data.registrations])
        _fill(self.waiting, [[f"{w.course_title} ({w.course_code})", fmt.day(w.starts_at),
                              _WAIT_STATES.get(w.state, w.state),
                              str(w.queue_position) if w.queue_position is not None else "",
                              fmt.when(w.offer_expires_at) if w.state == "offered" else "",
                              str(w.free_places)] for w in data.waiting])
        _fill(self.elearning, [[f"{e.module_title} ({e.module_code})", f"{e.sections_done} of {e.sections_total}",
                                fmt.day(e.enrolled_at), fmt.day(e.completed_at) if e.completed_at else ""]
                               for e in data.elearning])
        for table in (self.registrations, self.waiting, self.elearning):
            table.resizeRowsToContents()
        self.stack.setCurrentIndex(1)
        self._selection_changed()

    def _failed(self, exc: BaseException) -> None:
        self.loading = False
        self.state.show_state("The courses could not be loaded.", describe(exc).text, retry=True)
        self.stack.setCurrentIndex(0)

    # ----------------------------------------------------------------- offering a place

    def selected_entry(self) -> WaitingEntryOut | None:
        model = self.waiting.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if self.data is None or not rows or rows[0].row() >= len(self.data.waiting):
            return None
        return self.data.waiting[rows[0].row()]

    def select_entry(self, entry_id: int) -> None:
        assert self.data is not None
        for index, entry in enumerate(self.data.waiting):
            if entry.id == entry_id:
                self.waiting.selectRow(index)
                return
        raise KeyError(entry_id)

    def _selection_changed(self) -> None:
        entry = self.selected_entry()
        reason = self.workspace.refusal(OfferPlace) if self.workspace is not None else "read only"
        if reason is None and entry is None:
            reason = "Select a waiting-list place to offer it"
        elif reason is None and entry is not None and entry.state != "waiting":
            reason = f"This place is {_WAIT_STATES.get(entry.state, entry.state).lower()}, not waiting"
        elif reason is None and entry is not None and entry.free_places <= 0:
            reason = "The session has no free place to offer"
        self.offer_button.setEnabled(reason is None)
        self.offer_button.setToolTip(reason or f"The member has {OFFER_HOURS} hours to accept; then the place "
                                               "passes to the next person waiting")
        self.offer_hint.setText(reason or "A declined or expired offer passes to the next person automatically.")

    def offer_place(self) -> None:
        entry = self.selected_entry()
        if entry is None or self.workspace is None:
            return
        self.offer_button.setEnabled(False)
        self.workspace.run_now(OfferPlace(member_id=self.member_id, entry_id=entry.id), parent=self,
                               on_done=self._offered, on_failed=self._offer_failed)

    def _offered(self, result: CommandResult) -> None:
        if result.status not in (Status.APPLIED, Status.DUPLICATE):
            message.error(f"The place was not offered: {result.reason}", parent=self)
        self.reload()

    def _offer_failed(self, exc: BaseException) -> None:
        message.problem(exc, parent=self)
        self._selection_changed()

    def cell(self, table: QTableWidget, row: int, column: int) -> str:
        item = table.item(row, column)
        return item.text() if item is not None else ""

    def rows(self, table: QTableWidget) -> list[list[str]]:
        return [[self.cell(table, r, c) for c in range(table.columnCount())] for r in range(table.rowCount())]


__all__ = ["CoursesTab"]
