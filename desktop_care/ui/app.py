"""The application: which window is up, from start to quit.

Two ways in: the *embedded default* starts the bundled server off the GUI thread (a
"Starting the local server…" window meanwhile) and signs in the demo Society Admin with
the server's bootstrap token; ``--server URL`` shows the sign-in dialog for that server.
From the second start on, the embedded default opens the main window at once on the
local replica, as the administrator remembered from the last start, and the server
comes up behind it (docs/decisions/0031).
Either way the main window follows; signing out (or a session the server no longer
accepts) goes back to the sign-in dialog.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .. import __version__, crash
from .. import settings as saved_settings
from ..embedded import EmbeddedServer, SeedingCancelled, remember_staff, remembered_staff
from ..logs import QUIT_AFTER_ENV, mark
from ..schemas import StaffPublic
from ..seed_progress import SeedProgress
from ..sync.api_client import DEFAULT_RETRIES, ApiClient
from ..sync.local_store import LocalStore
from ..sync.syncer import SyncStatus
from . import collector, message, ops
from .crash_dialog import CrashHandler, previous_crash_box
from .errors import describe
from .main_window import MainWindow
from .ops import Op
from .qt import QApplication, QMessageBox, QObject, QSocketNotifier, QTimer, QWidget, Signal
from .resources import apply_look
from .session import StaffSession
from .signin import SignInDialog, sign_out
from .startup import StartupWindow

log = logging.getLogger(__name__)

#: The exit status after the person chose "Quit" in the crash dialog.
CRASHED_EXIT = 70

#: Where the client of a window opened before the embedded server answers points until
#: it does (the discard port: nothing answers, so a call fails at once as Unreachable).
NOT_STARTED_URL = "http://127.0.0.1:9"
#: The status bar's connection label meanwhile.
SERVER_STARTING = "● Starting the local server…"


@dataclass(frozen=True)
class Options:
    #: A central server to sign in to; None for the embedded (local) server.
    server: str | None = None
    #: Save a picture of the main window here once the first results show, then quit.
    screenshot: Path | None = None
    #: The first search (default: every member, first page).
    search: str = ""
    #: File → Settings as read at start (None: read them here).
    settings: saved_settings.Settings | None = None


class DesktopCare(QObject):
    """Owns the windows, the session and (in the embedded default) the local server.

    It never ends the event loop itself: it emits :attr:`finished` with the exit code
    and :func:`run` quits the loop (so tests can drive it without one).
    """

    finished = Signal(int)
    #: The first run's seeding progress, from the worker starting the local server.
    seed_progress = Signal(object)

    def __init__(
        self,
        app: QApplication,
        options: Options,
        embedded_factory: Callable[[], EmbeddedServer] = EmbeddedServer,
        previous_crash: crash.PreviousCrash | None = None,
    ) -> None:
        super().__init__()
        self.app = app
        self.options = options
        self.previous_crash = previous_crash
        #: "The last time, Desktop Care stopped because of a problem" (non-modal, at start).
        self.crash_notice: QMessageBox | None = None
        self.exit_code = 0
        #: File → Settings, as saved (the username is remembered at each sign-in).
        self.settings = options.settings if options.settings is not None else saved_settings.load()
        self.session: StaffSession | None = None
        self.embedded: EmbeddedServer | None = None
        self._embedded_factory = embedded_factory
        self.startup_window: StartupWindow | None = None
        self.sign_in_dialog: SignInDialog | None = None
        self.main_window: MainWindow | None = None
        self._quitting = False
        #: Whether the modules left out of the start are loading (or loaded) behind the window.
        self._rest_loading = False
        message.bridge.sign_in_required.connect(self._session_ended)
        self.seed_progress.connect(self._show_seeding)
        app.aboutToQuit.connect(self.shutdown)

    # ----------------------------------------------------------------- flow

    def start(self) -> None:
        if self.previous_crash is not None and self.options.screenshot is None:
            self.crash_notice = previous_crash_box(self.previous_crash, on_close=self._crash_notice_closed)
        server = self.options.server or self.settings.server_url
        if server is not None:
            self.show_sign_in(server, resume=True)
        else:
            self.start_embedded()

    def start_embedded(self) -> None:
        """Start the local server off the GUI thread, then sign in as the demo admin;
        once it has signed in on this computer, open the window first (on the replica)."""
        staff = remembered_staff()
        if staff is not None:
            self.open_on_replica(staff)
            return
        if self.startup_window is None:
            self.startup_window = StartupWindow()
            self.startup_window.retry_requested.connect(self.start_embedded)
            self.startup_window.quit_requested.connect(lambda: self._exit(0))
            self.startup_window.cancel_requested.connect(self._cancel_seeding)
        self.startup_window.show_starting()
        self.startup_window.show()
        if self.embedded is None:
            self.embedded = self._embedded_factory()
            self.embedded.on_progress = self.seed_progress.emit  # from the worker: queued to here
        embedded = self.embedded
        Op(self, lambda: _sign_in_locally(embedded)).success(self.open_main).failure(self._startup_failed).run()

    def open_on_replica(self, staff: StaffPublic) -> None:
        """Open the main window on the local replica as ``staff`` (who the local server
        signed in last time), then start the server behind it."""

        def open_store() -> StaffSession:
            client = ApiClient(NOT_STARTED_URL, retries=0)  # until it answers: fail at once
            return StaffSession(client, staff, local=True, starting=True, store=LocalStore.for_embedded())

        Op(self, open_store).success(self._opened_on_replica).failure(self._startup_failed).run()

    def _opened_on_replica(self, session: StaffSession) -> None:
        self.open_main(session)
        window = self.main_window
        if window is None:
            return
        window.connection_label.setText(SERVER_STARTING)
        window.server_label.setText("Local server (starting)")
        self._start_server_after_first_results(window)

    def _start_server_after_first_results(self, window: MainWindow) -> None:
        """Start the server once the first search has answered from the replica (its
        results, or why not, on screen and painted): the server's start (a Python process
        loading FastAPI, SQLAlchemy and the migrations, about a second of CPU) would
        otherwise compete with that search for the cores (docs/decisions/0041)."""
        model = window.search_view.model
        #: Times out once the events queued now (the table's repaint too) are handled.
        after_paint = QTimer(self, singleShot=True, interval=0)
        after_paint.timeout.connect(self._start_server_unless_quitting)
        after_paint.timeout.connect(after_paint.deleteLater)

        def answered() -> None:
            if model.searching:
                return
            model.state_changed.disconnect(answered)
            after_paint.start()

        model.state_changed.connect(answered)
        answered()  # already answered (nothing to wait for)

    def _start_server_unless_quitting(self) -> None:
        if not self._quitting:
            self.start_server_behind()

    def start_server_behind(self) -> None:
        """Start the embedded server while the window is up; then point the session at it."""
        if self.embedded is None:
            self.embedded = self._embedded_factory()
        embedded = self.embedded

        def start() -> tuple[str, str, StaffPublic]:
            url = embedded.start()
            assert embedded.token is not None
            client = ApiClient(url, token=embedded.token)
            try:
                me = client.me()
            finally:
                client.close()
            remember_staff(me)
            return url, embedded.token, me

        Op(self, start).success(self._server_ready).failure(self._server_failed).run()

    def _server_ready(self, answer: tuple[str, str, StaffPublic]) -> None:
        url, token, me = answer
        self._mark("server")
        session, window = self.session, self.main_window
        if session is None or window is None or not session.starting:
            return
        if self.startup_window is not None:  # "Try again" after a failure worked
            self.startup_window.close()
            self.startup_window.deleteLater()
            self.startup_window = None
        if me.id != session.staff.id:  # another database since the last start: start afresh as its admin
            self.open_main(StaffSession(ApiClient(url, token=token), me, local=True, store=session.store))
            return
        session.client.retarget(url, token, retries=DEFAULT_RETRIES)
        self.session = replace(session, staff=me, starting=False)
        window.server_label.setText(f"{url} (local)")
        window.workspace.server_ready()

    def _server_failed(self, exc: BaseException) -> None:
        """The server did not come up behind the window: say why, offer to try again
        (the window stays usable on the replica, changes are queued)."""
        problem = describe(exc)
        if self._quitting:  # stopped at quit while it was starting
            log.info("the local server was stopped while starting: %s", problem.text)
            return
        log.error("the local server did not start: %s\n%s", problem.text, problem.details)
        if self.main_window is not None:
            self.main_window.connection_label.setText("● Local server not running")
            self.main_window.connection_label.setToolTip(problem.text)
        if self.options.screenshot is not None:
            return
        if self.startup_window is None:
            self.startup_window = StartupWindow()
            self.startup_window.retry_requested.connect(self._retry_behind)
            self.startup_window.quit_requested.connect(lambda: self._exit(0))
        self.startup_window.show_problem(problem)
        self.startup_window.show()

    def _retry_behind(self) -> None:
        if self.startup_window is not None:
            self.startup_window.show_starting()
        if self.main_window is not None:
            self.main_window.connection_label.setText(SERVER_STARTING)
        self.start_server_behind()

    def restart_embedded(self) -> None:
        """After a sign-out from the embedded default: the bootstrap token was revoked, so
        restart the local server (same data) with a fresh one and sign in again."""
        embedded = self.embedded
        if embedded is not None:
            self.embedded = None
            Op(self, embedded.stop).success(lambda _: self.start_embedded()).failure(
                self._startup_failed
            ).run()
        else:
            self.start_embedded()

    def show_sign_in(self, server_url: str, *, username: str = "", notice: str = "", resume: bool = False) -> None:
        """The sign-in dialog; with ``resume``, it first tries this computer's remembered
        sign-in ("Remember me", in the keyring) and only asks when there is none."""
        local = self.options.server is None
        dialog = SignInDialog(server_url, username=username or self.settings.username, offer_demo=local)
        dialog.signed_in.connect(self.open_main)
        dialog.demo_requested.connect(self.restart_embedded)
        dialog.rejected.connect(self._sign_in_cancelled)
        if notice:
            dialog.form_error.setText(notice)
            dialog.form_error.show()
        dialog.show()
        self._replace_window(dialog)
        self.sign_in_dialog = dialog
        if resume:
            dialog.resume_saved()

    def open_main(self, session: StaffSession) -> None:
        self.session = session
        self._remember(session)
        window = MainWindow(session, remember_tabs=True)
        window.settings_saved.connect(self._settings_saved)
        if self.options.screenshot is not None:
            window.search_view.results_shown.connect(self._take_screenshot)
        window.sign_out_requested.connect(self.sign_out)
        window.quit_requested.connect(lambda: self._exit(0))
        window.search_view.results_shown.connect(self._results_shown)
        window.workspace.status_changed.connect(self._status_changed)
        window.show()
        collector.freeze_start_heap()
        self._mark("window")
        self._replace_window(window)
        self.main_window = window
        window.search_view.set_query(self.options.search)
        window.search_view.focus_search()

    def sign_out(self) -> None:
        session = self.session
        if session is None:
            return
        self.session = None
        client = session.client
        Op(self, lambda: sign_out(client)).failure(lambda exc: log.info("sign-out: %s", exc)).run()
        notice = "You are signed out; this computer no longer keeps your sign-in." if session.remembered else ""
        self.show_sign_in(session.server_url, username=session.staff.username, notice=notice)

    def shutdown(self) -> None:
        """Stop the local server and let running ops finish (at quit)."""
        self._quitting = True
        if self.main_window is not None:
            self.main_window.workspace.stop(wait=2.0)
        if self.embedded is not None:
            self.embedded.stop()
        ops.wait_for_idle(5_000)

    # ----------------------------------------------------------------- internals

    def _replace_window(self, new: QWidget) -> None:
        """Close the other windows once ``new`` is up (so the app never has none and quits)."""
        for attr in ("startup_window", "sign_in_dialog", "main_window"):
            old = getattr(self, attr)
            if old is not None and old is not new:
                setattr(self, attr, None)
                if isinstance(old, SignInDialog):
                    old.rejected.disconnect(self._sign_in_cancelled)
                old.close()
                old.deleteLater()

    def _results_shown(self) -> None:
        self._mark("results")
        if not self._rest_loading:
            # The command classes, which the first screen did without (decision 0044), load
            # behind it, so that the first dialog or change opened does not wait for them.
            self._rest_loading = True
            Op(self, load_the_rest).failure(lambda exc: log.warning("loading the commands: %s", exc)).run()

    def _status_changed(self, status: SyncStatus) -> None:
        session = self.session
        if session is not None and not session.starting and status.online and not status.syncing:
            self._mark("synced")

    def _mark(self, name: str) -> None:
        """A point of the start reached (the log; bench/startup.py quits after one)."""
        mark(name)
        if os.environ.get(QUIT_AFTER_ENV) == name:
            QTimer.singleShot(0, lambda: self._exit(0))

    def _remember(self, session: StaffSession) -> None:
        """Remember who signed in (File → Settings can turn it off); the local server's
        demo sign-in is not a username anyone typed."""
        if session.local or (self.embedded is not None and session.server_url == self.embedded.url):
            return
        current = replace(self.settings, open_tabs=saved_settings.load().open_tabs)  # the window keeps them
        updated = current.signed_in_as(session.staff.username)
        self.settings = updated
        if updated != current:
            try:
                saved_settings.save(updated)
            except OSError as exc:
                log.warning("could not remember the username in the settings: %s", exc)

    def _settings_saved(self, settings: saved_settings.Settings) -> None:
        self.settings = settings

    def _show_seeding(self, progress: SeedProgress) -> None:
        if self.startup_window is not None and self.session is None:
            self.startup_window.show_seeding(progress)

    def _cancel_seeding(self) -> None:
        """Cancel on the first run's seeding: stop the local server (off the GUI thread);
        the start then fails with SeedingCancelled (decision 0037)."""
        embedded = self.embedded
        if embedded is not None:
            Op(self, embedded.cancel).failure(lambda exc: log.warning("cancelling the seeding: %s", exc)).run()

    def _startup_failed(self, exc: BaseException) -> None:
        if isinstance(exc, SeedingCancelled):
            log.info("the first run's demo seeding was cancelled; it runs again on the next start")
            if self.startup_window is not None:
                self.startup_window.show_cancelled()
            return
        problem = describe(exc)
        log.error("the local server did not start: %s\n%s", problem.text, problem.details)
        if self.options.screenshot is not None:
            print(f"desktop-care: {problem.text}", file=sys.stderr)
            self._exit(1)
            return
        if self.startup_window is not None:
            self.startup_window.show_problem(problem)

    def _session_ended(self, notice: str) -> None:
        session = self.session
        if session is None or self.main_window is None:
            return
        self.session = None
        self.show_sign_in(session.server_url, username=session.staff.username, notice=notice)

    def _crash_notice_closed(self) -> None:
        if self.crash_notice is not None:
            self.crash_notice.deleteLater()
            self.crash_notice = None

    def _sign_in_cancelled(self) -> None:
        self._exit(0)

    def _take_screenshot(self) -> None:
        window = self.main_window
        path = self.options.screenshot
        if window is None or path is None:
            return
        window.search_view.results_shown.disconnect(self._take_screenshot)

        def save() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            saved = window.grab().save(str(path))
            print(f"desktop-care: {'saved' if saved else 'could not save'} {path}", file=sys.stderr)
            self._exit(0 if saved else 1)

        QTimer.singleShot(0, save)  # after the table has laid out the new rows

    def _exit(self, code: int) -> None:
        self.exit_code = code
        self.finished.emit(code)


def load_the_rest() -> None:
    """Worker thread: load the command classes and the wire shapes that carry them, left
    out of the start (docs/decisions/0044); Python's import lock makes a GUI thread that
    needs one meanwhile wait for this load rather than repeat it."""
    importlib.import_module("desktop_care.command_schemas")  # with it, every command


def _sign_in_locally(embedded: EmbeddedServer) -> StaffSession:
    """Worker thread: start the local server and sign in with its bootstrap token."""
    url = embedded.start()
    client = ApiClient(url, token=embedded.token)
    me = client.me()
    remember_staff(me)  # the next start opens the window at once, as them (on the replica)
    mark("server")
    return StaffSession(client, me, local=True, store=LocalStore.for_embedded())


class TerminationSignals(QObject):
    """SIGTERM (a session logout, ``kill``) and SIGINT (Ctrl+C in a terminal) quit the
    Qt loop cleanly, so ``aboutToQuit`` stops the embedded server and lets ops finish.

    Python runs a signal handler only when the interpreter gets control, which it does
    not while Qt's loop waits: the C handler writes to a socket (``set_wakeup_fd``) that
    a :class:`QSocketNotifier` watches, which wakes the loop and lets Python run it.
    """

    def __init__(self, on_signal: Callable[[signal.Signals], None]) -> None:
        super().__init__()
        self._on_signal = on_signal
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _handle(self, signum: int, _frame: object) -> None:
        self._on_signal(signal.Signals(signum))

    def _drain(self) -> None:
        try:
            while self._reader.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()


def run(options: Options, argv: Sequence[str] | None = None) -> int:
    """Create (or reuse) the QApplication, run the app until it quits; the exit code."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName("Desktop Care")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("desktop_care")
    app.setDesktopFileName("desktop-care")
    if options.settings is None:
        options = replace(options, settings=saved_settings.load())
    assert options.settings is not None
    apply_look(app, options.settings.theme, options.settings.text_size)
    collector.install(app)
    run_marker, previous = crash.start_run()
    crash_handler = CrashHandler(run_marker).install()
    controller = DesktopCare(app, options, previous_crash=previous)
    controller.finished.connect(app.exit)
    crashed = False

    def quit_after_crash() -> None:
        nonlocal crashed
        crashed = True  # the marker stays: the next start names the report again
        controller.finished.emit(CRASHED_EXIT)

    crash_handler.quit_requested.connect(quit_after_crash)

    def stop(sig: signal.Signals) -> None:
        log.info("stopping: signal %s", sig.name)
        controller.finished.emit(0)

    signals = TerminationSignals(stop)
    QTimer.singleShot(0, controller.start)
    try:
        code = app.exec()
    finally:
        signals.uninstall()
        crash_handler.uninstall()
        if not crashed:
            run_marker.end()
    return controller.exit_code or code
