"""The signed-in session's working set: the server client, the local store and the syncer.

Views ask the workspace instead of the client. It answers from the server while that
can be reached (remembering opened members in the local store) and from the local store
otherwise; every change goes through :meth:`Workspace.submit` — queued in the store (off
the GUI thread), then the syncer is nudged. The syncer's events arrive on its own thread;
the workspace re-emits them as Qt signals on the GUI thread.

``search_members`` and ``member`` run on worker threads (ops); they have the same shape
as :class:`~desktop_care.sync.api_client.ApiClient`'s, so the search and details views
take either.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..models import AddressKind, MemberSort
from ..schemas import (
    AnimalDetail,
    AnimalList,
    DuplicateCheckIn,
    DuplicateList,
    HistoryPage,
    LedgerPage,
    MemberCourses,
    MemberDetail,
    MemberPage,
    MemberSummary,
    OrderList,
    PointsPage,
    RefundList,
    TimelineKind,
    TimelinePage,
)
from ..sync.api_client import NotFound, TimedOut, Unreachable
from ..sync.local_store import Author, LocalStore, SyncIssue
from ..sync.syncer import IssuesChanged, MembersChanged, MembersRekeyed, SessionExpired, Syncer, SyncStatus
from .ops import Op
from .qt import QObject, Qt, Signal, Slot, is_alive
from .session import StaffSession

if TYPE_CHECKING:
    from ..commands import AddMember, BaseCommand, Command, CommandResult

log = logging.getLogger(__name__)

#: How often the syncer pushes and pulls on its own (seconds).
SYNC_INTERVAL = 30.0
#: How many queued commands to look at when marking server rows as pending.
_MAX_QUEUED_LOOKUP = 10_000


class MemberSource(Protocol):
    """What the search and details views read from (a workspace or a bare ApiClient)."""

    def search_members(
        self, q: str, limit: int = 50, cursor: str | None = None, sort: MemberSort | None = None
    ) -> MemberPage: ...

    def member(self, member_id: int) -> MemberDetail: ...


def summary_of(detail: MemberDetail) -> MemberSummary:
    """A search row for a member's details (with its queued changes counted)."""
    home = next((a for a in detail.addresses if a.kind == AddressKind.HOME), None)
    postcode = home.postcode if home is not None else (detail.addresses[0].postcode if detail.addresses else "")
    return MemberSummary(
        id=detail.id, member_no=detail.member_no, name=detail.name, email=detail.email, phone=detail.phone,
        postcode=postcode, status=detail.status, points_balance=detail.points_balance,
        account_balance_cents=detail.account_balance_cents, pending_count=detail.pending_count,
        pending_cents=detail.pending_cents, last_login_at=detail.last_login_at,
        blocked_for_balance=detail.blocked_for_balance, pending_changes=len(detail.pending_changes),
    )


