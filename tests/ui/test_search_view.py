"""The member search view and its table model against the real server."""

from __future__ import annotations

import pytest

from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.members.search_view import PLACEHOLDER, SearchView
from desktop_care.ui.members.table_model import COLUMNS, MemberTableModel
from desktop_care.ui.qt import QAbstractItemView, Qt
from desktop_care.ui.session import StaffSession
from tests.support.servers import LiveServer, free_port
from tests.ui.arrange import add_full_member, add_members, unique


@pytest.fixture
def view(qtbot, session: StaffSession) -> SearchView:
    view = SearchView(session.client)
    qtbot.addWidget(view)
    view.resize(1200, 600)
    view.show()
    return view


@pytest.fixture(scope="module")
def many(sqlite_server: LiveServer) -> str:
    """120 members sharing a surname: more than two pages of results."""
    surname = unique("Pagewood")
    add_members(sqlite_server, surname, 120)
    return surname


def rows(model: MemberTableModel, column: str) -> list[str]:
    c = [col.title for col in COLUMNS].index(column)
    return [model.index(r, c).data() for r in range(model.rowCount())]


def test_typing_a_query_shows_the_matching_members(qtbot, view: SearchView, make_members) -> None:
    surname = unique("Hollis")
    make_members(surname, 3)
    searches: list[bool] = []
    view.model.state_changed.connect(lambda: view.model.searching and searches.append(True))

    assert view.search_box.placeholderText() == PLACEHOLDER
    qtbot.keyClicks(view.search_box, surname.lower())
    qtbot.waitUntil(lambda: view.model.query == surname.lower() and not view.model.loading)

    assert len(searches) == 1  # typing a whole word sends one search, not one per key
    assert view.stack.currentWidget() is view.table
    assert view.summary.text() == "3 members"
    assert all(name.endswith(surname) for name in rows(view.model, "Name"))
    assert rows(view.model, "Pending") == ["—"] * 3
    assert rows(view.model, "Last login") == ["Never"] * 3


def test_a_row_shows_status_money_and_dates_readably(qtbot, view: SearchView, sqlite_server: LiveServer) -> None:
    member = add_full_member(sqlite_server, unique("Rowan"))
    view.set_query(member.member_no)
    qtbot.waitUntil(lambda: view.model.query == member.member_no and not view.model.loading)
    assert rows(view.model, "Member ID")[0] == member.member_no
    assert rows(view.model, "Name")[0] == f"Edith {member.last_name}"
    assert rows(view.model, "Status")[0] == "Enrolled"
    assert rows(view.model, "Points")[0] == "1,250"
    assert rows(view.model, "Balance")[0] == "£42.00"
    assert rows(view.model, "Pending")[0] == "2 (£30.00)"
    assert rows(view.model, "Last login")[0].startswith("4 Mar 2025, ")
    balance = view.model.index(0, [c.title for c in COLUMNS].index("Balance"))
    assert balance.data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight


def test_more_results_than_a_page_say_so_and_load_on_scroll(qtbot, view: SearchView, many: str) -> None:
    view.set_query(many)
    qtbot.waitUntil(lambda: view.model.rowCount() == 50)
    assert view.summary.text() == "showing 50 of 120 — refine your search"

    view.table.scrollToBottom()
    qtbot.waitUntil(lambda: view.model.rowCount() == 100)
    assert view.summary.text() == "showing 100 of 120 — refine your search"

    view.table.scrollToBottom()
    qtbot.waitUntil(lambda: view.model.rowCount() == 120)
    assert view.summary.text() == "120 members"
    assert not view.model.canFetchMore()
    assert len(set(rows(view.model, "Member ID"))) == 120


def test_fetching_more_twice_loads_one_page(qtbot, session: StaffSession, many: str) -> None:
    model = MemberTableModel(session.client)
    model.search(many)
    qtbot.waitUntil(lambda: model.rowCount() == 50)
    model.fetchMore()
    model.fetchMore()  # while the first is out: ignored
    assert model.loading and not model.canFetchMore()
    qtbot.waitUntil(lambda: not model.loading)
    assert model.rowCount() == 100


def test_a_newer_query_wins_over_an_older_one(qtbot, session: StaffSession, many: str, make_members) -> None:
    other = unique("Newcombe")
    make_members(other, 2)
    model = MemberTableModel(session.client)
    model.search(many)
    model.search(other)
    qtbot.waitUntil(lambda: model.query == other and not model.loading)
    assert model.rowCount() == 2
    assert all(name.endswith(other) for name in rows(model, "Name"))


def test_the_table_model_is_a_well_behaved_qt_model(qtbot, qtmodeltester, session: StaffSession, many: str) -> None:
    model = MemberTableModel(session.client)
    model.search(many)
    qtbot.waitUntil(lambda: model.rowCount() == 50)
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)  # Qt's own QAbstractItemModelTester
    qtbot.waitUntil(lambda: not model.loading)


