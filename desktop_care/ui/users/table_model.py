"""The Society Users list as a lazily paged table model over ``GET /users``
(:class:`~desktop_care.ui.paging.PagedTableModel`: one page at a time off the GUI
thread, more as the person scrolls, stale answers dropped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ...models.user import UserState
from ...schemas import UserListItem, UserPage
from .. import format as fmt
from ..paging import PagedTableModel
from ..qt import ModelIndex, QColor, QObject, Qt
from .actions import state_text, state_tooltip

PAGE_SIZE = 50
USER_ID_ROLE = Qt.ItemDataRole.UserRole
#: The Revoke column's text when the action is available (the view styles it as a link).
REVOKE = "Revoke"

_DIMMED = QColor("#7a818c")
_WARNING = QColor("#a23b16")


class UserSource(Protocol):
    def list_users(
        self, q: str = "", *, roles: Any = (), states: Any = (), limit: int = 50, cursor: str | None = None,
        sort: str | None = None,
    ) -> UserPage: ...


@dataclass(frozen=True)
class UserFilter:
    text: str = ""
    roles: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    #: The ``sort`` of ``GET /users`` (None: by id).
    sort: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.roles or self.states)


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[UserListItem], str]
    tooltip: Callable[[UserListItem], str] | None = None
    #: The ``sort`` of ``GET /users`` this column sorts by (None: not sortable).
    sort: str | None = None


def _member(user: UserListItem) -> str:
    return user.member_no or ("Staff" if user.role.is_staff else "—")


COLUMNS: tuple[Column, ...] = (
    Column("Username", lambda u: u.username, sort="username"),
    Column("Name", lambda u: u.display_name, sort="name"),
    Column("Email", lambda u: u.email, sort="email"),
    Column("Role", lambda u: fmt.role(u.role), sort="role"),
    Column("Member ID", _member),
    Column("State", state_text, tooltip=state_tooltip, sort="state"),
    Column("Last sign-in", lambda u: fmt.when(u.last_login_at), sort="last_login"),
    Column("Revoke", lambda u: "" if u.state == UserState.REVOKED else REVOKE),
)
REVOKE_COLUMN = len(COLUMNS) - 1


class UserTableModel(PagedTableModel):
    """Rows of :class:`UserListItem` for the current :class:`UserFilter`, page by page."""

    columns = COLUMNS

    def __init__(self, source: UserSource, parent: QObject | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent, page_size)
        self._source = source
        #: Why the Revoke action is not available for a row (None: it is), from the view.
        self.revoke_refusal: Callable[[UserListItem], str | None] = lambda user: None

    def fetch_page(self, request: Any, cursor: str | None, limit: int) -> UserPage:
        user_filter: UserFilter = request
        return self._source.list_users(user_filter.text, roles=user_filter.roles, states=user_filter.states,
                                       limit=limit, cursor=cursor, sort=user_filter.sort)

    @property
    def filter(self) -> UserFilter | None:
        """The filter of the rows shown (None before the first load)."""
        return self._shown  # type: ignore[no-any-return]

    def user(self, row: int) -> UserListItem:
        return self._rows[row]  # type: ignore[no-any-return]

    def search(self, user_filter: UserFilter) -> None:
        self.load(user_filter)

    # ------------------------------------------------------------------ Qt model

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        user = self._rows[index.row()]
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
