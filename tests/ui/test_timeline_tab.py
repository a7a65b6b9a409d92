"""The member's Timeline tab against the real server: scrolling loads older entries by
itself (no button), a chip narrows the stream, and an entry about a ticket opens it.

Set ``DESKTOP_CARE_SHOTS=/some/dir`` to keep a PNG of every screen these tests reach.
"""

from __future__ import annotations

import datetime as dt
import uuid

from desktop_care.models import (
    AuditEvent,
    EntryKind,
    Ticket,
    TicketEntry,
    TicketPriority,
    TxnKind,
    TxnStatus,
    post_transaction,
)
from desktop_care.models.member import Member
from desktop_care.schemas import TimelineKind
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import Qt
from desktop_care.ui.tickets.ticket_view import TicketDetailsView
from tests.support.servers import LiveServer
from tests.ui.arrange import add_members, server_session, shot, unique
from tests.ui.test_editing import opened, window  # noqa: F401 (fixtures)

#: More than two pages of the tab (50 a page).
EDITS = 130


def a_busy_member(server: LiveServer) -> tuple[int, int]:
    """A member with many audited edits over a year, a ticket thread and a payment;
    returns (member id, ticket id)."""
    [member_id] = add_members(server, unique("Busy"), 1)
    start = dt.datetime(2025, 1, 1, 9, 0, tzinfo=dt.UTC)
    with server_session(server) as session:
        session.add_all(AuditEvent(at=start + dt.timedelta(days=i), actor_name="registrar", action="member.update_contact",
                                   entity_type="member", entity_id=str(member_id),
                                   details={"before": {"phone": f"+4420790{i:05d}"}, "after": {"phone": f"+4420791{i:05d}"}})
                        for i in range(EDITS))
        recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        ticket = Ticket(uid=str(uuid.uuid4()), member_id=member_id, subject="Lost card", created_at=recent,
                        updated_at=recent)
        ticket.set_priority(TicketPriority.NORMAL)
        session.add(ticket)
        session.flush()
        session.add(TicketEntry(ticket_id=ticket.id, kind=EntryKind.MESSAGE, body="I lost my membership card.",
                                created_at=recent, author_name="member"))
        member = session.get(Member, member_id)
        assert member is not None
        post_transaction(session, member, -2500, "Card payment", TxnStatus.SETTLED, at=recent - dt.timedelta(hours=1),
                         kind=TxnKind.PAYMENT)
        session.commit()
        return member_id, ticket.id


def test_scrolling_loads_older_entries_a_chip_filters_and_enter_opens_the_ticket(
    qtbot, window: MainWindow, sqlite_server: LiveServer
) -> None:
    member_id, ticket_id = a_busy_member(sqlite_server)
    details = opened(qtbot, window, member_id)
    details.resize(1100, 640)
    details.show_tab("Timeline")
    tab = details.history_tab
    qtbot.waitUntil(lambda: tab.loaded and not tab.loading and tab.table.rowCount() >= 50, timeout=15_000)
    first = tab.rows()
    assert first[0][1:4] == ["Tickets", "member", f"Message from the member on #{ticket_id} “Lost card”"]
    assert first[1][1] == "Orders & payments" and first[1][3] == "Payment £25.00: Card payment"
    assert first[2][1:4] == ["Account", "registrar", "Edit contact details"]
    assert tab.chips[TimelineKind.ACCOUNT].text() == f"Account {EDITS}"
    assert tab.all_chip.text() == f"All {EDITS + 2}" and tab.all_chip.isChecked()
    assert "scroll for older ones" in tab.count_label.text() and not tab.more_button.isVisible()
    shown = tab.table.rowCount()
    assert shown < EDITS + 2
    shot(details, "timeline-tab-busy")

    # Scrolling (End on the keyboard) to the last row loads the rest, page by page.
    tab.table.setFocus()
    while tab.table.rowCount() < EDITS + 2:
        rows_before = tab.table.rowCount()
        qtbot.keyClick(tab.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: not tab.loading and tab.table.rowCount() > rows_before, timeout=15_000)
    rows = tab.rows()
    assert len(rows) == EDITS + 2 and tab.count_label.text() == f"{EDITS + 2} entries"
    phones = [r[4] for r in rows[2:]]
    assert len(set(phones)) == EDITS  # each edit once, no gap and no repeat
    assert phones[0] == "Phone: 020 7900 0129 → 020 7910 0129"  # the newest edit first
    assert phones[-1] == "Phone: 020 7900 0000 → 020 7910 0000"

    # A chip narrows the stream to its kind; All brings everything back.
    qtbot.mouseClick(tab.chips[TimelineKind.TICKETS], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.loading and tab.table.rowCount() == 1, timeout=15_000)
    assert tab.rows()[0][1] == "Tickets" and tab.chips[TimelineKind.TICKETS].isChecked()
    assert not tab.all_chip.isChecked() and tab.chips[TimelineKind.TICKETS].accessibleName() == "Show tickets (1 entry)"
    shot(details, "timeline-tab-tickets")

    # Enter on the ticket's entry opens the ticket, in a tab of the main window.
    tab.table.setFocus()
    tab.table.selectRow(0)
    tab.table.setCurrentCell(0, 0)
    qtbot.keyClick(tab.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: isinstance(tab.opened, TicketDetailsView) and window.tabs.currentWidget() is tab.opened)
    view = tab.opened
    assert isinstance(view, TicketDetailsView)
    qtbot.waitUntil(lambda: view.ticket is not None, timeout=15_000)
    assert view.ticket is not None and view.ticket.id == ticket_id
    qtbot.waitUntil(lambda: window.tabs.tabText(window.tabs.currentIndex()).startswith(f"#{ticket_id} "))
    window.tabs.close_current()

    qtbot.mouseClick(tab.all_chip, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.loading and tab.table.rowCount() >= 50 and tab.all_chip.isChecked(),
                    timeout=15_000)
    assert not tab.kinds
