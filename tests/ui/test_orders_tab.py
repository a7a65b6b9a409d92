"""The Orders tab of a member's details against the real server: the member's orders
(as order contact and as registrant), and Mark exported / Mark not exported, which the
portal then honours. Set ``DESKTOP_CARE_SHOTS=/some/dir`` to keep its PNG."""

from __future__ import annotations

from sqlalchemy import select

from desktop_care.models import AuditEvent, LineIn, Member, Order, place_order
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import Qt
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, add_full_member, server_session, shot, unique
from tests.ui.test_editing import member, opened, window  # noqa: F401 (fixtures)


def test_orders_tab_lists_orders_and_marks_one_exported(qtbot, window: MainWindow, member: FullMember,
                                                        sqlite_server: LiveServer) -> None:
    friend = add_full_member(sqlite_server, unique("Whitcombe"))
    with server_session(sqlite_server) as db:
        contact = db.get(Member, member.id)
        assert contact is not None
        other = db.get(Member, friend.id)
        assert other is not None
        own = place_order(db, contact, [LineIn("Herd book registration: Bramble", 2500), LineIn("Postage", 350)])
        theirs = place_order(db, other, [LineIn("Course: Judging basics", 9500)], registrants=[contact])
        db.commit()
        own_no, own_id, theirs_no, other_name = own.order_no, own.id, theirs.order_no, other.display_name

    details = opened(qtbot, window, member.id)
    details.show_tab("Orders")
    tab = details.orders_tab
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    rows = {row[0]: row for row in tab.rows()}
    assert rows[own_no][3:] == ["This member", "£28.50", "Unpaid", "No"]
    assert rows[theirs_no][3] == other_name
    assert tab.count_label.text() == "2 orders"
    assert not tab.export_button.isEnabled() and tab.export_button.toolTip() == "Select an order first"
    tab.select(theirs_no)
    assert not tab.export_button.isEnabled() and "Only the order contact" in tab.export_button.toolTip()

    tab.select(own_no)
    assert tab.export_button.isEnabled() and tab.export_button.text() == "Mark exported"
    shot(details, "orders-tab")
    qtbot.mouseClick(tab.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.loaded and any(r[0] == own_no and r[6] == "Yes" for r in tab.rows()),
                    timeout=10_000)
    tip = tab.table.item([r[0] for r in tab.rows()].index(own_no), 0).toolTip()
    assert f"by {window.session.staff.display_name}" in tip and "Postage: £3.50" in tip
    shot(details, "orders-tab-exported")
    with server_session(sqlite_server) as db:
        order = db.get(Order, own_id)
        assert order is not None and order.exported and order.exported_at is not None
        audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "order.mark_exported",
                                                   AuditEvent.entity_id == str(member.id)))
        assert audit is not None and audit.actor_name == window.session.staff.username
    tab.select(own_no)
    assert tab.export_button.text() == "Mark not exported"
    qtbot.mouseClick(tab.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.loaded and any(r[0] == own_no and r[6] == "No" for r in tab.rows()),
                    timeout=10_000)
