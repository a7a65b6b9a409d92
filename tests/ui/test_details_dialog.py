"""The member details dialog: loading, every section filled, and a member that is gone."""

from __future__ import annotations

from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.qt import QLabel, QTableWidget
from desktop_care.ui.session import StaffSession
from tests.support.servers import LiveServer
from tests.ui.arrange import add_full_member, unique


def text_of(dialog: MemberDetailsDialog, name: str) -> str:
    label = dialog.findChild(QLabel, name)
    assert label is not None, f"no label {name!r}"
    return label.text()


def table_rows(dialog: MemberDetailsDialog, name: str) -> list[list[str]]:
    table = dialog.findChild(QTableWidget, name)
    assert table is not None, f"no table {name!r}"
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_details_show_the_members_fields(qtbot, session: StaffSession, sqlite_server: LiveServer) -> None:
    member = add_full_member(sqlite_server, unique("Ashdown"))
    dialog = MemberDetailsDialog(session.client, member.id)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.loading
    assert dialog.status_page.title.text() == "Loading member…"
    assert not dialog.isModal()

    qtbot.waitUntil(lambda: dialog.member is not None)
    assert dialog.windowTitle() == f"Member {member.member_no} — Edith {member.last_name}"
    assert text_of(dialog, "memberNo") == member.member_no
    assert text_of(dialog, "logonId") == member.logon_id
    assert text_of(dialog, "fullName") == f"Dr Edith {member.last_name}"
    assert text_of(dialog, "status") == "Enrolled"
    assert text_of(dialog, "email") == f"edith.{member.last_name.lower()}@example.org"
    assert text_of(dialog, "phone") == "0131 496 0000"  # stored +44 131 496 0000; national form at home
    assert text_of(dialog, "emailOptIn") == "Yes"
    address = next(label.text() for label in dialog.findChildren(QLabel)
                   if label.objectName().startswith("address") and label.objectName() != "addressKind")
    assert address.splitlines() == ["12 Heather Row", "Kelso", "Scottish Borders", "TD5 7AB", "GB"]
    assert text_of(dialog, "points") == "1,250"
    assert text_of(dialog, "accountBalance") == "£42.00"
    assert text_of(dialog, "pending") == "2 (£30.00)"
    assert [row[1:] for row in table_rows(dialog, "pendingTable")] == [
        ["Herd book entry", "£15.00"], ["Transfer fee", "£15.00"]]
    assert text_of(dialog, "lastLogin").startswith("4 Mar 2025, ")
    users = table_rows(dialog, "usersTable")
    assert [(u[1], u[3], u[4]) for u in users] == [
        (f"Edith {member.last_name}", "Full", "Active"), ("Farm Helper", "Standard", "Locked")]


def test_a_member_that_is_gone_says_so(qtbot, session: StaffSession) -> None:
    dialog = MemberDetailsDialog(session.client, 987_654_321)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.loading)
    assert dialog.status_page.title.text() == "This member no longer exists."
    assert not dialog.status_page.retry_button.isVisible()
    assert dialog.member is None
