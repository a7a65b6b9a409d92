"""Garbage in reference cycles is collected by the GUI thread's timer, not by whichever
thread happens to allocate (which would destroy Qt objects on a worker thread)."""

from __future__ import annotations

import gc
import threading
import weakref

from desktop_care.ui import collector
from desktop_care.ui.qt import QDialog


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.dialog = QDialog()


def test_cycles_with_qt_objects_are_collected_on_the_gui_thread(qtbot, qapp) -> None:
    collector.install(qapp)
    assert not gc.isenabled()
    freed_on: list[str] = []

    cycle = _Cycle()
    probe = weakref.ref(cycle, lambda _ref: freed_on.append(threading.current_thread().name))
    del cycle

    kept: list[object] = []

    def allocate_on_a_worker() -> None:  # enough allocations to cross every threshold
        # kept alive until the end: freeing them would take the allocation count back
        # under the threshold, and whether the timer collects would depend on earlier tests
        kept.append([[i] for i in range(200_000)])

    worker = threading.Thread(target=allocate_on_a_worker, name="worker")
    worker.start()
    worker.join()
    assert probe() is not None, "collected on the worker thread"

    qtbot.waitUntil(lambda: probe() is None, timeout=10_000)
    assert freed_on == [threading.main_thread().name]
    kept.clear()
