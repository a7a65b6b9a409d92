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
    value: Any = None
    error: BaseException | None = None


class _Relay(QObject):
    """Lives on the GUI thread; carries one op's outcome there and runs its callbacks."""

    arrived = Signal(object)

    def __init__(self, op: Op[Any]) -> None:
        super().__init__()
        self._op: Op[Any] | None = op
        self.arrived.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _deliver(self, outcome: _Outcome) -> None:
        op, self._op = self._op, None
        _in_flight.discard(self)
        self.deleteLater()
        if op is not None:
            op._finish(outcome)


#: Relays whose work is still running (keeps them alive without a Qt parent).
_in_flight: set[_Relay] = set()


class _Worker(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            outcome = _Outcome(value=self._fn())
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, never lost
            outcome = _Outcome(error=exc)
        self._relay.arrived.emit(outcome)


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
        relay = _Relay(self)
        _in_flight.add(relay)
        pool().start(_Worker(self._fn, relay))

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
