"""The main window: the member search and the other pages in a pinned home tab, one
tab per open member or ticket beside it (ui/tabs.py, decision 0030), the menus, and a
status bar saying who is signed in, to which server, whether that server can be
reached, how many changes are waiting to sync, and how many sync issues need a
decision."""

from __future__ import annotations

import functools
import sys
import time
from typing import TYPE_CHECKING, TypeGuard

from .. import __version__
from .. import settings as saved_settings
from ..models import MemberStatus
from ..schemas import Health, MemberDetail
from ..sync.syncer import SyncStatus
from . import message
from .members.search_view import SearchView
from .ops import Op
from .portal.on_behalf import OnBehalfIndicator, on_behalf_windows
from .qt import (
    PYSIDE_VERSION,
    QAction,
    QApplication,
    QCloseEvent,
    QEvent,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    Qt,
    QTimer,
    QWidget,
    Signal,
    is_alive,
    qVersion,
)
from .resources import app_icon
from .session import StaffSession
from .sync_view import SyncProgress, issues_button_text, status_text
from .tabs import Record, WorkTabs, unsaved_edits
from .widgets import SearchPage, named
from .workspace import Workspace

if TYPE_CHECKING:
    # The pages and dialogs not on the first screen load when first opened (imported in
    # the methods that open them), not at start (docs/decisions/0041).
    from ..commands import Command
    from ..sync.local_store import SyncIssue
    from .bulk_invite import BulkInviteDialog
    from .fraud.blocks_view import FraudStopView
    from .members.add_member import AddMemberDialog
    from .members.details_dialog import MemberDetailsView
    from .members.editing import CommandDialog
    from .members.payments import RefundApprovalsDialog
    from .palette import CommandPalette, Entry, ShortcutsDialog
    from .settings_dialog import SettingsDialog
    from .sync_view import SyncIssuesPanel
    from .tickets.ticket_view import TicketDetailsView
    from .tickets.tickets_view import TicketsView
    from .users.users_view import UsersView

ONLINE = "● Online"
CHECKING = "● Connecting…"


#: The reason proposed when Add a customer goes on to acting on the new member's behalf.
NEW_CUSTOMER_REASON = "New customer registered by phone: setting up their account"

def _loaded_class(module: str, name: str) -> type | None:
    """Class ``name`` of ``module`` (under ui/) once that module is loaded; None before
    (when no instance of it can exist yet), without loading it to ask."""
    loaded = sys.modules.get(f"{__package__}.{module}")
    found = getattr(loaded, name, None)
    return found if isinstance(found, type) else None


def is_member_view(widget: object) -> TypeGuard[MemberDetailsView]:
    cls = _loaded_class("members.details_dialog", "MemberDetailsView")
    return cls is not None and isinstance(widget, cls)


def is_ticket_view(widget: object) -> TypeGuard[TicketDetailsView]:
    cls = _loaded_class("tickets.ticket_view", "TicketDetailsView")
    return cls is not None and isinstance(widget, cls)


