"""Commands on a member's support tickets.

``OpenTicket`` and ``AddNote`` are queueable: a workstation records them offline, and
the ticket is named by the op id of the ``OpenTicket`` that created it (``ticket`` in
every other command), so a note queued on a ticket opened offline reaches that ticket
once both are pushed, in order, each exactly once. ``Reply`` sends mail and the rest
change what other people's queues show: they run online only.

Every one is a member command: audited on the member (their History shows ticket
events) and locking the member while it runs.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, Strict, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import EmailCategory, Member, MemberStatus, User, UserState, queue_mail, utcnow
from ..models.base import MAX_ID
from ..models.tickets import (
    MAX_BODY,
    MAX_SUBJECT,
    QUEUES,
    EntryKind,
    Ticket,
    TicketEntry,
    TicketMerge,
    TicketPriority,
    TicketState,
)
from .base import Actor, Command, Rejected, json_integer
from .registry import register

QueueName = Literal["general", "membership", "billing", "portal"]
assert QueueName.__args__ == QUEUES  # type: ignore[attr-defined]  # one list of queues

#: The states a person can move a ticket to (``new`` is only where a ticket starts).
SettableState = Literal["open", "pending", "resolved", "closed"]


def _text(value: str) -> str:
    """Body text with its trailing spaces and surrounding blank lines removed."""
    return "\n".join(line.rstrip() for line in value.strip().splitlines())


def _required_text(value: str) -> str:
    value = _text(value)
    if not value:
        raise ValueError("must not be empty")
    return value


def _portal_only(actor: Actor) -> None:
    """Only the member (a portal session) or staff acting on their behalf write as the
    member: a staff member in the console writes replies and notes instead."""
    if actor.role is not None and actor.role.is_staff and actor.impersonation_id is None:
        raise Rejected("only the member, or staff acting on their behalf in the portal, writes as the member",
                       {"body": "use a reply or a note"})


def state_refusal(current: TicketState, wanted: TicketState) -> str | None:
    """Why a ticket in ``current`` cannot move to ``wanted`` (None if it can)."""
    if wanted == current:
        return f"the ticket is already {current.value}"
    if wanted == TicketState.NEW:
        return "a ticket is new only until someone works on it"
    if current == TicketState.CLOSED and wanted != TicketState.OPEN:
        return "a closed ticket can only be reopened"
    return None


class _TicketCommand(Command):
    """A command on one ticket of the member."""

    ticket: uuid.UUID = Field(description="The ticket's uid (the op_id of the OpenTicket that created it)")

    never_conflicts: ClassVar[bool] = True
    #: Whether it may run on a ticket merged into another (a note queued offline is
    #: never lost to a merge made meanwhile; everything else goes to the survivor).
    on_merged: ClassVar[bool] = False

    def changed_fields(self) -> frozenset[str]:
        return frozenset()

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values)

    def _ticket(self, session: Session, member: Member) -> Ticket:
        ticket = session.scalar(select(Ticket).where(Ticket.uid == str(self.ticket)).with_for_update())
        if ticket is None or ticket.member_id != member.id:
            raise Rejected(f"member {member.member_no} has no ticket {self.ticket}", {"ticket": "no such ticket"})
        if ticket.state == TicketState.MERGED and not self.on_merged:
            into = ticket.merged_into_id
            raise Rejected(f"ticket #{ticket.id} was merged into #{into}: work on #{into}, or undo the merge",
                           {"ticket": f"merged into #{into}"})
        return ticket

    def check_in(self, session: Session, member: Member) -> None:
        self._ticket(session, member)

    def _details(self, ticket: Ticket, **more: Any) -> dict[str, Any]:
        return {"ticket_id": ticket.id, "ticket_uid": ticket.uid, "subject": ticket.subject, **more}


class _EntryCommand(_TicketCommand):
    """A command that writes an entry of the thread (a note or a reply)."""

    body: str = Field(min_length=1, max_length=MAX_BODY, json_schema_extra={"pattern": r"\S"})

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _required_text(value)


def _add_entry(session: Session, ticket: Ticket, kind: EntryKind, body: str, actor: Actor, op_id: uuid.UUID,
               mail_id: int | None = None) -> TicketEntry:
    now = utcnow()
    entry = TicketEntry(ticket_id=ticket.id, kind=kind, body=body, author_user_id=actor.user_id,
                        author_name=actor.username, created_at=now, mail_id=mail_id, op_id=str(op_id))
    session.add(entry)
    ticket.updated_at = now
    session.flush()
    return entry


class _NewTicket(Command):
    """A command that opens a ticket for the member; its uid is the command's op_id."""

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT, json_schema_extra={"pattern": r"\S"})
    queue: QueueName = "general"

    never_conflicts: ClassVar[bool] = True

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must say what the ticket is about")
        return value

    def changed_fields(self) -> frozenset[str]:
        return frozenset()

    def preview(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values)

    def check(self, member: Member) -> None:
        if member.status == MemberStatus.MERGED:
            raise Rejected(f"member {member.member_no} was merged into another account")

    def _open(self, session: Session, member: Member, actor: Actor, priority: TicketPriority) -> Ticket:
        now = utcnow()
        ticket = Ticket(uid=str(self.op_id), member_id=member.id, subject=self.subject, queue=self.queue,
                        state=TicketState.NEW, created_at=now, updated_at=now, created_by=actor.username)
        ticket.set_priority(priority)
        session.add(ticket)
        session.flush()
        return ticket


