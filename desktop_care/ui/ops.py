"""Ops: run work off the GUI thread and hand the outcome back to it.

The idea is Anki's ``CollectionOp``::

    Op(self, lambda: client.member(member_id)).success(self._show).run()

``fn`` runs on a worker of a :class:`QThreadPool`; its result (or exception) travels
back by a queued signal, and the callbacks run on the GUI thread, only if ``parent``
still exists. Workers never touch widgets. Failures go to the message bridge unless a
``failure`` callback takes them.

A newer request can make an older one pointless (a search for "smi" finishing after
"smith"); callers drop such results with a :class:`Generation`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import message
from .qt import QObject, QRunnable, Qt, QThreadPool, QWidget, Signal, Slot, is_alive

log = logging.getLogger(__name__)

T = TypeVar("T")

_NETWORK_THREADS = 4
_pool: QThreadPool | None = None


def pool() -> QThreadPool:
    """The thread pool ops run on: a few threads, enough for overlapping HTTP calls."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(_NETWORK_THREADS)
        _pool.setObjectName("ops")
    return _pool


def wait_for_idle(timeout_ms: int = 30_000) -> bool:
    """Block until every running op's work is done (for shutdown and tests)."""
    return pool().waitForDone(timeout_ms)


@dataclass(frozen=True)
class _Outcome:
    op: Op[Any]
    value: Any = None
    error: BaseException | None = None


class _Dispatcher(QObject):
    """Lives on the GUI thread for the life of the app; carries outcomes there.

    One long-lived QObject rather than one per op: a per-op QObject whose last Python
    reference happened to be dropped by the worker would be destroyed on the worker's
    thread, which Qt does not survive.
    """

    arrived = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.arrived.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        #: The latest outcomes, kept a while, so that the last reference to anything an
        #: op's closure holds is dropped here, never by the worker that emitted it.
        self._recent: deque[_Outcome] = deque(maxlen=64)

    @Slot(object)
    def _deliver(self, outcome: _Outcome) -> None:
        self._recent.append(outcome)
        outcome.op._finish(outcome)


_dispatcher: _Dispatcher | None = None


def _get_dispatcher() -> _Dispatcher:
    """Created on first use, which is on the GUI thread (ops are started there)."""
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = _Dispatcher()
    return _dispatcher


class _Worker(QRunnable):
    def __init__(self, op: Op[Any], dispatcher: _Dispatcher) -> None:
        super().__init__()
        self._op: Op[Any] | None = op
        self._dispatcher = dispatcher

    def run(self) -> None:
        op, self._op = self._op, None
        assert op is not None
        try:
            outcome = _Outcome(op, value=op._fn())
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, never lost
            outcome = _Outcome(op, error=exc)
        del op
        self._dispatcher.arrived.emit(outcome)


class Op(Generic[T]):
    """``fn`` run off the GUI thread; ``success``/``failure``/``finally_`` on it."""

    def __init__(self, parent: QObject, fn: Callable[[], T]) -> None:
        self._parent = parent
        self._fn = fn
        self._on_success: Callable[[T], None] | None = None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._on_finally: Callable[[], None] | None = None

    def success(self, callback: Callable[[T], None]) -> Op[T]:
        self._on_success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> Op[T]:
        """Handle failures here instead of the default (a message to the person)."""
        self._on_failure = callback
        return self

    def finally_(self, callback: Callable[[], None]) -> Op[T]:
        """Run after success or failure (e.g. re-enable a button)."""
        self._on_finally = callback
        return self

    def run(self) -> None:
        pool().start(_Worker(self, _get_dispatcher()))

    def _finish(self, outcome: _Outcome) -> None:
        if not is_alive(self._parent):
            log.debug("op result dropped: its parent is gone")
            return
        try:
            if outcome.error is None:
                if self._on_success is not None:
                    self._on_success(outcome.value)
            elif self._on_failure is not None:
                self._on_failure(outcome.error)
            else:
                parent = self._parent if isinstance(self._parent, QWidget) else None
                message.problem(outcome.error, parent=parent)
        finally:
            if self._on_finally is not None:
                self._on_finally()


class Generation:
    """Drops the results of requests that a newer request has superseded.

    ::

        token = self._generation.next()
        Op(self, fetch).success(self._generation.guard(token, self._show)).run()
    """

    def __init__(self) -> None:
        self._current = 0

    @property
    def current(self) -> int:
        return self._current

    def next(self) -> int:
        """Start a new request; everything started before it becomes stale."""
        self._current += 1
        return self._current

    def is_current(self, token: int) -> bool:
        return token == self._current

    def guard(self, token: int, callback: Callable[[T], None]) -> Callable[[T], None]:
        """``callback``, called only while ``token`` is still the newest request."""

        def guarded(value: T) -> None:
            if self.is_current(token):
                callback(value)

        return guarded
