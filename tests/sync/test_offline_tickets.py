"""A ticket opened offline, and a note added to it before the server has seen it, reach
the server exactly once: in order, however often the push is repeated."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop_care.commands import AddNote, OpenTicket, Status
from desktop_care.models import EntryKind, Ticket, TicketEntry
from tests.sync.workstations import applied_op_ids, members_on_server, workstation
from tests.ui.arrange import unique


def test_offline_ticket_and_note_are_pushed_exactly_once(server, tmp_path):
    ws = workstation(server, tmp_path / "ws.sqlite3")
    try:
        (member_id,) = members_on_server(server, unique("Offline"), 1)
        assert ws.sync()
        # Offline: both wait in the outbox; the note names the ticket by the op id of
        # the command that opens it.
        opened = OpenTicket(member_id=member_id, subject="Renewal form lost", queue="membership",
                            note="Member phoned; will call back.")
        note = AddNote(member_id=member_id, ticket=opened.op_id, body="Posted a new form.")
        ws.store.enqueue(opened, ws.author)
        ws.store.enqueue(note, ws.author)
        assert ws.store.pending_count() == 2

        assert ws.sync()
        assert ws.store.pending_count() == 0 and ws.store.issues() == []
        assert applied_op_ids(server, {str(opened.op_id), str(note.op_id)}) == {str(opened.op_id), str(note.op_id)}
        # A response lost on the way back: the same commands come again.
        sent = [c.model_copy(update={"origin": ws.store.workstation_id}) for c in (opened, note)]
        again = ws.client.push(sent)
        assert [r.status for r in again] == [Status.DUPLICATE, Status.DUPLICATE]

        with Session(server.engine()) as session:
            tickets = session.scalars(select(Ticket).where(Ticket.member_id == member_id)).all()
            assert [(t.uid, t.subject, t.queue) for t in tickets] == [
                (str(opened.op_id), "Renewal form lost", "membership")]
            entries = session.execute(
                select(TicketEntry.kind, TicketEntry.body).where(TicketEntry.ticket_id == tickets[0].id)
                .order_by(TicketEntry.id)).all()
            assert [tuple(e) for e in entries] == [
                (EntryKind.NOTE, "Member phoned; will call back."), (EntryKind.NOTE, "Posted a new form.")]
            assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.uid == str(opened.op_id))) == 1
    finally:
        ws.close()
