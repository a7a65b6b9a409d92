"""Sorting the Society Users page and the Fraud stop page by a header click, against the
real server: the indicator shows the sort, a second click flips it, the sort stays
while the filter changes and as more pages load on scrolling."""

from __future__ import annotations

import datetime as dt

from desktop_care.models import BlockKind, BlockReason, FraudBlock, User, UserRole
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import QPoint, Qt, QTableView
from desktop_care.ui.widgets import SearchPage
from tests.support.servers import LiveServer
from tests.ui.arrange import server_session, unique
from tests.ui.test_users_page import filtered, shot, window  # noqa: F401 (fixtures)

WHEN = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def click_header(qtbot, table: QTableView, title: str) -> None:  # type: ignore[no-untyped-def]
    """A real mouse click on the middle of the header of column ``title``."""
    header = table.horizontalHeader()
    model = table.model()
    section = next(c for c in range(model.columnCount())
                   if model.headerData(c, Qt.Orientation.Horizontal) == title)
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def indicator(page: SearchPage) -> tuple[str, Qt.SortOrder] | None:
    header = page.table.horizontalHeader()
    if not header.isSortIndicatorShown():
        return None
    return str(page.model.headerData(header.sortIndicatorSection(), Qt.Orientation.Horizontal)), \
        header.sortIndicatorOrder()


def every_row(qtbot, page: SearchPage) -> None:  # type: ignore[no-untyped-def]
    """Scroll until every page has loaded."""
    while page.model.canFetchMore():
        page.table.scrollToBottom()
        page.model.fetchMore()
        qtbot.waitUntil(lambda: not page.model.loading)


def test_users_sorted_by_header_clicks_kept_on_filtering_and_scrolling(
        qtbot, window: MainWindow, sqlite_server: LiveServer) -> None:
    tag = unique("Sorted")
    names = ["carol", "Alice", "bob", "Dave", "erin"]
    with server_session(sqlite_server) as db:
        db.add_all(User(username=f"{tag.lower()}.{n.lower()}", display_name=f"{n} {tag}",
                        role=UserRole.NON_MEMBER if n != "Dave" else UserRole.SOCIETY_STAFF,
                        last_login_at=WHEN + dt.timedelta(days=i)) for i, n in enumerate(names))
        db.commit()
    window.users_action.trigger()
    view = window.users_view
    assert view is not None
    view.model._page_size = 2  # several pages for five users
    filtered(qtbot, view, tag)
    assert indicator(view) is None  # by id until a header is clicked

    def shown() -> list[str]:
        return [view.model.user(r).display_name.split()[0] for r in range(view.model.rowCount())]

    click_header(qtbot, view.table, "Name")
    qtbot.waitUntil(lambda: not view.model.loading and view.model.filter.sort == "name")
    assert indicator(view) == ("Name", Qt.SortOrder.AscendingOrder)
    # The first page (the view may already be fetching the next one); case does not matter.
    assert shown()[:2] == ["Alice", "bob"]
    every_row(qtbot, view)
    assert shown() == ["Alice", "bob", "carol", "Dave", "erin"]
    shot(window, "users-sorted-by-name")

    click_header(qtbot, view.table, "Name")  # again: the other way
    qtbot.waitUntil(lambda: not view.model.loading and view.model.filter.sort == "-name")
    assert indicator(view) == ("Name", Qt.SortOrder.DescendingOrder)
    every_row(qtbot, view)
    assert shown() == ["erin", "Dave", "carol", "bob", "Alice"]

    click_header(qtbot, view.table, "Last sign-in")  # latest first on the first click
    qtbot.waitUntil(lambda: not view.model.loading and view.model.filter.sort == "-last_login")
    every_row(qtbot, view)
    assert shown() == ["erin", "Dave", "bob", "Alice", "carol"]
    click_header(qtbot, view.table, "Member ID")  # does not sort: nothing changes
    assert indicator(view) == ("Last sign-in", Qt.SortOrder.DescendingOrder)

    view.role_filter.setCurrentIndex(view.role_filter.findText("Non-member users"))
    # The filtered first page (the view may fetch the next one at once).
    qtbot.waitUntil(lambda: not view.model.loading and shown()[:2] == ["erin", "bob"])
    every_row(qtbot, view)
    assert shown() == ["erin", "bob", "Alice", "carol"]
    assert view.model.filter.sort == "-last_login"
    assert view.table.model().headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == "Click to sort"


def test_fraud_blocks_sorted_by_header_clicks_kept_on_filtering_and_scrolling(
        qtbot, window: MainWindow, sqlite_server: LiveServer) -> None:
    tag = unique("blocks").lower()
    specs = [("zoe", 3), ("Amy", 0), ("ben", 7), ("Cy", 5)]  # who, would have blocked
    with server_session(sqlite_server) as db:
        db.add_all(FraudBlock(kind=BlockKind.EMAIL, value=f"{who.lower()}@{tag}.example", match_key=f"x:{tag}:{who}",
                              reason_code=BlockReason.OTHER, note=f"{tag}", created_by=f"{who} {tag}",
                              would_have_blocked=hits, created_at=WHEN + dt.timedelta(days=i))
                   for i, (who, hits) in enumerate(specs))
        db.commit()
    page = window.show_fraud_stop()
    page.model._page_size = 2
    page.state_box.setCurrentIndex(page.state_box.findText("All"))
    qtbot.keyClicks(page.search_box, tag)
    page.search_now()
    qtbot.waitUntil(lambda: not page.model.loading and page.model.query.text == tag)

    def shown() -> list[str]:
        return [page.model.block(r).created_by.split()[0] for r in range(page.model.rowCount())]

    assert indicator(page) == ("When", Qt.SortOrder.DescendingOrder)  # newest first
    every_row(qtbot, page)
    assert shown() == ["Cy", "ben", "Amy", "zoe"]

    click_header(qtbot, page.table, "Would have blocked")  # the most refused first
    qtbot.waitUntil(lambda: not page.model.loading and page.model.query.sort == "-hits")
    assert indicator(page) == ("Would have blocked", Qt.SortOrder.DescendingOrder)
    every_row(qtbot, page)
    assert shown() == ["ben", "Cy", "zoe", "Amy"]
    click_header(qtbot, page.table, "Would have blocked")
    qtbot.waitUntil(lambda: not page.model.loading and page.model.query.sort == "hits")
    every_row(qtbot, page)
    assert shown() == ["Amy", "zoe", "Cy", "ben"]

    click_header(qtbot, page.table, "By")
    qtbot.waitUntil(lambda: not page.model.loading and page.model.query.sort == "by")
    every_row(qtbot, page)
    assert shown() == ["Amy", "ben", "Cy", "zoe"]
    shot(window, "fraud-stop-sorted-by-who")

    page.kind_box.setCurrentIndex(page.kind_box.findText(BlockKind.EMAIL.label))  # the filter keeps the sort
    qtbot.waitUntil(lambda: not page.model.loading and page.model.query.kind == "email")
    every_row(qtbot, page)
    assert shown() == ["Amy", "ben", "Cy", "zoe"]
    assert indicator(page) == ("By", Qt.SortOrder.AscendingOrder)