class Workspace(QObject):
    """Owns the LocalStore, the Syncer and the ApiClient of one signed-in session."""

    #: A :class:`SyncStatus` (online, pending, issues, progress…).
    status_changed = Signal(object)
    #: The ids (a set) of members whose data changed locally or on the server.
    members_changed = Signal(object)
    #: Members registered here that the server registered: {provisional id: server id}.
    members_rekeyed = Signal(object)
    #: How many sync issues are open.
    issues_changed = Signal(int)
    #: The server refused our token: sign in again (the queue stays).
    session_expired = Signal()

    _event = Signal(object)

    def __init__(
        self,
        session: StaffSession,
        parent: QObject | None = None,
        *,
        store: LocalStore | None = None,
        interval: float = SYNC_INTERVAL,
        start: bool = True,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.client = session.client
        # The sign-in op opened the store off the GUI thread; tests may hand one in.
        self.store = store or session.store or LocalStore.for_server(session.server_url)
        self._online = not session.offline and not session.starting
        #: Who makes the changes queued here (their own session sends them).
        self.author = Author.of(session.staff)
        self.status = SyncStatus(online=self._online, pending=self.store.pending_count(self.author.user_id),
                                 issues=self.store.issue_count(), syncing=False, progress=None,
                                 last_error=None, next_retry_in=None, last_synced_at=None,
                                 waiting_for=self.store.waiting_for(self.author.user_id))
        self._event.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        # Before the syncer: its thread relays events from the moment it starts.
        self._stopped = False
        self.syncer = Syncer(self.store, self.client, on_event=self._relay, interval=interval,
                             autostart=start and not session.starting, author=self.author,
                             drop_offline_sign_in=True)
        self._start_syncer = start

    # ----------------------------------------------------------------- state

    @property
    def online(self) -> bool:
        """Whether the server answered last time we asked (online-only actions need it)."""
        return self._online

    @property
    def pending(self) -> int:
        return self.status.pending

    @property
    def issue_count(self) -> int:
        return self.status.issues

    # ----------------------------------------------------------------- reading (worker threads)

    def search_members(
        self, q: str, limit: int = 50, cursor: str | None = None, sort: MemberSort | None = None
    ) -> MemberPage:
        """The server's results while online (rows with queued changes as this
        workstation shows them); the local directory when the server can't be reached.
        Both sort alike (``sort``) and read each other's cursors."""
        if self._online:
            try:
                page = self.client.search_members(q, limit=limit, cursor=cursor, sort=sort)
            except (Unreachable, TimedOut) as exc:
                log.info("searching the local directory: %s", exc)
                self._online = False
            else:
                return self._with_provisional(q, limit, cursor, self._with_queued(page))
        return self.store.search(q, limit=limit, cursor=cursor, sort=sort)

    def _with_provisional(self, q: str, limit: int, cursor: str | None, page: MemberPage) -> MemberPage:
        """Members registered here that the server does not know yet, found by the same
        search in the local directory, first on the first page of server results."""
        if cursor is not None or not self.store.has_provisional():
            return page
        mine = [item for item in self.store.search(q, limit=limit).items if item.id < 0]
        if not mine:
            return page
        return page.model_copy(update={"items": [*mine, *page.items], "total": page.total + len(mine)})

    def likely_duplicates(self, check: DuplicateCheckIn) -> DuplicateList:
        """Members who may be the person about to be registered: the server's answer
        while online, the local directory's otherwise (worker thread)."""
        if self._online:
            try:
                found = self.client.likely_duplicates(check)
            except (Unreachable, TimedOut) as exc:
                log.info("checking for duplicates in the local directory: %s", exc)
                self._online = False
            else:
                if not self.store.has_provisional():
                    return found
                local = [d for d in self.store.likely_duplicates(check).items if d.member.id < 0]
                return found.model_copy(update={"items": [*local, *found.items]})
        return self.store.likely_duplicates(check)

    def _with_queued(self, page: MemberPage) -> MemberPage:
        """Lay this workstation's queued changes (and their pending marks) over server rows."""
        if not self.store.pending_count():
            return page
        queued = {command.member_id for command in self.store.queued(_MAX_QUEUED_LOOKUP)}
        local = self.summaries(item.id for item in page.items if item.id in queued)
        if not local:
            return page
        return page.model_copy(update={"items": [local.get(item.id, item) for item in page.items]})

    def member(self, member_id: int) -> MemberDetail:
        """The member's details: from the server (then remembered) or the local store
        (always for a member registered here that the server has not registered yet)."""
        if self._online and member_id > 0:
            try:
                detail = self.client.member(member_id)
            except (Unreachable, TimedOut) as exc:
                log.info("reading member %s from the local store: %s", member_id, exc)
                self._online = False
            else:
                self.store.remember_detail(detail)
                return self.store.member_detail(member_id) or detail
        local = self.store.member_detail(member_id)
        if local is None:
            raise NotFound("This member is not in the copy of the directory kept on this computer.")
        return local

    def member_points(self, member_id: int, limit: int = 50, cursor: str | None = None) -> PointsPage:
        """The member's points ledger (from the server: it is not kept offline)."""
        return self.client.member_points(member_id, limit=limit, cursor=cursor)

    def member_history(self, member_id: int, *, actions: Sequence[str] = (), q: str = "", limit: int = 50,
                       cursor: str | None = None) -> HistoryPage:
        """The member's history (from the server: the audit log is not kept offline)."""
        return self.client.member_history(member_id, actions=actions, q=q, limit=limit, cursor=cursor)

    def member_timeline(self, member_id: int, *, kinds: Sequence[TimelineKind] = (), limit: int = 50,
                        cursor: str | None = None) -> TimelinePage:
        """The member's timeline (from the server: the audit and the ledgers are not kept offline)."""
        return self.client.member_timeline(member_id, kinds=kinds, limit=limit, cursor=cursor)

    def member_orders(self, member_id: int) -> OrderList:
        """The member's orders (from the server: orders are not kept offline)."""
        return self.client.member_orders(member_id)

    def member_ledger(self, member_id: int, limit: int = 50, cursor: str | None = None) -> LedgerPage:
        """The member's account ledger (from the server: money is not kept offline)."""
        return self.client.member_ledger(member_id, limit=limit, cursor=cursor)

    def member_refunds(self, member_id: int) -> RefundList:
        return self.client.member_refunds(member_id)

    def refunds_awaiting_approval(self) -> RefundList:
        return self.client.refunds_awaiting_approval()

    def member_courses(self, member_id: int) -> MemberCourses:
        """The member's courses, waiting lists and e-learning (from the server only)."""
        return self.client.member_courses(member_id)
    def member_animals(self, member_id: int) -> AnimalList:
        """The member's animals and open transfers (from the server: not kept offline)."""
        return self.client.member_animals(member_id)

    def animal(self, reg_no: str) -> AnimalDetail:
        """One animal by registration number, with its history (from the server)."""
        return self.client.animal(reg_no)

    def local_member(self, member_id: int) -> MemberDetail | None:
        return self.store.member_detail(member_id)

    def summaries(self, member_ids: Iterable[int]) -> dict[int, MemberSummary]:
        """Search rows for these members from the local store (with queued changes)."""
        found: dict[int, MemberSummary] = {}
        for member_id in member_ids:
            detail = self.store.member_detail(member_id)
            if detail is not None:
                found[member_id] = summary_of(detail)
        return found

    def issues(self) -> list[SyncIssue]:
        """The open sync issues, each naming its member (from the store when the issue
        was recorded before the member was in the local directory)."""
        issues = self.store.issues()
        for n, issue in enumerate(issues):
            if not issue.name or not issue.member_no:
                detail = self.store.member_detail(issue.member_id)
                issues[n] = dataclasses.replace(
                    issue,
                    name=issue.name or (detail.name if detail else f"Member #{issue.member_id}"),
                    member_no=issue.member_no or (detail.member_no if detail else "?"),
                )
        return issues

    # ----------------------------------------------------------------- changing (GUI thread)

    def submit(
        self,
        command: Command,
        *,
        parent: QObject | None = None,
        on_done: Callable[[], None] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Queue ``command`` (off the GUI thread), then nudge the syncer. ``on_done`` runs
        once it is safely in the outbox; ``on_failed`` if it could not be queued."""
        store, author = self.store, self.author

        def enqueue() -> int:
            store.enqueue(command, author)
            return store.pending_count(author.user_id)

        self._run(enqueue, {command.member_id}, parent, on_done, on_failed)

    def add_member(
        self,
        command: AddMember,
        *,
        parent: QObject | None = None,
        on_done: Callable[[int], None] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Queue a registration (off the GUI thread) and nudge the syncer; ``on_done``
        gets the new member's provisional id (negative) once it is safely queued: the
        member shows as pending until the server registers them, then
        ``members_rekeyed`` says their real id."""
        store, author = self.store, self.author
        queued: list[int] = []

        def enqueue() -> int:
            queued.append(store.enqueue(command, author).member_id)
            return store.pending_count(author.user_id)

        def done() -> None:
            if on_done is not None:
                on_done(queued[0])

        self._run(enqueue, set(), parent, done, on_failed)

    def refusal(self, kind: type[BaseCommand]) -> str | None:
        """Why the signed-in person cannot run this kind of command here and now, in
        plain words (for a disabled button's tooltip); None when they can. Reads the
        command's own declaration, as the server does."""
        reason = kind.refusal(self.session.staff.role)
        if reason is None and kind.online_only and not self._online:
            reason = f"{kind.label} needs the server, and this computer is offline"
        return reason

    def run_now(
        self,
        command: BaseCommand,
        *,
        member_id: int | None = None,
        parent: QObject | None = None,
        on_done: Callable[[CommandResult], None] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``command`` on the server now (an op, for online-only kinds). When it
        applies, ``member_id`` (or a member command's own member) is announced as
        changed. ``on_done`` gets the result whatever its status; ``on_failed`` the
        error when there was no answer (offline, refused: 403, …)."""
        from ..commands import Command, Status
        client = self.client
        changed = member_id if member_id is not None else (
            command.member_id if isinstance(command, Command) else None)

        def done(result: CommandResult) -> None:
            if result.status in (Status.APPLIED, Status.DUPLICATE) and changed is not None:
                self.members_changed.emit({changed})
            if on_done is not None and (parent is None or is_alive(parent)):
                on_done(result)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, (Unreachable, TimedOut)):
                self._online = False
            if on_failed is not None and (parent is None or is_alive(parent)):
                on_failed(exc)

        Op(self, lambda: client.run_command(command)).success(done).failure(failed).run()

    def resolve_issue(
        self,
        issue: SyncIssue,
        choice: str,
        edited: Command | None = None,
        *,
        parent: QObject | None = None,
        on_done: Callable[[], None] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Keep mine / take theirs / edit (``edited``) one sync issue, off the GUI thread."""
        store, author = self.store, self.author

        def resolve() -> int:
            store.resolve_issue(issue.id, choice, edited, author=author)  # type: ignore[arg-type]  # checked there
            return store.pending_count(author.user_id)

        self._run(resolve, {issue.member_id}, parent, on_done, on_failed, issues_changed=True)

    def sync_now(self) -> None:
        self.syncer.nudge()

    def server_ready(self) -> None:
        """The embedded server answers (the session was ``starting``): the client now
        points at it, so searches go to it and the syncer starts (GUI thread)."""
        self._online = True
        if self._start_syncer and not self._stopped:
            self.syncer.start()
        self.syncer.nudge()

    def cancel_sync(self) -> None:
        """Stop the pull under way after the page being written (the next "Sync now",
        or the next start, goes on from there)."""
        self.syncer.cancel_pull()

    def stop(self, wait: float = 0.0) -> None:
        """Stop the syncer (at sign-out or quit) without blocking the GUI thread: a
        request under way is abandoned (its thread ends by itself); the queue stays
        in the store. ``wait``: seconds to wait for the thread (tests, quit)."""
        if not self._stopped:
            self._stopped = True
            self.syncer.stop(timeout=wait)

    # ----------------------------------------------------------------- internals

    def _run(
        self,
        fn: Callable[[], int],
        member_ids: set[int],
        parent: QObject | None,
        on_done: Callable[[], None] | None,
        on_failed: Callable[[BaseException], None] | None,
        *,
        issues_changed: bool = False,
    ) -> None:
        store = self.store

        def work() -> tuple[int, int]:
            pending = fn()
            return pending, store.issue_count() if issues_changed else -1

        def done(counts: tuple[int, int]) -> None:
            pending, issues = counts
            update: dict[str, Any] = {"pending": pending}
            if issues >= 0:
                update["issues"] = issues
            self._set_status(dataclasses.replace(self.status, **update))
            self.syncer.nudge()
            self.members_changed.emit(member_ids)
            if issues >= 0:
                self.issues_changed.emit(issues)
            if on_done is not None and (parent is None or is_alive(parent)):
                on_done()

        def failed(exc: BaseException) -> None:
            log.warning("a change was not queued: %s", exc)
            if on_failed is not None and (parent is None or is_alive(parent)):
                on_failed(exc)

        # The workspace owns the op: the nudge happens even if the dialog has closed.
        Op(self, work).success(done).failure(failed).run()

    def _relay(self, event: object) -> None:
        """Syncer thread: hand the event to the GUI thread (queued)."""
        if self._stopped or not is_alive(self):
            return
        try:
            self._event.emit(event)
        except RuntimeError:  # deleted between the check and the emit (at shutdown)
            log.debug("sync event after the workspace was deleted: %r", event)

    @Slot(object)
    def _dispatch(self, event: object) -> None:
        """GUI thread: one syncer event, as signals."""
        if isinstance(event, SyncStatus):
            self._online = event.online
            self._set_status(event)
        elif isinstance(event, MembersRekeyed):
            self.members_rekeyed.emit(dict(event.ids))
        elif isinstance(event, MembersChanged):
            self.members_changed.emit(set(event.ids))
        elif isinstance(event, IssuesChanged):
            self.status = dataclasses.replace(self.status, issues=event.count)
            self.issues_changed.emit(event.count)
        elif isinstance(event, SessionExpired):
            self.session_expired.emit()

    def _set_status(self, status: SyncStatus) -> None:
        self.status = status
        self.status_changed.emit(status)
