"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate when a threshold is crossed.
If that is an op's worker thread and the garbage holds a Qt object owned by Python (a
closed dialog in a reference cycle, say), the object is destroyed on the wrong thread and
Qt crashes. So automatic collection is switched off and a timer on the GUI thread
collects instead, as often as the thresholds would have (qutebrowser and Anki do the same).
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


def install(app: QObject) -> GuiThreadCollector:
    """Switch to GUI-thread collection for the life of ``app`` (idempotent)."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(app)
    return _collector
