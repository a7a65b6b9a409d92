"""The background worker that drains the outbox and pulls the change feed.

One thread per signed-in workstation (never the GUI thread). A sync round pushes the
outbox in batches (``POST /sync/commands``), recording each batch's answers in one
local transaction, then pulls the feed from the stored cursor until ``has_more`` is
false, each page in one local transaction. Rounds run at start, when :meth:`nudge` is
called (after an enqueue, "Sync now") and every ``interval`` seconds.

Only the changes of the person the client's token belongs to are pushed (asked of the
server, ``GET /auth/me``, not taken from the app's word), and none that waits behind a
colleague's earlier change to the same member; the others wait in the outbox for their
authors, and :attr:`SyncStatus.waiting_for` says for whom (invariant 7).

Connectivity comes from the calls themselves: Unreachable, TimedOut, 5xx and "busy"
answers mean offline, and the next round waits with exponential backoff (1 s doubling
to 60 s, with jitter); any answer means online. A 401 or 403 emits :class:`SessionExpired`
and waits for a nudge (after signing in again); the queue stays. A 403 (the account is
locked, disabled or revoked) also drops its offline sign-in when asked to.

Events are delivered on the syncer thread through ``on_event``; the UI re-emits them as
Qt signals.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..schemas import CompactFeedPage
from .api_client import (
    ApiClient,
    ApiError,
    Forbidden,
    NotFound,
    ServerBusy,
    ServerError,
    TimedOut,
    Unauthorized,
    Unreachable,
    ValidationFailed,
)
from .local_store import Author, LocalStore, crash_point
from .offline_auth import forget_refused_account

if TYPE_CHECKING:
    from ..commands import Command, CommandResult

log = logging.getLogger(__name__)

#: At most this many kept member details are fetched again after a pull.
MAX_DETAIL_REFRESH = 50

#: Errors that mean "the server can't be used right now": offline, retry with backoff.
OFFLINE_ERRORS = (Unreachable, TimedOut, ServerError, ServerBusy)


@dataclass(frozen=True)
class SyncStatus:
    online: bool
    pending: int
    issues: int
    syncing: bool
    #: (done, total) commands of the push under way.
    progress: tuple[int, int] | None
    last_error: str | None
    #: Seconds until the next attempt while offline.
    next_retry_in: float | None
    last_synced_at: dt.datetime | None
    #: While a pull of several pages is under way: the share of it received (0–1).
    received: float | None = None
    #: ``(username, count)`` of queued changes made here by other people, oldest
    #: first: they wait for their authors to sign in (``pending`` counts only ours).
    waiting_for: tuple[tuple[str, int], ...] = ()
    #: While a pull of several pages is under way: ``(changes received, about how many
    #: in all)``, the second estimated from ``received`` (the feed's numbers have gaps).
    pulled: tuple[int, int] | None = None
    #: The last pull was cancelled (:meth:`Syncer.cancel_pull`): the next "Sync now" or
    #: start goes on from the last page written.
    paused: bool = False


@dataclass(frozen=True)
class MembersChanged:
    ids: set[int]


@dataclass(frozen=True)
class MembersRekeyed:
    """Members registered on this workstation that the server has registered:
    provisional id → the server's id (views showing the old id follow it)."""

    ids: dict[int, int]


@dataclass(frozen=True)
class IssuesChanged:
    count: int


@dataclass(frozen=True)
class SessionExpired:
    pass


SyncEvent = SyncStatus | MembersChanged | MembersRekeyed | IssuesChanged | SessionExpired


class _Stopped(Exception):
    pass


class _Cancelled(Exception):
    """The person cancelled the pull under way (:meth:`Syncer.cancel_pull`)."""


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move every object alive now out of the garbage collector's reach (once per
    process). A full collection walks the whole heap holding the GIL — 100-250 ms in
    this app, felt by the GUI thread whichever thread triggers it — and a sync
    allocates enough to trigger them. With the start-up heap (Qt, SQLAlchemy, pydantic
    schemas…) frozen, collections only walk what was allocated since (bench/sync.py)."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