@register
class OpenTicket(_NewTicket):
    """Open a ticket for the member; its uid is this command's op_id. An optional first
    internal note records what the member said."""

    kind: Literal["open_ticket"] = "open_ticket"
    priority: TicketPriority = TicketPriority.NORMAL
    note: str = Field(default="", max_length=MAX_BODY)

    action: ClassVar[str] = "ticket.open"
    label: ClassVar[str] = "New ticket"

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return _text(value)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        ticket = self._open(session, member, actor, self.priority)
        if self.note:
            _add_entry(session, ticket, EntryKind.NOTE, self.note, actor, self.op_id)
        return {"ticket_id": ticket.id, "ticket_uid": ticket.uid, "subject": ticket.subject, "queue": ticket.queue,
                "priority": ticket.priority.value}

    def summary(self) -> str:
        return f"New ticket: {self.subject}"


@register
class AddNote(_EntryCommand):
    """An internal note on a ticket: staff only, never sent or shown to the member."""

    kind: Literal["add_ticket_note"] = "add_ticket_note"

    action: ClassVar[str] = "ticket.note"
    label: ClassVar[str] = "Add note"
    on_merged: ClassVar[bool] = True

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        ticket = self._ticket(session, member)
        entry = _add_entry(session, ticket, EntryKind.NOTE, self.body, actor, self.op_id)
        # The note's text stays in the ticket: the audit names the entry only.
        return self._details(ticket, entry_id=entry.id)

    def summary(self) -> str:
        return "Add a note to a ticket"


