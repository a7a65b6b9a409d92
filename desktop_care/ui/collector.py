"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate when a threshold is crossed.
If that is an op's worker thread and the garbage holds a Qt object owned by Python (a
closed dialog in a reference cycle, say), the object is destroyed on the wrong thread and
Qt crashes. So automatic collection is switched off and a timer on the GUI thread
collects instead, as often as the thresholds would have (qutebrowser and Anki do the same).

At start the app loads its modules with collection off and, once its first window is up,
freezes what is alive then (:func:`freeze_start_heap`): those objects live as long as the
process, and no pass ever walks them (docs/decisions/0041).
"""

from __future__ import annotations

import gc

from .qt import QObject, QTimer

_INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """Owns the timer; create one on the GUI thread, after the QApplication."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()

    def collect_if_due(self) -> int:
        """Collect the oldest generation whose threshold has been crossed; what was freed."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._threshold[generation]:
                return gc.collect(generation)
        return 0


_collector: GuiThreadCollector | None = None
_start_heap_frozen = False


def freeze_start_heap() -> None:
    """Move every object alive now (modules, classes, the first window) out of the
    collector's reach, without a pass over them (once per process; a full pass over the
    start-up heap takes 100-300 ms of the GUI thread). Their few cycles of garbage from
    loading are kept: about a thousand objects."""
    global _start_heap_frozen
    if not _start_heap_frozen:
        _start_heap_frozen = True
        gc.freeze()


def install(app: QObject) -> GuiThreadCollector:
    """Switch to GUI-thread collection for the life of ``app`` (idempotent)."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(app)
    return _collector