class _Fetch:
    """One feed page fetched on its own daemon thread (a hung request never keeps the
    app from quitting); :meth:`result` returns it or raises what the call raised."""

    def __init__(self, client: ApiClient, after: int, limit: int) -> None:
        self._done = threading.Event()
        self._page: CompactFeedPage | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(client, after, limit), daemon=True,
                                        name="desktop-care-sync-fetch")
        self._thread.start()

    def _run(self, client: ApiClient, after: int, limit: int) -> None:
        try:
            self._page = client.compact_changes(after, limit)
        except BaseException as exc:  # noqa: BLE001 (handed to the syncer thread)
            self._error = exc
        finally:
            self._done.set()

    def result(self, stopping: threading.Event) -> CompactFeedPage:
        while not self._done.wait(0.1):
            if stopping.is_set():
                raise _Stopped
        if self._error is not None:
            raise self._error
        assert self._page is not None
        return self._page


def _other_database(page: CompactFeedPage, after: int, stored_epoch: str | None) -> str | None:
    """Why ``page`` comes from another database than the directory pulled up to
    ``after`` (with ``stored_epoch``), or None when it is the same one."""
    if page.latest is not None and page.latest < after:
        return f"the server's feed ends at {page.latest}, before our cursor {after}"
    if page.epoch is not None and after > 0 and page.epoch != stored_epoch:
        # Also when this store has no epoch yet (pulled before epochs existed): it
        # cannot tell, so it makes sure.
        return f"the server's feed has epoch {page.epoch}, our directory came from {stored_epoch or 'an older feed'}"
    return None