@register
class Reply(_EntryCommand):
    """A reply to the member, e-mailed through the outbox (service mail, always sent)."""

    kind: Literal["reply_ticket"] = "reply_ticket"

    action: ClassVar[str] = "ticket.reply"
    label: ClassVar[str] = "Reply"
    online_only: ClassVar[bool] = True

    def check_in(self, session: Session, member: Member) -> None:
        ticket = self._ticket(session, member)
        if ticket.state == TicketState.CLOSED:
            raise Rejected(f"ticket #{ticket.id} is closed: reopen it to reply", {"ticket": "closed"})
        if not member.email:
            raise Rejected(f"member {member.member_no} has no e-mail address to reply to",
                           {"body": "the member has no e-mail address"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        ticket = self._ticket(session, member)
        mail = queue_mail(
            session, template="ticket_reply", category=EmailCategory.SERVICE, to_address=member.email,
            to_name=member.display_name, member=member,
            context={"name": member.display_name, "ticket_id": ticket.id, "subject": ticket.subject,
                     "body": self.body, "author": actor.username},
            actor_user_id=actor.user_id, actor_name=actor.username, impersonation_id=actor.impersonation_id,
            client_address=actor.client_address,
        )
        entry = _add_entry(session, ticket, EntryKind.REPLY, self.body, actor, self.op_id,
                           mail.id if mail is not None else None)
        if ticket.first_responded_at is None:
            ticket.first_responded_at = entry.created_at
            ticket.refresh_due()
        if ticket.state == TicketState.NEW:
            ticket.state = TicketState.OPEN
        return self._details(ticket, entry_id=entry.id, to=member.email,
                             message_id=mail.message_id if mail is not None else None)

    def summary(self) -> str:
        return "Reply to the member"


@register
class Assign(_TicketCommand):
    """Give a ticket to a staff member, or (``assignee_id`` null) put it back unassigned."""

    kind: Literal["assign_ticket"] = "assign_ticket"
    # (The bounds before the validators, or the document gets "gt"/"le" instead of minimum/maximum.)
    assignee_id: Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(json_integer), Strict()] | None

    action: ClassVar[str] = "ticket.assign"
    label: ClassVar[str] = "Assign"
    online_only: ClassVar[bool] = True

    def _assignee(self, session: Session) -> User | None:
        if self.assignee_id is None:
            return None
        user = session.get(User, self.assignee_id)
        if user is None or not user.role.is_staff or user.state != UserState.ACTIVE:
            raise Rejected(f"user {self.assignee_id} is not an active staff member",
                           {"assignee_id": "not an active staff member"})
        return user

    def check_in(self, session: Session, member: Member) -> None:
        ticket = self._ticket(session, member)
        self._assignee(session)
        if ticket.assignee_id == self.assignee_id:
            raise Rejected("the ticket is already " + ("unassigned" if self.assignee_id is None else "assigned to them"),
                           {"assignee_id": "no change"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        ticket = self._ticket(session, member)
        user = self._assignee(session)
        before = session.get(User, ticket.assignee_id) if ticket.assignee_id is not None else None
        ticket.assignee_id = self.assignee_id
        ticket.updated_at = utcnow()
        return self._details(ticket, assignee_id=self.assignee_id,
                             before={"assignee": before.username if before else None},
                             after={"assignee": user.username if user else None})

    def summary(self) -> str:
        return "Assign a ticket" if self.assignee_id is not None else "Unassign a ticket"


@register
class ChangeTicketState(_TicketCommand):
    """Move a ticket to open, pending (waiting for the member), resolved or closed."""

    kind: Literal["change_ticket_state"] = "change_ticket_state"
    state: SettableState

    action: ClassVar[str] = "ticket.state"
    label: ClassVar[str] = "Change ticket state"
    online_only: ClassVar[bool] = True

    def check_in(self, session: Session, member: Member) -> None:
        ticket = self._ticket(session, member)
        refusal = state_refusal(ticket.state, TicketState(self.state))
        if refusal is not None:
            raise Rejected(f"ticket #{ticket.id}: {refusal}", {"state": refusal})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        ticket = self._ticket(session, member)
        before, now = ticket.state, utcnow()
        ticket.state = TicketState(self.state)
        if ticket.state.is_open:
            ticket.resolved_at = None
        elif ticket.resolved_at is None:
            ticket.resolved_at = now
        ticket.updated_at = now
        return self._details(ticket, before={"state": before.value}, after={"state": ticket.state.value})

    def summary(self) -> str:
        return f"Ticket state: {self.state}"


@register
class SetPriority(_TicketCommand):
    """Change a ticket's priority; its due times follow (counted from its creation)."""

    kind: Literal["set_ticket_priority"] = "set_ticket_priority"
    priority: TicketPriority

    action: ClassVar[str] = "ticket.priority"
    label: ClassVar[str] = "Set ticket priority"
    online_only: ClassVar[bool] = True

    def check_in(self, session: Session, member: Member) -> None:
        ticket = self._ticket(session, member)
        if ticket.priority == self.priority:
            raise Rejected(f"ticket #{ticket.id} is already {self.priority.value} priority",
                           {"priority": "no change"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        ticket = self._ticket(session, member)
        before = ticket.priority
        ticket.set_priority(self.priority)
        ticket.updated_at = utcnow()
        return self._details(ticket, before={"priority": before.value}, after={"priority": self.priority.value},
                             due_at=ticket.next_due_at.isoformat())

    def summary(self) -> str:
        return f"Ticket priority: {self.priority.value}"


@register
class MergeTicket(_TicketCommand):
    """Merge ``ticket`` into ``into`` (both the member's): ``ticket`` becomes
    ``merged``, pointing at ``into``, whose thread shows both threads. Nothing moves: it
    is a link, undone by :class:`UndoTicketMerge` (docs/decisions/0024-ticket-merge-and-contact-us.md)."""

    kind: Literal["merge_ticket"] = "merge_ticket"
    into: uuid.UUID = Field(description="The surviving ticket's uid")

    action: ClassVar[str] = "ticket.merge"
    label: ClassVar[str] = "Merge tickets"
    online_only: ClassVar[bool] = True

    def _pair(self, session: Session, member: Member) -> tuple[Ticket, Ticket]:
        source = self._ticket(session, member)
        if str(self.into) == source.uid:
            raise Rejected(f"ticket #{source.id} cannot be merged into itself", {"into": "the same ticket"})
        target = session.scalar(select(Ticket).where(Ticket.uid == str(self.into)).with_for_update())
        if target is None:
            raise Rejected(f"there is no ticket {self.into}", {"into": "no such ticket"})
        if target.member_id != member.id:
            raise Rejected(f"ticket #{target.id} is another member's: tickets of different members cannot be "
                           "merged (merge the members first if they are one person)", {"into": "another member's"})
        if target.state == TicketState.MERGED:
            raise Rejected(f"ticket #{target.id} is itself merged into #{target.merged_into_id}: "
                           f"merge into #{target.merged_into_id} instead", {"into": "merged"})
        if target.state == TicketState.CLOSED:
            raise Rejected(f"ticket #{target.id} is closed: reopen it first, or merge it into #{source.id}",
                           {"into": "closed"})
        merged_in = session.scalars(select(Ticket.id).where(Ticket.merged_into_id == source.id)
                                    .order_by(Ticket.id)).all()
        if merged_in:
            numbers = ", ".join(f"#{number}" for number in merged_in)
            raise Rejected(f"ticket #{source.id} has {numbers} merged into it: merge #{target.id} into "
                           f"#{source.id} instead, or undo those merges first", {"ticket": "has merged tickets"})
        return source, target

    def check_in(self, session: Session, member: Member) -> None:
        self._pair(session, member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        source, target = self._pair(session, member)
        now = utcnow()
        session.add(TicketMerge(source_id=source.id, target_id=target.id, merged_at=now, merged_by=actor.username,
                                op_id=str(self.op_id), source_state=source.state,
                                source_updated_at=source.updated_at, target_updated_at=target.updated_at))
        before = source.state
        source.state, source.merged_into_id, source.updated_at = TicketState.MERGED, target.id, now
        target.updated_at = now
        return self._details(source, into_id=target.id, into_uid=target.uid, into_subject=target.subject,
                             before={"state": before.value}, after={"state": "merged", "merged_into": target.id})

    def summary(self) -> str:
        return "Merge a ticket into another"


@register
class UndoTicketMerge(_TicketCommand):
    """Undo the merge of ``ticket``: it gets back the state it had, and both tickets
    the last-change time they had (unless they changed since); each thread is its
    own again (entries never moved)."""

    kind: Literal["undo_ticket_merge"] = "undo_ticket_merge"

    action: ClassVar[str] = "ticket.unmerge"
    label: ClassVar[str] = "Undo merge"
    online_only: ClassVar[bool] = True
    on_merged: ClassVar[bool] = True

    def _merge(self, session: Session, member: Member) -> tuple[Ticket, TicketMerge]:
        ticket = self._ticket(session, member)
        row = session.scalar(select(TicketMerge).where(TicketMerge.source_id == ticket.id,
                                                       TicketMerge.undone_at.is_(None))
                             .order_by(TicketMerge.id.desc()).limit(1))
        if ticket.state != TicketState.MERGED or row is None:
            raise Rejected(f"ticket #{ticket.id} is not merged into another ticket", {"ticket": "not merged"})
        return ticket, row

    def check_in(self, session: Session, member: Member) -> None:
        self._merge(session, member)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        ticket, row = self._merge(session, member)
        target = session.scalar(select(Ticket).where(Ticket.id == row.target_id).with_for_update())
        assert target is not None
        now = utcnow()
        ticket.state, ticket.merged_into_id = row.source_state, None
        if ticket.updated_at == row.merged_at:  # nothing since the merge: as it was
            ticket.updated_at = row.source_updated_at
        else:
            ticket.updated_at = now
        if target.updated_at == row.merged_at:
            target.updated_at = row.target_updated_at
        row.undone_at, row.undone_by = now, actor.username
        return self._details(ticket, into_id=target.id, into_uid=target.uid,
                             before={"state": "merged", "merged_into": target.id},
                             after={"state": ticket.state.value})

    def summary(self) -> str:
        return "Undo a ticket merge"


# ---------------------------------------------------------------------- the portal


@register
class ContactUs(_NewTicket):
    """The member opens a ticket from the portal ("Contact us"): a subject, a topic
    (the queue) and their message, the thread's first entry. The actor is the member's
    portal user, or staff acting on their behalf (audited with the session)."""

    kind: Literal["contact_us"] = "contact_us"
    body: str = Field(min_length=1, max_length=MAX_BODY, json_schema_extra={"pattern": r"\S"})

    action: ClassVar[str] = "ticket.contact_us"
    label: ClassVar[str] = "Contact us"
    online_only: ClassVar[bool] = True

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _required_text(value)

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        _portal_only(actor)
        ticket = self._open(session, member, actor, TicketPriority.NORMAL)
        entry = _add_entry(session, ticket, EntryKind.MESSAGE, self.body, actor, self.op_id)
        # The member's words stay in the ticket: the audit names the entry only.
        return {"ticket_id": ticket.id, "ticket_uid": ticket.uid, "subject": ticket.subject, "queue": ticket.queue,
                "entry_id": entry.id, "source": "portal"}

    def summary(self) -> str:
        return f"Contact us: {self.subject}"


#: A member's message reopens a ticket waiting for them or resolved; a closed one stays
#: closed (the member opens a new one).
REOPENED_BY_MEMBER = frozenset({TicketState.PENDING, TicketState.RESOLVED})


@register
class MemberMessage(_EntryCommand):
    """The member writes on one of their tickets from the portal. It reopens a pending
    or resolved ticket; a closed ticket takes no more messages."""

    kind: Literal["member_ticket_message"] = "member_ticket_message"

    action: ClassVar[str] = "ticket.member_message"
    label: ClassVar[str] = "Member's message"
    online_only: ClassVar[bool] = True

    def check_in(self, session: Session, member: Member) -> None:
        ticket = self._ticket(session, member)
        if ticket.state == TicketState.CLOSED:
            raise Rejected(f"ticket #{ticket.id} is closed: open a new one", {"body": "this ticket is closed"})

    def apply(self, session: Session, member: Member, actor: Actor) -> dict[str, Any]:
        _portal_only(actor)
        ticket = self._ticket(session, member)
        entry = _add_entry(session, ticket, EntryKind.MESSAGE, self.body, actor, self.op_id)
        before = ticket.state
        if before in REOPENED_BY_MEMBER:
            ticket.state, ticket.resolved_at = TicketState.OPEN, None
        return self._details(ticket, entry_id=entry.id, source="portal",
                             **({"before": {"state": before.value}, "after": {"state": "open"}}
                                if ticket.state != before else {}))

    def summary(self) -> str:
        return "The member writes on a ticket"