class MainWindow(QMainWindow):
    """Signed-in staff's window onto one server."""

    sign_out_requested = Signal()
    quit_requested = Signal()
    #: File → Settings saved new settings (a :class:`desktop_care.settings.Settings`).
    settings_saved = Signal(object)
    #: A member was registered from "Add a customer" (their id, provisional while
    #: pending) and their details opened: the hook to continue into acting on behalf.
    customer_added = Signal(int)

    def __init__(
        self,
        session: StaffSession,
        parent: QWidget | None = None,
        *,
        workspace: Workspace | None = None,
        remember_tabs: bool = False,
    ) -> None:
        """``remember_tabs``: keep the open tabs in the settings as they change, and open
        those kept for this server and user now (the app does; tests choose)."""
        super().__init__(parent)
        self.session = session
        self.workspace = workspace if workspace is not None else Workspace(session, self)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Desktop Care — Member search")
        self.setWindowIcon(app_icon())
        self.resize(1280, 760)

        self.search_view = SearchView(self.workspace, self)
        self.users_view: UsersView | None = None  # built when first shown
        self.tickets_view: TicketsView | None = None  # built when first shown
        self.fraud_view: FraudStopView | None = None  # built when first shown
        self.pages = named(QStackedWidget(self), "pages")
        self.pages.addWidget(self.search_view)
        #: The pinned home tab (these pages) and a tab per open member or ticket.
        self.tabs = WorkTabs(self.pages, self.open_record, self)
        self.setCentralWidget(self.tabs)
        self.search_view.search_box.setFocus()
        self.search_view.member_opened.connect(self.open_member)
        self._home_title = "Desktop Care — Member search"
        #: The question asked before quitting or signing out with unsaved edits.
        self.leave_prompt: QMessageBox | None = None
        self._leaving = False
        self._tabs_key = saved_settings.tabs_key("local" if session.local else session.server_url,
                                                 session.staff.username) if remember_tabs else None
        self._save_tabs_soon = QTimer(self, singleShot=True, interval=300)
        self._save_tabs_soon.timeout.connect(self.save_tabs)
        self.tabs.changed.connect(self._tabs_changed)
        #: Members added here while online, waiting for their registration to reach the
        #: server before going on to acting on their behalf.
        self._on_behalf_once_registered: set[int] = set()
        self.issues_panel: SyncIssuesPanel | None = None
        self.issue_editor: CommandDialog | None = None
        self.bulk_invite_dialog: BulkInviteDialog | None = None

        self._build_menus()
        self._build_status_bar()
        #: Title and status bar while acting on behalf; Sign in as yourself / Sign out.
        self.on_behalf = OnBehalfIndicator(self, session.client, self.open_member, self.sign_out_requested.emit)
        message.bridge.shown.connect(self._show_message)

        self._health: Health | None = None
        self._retry_deadline: float | None = None
        self._issue_count = -1
        self._countdown = QTimer(self, interval=1000)
        self._countdown.timeout.connect(self._show_status)
        self.workspace.status_changed.connect(self._status_changed)
        self.workspace.members_changed.connect(self.members_changed)
        self.workspace.members_rekeyed.connect(self.members_rekeyed)
        self.add_member_dialog: AddMemberDialog | None = None
        self.workspace.issues_changed.connect(self._issues_changed)
        self.workspace.session_expired.connect(self._session_expired)
        self._status_changed(self.workspace.status)
        if session.offline:
            self.connection_label.setText("● Offline (signed in offline)")
        Op(self, session.client.health).success(self._got_health).failure(lambda _exc: None).run()
        if self._tabs_key is not None:
            self.restore_tabs()

    # ----------------------------------------------------------------- building

    def _build_menus(self) -> None:
        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu("&File")
        self.sign_out_action = self._action("Sign &out", self._sign_out, QKeySequence("Ctrl+Shift+L"))
        self.quit_action = self._action("&Quit", self._quit, QKeySequence(QKeySequence.StandardKey.Quit))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.settings_action = self._action("Se&ttings…", self.show_settings, QKeySequence("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.sign_out_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        care_menu = menu_bar.addMenu("Customer &Care")
        self.member_search_action = self._action("Member &Search", self.show_member_search, QKeySequence("Ctrl+1"))
        self.users_action = self._action("&Users", self.show_users, QKeySequence("Ctrl+2"))
        self.tickets_action = self._action("&Tickets", self.show_tickets, QKeySequence("Ctrl+3"))
        care_menu.addActions([self.member_search_action, self.users_action, self.tickets_action])
        self.fraud_action = self._action("&Fraud stop", self.show_fraud_stop, QKeySequence("Ctrl+Shift+F"))
        care_menu.addAction(self.fraud_action)
        self.bulk_invite_action = self._action("&Bulk invite…", self.show_bulk_invite, QKeySequence("Ctrl+Shift+B"))
        care_menu.addAction(self.bulk_invite_action)
        self.refund_approvals_action = self._action("&Refunds awaiting approval…", self.show_refund_approvals)
        care_menu.addAction(self.refund_approvals_action)

        members_menu = menu_bar.addMenu("&Members")
        self.find_action = self._action("&Find member", self._find_member,
                                        QKeySequence(QKeySequence.StandardKey.Find))
        self.refresh_action = self._action("&Refresh results", self.search_view.search_now, QKeySequence("Ctrl+R"))
        self.open_action = self._action("&Open selected member", self._open_selected, QKeySequence("Ctrl+O"))
        self.add_member_action = self._action("&Add a customer…", self.open_add_member, QKeySequence("Ctrl+N"))
        self.add_member_action.setToolTip("Register a new member (works offline too)")
        members_menu.addActions([self.find_action, self.open_action, self.refresh_action])
        members_menu.addSeparator()
        members_menu.addAction(self.add_member_action)

        sync_menu = menu_bar.addMenu("&Sync")
        self.sync_now_action = self._action("Sync &now", self.workspace.sync_now,
                                            QKeySequence(QKeySequence.StandardKey.Refresh))
        self.sync_issues_action = self._action("Sync &issues…", self.show_sync_issues, QKeySequence("Ctrl+Shift+I"))
        sync_menu.addActions([self.sync_now_action, self.sync_issues_action])

        window_menu = menu_bar.addMenu("&Window")
        self.close_tab_action = self._action("&Close tab", self.tabs.close_current, QKeySequence("Ctrl+W"))
        self.reopen_tab_action = self._action("&Reopen closed tab", self.tabs.reopen_last, QKeySequence("Ctrl+Shift+T"))
        self.next_tab_action = self._action("&Next tab", lambda: self.tabs.cycle(1), QKeySequence("Ctrl+Tab"))
        self.next_tab_action.setShortcuts([QKeySequence("Ctrl+Tab"), QKeySequence("Ctrl+PgDown")])
        self.previous_tab_action = self._action("&Previous tab", lambda: self.tabs.cycle(-1))
        self.previous_tab_action.setShortcuts([QKeySequence("Ctrl+Shift+Tab"), QKeySequence("Ctrl+Shift+Backtab"),
                                               QKeySequence("Ctrl+PgUp")])
        self.home_tab_action = self._action("&Home tab (the pages)", lambda: self.tabs.setCurrentIndex(0),
                                            QKeySequence("Alt+Home"))
        window_menu.addActions([self.close_tab_action, self.reopen_tab_action])
        window_menu.addSeparator()
        window_menu.addActions([self.next_tab_action, self.previous_tab_action, self.home_tab_action])

        help_menu = menu_bar.addMenu("&Help")
        self.palette_action = self._action("&Command palette…", self.show_palette, QKeySequence("Ctrl+K"))
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, QKeySequence("?"))
        # Anywhere in the app (a member's details too): the palette offers that member's actions.
        self.palette_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        help_menu.addActions([self.palette_action, self.shortcuts_action])
        help_menu.addSeparator()
        self.about_action = self._action("&About Desktop Care", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    def _action(self, text: str, slot: object, shortcut: QKeySequence | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.staff_label = named(QLabel(self.session.staff_label), "staffLabel")
        where = f"{self.session.server_url} (local)" if self.session.local else self.session.server_url
        self.server_label = named(QLabel(where), "serverLabel")
        self.server_label.setToolTip("The server this window works with")
        self.connection_label = named(QLabel(CHECKING), "connectionLabel")
        self.issues_button = named(QPushButton(), "syncIssuesButton")
        self.issues_button.setToolTip("Changes the server did not accept: choose what to keep")
        self.issues_button.clicked.connect(self.show_sync_issues)
        self.issues_button.hide()
        self.sync_progress = SyncProgress(self)  # a first sync's progress, with Cancel
        self.sync_progress.cancel_requested.connect(self.workspace.cancel_sync)
        self.workspace.status_changed.connect(self.sync_progress.show_status)
        for widget in (self.staff_label, self.server_label, self.connection_label, self.sync_progress,
                       self.issues_button):
            bar.addPermanentWidget(widget)

    # ----------------------------------------------------------------- actions

    def _show_page(self, page: QWidget, title: str, tab: str) -> None:
        """One of the pages in the home tab, in front."""
        self.pages.setCurrentWidget(page)
        self.tabs.set_home_title(tab)
        self._home_title = title
        self.tabs.setCurrentIndex(0)
        self._set_title(title)

    def show_member_search(self) -> None:
        self._show_page(self.search_view, "Desktop Care — Member search", "Member search")
        self.search_view.focus_search()

    def _find_member(self) -> None:
        self.show_member_search()

    def show_users(self) -> UsersView:
        """The Society Users page (loaded the first time it is shown)."""
        if self.users_view is None:
            from .users.users_view import UsersView

            self.users_view = UsersView(self.workspace, self)
            self.pages.addWidget(self.users_view)
            self.users_view.search_now()
        self._show_page(self.users_view, "Desktop Care — Society Users", "Users")
        self.users_view.focus_search()
        return self.users_view

    def show_bulk_invite(self) -> BulkInviteDialog:
        """The Bulk invite dialog (one at a time; brought forward when open)."""
        if self.bulk_invite_dialog is None or not is_alive(self.bulk_invite_dialog):
            from .bulk_invite import BulkInviteDialog

            self.bulk_invite_dialog = BulkInviteDialog(self.workspace, self)
        self.bulk_invite_dialog.show()
        self.bulk_invite_dialog.raise_()
        return self.bulk_invite_dialog

    def show_tickets(self) -> TicketsView:
        """The Tickets page (loaded the first time it is shown)."""
        if self.tickets_view is None:
            from .tickets.tickets_view import TicketsView

            self.tickets_view = TicketsView(self.workspace, self)
            self.tickets_view.open_ticket_in = self.open_ticket
            self.pages.addWidget(self.tickets_view)
            self.tickets_view.search_now()
        self._show_page(self.tickets_view, "Desktop Care — Tickets", "Tickets")
        self.tickets_view.focus_search()
        return self.tickets_view

    def show_fraud_stop(self) -> FraudStopView:
        """The Fraud stop page (loaded the first time it is shown)."""
        if self.fraud_view is None:
            from .fraud.blocks_view import FraudStopView

            self.fraud_view = FraudStopView(self.workspace, self)
            self.pages.addWidget(self.fraud_view)
            self.fraud_view.search_now()
        self._show_page(self.fraud_view, "Desktop Care — Fraud stop", "Fraud stop")
        self.fraud_view.focus_search()
        return self.fraud_view

    def show_refund_approvals(self) -> RefundApprovalsDialog:
        """Every refund waiting for a second staff member; each opens on its member's
        Payments tab."""
        from .members.payments import RefundApprovalsDialog

        def open_payments(member_id: int) -> None:
            self.open_member(member_id).show_tab("Payments")

        dialog = RefundApprovalsDialog(self.workspace, open_payments, self)
        dialog.show()
        return dialog

    # ----------------------------------------------------------------- tabs

    def open_member(self, member_id: int, *, front: bool = True) -> MemberDetailsView:
        """Open a member's details in a tab (or bring its tab forward)."""
        from .members.details_dialog import MemberDetailsView

        record = Record("member", member_id)
        view = self.tabs.page(record)
        if not isinstance(view, MemberDetailsView):
            view = MemberDetailsView(self.workspace, member_id, self.tabs, workspace=self.workspace)
            if view.tickets_tab is not None:
                view.tickets_tab.open_ticket_in = self.open_ticket
            view.history_tab.open_ticket_in = self.open_ticket
            view.tab_changed.connect(lambda v=view: self._retitle(v))
            self.tabs.add(record, view, front=front)
            self._retitle(view)
        elif front:
            self.tabs.setCurrentWidget(view)
        return view

    def open_ticket(self, ticket_id: int, *, front: bool = True) -> TicketDetailsView:
        """Open a ticket in a tab (or bring its tab forward)."""
        from .tickets.ticket_view import TicketDetailsView

        record = Record("ticket", ticket_id)
        view = self.tabs.page(record)
        if not isinstance(view, TicketDetailsView):
            view = TicketDetailsView(self.workspace, ticket_id, self.tabs)
            view.tab_changed.connect(lambda v=view: self._retitle(v))
            view.changed.connect(self._ticket_changed)
            self.tabs.add(record, view, front=front)
            self._retitle(view)
        elif front:
            self.tabs.setCurrentWidget(view)
        return view

    def open_record(self, record: Record) -> QWidget:
        """The tab of ``record`` (Ctrl+Shift+T, and the tabs kept from the last run)."""
        if record.kind == "ticket":
            return self.open_ticket(record.id)
        return self.open_member(record.id)

    @property
    def _details(self) -> dict[int, MemberDetailsView]:
        """The members open in tabs, by id."""
        return {r.id: page for r in self.tabs.records()
                if r.kind == "member" and is_member_view(page := self.tabs.page(r))}

    def member_in_front(self) -> MemberDetailsView | None:
        """The member of the tab in front (the palette's "member in front")."""
        page = self.tabs.currentWidget()
        return page if is_member_view(page) else None

    def _ticket_changed(self, _ticket_id: int) -> None:
        if self.tickets_view is not None:
            self.tickets_view.model.reload()

    def _retitle(self, page: MemberDetailsView | TicketDetailsView) -> None:
        if not is_alive(page):
            return
        self.tabs.set_label(page, page.tab_title, page.tab_tooltip)
        if self.tabs.currentWidget() is page:
            self._set_title(f"Desktop Care — {page.tab_title.removeprefix('⟳ ')}")

    def _set_title(self, title: str) -> None:
        """The window's title, keeping what acting on behalf adds to it."""
        _, marker, rest = self.windowTitle().partition(" — Acting on behalf of ")
        self.setWindowTitle(f"{title}{marker}{rest}")

    def _tabs_changed(self) -> None:
        page = self.tabs.currentWidget()
        if is_member_view(page) or is_ticket_view(page):
            self._retitle(page)
        else:
            self._set_title(self._home_title)
        self.close_tab_action.setEnabled(self.tabs.currentIndex() > 0)
        self.close_tab_action.setToolTip("Close the tab in front" if self.tabs.currentIndex() > 0 else
                                         "The home tab stays open")
        if self._tabs_key is not None:
            self._save_tabs_soon.start()

    def save_tabs(self) -> None:
        """Keep the open tabs (the one in front marked "*") for the next start."""
        self._save_tabs_soon.stop()
        if self._tabs_key is None:
            return
        front = self.tabs.record_of(self.tabs.currentWidget())
        kept = [("*" if record == front else "") + str(record) for record in self.tabs.records()]
        try:
            saved_settings.remember_tabs(self._tabs_key, kept)
        except OSError as exc:
            message.warning(f"The open tabs could not be kept for the next start: {exc.strerror or exc}.")

    def restore_tabs(self) -> None:
        """The tabs open when this server and user last closed the window; a member since
        merged away opens as the member it was merged into, saying so."""
        assert self._tabs_key is not None
        kept = saved_settings.load().open_tabs.get(self._tabs_key, ())
        front: QWidget | None = None
        for text in kept:
            record = Record.parse(text.removeprefix("*"))
            if record is None:
                continue
            page = self.open_record_behind(record)
            if record.kind == "member" and is_member_view(page):
                page.loaded.connect(lambda m, v=page: self._follow_merge(v, m),
                                    Qt.ConnectionType.SingleShotConnection)
            if text.startswith("*"):
                front = page
        if front is not None:
            self.tabs.setCurrentWidget(front)
        else:
            self.tabs.setCurrentIndex(0)

    def open_record_behind(self, record: Record) -> QWidget:
        if record.kind == "ticket":
            return self.open_ticket(record.id, front=False)
        return self.open_member(record.id, front=False)

    def _follow_merge(self, view: MemberDetailsView, member: MemberDetail) -> None:
        survivor = member.merged_into_id
        if member.status != MemberStatus.MERGED or survivor is None or not is_alive(view):
            return
        in_front = self.tabs.currentWidget() is view
        index = self.tabs.indexOf(view)
        self.tabs.close_page(view)
        self.tabs.closed = self.tabs.closed[:-1]  # not a tab anyone closed
        opened = self.open_member(survivor, front=False)
        self.tabs.tabBar().moveTab(self.tabs.indexOf(opened), min(index, self.tabs.count() - 1))
        if in_front:
            self.tabs.setCurrentWidget(opened)
        message.info(f"Member {member.member_no} ({member.name}) was merged into another member: "
                     "its tab shows that member now.")

    def _unsaved_everywhere(self) -> list[str]:
        out: list[str] = []
        for record in self.tabs.records():
            page = self.tabs.page(record)
            if page is not None:
                title = self.tabs.tabText(self.tabs.indexOf(page)).replace("&&", "&")
                out.extend(f"{title}: {edit.what}" for edit in unsaved_edits(page))
        return out

    def confirm_leave(self, then: object, doing: str) -> QMessageBox | None:
        """Quit / Sign out: first ask when a tab holds unsaved edits (Discard or Cancel)."""
        edits = self._unsaved_everywhere()
        if not edits or self._leaving:
            self._leaving = True
            then()  # type: ignore[operator]
            return None
        if self.leave_prompt is not None and is_alive(self.leave_prompt):
            return self.leave_prompt
        box = QMessageBox(QMessageBox.Icon.Warning, f"{doing}?",
                          "Some tabs have changes that are not saved:\n\n" + "\n".join(f"• {e}" for e in edits),
                          QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("leavePrompt")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        discard = box.button(QMessageBox.StandardButton.Discard)
        discard.setText(f"Discard and {doing.lower()}")

        def answered(_result: int) -> None:
            self.leave_prompt = None
            if box.clickedButton() is discard:
                self._leaving = True
                then()  # type: ignore[operator]
            box.deleteLater()

        box.finished.connect(answered)
        box.open()
        self.leave_prompt = box
        return box

    def _sign_out(self) -> None:
        self.confirm_leave(self.sign_out_requested.emit, "Sign out")

    def open_add_member(self) -> AddMemberDialog:
        """Add a customer (Ctrl+N): on success the new member's details open."""
        if self.add_member_dialog is not None and is_alive(self.add_member_dialog):
            self.add_member_dialog.raise_()
            self.add_member_dialog.activateWindow()
            return self.add_member_dialog
        from .members.add_member import open_add_member

        dialog = open_add_member(self.workspace, self)
        dialog.open_member_requested.connect(self.open_member)
        dialog.registered.connect(self._customer_added)
        self.add_member_dialog = dialog
        dialog.show()
        return dialog

    def _customer_added(self, member_id: int) -> None:
        details = self.open_member(member_id)
        self.customer_added.emit(member_id)
        # HCL's flow: a new customer goes straight on to acting on their behalf (to set
        # up their account with them), once the server has them (online only).
        if member_id > 0:
            self._continue_on_behalf(details)
        elif self.workspace.online:
            self._on_behalf_once_registered.add(member_id)

    def _continue_on_behalf(self, details: MemberDetailsView) -> None:
        if not self.workspace.online:
            return

        def go(_member: object = None) -> None:
            dialog = details.open_act_on_behalf()
            if dialog is not None and not dialog.reason.edit.text():
                dialog.reason.edit.setText(NEW_CUSTOMER_REASON)

        if details.member is not None and details.member.id == details.member_id and not details.loading:
            go()
        else:
            details.loaded.connect(go, Qt.ConnectionType.SingleShotConnection)

    def members_rekeyed(self, ids: dict[int, int]) -> None:
        """Members registered here got the server's ids: their open details follow."""
        for old, new in ids.items():
            dialog = self.tabs.page(Record("member", old))
            if is_member_view(dialog):
                self.tabs.rekey(Record("member", old), Record("member", new))
                dialog.rekey(new)
                if old in self._on_behalf_once_registered:
                    self._on_behalf_once_registered.discard(old)
                    self._continue_on_behalf(dialog)
        self.search_view.search_now()

    def _open_selected(self) -> None:
        member = self.search_view.current_member()
        if member is not None:
            self.open_member(member.id)

    @property
    def connection_state(self) -> str:
        return self.connection_label.text()

    @property
    def online(self) -> bool:
        """Online-only actions (later issues) are enabled from this."""
        return self.workspace.online

    def members_changed(self, ids: set[int]) -> None:
        """Refresh only what changed: the rows on screen and the open details of ``ids``."""
        for member_id in ids:
            dialog = self._details.get(member_id)
            if dialog is not None:
                dialog.refresh()
        model = self.search_view.model
        shown = [i for i in model.row_ids() if i in ids]
        if shown:
            workspace = self.workspace
            Op(self, lambda: workspace.summaries(shown)).success(model.replace_rows).run()

    def menu_actions(self) -> list[tuple[str, QAction]]:
        """Every action of the menus, with its menu's title."""
        from .palette import plain

        out: list[tuple[str, QAction]] = []
        for top in self.menuBar().actions():
            menu = top.menu()
            if isinstance(menu, QMenu):
                out.extend((plain(top.text()), action) for action in menu.actions())
        return out

    def _sort_entries(self) -> list[Entry]:
        """"Sort by Balance, descending"… for the page in front: a header click from the keyboard."""
        page = self.pages.currentWidget()
        if self.tabs.currentIndex() != 0 or not isinstance(page, SearchPage):
            return []  # a member's or a ticket's tab is in front: no table to sort
        from .palette import Entry

        where = self.windowTitle().rpartition(" — ")[2] or "Page"
        return [Entry(label=label, group=where, run=functools.partial(page.sort_by, sort))
                for label, sort in page.sort_choices()]

    def show_palette(self) -> CommandPalette:
        """Ctrl+K: the menus' actions, those of the member in front, and members by ID or name."""
        from .palette import MEMBER_LIMIT, CommandPalette, action_entries, button_entries

        entries = action_entries((group, a) for group, a in self.menu_actions() if a is not self.palette_action)
        front = QApplication.activeWindow()
        member = self.member_in_front() if front is self else front
        if is_member_view(member) and member.member is not None:
            entries = button_entries(member, f"{member.member.first_name} {member.member.last_name} "
                                             f"({member.member.member_no})") + entries
        parent = front if isinstance(front, QWidget) else self
        entries += self._sort_entries()
        palette = CommandPalette(entries, parent, find_members=lambda q: self.workspace.search_members(q, MEMBER_LIMIT),
                                 open_member=self.open_member)
        palette.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        palette.setModal(True)
        palette.show()
        palette.raise_()
        palette.activateWindow()
        palette.query.setFocus()
        return palette

    def show_shortcuts(self) -> ShortcutsDialog:
        """?: every shortcut of the menus and of the windows open (a member's details)."""
        from .palette import ShortcutsDialog, shortcut_rows

        labelled: list[tuple[str, QAction]] = list(self.menu_actions())
        for details in list(self._details.values())[:1]:  # the same in every member's window
            labelled.extend(("Member details", a) for a in details.actions())
        extra = [] if self._details else [("Member details", "(open a member to list its shortcuts here)", "")]
        shortcuts = ShortcutsDialog(shortcut_rows(labelled, extra), self)
        shortcuts.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        shortcuts.show()
        return shortcuts

    def show_settings(self) -> SettingsDialog:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(saved_settings.load(), self)
        dialog.saved.connect(self.settings_saved.emit)
        dialog.setModal(True)
        dialog.show()
        return dialog

    def show_about(self) -> None:
        server = f"{self.session.server_url}"
        if self._health is not None:
            server += f" (version {self._health.version}, {self._health.database})"
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About Desktop Care",
                          f"<h3>Desktop Care {__version__}</h3>"
                          "<p>A customer care console for membership organisations: find a member, "
                          "fix their account, act on their behalf.</p>"
                          f"<p>Server: {server}<br>Signed in as: {self.session.staff_label}<br>"
                          f"Qt {qVersion()}, PySide {PYSIDE_VERSION}</p>",
                          QMessageBox.StandardButton.Close, self)
        box.setObjectName("aboutBox")
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    # ----------------------------------------------------------------- sync issues

    def show_sync_issues(self) -> SyncIssuesPanel:
        if self.issues_panel is None:
            from .sync_view import SyncIssuesPanel

            panel = SyncIssuesPanel(self)
            panel.resolve_requested.connect(self._resolve_issue)
            panel.edit_requested.connect(self._edit_issue)
            self.issues_panel = panel
        self.issues_panel.show()
        self.issues_panel.raise_()
        self.reload_issues()
        return self.issues_panel

    def reload_issues(self) -> None:
        panel = self.issues_panel
        if panel is not None:
            Op(panel, self.workspace.issues).success(panel.set_issues).run()

    def _resolve_issue(self, issue: SyncIssue, choice: str, edited: Command | None = None) -> None:
        panel = self.issues_panel

        def failed(exc: BaseException) -> None:
            if panel is not None:
                panel.set_busy(False)
            message.problem(exc, parent=panel)

        self.workspace.resolve_issue(issue, choice, edited, parent=self, on_done=self.reload_issues,
                                     on_failed=failed)

    def _edit_issue(self, issue: SyncIssue) -> None:
        """Edit…: the matching edit dialog, prefilled with mine, over the member as the
        server has it now (read from the local store)."""
        from .members.editing import dialog_for

        workspace = self.workspace

        def open_editor(member: MemberDetail | None) -> None:
            if member is None:
                message.warning("This member is not in the copy of the directory on this computer yet. "
                                "Sync, then try again.", parent=self.issues_panel)
                return
            payload = issue.mine.get("command", {})

            def send(command: Command, done: object, failed: object) -> None:
                workspace.resolve_issue(issue, "edit", command, parent=editor, on_done=done,  # type: ignore[arg-type]
                                        on_failed=failed)  # type: ignore[arg-type]

            editor = dialog_for(issue.kind)(member, send, self.issues_panel, initial=payload)
            editor.setModal(True)
            editor.submitted.connect(lambda _cmd: self.reload_issues())
            self.issue_editor = editor
            editor.show()

        Op(self, lambda: workspace.local_member(issue.member_id)).success(open_editor).run()

    # ----------------------------------------------------------------- internals

    def _got_health(self, health: Health) -> None:
        self._health = health

    def _status_changed(self, status: SyncStatus) -> None:
        retry = status.next_retry_in
        self._retry_deadline = time.monotonic() + retry if retry is not None and not status.online else None
        if self._retry_deadline is not None:
            self._countdown.start()
        else:
            self._countdown.stop()
        self._show_status()
        self._issues_changed(status.issues)

    def _show_status(self) -> None:
        status = self.workspace.status
        retry_in = None
        if self._retry_deadline is not None:
            retry_in = max(0.0, self._retry_deadline - time.monotonic())
        text, state, tooltip = status_text(status, retry_in)
        if self.session.offline and not status.online:
            text = text.replace("● Offline", "● Offline (signed in offline)", 1)
        self._set_connection(text, state, tooltip)
        self.sync_now_action.setEnabled(not status.syncing)

    def _issues_changed(self, count: int) -> None:
        changed = count != self._issue_count
        self._issue_count = count
        self.issues_button.setText(issues_button_text(count))
        self.issues_button.setVisible(count > 0)
        if changed and self.issues_panel is not None and self.issues_panel.isVisible():
            self.reload_issues()

    def _session_expired(self) -> None:
        message.bridge.sign_in_required.emit(
            "The server asks you to sign in again. Your queued changes are kept and will be sent after.")

    def _set_connection(self, text: str, state: str, tooltip: str) -> None:
        self.connection_label.setText(text)
        self.connection_label.setToolTip(tooltip)
        self.connection_label.setProperty("state", state)
        self.connection_label.style().unpolish(self.connection_label)
        self.connection_label.style().polish(self.connection_label)

    def _show_message(self, msg: message.Message) -> None:
        self.statusBar().showMessage(msg.text, 10_000)

    def _quit(self) -> None:
        self.confirm_leave(self.quit_requested.emit, "Quit")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            # A new text size (File → Settings): the status bar's labels measure again.
            for widget in (self.staff_label, self.server_label, self.connection_label, self.issues_button):
                widget.updateGeometry()
            layout = self.statusBar().layout()
            if layout is not None:
                layout.invalidate()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._leaving and self._unsaved_everywhere():
            event.ignore()
            self.confirm_leave(self.close, "Close the window")
            return
        self.save_tabs()
        self._tabs_key = None  # closing the tabs below is not the person closing them
        self._countdown.stop()
        self.workspace.stop()
        self.tabs.close_all()
        on_behalf_windows().close_all(self.session.client)  # each ends its session on the server
        super().closeEvent(event)
