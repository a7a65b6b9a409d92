"""The main window's tabs: a pinned home tab (the search pages), then one tab per open
record (a member, a ticket), as a service console has them (decision 0030).

:class:`WorkTabs` knows records only by their :class:`Record` key and asks the main
window to make their pages; it closes a tab only after asking when something typed in
it is not saved (:func:`unsaved_edits`), remembers closed tabs for Ctrl+Shift+T, and
hides a tab's own windows (an open Edit info) while another tab is in front.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .qt import (
    QDialog,
    QEvent,
    QLineEdit,
    QMessageBox,
    QObject,
    QPlainTextEdit,
    Qt,
    QTabBar,
    QTabWidget,
    QWidget,
    Signal,
    is_alive,
)

#: How many closed tabs Ctrl+Shift+T can bring back.
CLOSED_KEPT = 20
#: Set on a tab's window while it is hidden because another tab is in front.
HIDDEN_WITH_TAB = "hiddenWithTab"


class Record(NamedTuple):
    """What a record tab shows: ``Record("member", 123)``, ``Record("ticket", 45)``."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Record | None:
        """``"member:123"`` → ``Record("member", 123)``; None for what does not parse."""
        kind, _, number = text.partition(":")
        try:
            return cls(kind, int(number)) if kind in ("member", "ticket") else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Unsaved:
    """Something typed in a tab and not saved: what it is, and (when it can be) how to
    save it — ``save()`` starts it, ``saved`` (a signal) says it went through."""

    what: str
    save: Callable[[], None] | None = None
    saved: Any = None


def tab_windows(page: QWidget) -> list[QDialog]:
    """The windows a tab's page opened that are still open (shown, or hidden with their tab)."""
    return [d for d in page.findChildren(QDialog)
            if d.isWindow() and (d.isVisible() or bool(d.property(HIDDEN_WITH_TAB)))]


def typed_in(window: QWidget) -> bool:
    """Whether the person typed into a text box of ``window`` (not text set by the program)."""
    return (any(edit.isModified() for edit in window.findChildren(QLineEdit) if not edit.isReadOnly())
            or any(edit.document().isModified() for edit in window.findChildren(QPlainTextEdit)
                   if not edit.isReadOnly()))


def unsaved_edits(page: QWidget) -> list[Unsaved]:
    """What closing ``page`` would lose: what the page itself reports (a reply being
    typed), and each of its open windows with changes (a dialog that knows whether it
    has changes answers ``has_unsaved_changes()``; another, whether anything was typed)."""
    own = getattr(page, "unsaved_edits", None)
    found: list[Unsaved] = list(own()) if callable(own) else []
    for window in tab_windows(page):
        asks = getattr(window, "has_unsaved_changes", None)
        changed = asks() if callable(asks) else typed_in(window)
        if changed:
            save = getattr(window, "save", None) if callable(asks) and getattr(window, "saves_at_once", False) else None
            found.append(Unsaved(f"{window.windowTitle()}: not saved", save if callable(save) else None,
                                 getattr(window, "submitted", None)))
    return found