class Syncer:
    def __init__(
        self,
        store: LocalStore,
        client: ApiClient,
        *,
        on_event: Callable[[SyncEvent], None],
        interval: float = 30.0,
        batch_size: int = 200,
        page_size: int = 1000,
        backoff_start: float = 1.0,
        backoff_max: float = 60.0,
        autostart: bool = True,
        freeze_heap: bool = True,
        author: Author | None = None,
        drop_offline_sign_in: bool = False,
    ) -> None:
        """``author``: who the app believes is signed in, for the status until the
        server has said whose the token is (the server's answer decides what is sent).
        ``drop_offline_sign_in``: when the server refuses the account (403: locked,
        disabled, revoked), drop its offline sign-in verifier (the app does)."""
        self.drop_offline_sign_in = drop_offline_sign_in
        self.store = store
        self.client = client
        self.author = author
        self._verified: tuple[str | None, Author] | None = None
        self.on_event = on_event
        self.interval = interval
        self.batch_size = batch_size
        self.page_size = page_size
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._random = random.Random()
        self._failures = 0
        self._waiting_for_sign_in = False
        self._cancel = threading.Event()
        #: Cancelled: rounds wait for a nudge ("Sync now") instead of the interval.
        self.paused = False
        self.online = True
        self.last_error: str | None = None
        self.next_retry_in: float | None = None
        self.last_synced_at: dt.datetime | None = None
        self.rounds = 0
        self.freeze_heap = freeze_heap
        if autostart:
            self.start()

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Start the background thread (once; the constructor does unless ``autostart``
        is false). Also freezes the start-up heap, once per process (see
        :func:`freeze_startup_heap`), unless ``freeze_heap`` is false."""
        with self._lock:
            if self._thread is None:
                if self.freeze_heap:
                    freeze_startup_heap()
                self._thread = threading.Thread(target=self._run, name="desktop-care-sync", daemon=True)
                self._thread.start()

    def nudge(self) -> None:
        """Sync as soon as possible (after an enqueue, "Sync now", a new sign-in)."""
        self._waiting_for_sign_in = False
        self.paused = False
        self._cancel.clear()
        self._wake.set()

    sync_now = nudge

    def cancel_pull(self) -> None:
        """Stop the round under way once the page being written is stored (every page
        is one transaction with its cursor, so the next round goes on from there); no
        round starts on its own until :meth:`nudge`."""
        self.paused = True
        self._cancel.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly: no new request starts; a request under way is abandoned
        (the thread is a daemon, and every local write is one transaction)."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        delay = 0.0
        while not self._stopping.is_set():
            nudged = self._wake.wait(delay) if delay > 0 else True
            self._wake.clear()
            if self._stopping.is_set():
                return
            if (self._waiting_for_sign_in or self.paused) and not nudged:
                delay = self.interval
                continue
            delay = self._round()

    def push_once(self) -> None:
        """Only the push half of a round, in the calling thread (for tests that look at
        what a workstation shows between a push and the next pull)."""
        self._push()

    def sync_once(self) -> bool:
        """One push-then-pull round in the calling thread (tools, tests, benchmarks;
        the app uses the background thread). True if it reached the server."""
        self._round()
        return self._failures == 0 and self.last_error is None

    def _round(self) -> float:
        """One push-then-pull round; the delay before the next one."""
        self.rounds += 1
        try:
            self._status(syncing=True)
            self._identity()
            self._push()
            self._pull()
        except _Stopped:
            return 0.0
        except _Cancelled:
            self._cancel.clear()
            self._status()
            return self.interval
        except (Unauthorized, Forbidden) as exc:
            if isinstance(exc, Forbidden) and not self._account_refused(exc):
                log.warning("sync refused: %s", exc.message)
                return self._failed(exc.message, online=True)
            self.online, self.last_error, self.next_retry_in = True, exc.message, None
            self._waiting_for_sign_in = True
            self._emit(SessionExpired())
            self._status()
            return self.interval
        except OFFLINE_ERRORS as exc:
            return self._failed(exc.message, online=False)
        except ApiError as exc:  # the server answered, but not usefully (e.g. an older server)
            log.warning("sync failed: %s", exc.message)
            return self._failed(exc.message, online=True)
        except Exception as exc:  # never let the worker die: report and retry later
            log.exception("sync round failed")
            return self._failed(f"Sync failed: {exc}", online=self.online)
        self._failures = 0
        self.online, self.last_error, self.next_retry_in = True, None, None
        self.last_synced_at = dt.datetime.now(dt.UTC)
        self._status()
        return self.interval

    def _account_refused(self, exc: Forbidden) -> bool:
        """Whether a 403 means the account itself is refused (locked, disabled,
        revoked: ``GET /auth/me`` is refused too), not just this one request. If so,
        its offline sign-in goes too (when asked to)."""
        try:
            self.client.me()
        except Forbidden as refused:
            if self.drop_offline_sign_in and self.author is not None:
                forget_refused_account(self.client.base_url, self.author.username, refused.message)
            return True
        except ApiError:
            return False
        return False

    def _failed(self, message: str, *, online: bool) -> float:
        self._failures += 1
        base = min(self.backoff_max, self.backoff_start * 2 ** (self._failures - 1))
        delay = min(self.backoff_max, base * self._random.uniform(0.85, 1.0))
        self.online, self.last_error, self.next_retry_in = online, message, delay
        self._status()
        return delay

    def _check_stop(self) -> None:
        if self._stopping.is_set():
            raise _Stopped
        if self._cancel.is_set():
            raise _Cancelled

    # ------------------------------------------------------------------ push / pull

    def _identity(self) -> Author:
        """Whose token the client holds, as the server says (asked once per token)."""
        token = self.client.token
        if self._verified is None or self._verified[0] != token:
            me = self.client.me()
            author = Author(me.id, me.username)
            if self.author is not None and self.author.user_id != author.user_id:
                log.warning("the token belongs to %s, not %s: sending only %s's changes",
                            author.username, self.author.username, author.username)
            self._verified = (token, author)
            self.author = author
        return self._verified[1]

    def _push(self) -> None:
        if not self.store.pending_count():
            return
        me = self._identity().user_id
        total = self.store.pending_count(me)
        done = 0
        while True:
            self._check_stop()
            batch = self.store.queued(self.batch_size, author_id=me)
            if not batch:
                return
            total = max(total, done + len(batch))
            self._status(syncing=True, progress=(done, total))
            crash_point("push.before_request")
            try:
                results = self.client.push(batch)
            except ValidationFailed as exc:
                results = self._push_one_by_one(batch, exc)
            crash_point("push.after_response")
            recorded = self.store.record_results(results)
            done += len(batch)
            if recorded.rekeyed:
                self._emit(MembersRekeyed(dict(recorded.rekeyed)))
            if recorded.member_ids:
                self._emit(MembersChanged(set(recorded.member_ids)))
            if recorded.issues:
                self._emit(IssuesChanged(self.store.issue_count()))
            self._status(syncing=True, progress=(done, max(total, done)))
            if not recorded.applied and not recorded.issues:
                log.warning("the server answered none of %d queued commands", len(batch))
                return

    def _push_one_by_one(self, batch: Sequence[Command], error: ValidationFailed) -> list[CommandResult]:
        """A batch refused as a whole (422): find the command(s) at fault, so that one
        bad command is reported as a Sync issue instead of blocking the queue."""
        from ..commands import CommandResult, Status
        log.warning("a batch was refused (%s %s); pushing one by one", error.message, error.fields)
        results: list[CommandResult] = []
        for command in batch:
            self._check_stop()
            try:
                results.extend(self.client.push([command]))
            except ValidationFailed as exc:
                detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
                reason = f"The server refused this change as invalid: {exc.message}" + (f" ({detail})" if detail else "")
                results.append(CommandResult(op_id=str(command.op_id), status=Status.REJECTED, reason=reason))
        return results

    def _pull(self) -> None:
        """Pull pages until the feed is drained. The next page is fetched while this
        one is written (the server builds it while we store), so a first sync of a
        large directory costs about the larger of the two, not their sum."""
        after = start = self.store.cursor()
        fetch = _Fetch(self.client, after, self.page_size)
        all_changed: set[int] = set()
        received = 0
        while True:
            page = fetch.result(self._stopping)
            self._check_stop()
            reason = _other_database(page, after, self.store.epoch())
            if reason is not None:
                # Another database than the one our directory came from (reset,
                # replaced, restored): pull everything again (queued changes are kept).
                log.warning("%s: pulling everything again", reason)
                self.store.forget_directory()
                after = start = 0
                fetch = _Fetch(self.client, after, self.page_size)
                continue
            more = page.has_more and page.cursor > after
            fetch = _Fetch(self.client, page.cursor, self.page_size) if more else fetch
            changed = self.store.apply_feed(page)
            received += page.size
            crash_point("pull.after_store")
            if changed:
                all_changed |= changed
                self._emit(MembersChanged(changed))
            if not more:
                break
            if page.latest:  # a long pull: say how far it got (numbers above start are spread up to latest)
                share = min(1.0, (page.cursor - start) / max(1, page.latest - start))
                self._status(syncing=True, received=share, pulled=(received, max(received, round(received / share) if share else received)))
            after = page.cursor
        self._refresh_details(all_changed)

    def _refresh_details(self, changed: set[int]) -> None:
        """Fetch again the full details (portal users, pending transactions) kept for
        members that changed, so they are current when the server is next out of reach."""
        stale = sorted(changed & self.store.cached_detail_ids())[:MAX_DETAIL_REFRESH]
        for member_id in stale:
            self._check_stop()
            try:
                self.store.remember_detail(self.client.member(member_id))
            except NotFound:
                continue

    # ------------------------------------------------------------------ events

    def _status(
        self, *, syncing: bool = False, progress: tuple[int, int] | None = None, received: float | None = None,
        pulled: tuple[int, int] | None = None,
    ) -> None:
        author_id = self.author.user_id if self.author is not None else None
        self._emit(SyncStatus(
            online=self.online,
            pending=self.store.pending_count(author_id),
            waiting_for=self.store.waiting_for(author_id),
            issues=self.store.issue_count(),
            syncing=syncing,
            progress=progress,
            last_error=self.last_error,
            next_retry_in=self.next_retry_in,
            last_synced_at=self.last_synced_at,
            received=received,
            pulled=pulled,
            paused=self.paused,
        ))

    def _emit(self, event: SyncEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception("a sync event handler failed")


__all__ = ["IssuesChanged", "MembersChanged", "MembersRekeyed", "SessionExpired", "SyncEvent", "SyncStatus", "Syncer",
           "freeze_startup_heap"]
