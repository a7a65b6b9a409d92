"""The Tickets page, the ticket view and a member's Tickets tab against the real server:
queues, the filter and sorting; a note and a reply, visibly distinct; assign, state and
priority; New ticket and Add note queued offline (Reply disabled with the reason)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from desktop_care.commands import Actor, OpenTicket, execute
from desktop_care.models import Member, Ticket, TicketEntry, TicketPriority
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import QComboBox, QLabel, Qt
from desktop_care.ui.tickets.ticket_view import EntryFrame
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, server_session, unique
from tests.ui.test_editing import member, opened, window  # noqa: F401 (fixtures)
from tests.ui.test_users_page import shot


def open_on_server(server: LiveServer, member_id: int, subject: str, **fields: object) -> int:
    with server_session(server) as session:
        command = OpenTicket(member_id=member_id, subject=subject, **fields)  # type: ignore[arg-type]
        assert execute(session, command, Actor(user_id=None, username="test")).status == "applied"
        session.commit()
        ticket = session.scalar(select(Ticket).where(Ticket.uid == str(command.op_id)))
        assert ticket is not None
        return ticket.id


def rows(view_model) -> list[str]:  # type: ignore[no-untyped-def]
    return [view_model.ticket(r).subject for r in range(view_model.rowCount())]


def test_tickets_page_queues_filter_and_sort(qtbot, window: MainWindow, member: FullMember,
                                             sqlite_server: LiveServer) -> None:
    tag = unique("Heron")
    open_on_server(sqlite_server, member.id, f"{tag} renewal lost", queue="membership", priority="low")
    open_on_server(sqlite_server, member.id, f"{tag} charged twice", queue="billing", priority="urgent",
                   note="Member very upset.")
    view = window.show_tickets()
    assert window.tickets_action.shortcut().toString() == "Ctrl+3"
    view.choose_queue("All open tickets")
    qtbot.keyClicks(view.search_box, tag)
    view.search_now()
    qtbot.waitUntil(lambda: not view.model.searching and view.model.rowCount() == 2)
    # Soonest due first: the urgent one.
    assert rows(view.model) == [f"{tag} charged twice", f"{tag} renewal lost"]
    assert view.summary.text() == "2 tickets"
    assert view.model.index(0, 7).data().endswith(("left", "overdue"))

    view._header_clicked(4)  # Priority: highest first
    qtbot.waitUntil(lambda: not view.model.searching and view.model.query.sort == "-priority")
    assert rows(view.model) == [f"{tag} charged twice", f"{tag} renewal lost"]
    view._header_clicked(4)  # again: lowest first
    qtbot.waitUntil(lambda: not view.model.searching and view.model.query.sort == "priority")
    assert rows(view.model) == [f"{tag} renewal lost", f"{tag} charged twice"]

    view.choose_queue("Queue: Billing")
    qtbot.waitUntil(lambda: not view.model.searching and rows(view.model) == [f"{tag} charged twice"])
    view.choose_queue("My tickets")
    qtbot.waitUntil(lambda: not view.model.searching and view.stack.currentWidget() is view.state)
    assert view.state.title.text() == "No tickets match"
    view.search_box.clear()
    view.search_now()
    qtbot.waitUntil(lambda: not view.model.searching)
    window.resize(1280, 640)
    view.choose_queue("All open tickets")
    qtbot.waitUntil(lambda: not view.model.searching and view.model.rowCount() >= 2)
    shot(window, "tickets-page")


def test_ticket_view_note_reply_assign_state_and_priority(qtbot, window: MainWindow, member: FullMember,
                                                          sqlite_server: LiveServer) -> None:
    ticket_id = open_on_server(sqlite_server, member.id, "Card not received", queue="membership",
                               note="Phoned on Monday.")
    dialog = window.open_ticket(ticket_id)  # in a tab of the main window
    qtbot.waitUntil(lambda: dialog.ticket is not None)
    assert dialog.title.text() == f"#{ticket_id} · Card not received"
    assert "Edith" in dialog.facts.text() and "Membership" in dialog.facts.text()
    assert dialog.due.text().startswith("First response due ")

    dialog.note_edit.setPlainText("Checked the post room.")
    with qtbot.waitSignal(dialog.settled, timeout=15_000):
        qtbot.mouseClick(dialog.note_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ticket is not None and len(dialog.ticket.entries) == 2)
    dialog.reply_edit.setPlainText("We have posted a new card today.")
    qtbot.mouseClick(dialog.reply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ticket is not None and len(dialog.ticket.entries) == 3, timeout=15_000)
    assert dialog.feedback.text() == "Reply sent: it is on its way to the member."
    qtbot.waitUntil(lambda: len(dialog.thread_box.findChildren(EntryFrame)) == 3)  # the old ones deleted
    frames = dialog.thread_box.findChildren(EntryFrame)
    assert [f.objectName() for f in frames] == ["noteEntry", "noteEntry", "replyEntry"]
    headings = [f.findChild(QLabel, "entryHeading").text() for f in frames]
    assert headings[0].startswith("Internal note") and headings[0].endswith("not sent to the member")
    assert headings[2].startswith("Reply to the member")
    assert dialog.ticket is not None and dialog.ticket.state.value == "open"

    # Assign to me, then pending, then urgent: each on the server at once.
    box: QComboBox = dialog.assignee_box
    box.setCurrentIndex(box.findData(window.workspace.session.staff.id))
    box.activated.emit(box.currentIndex())
    qtbot.waitUntil(lambda: dialog.ticket is not None and dialog.ticket.assignee_id is not None, timeout=15_000)
    dialog.state_box.setCurrentIndex(dialog.state_box.findData("pending"))
    dialog.state_box.activated.emit(dialog.state_box.currentIndex())
    qtbot.waitUntil(lambda: dialog.ticket is not None and dialog.ticket.state.value == "pending", timeout=15_000)
    dialog.priority_box.setCurrentIndex(dialog.priority_box.findData("urgent"))
    dialog.priority_box.activated.emit(dialog.priority_box.currentIndex())
    qtbot.waitUntil(lambda: dialog.ticket is not None and dialog.ticket.priority == TicketPriority.URGENT,
                    timeout=15_000)
    dialog.resize(820, 720)
    shot(dialog, "ticket-view")


def test_new_ticket_and_note_offline_then_synced_and_reply_disabled(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer
) -> None:
    details = opened(qtbot, window, member.id)
    details.show_tab("Tickets")
    tab = details.tickets_tab
    assert tab is not None
    qtbot.waitUntil(lambda: tab.loaded and not tab.model.searching)
    assert tab.state.title.text() == "No tickets yet"

    window.workspace._online = False  # what the workspace notes when the server stops answering
    dialog = tab.new_ticket()
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.subject.error.text() == "Say what the ticket is about."
    assert dialog.isVisible() and window.workspace.store.pending_count() == 0
    dialog.subject.edit.setText("Wants a paper renewal form")
    dialog.note.edit.setPlainText("Prefers post to e-mail.")
    shot(dialog, "new-ticket")
    with qtbot.waitSignal(dialog.queued, timeout=10_000) as queued:
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    command = queued.args[0]
    assert [c.kind for c in window.workspace.store.queued()] == ["open_ticket"]
    assert tab.waiting.text() == "“Wants a paper renewal form” is saved on this computer, waiting to sync."

    # The server answers again: one sync round (the syncer's own thread is not started
    # in these tests) brings the ticket to the server, once.
    window.workspace._online = True
    assert window.workspace.syncer.sync_once()
    qtbot.waitUntil(lambda: window.workspace.pending == 0, timeout=15_000)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1 and not tab.model.searching, timeout=15_000)
    ticket_id = tab.model.ticket(0).id
    qtbot.waitUntil(lambda: tab.waiting.text() == "")
    shot(details, "member-tickets-tab")
    assert tab.model.ticket(0).uid == str(command.op_id)

    ticket_dialog = tab.open_ticket(ticket_id)
    qtbot.addWidget(ticket_dialog)
    qtbot.waitUntil(lambda: ticket_dialog.ticket is not None)
    window.workspace._online = False
    ticket_dialog._enable()
    assert not ticket_dialog.reply_button.isEnabled()
    assert ticket_dialog.reply_button.toolTip() == "Reply needs the server, and this computer is offline"
    assert not ticket_dialog.state_box.isEnabled()
    assert ticket_dialog.note_button.isEnabled()
    ticket_dialog.note_edit.setPlainText("Posted the form.")
    qtbot.mouseClick(ticket_dialog.note_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ticket_dialog.feedback.text().startswith("Note saved on this computer"))
    assert [c.kind for c in window.workspace.store.queued()] == ["add_ticket_note"]
    shot(ticket_dialog, "ticket-view-offline")

    assert window.workspace.syncer.sync_once()
    qtbot.waitUntil(lambda: window.workspace.pending == 0, timeout=15_000)
    with server_session(sqlite_server) as session:
        bodies = session.scalars(select(TicketEntry.body).where(TicketEntry.ticket_id == ticket_id)
                                 .order_by(TicketEntry.id)).all()
        assert bodies == ["Prefers post to e-mail.", "Posted the form."]
        assert session.get(Member, member.id) is not None
    assert uuid.UUID(tab.model.ticket(0).uid) == command.op_id


def test_merge_and_undo_from_the_ticket_view(qtbot, window: MainWindow, member: FullMember,
                                             sqlite_server: LiveServer) -> None:
    first = open_on_server(sqlite_server, member.id, "Card not received", note="Posted on the 3rd.")
    second = open_on_server(sqlite_server, member.id, "Where is my card?", note="Asked the post room.")
    dialog = window.open_ticket(first)  # in a tab of the main window
    qtbot.waitUntil(lambda: dialog.ticket is not None)
    assert not dialog.merge_banner.isVisible() and dialog.merge_button.isEnabled()

    merge = dialog.open_merge()
    assert merge is not None
    merge.look_up()
    assert merge.number.error.text() == "Type the number of the other ticket."
    merge.choose(first)
    assert merge.number.error.text() == "This is the ticket you are merging: type the other one’s number."
    with qtbot.waitSignal(merge.settled, timeout=15_000):
        merge.choose(second)
    assert merge.merge_button.isEnabled()
    assert merge.into_other.text() == f"Merge this ticket (#{first}) into #{second}; #{second} stays"
    shot(merge, "merge-ticket")
    with qtbot.waitSignal(dialog.settled, timeout=15_000):
        qtbot.mouseClick(merge.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ticket is not None and dialog.ticket.merged_into_id == second, timeout=15_000)
    assert dialog.merge_banner.isVisible() and dialog.undo_merge_button.isVisible()
    assert dialog.merge_text.text().startswith(f"Merged into #{second}")
    assert not dialog.reply_button.isEnabled() and dialog.reply_button.toolTip().startswith(
        f"This ticket is merged into #{second}")
    assert dialog.note_button.isEnabled() and not dialog.merge_button.isEnabled()
    shot(dialog, "ticket-view-merged")

    # The survivor shows both threads, each entry marked with its ticket.
    survivor = window.open_ticket(second)  # in a tab of the main window
    qtbot.waitUntil(lambda: survivor.ticket is not None and len(survivor.thread_box.findChildren(EntryFrame)) == 2)
    headings = [f.findChild(QLabel, "entryHeading").text() for f in survivor.thread_box.findChildren(EntryFrame)]
    assert headings[0].startswith(f"From #{first} · Internal note") and headings[1].startswith("Internal note")
    assert survivor.merge_text.text().startswith(f"#{first} is merged into this ticket")
    assert not survivor.undo_merge_button.isVisible()
    survivor.resize(820, 720)
    shot(survivor, "ticket-view-survivor")

    qtbot.mouseClick(dialog.undo_merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ticket is not None and dialog.ticket.merged_into_id is None, timeout=15_000)
    assert dialog.feedback.text() == "Merge undone: both tickets are as they were."
    assert dialog.ticket.state.value == "new" and not dialog.merge_banner.isVisible()
    assert dialog.reply_button.isEnabled()