def test_no_match_shows_an_empty_state(qtbot, view: SearchView) -> None:
    query = unique("Nobody")
    view.set_query(query)
    qtbot.waitUntil(lambda: view.stack.currentWidget() is view.state)
    assert view.state.title.text() == f"No members match “{query}”"
    assert not view.state.retry_button.isVisible()
    assert view.summary.text() == ""


def test_percent_and_underscore_are_plain_characters(qtbot, view: SearchView, make_members) -> None:
    surname = unique("Under")
    make_members(surname, 2)
    view.set_query(f"{surname[:3]}%")
    qtbot.waitUntil(lambda: view.model.query is not None and not view.model.loading)
    assert view.stack.currentWidget() is view.state
    assert view.state.title.text() == f"No members match “{surname[:3]}%”"


def test_an_unreachable_server_shows_an_error_state_with_retry(qtbot) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    view = SearchView(ApiClient(url, retries=0))
    qtbot.addWidget(view)
    view.show()
    view.set_query("smith")
    qtbot.waitUntil(lambda: view.stack.currentWidget() is view.state)
    assert view.state.title.text() == "The search did not work"
    assert view.state.body.text().startswith(f"The server at {url} can't be reached.")
    assert view.state.retry_button.isVisible()


def test_enter_or_double_click_opens_the_member(qtbot, view: SearchView, make_members) -> None:
    surname = unique("Opener")
    ids = make_members(surname, 2)
    view.set_query(surname)
    qtbot.waitUntil(lambda: view.model.rowCount() == 2)

    view.search_box.setFocus()
    qtbot.keyClick(view.search_box, Qt.Key.Key_Down)  # from the search box to the results
    assert view.table.hasFocus() or view.table.currentIndex().row() == 0
    with qtbot.waitSignal(view.member_opened) as opened:
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert opened.args == [ids[0]]

    second = view.table.visualRect(view.model.index(1, 1)).center()
    with qtbot.waitSignal(view.member_opened) as opened:
        # as a hand does it: the first click of a double-click arrives as a click
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=second)
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=second)
    assert opened.args == [ids[1]]
    assert view.table.selectionBehavior() == QAbstractItemView.SelectionBehavior.SelectRows


def click_header(qtbot, view: SearchView, title: str) -> int:  # type: ignore[no-untyped-def]
    """A mouse click on the header of column ``title``; its section."""
    from desktop_care.ui.qt import QPoint

    header = view.table.horizontalHeader()
    section = [col.title for col in COLUMNS].index(title)
    middle = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(middle, header.height() // 2))
    return section


def test_a_header_click_sorts_on_the_server_through_refining_and_scrolling(
    qtbot, view: SearchView, many: str, screenshot
) -> None:
    view.set_query(many)
    qtbot.waitUntil(lambda: view.model.query == many and not view.model.loading)
    header = view.table.horizontalHeader()
    assert not header.isSortIndicatorShown()  # by member until a header is clicked

    name = click_header(qtbot, view, "Name")
    qtbot.waitUntil(lambda: view.model.sort_shown == "name" and not view.model.loading)
    assert (header.isSortIndicatorShown(), header.sortIndicatorSection()) == (True, name)
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    click_header(qtbot, view, "Name")  # again: the other way round
    qtbot.waitUntil(lambda: view.model.sort_shown == "-name" and not view.model.loading)
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert rows(view.model, "Name")[:2] == [f"Ann119 {many}", f"Ann118 {many}"]

    while view.model.has_more:  # scrolling down loads the next pages in the same order
        view.table.scrollToBottom()
        view.model.fetchMore()
        qtbot.waitUntil(lambda: not view.model.loading)
    names = rows(view.model, "Name")
    assert len(names) == 120 and names == sorted(names, reverse=True)

    qtbot.keyClicks(view.search_box, " ann11")  # refining keeps the sort
    qtbot.waitUntil(lambda: view.model.query == f"{many} ann11" and not view.model.loading)
    assert view.model.sort_shown == "-name"
    assert rows(view.model, "Name") == [f"Ann11{i} {many}" for i in range(9, -1, -1)]
    assert header.sortIndicatorSection() == name

    click_header(qtbot, view, "Sync")  # a column that does not sort keeps the indicator where it was
    assert (header.sortIndicatorSection(), view.sort) == (name, "-name")
    click_header(qtbot, view, "Balance")  # amounts: highest first on the first click
    qtbot.waitUntil(lambda: view.model.sort_shown == "-balance" and not view.model.loading)
    assert ("Sort by Balance, descending", "-balance") in view.sort_choices()
    view.sort_by("name")  # what the palette's "Sort by Name, ascending" does
    qtbot.waitUntil(lambda: view.model.sort_shown == "name" and not view.model.loading)
    assert rows(view.model, "Name")[0] == f"Ann110 {many}"
    screenshot(view, "member-search-sorted")
