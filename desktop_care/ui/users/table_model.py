"""The Society Users list as a lazily paged table model (``GET /users``).

Like the member results (:mod:`desktop_care.ui.members.table_model`): one page at a
time off the GUI thread, more as the person scrolls (``canFetchMore``/``fetchMore``),
a newer filter makes answers to an older one stale, and the previous rows stay on
screen while a new filter loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...models.user import UserState
from ...schemas import UserListItem, UserPage
from .. import format as fmt
from ..ops import Generation, Op
from ..qt import ModelIndex, QAbstractTableModel, QColor, QModelIndex, QObject, Qt, Signal
from .actions import state_text, state_tooltip

PAGE_SIZE = 50
USER_ID_ROLE = Qt.ItemDataRole.UserRole
#: The Revoke column's text when the action is available (the view styles it as a link).
REVOKE = "Revoke"

_DIMMED = QColor("#7a818c")
_WARNING = QColor("#a23b16")


class UserSource(Protocol):
    def list_users(
        self, q: str = "", *, roles: Any = (), states: Any = (), limit: int = 50, cursor: str | None = None
    ) -> UserPage: ...


@dataclass(frozen=True)
class UserFilter:
    text: str = ""
    roles: tuple[str, ...] = ()
    states: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.roles or self.states)


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[UserListItem], str]
    tooltip: Callable[[UserListItem], str] | None = None


def _member(user: UserListItem) -> str:
    return user.member_no or ("Staff" if user.role.is_staff else "—")


COLUMNS: tuple[Column, ...] = (
    Column("Username", lambda u: u.username),
    Column("Name", lambda u: u.display_name),
    Column("Email", lambda u: u.email),
    Column("Role", lambda u: fmt.role(u.role)),
    Column("Member ID", _member),
    Column("State", state_text, tooltip=state_tooltip),
    Column("Last sign-in", lambda u: fmt.when(u.last_login_at)),
    Column("Revoke", lambda u: "" if u.state == UserState.REVOKED else REVOKE),
)
REVOKE_COLUMN = len(COLUMNS) - 1


@dataclass
class _Paging:
    rows: list[UserListItem] = field(default_factory=list)
    shown: UserFilter | None = None
    requested: UserFilter | None = None
    cursor: str | None = None
    total: int = 0
    total_exact: bool = True


class UserTableModel(QAbstractTableModel):
    """Rows of :class:`UserListItem` for the current filter, loaded page by page."""

    #: Loading started or finished, a page arrived, or a request failed.
    state_changed = Signal()

    def __init__(self, source: UserSource, parent: QObject | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self._source = source
        self._page_size = page_size
        self._p = _Paging()
        self._searching = False
        self._fetching = False
        self._error: BaseException | None = None
        self._generation = Generation()
        #: Why the Revoke action is not available for a row (None: it is), from the view.
        self.revoke_refusal: Callable[[UserListItem], str | None] = lambda user: None

    # ------------------------------------------------------------------ state

    @property
    def filter(self) -> UserFilter | None:
        """The filter of the rows shown (None before the first load)."""
        return self._p.shown

    @property
    def searching(self) -> bool:
        return self._searching

    @property
    def loading(self) -> bool:
        return self._searching or self._fetching

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def total(self) -> int:
        return self._p.total

    @property
    def total_exact(self) -> bool:
        return self._p.total_exact

    @property
    def has_more(self) -> bool:
        return self._p.cursor is not None

    def user(self, row: int) -> UserListItem:
        return self._p.rows[row]

    # ------------------------------------------------------------------ requests

    def search(self, user_filter: UserFilter) -> None:
        self._generation.next()
        self._p.requested = user_filter
        self._searching, self._fetching, self._error = True, False, None
        self.state_changed.emit()
        self._request(user_filter, None, lambda page: self._first_page(user_filter, page))

    def reload(self) -> None:
        """Load the current filter again from the first page (after an action)."""
        if self._p.requested is not None:
            self.search(self._p.requested)

    def retry(self) -> None:
        if self._p.requested is None:
            return
        self._error = None
        if self._p.shown == self._p.requested and self._p.cursor is not None:
            self.fetchMore()
        else:
            self.search(self._p.requested)

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and self._p.cursor is not None and not self.loading and self._error is None

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if not self.canFetchMore(parent) or self._p.shown is None:
            return
        self._fetching = True
        self.state_changed.emit()
        self._request(self._p.shown, self._p.cursor, self._next_page)

    def _request(self, user_filter: UserFilter, cursor: str | None, on_page: Callable[[UserPage], None]) -> None:
        token = self._generation.current
        source, limit = self._source, self._page_size
        (
            Op(self, lambda: source.list_users(user_filter.text, roles=user_filter.roles,
                                               states=user_filter.states, limit=limit, cursor=cursor))
            .success(self._generation.guard(token, on_page))
            .failure(self._generation.guard(token, self._failed))
            .run()
        )

    def _first_page(self, user_filter: UserFilter, page: UserPage) -> None:
        self.beginResetModel()
        self._p = _Paging(list(page.items), user_filter, user_filter, page.next_cursor, page.total, page.total_exact)
        self._searching = False
        self.endResetModel()
        self.state_changed.emit()

    def _next_page(self, page: UserPage) -> None:
        self._fetching = False
        if page.items:
            first = len(self._p.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.items) - 1)
            self._p.rows.extend(page.items)
            self.endInsertRows()
        self._p.cursor = page.next_cursor
        self._p.total, self._p.total_exact = page.total, page.total_exact
        self.state_changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self._searching = self._fetching = False
        self._error = exc
        self.state_changed.emit()

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._p.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._p.rows):
            return None
        user = self._p.rows[index.row()]
        column = COLUMNS[index.column()]
        revoke = index.column() == REVOKE_COLUMN
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(user)
        if role == Qt.ItemDataRole.ToolTipRole:
            if revoke:
                if user.state == UserState.REVOKED:
                    return "Access already revoked"
                return self.revoke_refusal(user) or f"Revoke access for {user.display_name or user.username}"
            return column.tooltip(user) if column.tooltip is not None else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if revoke:
                return _DIMMED if self.revoke_refusal(user) else _WARNING
            if user.state in (UserState.REVOKED, UserState.DISABLED):
                return _DIMMED
            if index.column() == 5 and user.locked_until is not None:
                return _WARNING
        if role == USER_ID_ROLE:
            return user.id
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