class WorkTabs(QTabWidget):
    """The home tab (index 0, never closed) and the record tabs after it."""

    #: The tabs opened, closed or the one in front changed (the window saves them).
    changed = Signal()

    def __init__(self, home: QWidget, opener: Callable[[Record], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workTabs")
        self.setAccessibleName("Open tabs")
        self.setDocumentMode(True)
        self.setTabsClosable(True)
        self.setUsesScrollButtons(True)
        self.setElideMode(Qt.TextElideMode.ElideRight)
        self.tabBar().setAccessibleName("Open tabs: Ctrl+Tab for the next, Ctrl+W closes")
        self.home = home
        self._opener = opener
        self._pages: dict[Record, QWidget] = {}
        #: Closed records, the last closed last.
        self.closed: list[Record] = []
        #: The question asked before closing a tab with unsaved edits (while it is asked).
        self.close_prompt: QMessageBox | None = None
        self._front: QWidget | None = None
        self.addTab(home, "Member search")
        for side in (QTabBar.ButtonPosition.LeftSide, QTabBar.ButtonPosition.RightSide):
            self.tabBar().setTabButton(0, side, None)  # pinned: no close button
        self.tabCloseRequested.connect(self.request_close)
        self.currentChanged.connect(self._front_changed)

    # ----------------------------------------------------------------- records

    def page(self, record: Record) -> QWidget | None:
        page = self._pages.get(record)
        return page if page is not None and is_alive(page) else None

    def records(self) -> list[Record]:
        """The open records in tab order."""
        by_page = {id(page): record for record, page in self._pages.items()}
        return [by_page[id(w)] for w in (self.widget(i) for i in range(1, self.count())) if id(w) in by_page]

    def record_of(self, page: QWidget | None) -> Record | None:
        return next((r for r, p in self._pages.items() if p is page), None)

    def add(self, record: Record, page: QWidget, *, front: bool = True) -> None:
        """A tab for ``record``: in front, after the current one (as browsers open links);
        behind, after the last."""
        self._pages[record] = page
        page.installEventFilter(self)  # a page closed by other means (its close()) leaves its tab
        index = self.insertTab(max(self.currentIndex(), 0) + 1 if front else self.count(), page, "…")
        page.setAccessibleName(f"{record.kind.title()} tab")
        if front:
            self.setCurrentIndex(index)
        self.changed.emit()

    def rekey(self, old: Record, new: Record) -> None:
        page = self._pages.pop(old, None)
        if page is not None:
            self._pages[new] = page
            self.changed.emit()

    def set_label(self, page: QWidget, title: str, tooltip: str) -> None:
        index = self.indexOf(page)
        if index >= 0:
            self.setTabText(index, title.replace("&", "&&"))  # "&" would be a mnemonic
            self.setTabToolTip(index, tooltip)

    def set_home_title(self, title: str) -> None:
        self.setTabText(0, title)

    # ----------------------------------------------------------------- keys

    def cycle(self, step: int) -> None:
        """Ctrl+Tab / Ctrl+Shift+Tab: the next or previous tab, round."""
        if self.count() > 1:
            self.setCurrentIndex((self.currentIndex() + step) % self.count())

    def close_current(self) -> None:
        self.request_close(self.currentIndex())

    def reopen_last(self) -> QWidget | None:
        """Ctrl+Shift+T: the last closed tab again (skipping ones open meanwhile)."""
        while self.closed:
            record = self.closed.pop()
            if self.page(record) is None:
                return self._opener(record)
        return None

    # ----------------------------------------------------------------- closing

    def request_close(self, index: int) -> None:
        """Close tab ``index``; first ask when it has unsaved edits (Save, Discard, Cancel)."""
        page = self.widget(index)
        if index <= 0 or page is None or (self.close_prompt is not None and is_alive(self.close_prompt)):
            return
        edits = unsaved_edits(page)
        if not edits:
            self.close_page(page)
            return
        self.setCurrentWidget(page)
        self.close_prompt = self._ask(page, edits)

    def _ask(self, page: QWidget, edits: list[Unsaved]) -> QMessageBox:
        title = self.tabText(self.indexOf(page)).replace("&&", "&")
        savable = edits[0] if len(edits) == 1 and edits[0].save is not None else None
        buttons = QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        if savable is not None:
            buttons |= QMessageBox.StandardButton.Save
        box = QMessageBox(QMessageBox.Icon.Warning, "Close this tab?",
                          f"{title} has changes that are not saved:\n\n" + "\n".join(f"• {e.what}" for e in edits)
                          + "\n\nClose the tab and lose them?", buttons, self)
        box.setObjectName("closeTabPrompt")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        discard = box.button(QMessageBox.StandardButton.Discard)
        discard.setText("Discard and close")
        if savable is not None:
            box.button(QMessageBox.StandardButton.Save).setText("Save and close")

        def answered(_result: int) -> None:
            self.close_prompt = None
            clicked = box.clickedButton()
            if clicked is discard:
                self.close_page(page)
            elif savable is not None and clicked is box.button(QMessageBox.StandardButton.Save):
                if savable.saved is not None:  # closes once saved; a refusal shows in the dialog
                    savable.saved.connect(lambda *_: self.close_page(page) if is_alive(page) else None)
                assert savable.save is not None
                savable.save()
            box.deleteLater()

        box.finished.connect(answered)
        box.open()  # not exec(): the GUI keeps running, tests answer it
        return box

    def close_page(self, page: QWidget) -> None:
        """Close ``page``'s tab now (its windows with it), keeping it for Ctrl+Shift+T."""
        record = self.record_of(page)
        if record is not None:
            self.closed = [*[r for r in self.closed if r != record][-(CLOSED_KEPT - 1):], record]
            del self._pages[record]  # now, not when Qt deletes the page
        index = self.indexOf(page)
        if index > 0:
            self.removeTab(index)
        for window in tab_windows(page):
            window.setProperty(HIDDEN_WITH_TAB, False)
        page.close()
        page.deleteLater()

    def close_all(self) -> None:
        self._pages.clear()
        for index in reversed(range(1, self.count())):
            page = self.widget(index)
            if page is not None:
                self.removeTab(index)
                page.close()
                page.deleteLater()

    # ----------------------------------------------------------------- internals

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A page closed by other means than its tab (``close()`` on it): forget it now
        (not on ``destroyed``, which also comes while this widget itself is going)."""
        if event.type() == QEvent.Type.Close and isinstance(watched, QWidget):
            record = self.record_of(watched)
            if record is not None:
                del self._pages[record]
                self.changed.emit()
        return False

    def _front_changed(self, index: int) -> None:
        """Only the tab in front shows its windows (an Edit info of another member would
        be confusing over this one)."""
        before, now = self._front, self.widget(index)
        if before is not None and is_alive(before) and before is not now:
            for window in before.findChildren(QDialog):
                if window.isWindow() and window.isVisible():
                    window.setProperty(HIDDEN_WITH_TAB, True)
                    window.hide()
        if now is not None:
            for window in now.findChildren(QDialog):
                if window.property(HIDDEN_WITH_TAB):
                    window.setProperty(HIDDEN_WITH_TAB, False)
                    window.show()
                    window.raise_()
        self._front = now
        self.changed.emit()
