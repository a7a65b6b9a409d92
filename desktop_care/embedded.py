"""The embedded (local) server: the bundled server run as a child process.

A new user's first run needs no central server: the app starts
``desktop_care.server serve`` on 127.0.0.1 with a SQLite database in the user data
directory, seeded with demo data when that database is empty, and talks to it over REST
exactly as it would to a central server. A fresh random bootstrap token, handed to the
child in its environment, signs the app in as the demo Society Admin without a password.

No Qt here: :meth:`EmbeddedServer.start` blocks until the server answers (or fails), so
the UI runs it off the GUI thread.

A second start need not wait for it: after each sign-in to the embedded server the app
remembers *who* it signed in as (:func:`remember_staff`, the staff record, no secret:
the embedded default signs its demo administrator in without a password anyway), and the
next start opens the main window on the local replica with that record while the server
comes up in the background (docs/decisions/0031).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import os
import queue
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from . import config
from .schemas import StaffPublic
from .seed_progress import SeedProgress, clear_progress, read_progress
from .sync.api_client import ApiClient, ApiError

log = logging.getLogger(__name__)

#: The environment variable the server reads its bootstrap token from.
BOOTSTRAP_TOKEN_ENV = "DESKTOP_CARE_BOOTSTRAP_TOKEN"

_PORT_IN_USE = re.compile(r"address already in use|errno (98|48)|10048", re.IGNORECASE)


def remembered_staff_path() -> Path:
    return config.data_dir() / "workstation" / "embedded-staff.json"


def remember_staff(staff: StaffPublic) -> None:
    """Remember who the embedded server signed in (the next start opens at once as them)."""
    path = remembered_staff_path()
    config.private_dir(path.parent)
    temporary = config.private_file(path.with_name(path.name + ".new"))
    temporary.write_text(staff.model_dump_json(), encoding="utf-8")
    temporary.replace(path)


def remembered_staff() -> StaffPublic | None:
    """Who the embedded server signed in last time, or None (never, or unreadable)."""
    try:
        return StaffPublic.model_validate_json(remembered_staff_path().read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        log.warning("the remembered local sign-in could not be read (%s): starting as on a first run", exc)
        return None


def forget_staff() -> None:
    with contextlib.suppress(FileNotFoundError):
        remembered_staff_path().unlink()


class EmbeddedServerError(RuntimeError):
    """The local server did not start; the message says why, in plain words."""

    def __init__(self, message: str, log_path: Path) -> None:
        super().__init__(message)
        self.log_path = log_path


class SeedingCancelled(EmbeddedServerError):
    """:meth:`EmbeddedServer.cancel` stopped the first run's seeding: the seeding is one
    transaction, so the database keeps no demo member, and the next start seeds again."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(*args: str) -> list[str]:
    """How to run the bundled server's CLI with ``args``.

    From a frozen (PyInstaller) build ``-m`` is not available: the app's own executable
    takes ``--run-server`` and hands the rest to the server's CLI (see ``__main__``).
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, "--run-server", *args]
    return [sys.executable, "-m", "desktop_care.server", *args]


@dataclass
class EmbeddedServer:
    """``start()`` it, use ``url`` and ``token``, ``stop()`` it (also done at exit)."""

    database_url: str = field(default_factory=config.embedded_database_url)
    seed_members: int = config.DEMO_MEMBERS
    #: The first run migrates and seeds the database before the server answers.
    startup_timeout: float = 180.0
    port_attempts: int = 3
    log_path: Path = field(default_factory=lambda: config.log_dir() / "embedded-server.log")
    #: Where the server tells how far the first run's seeding has got.
    progress_path: Path = field(default_factory=lambda: config.data_dir() / "workstation" / "seed-progress.json")
    #: Called (on the thread running :meth:`start`) with each new :class:`SeedProgress`.
    on_progress: Callable[[SeedProgress], None] | None = field(default=None, repr=False)

    url: str | None = field(default=None, init=False)
    token: str | None = field(default=None, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _cancelled: bool = field(default=False, init=False, repr=False)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start the server and wait until it answers; returns its URL.

        Raises :class:`EmbeddedServerError` when it exits, or does not answer before
        ``startup_timeout``; another port is tried when the chosen one was taken.
        """
        if self.running:
            assert self.url is not None
            return self.url
        self._cancelled = False
        for attempt in range(1, self.port_attempts + 1):
            token = secrets.token_urlsafe(32)
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            process = self._process = self._spawn(port, token)
            atexit.register(self.stop)
            try:
                self._wait_until_ready(process, url)
            except _PortTaken:
                log.info("port %d was taken (attempt %d); trying another", port, attempt)
                continue
            self.url, self.token = url, token
            log.info("embedded server (pid %d) answering at %s", process.pid, url)
            return url
        raise EmbeddedServerError(
            f"The local server could not find a free port after {self.port_attempts} tries.",
            self.log_path,
        )

    def cancel(self) -> None:
        """Stop a start that is still seeding (blocks until the process has gone):
        :meth:`start` raises :class:`SeedingCancelled`. The seeding's one transaction is
        never committed, so nothing of it stays."""
        self._cancelled = True
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Revoke the bootstrap token, then stop the server (terminate; kill if it
        does not exit within ``timeout``)."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        url, token, self.url, self.token = self.url, self.token, None, None
        if process is None:
            return
        if process.poll() is not None:
            _close_lifeline(process)
            return
        if url and token:
            self._revoke(url, token)
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            _close_lifeline(process)

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- internals

    @staticmethod
    def _revoke(url: str, token: str) -> None:
        """The token stays in the database: make sure it signs nobody in after us."""
        client = ApiClient(url, token=token, timeouts=config.Timeouts(connect=1.0, read=3.0), retries=0)
        try:
            client.logout()
        except ApiError as exc:
            log.info("could not revoke the bootstrap token: %s", exc.message)
        finally:
            client.close()

    def _spawn(self, port: int, token: str) -> subprocess.Popen[bytes]:
        command = server_command(
            "serve",
            "--database-url", self.database_url,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--seed-demo-if-empty", str(self.seed_members),
            "--embedded-by", str(os.getpid()),
            "--progress-file", str(self.progress_path),
        )
        config.private_dir(self.progress_path.parent)
        clear_progress(self.progress_path)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env[BOOTSTRAP_TOKEN_ENV] = token
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        with config.private_file(self.log_path).open("ab") as log_file:
            self._log_header(log_file, port)
            # stdin is the server's lifeline (server/lifeline.py): we never write to it,
            # and it closes when this process ends, however it ends.
            return _spawner.popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(config.data_dir()),
            )

    def _log_header(self, log_file: IO[bytes], port: int) -> None:
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        log_file.write(f"\n===== {stamp} starting the embedded server on port {port}\n".encode())
        log_file.flush()

    def _log_tail(self, max_chars: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[text.rfind("\n===== ") :][-max_chars:]

    def _wait_until_ready(self, process: subprocess.Popen[bytes], url: str) -> None:
        probe = ApiClient(url, timeouts=config.Timeouts(connect=1.0, read=5.0), retries=0)
        deadline = time.monotonic() + self.startup_timeout
        reported: SeedProgress | None = None
        try:
            while True:
                if self._process is not process:
                    if self._cancelled:
                        raise SeedingCancelled("Creating the demo data was cancelled.", self.log_path)
                    raise EmbeddedServerError("The local server was stopped while starting.", self.log_path)
                progress = read_progress(self.progress_path)
                if progress is not None and progress != reported and self.on_progress is not None:
                    reported = progress
                    self.on_progress(progress)
                code = process.poll()
                if code is not None:
                    self._process = None
                    _close_lifeline(process)
                    tail = self._log_tail()
                    if _PORT_IN_USE.search(tail):
                        raise _PortTaken
                    raise EmbeddedServerError(
                        f"The local server stopped while starting (exit code {code}). "
                        f"Details are in {self.log_path}.",
                        self.log_path,
                    )
                try:
                    probe.health()
                    clear_progress(self.progress_path)
                    return
                except ApiError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedServerError(
                        f"The local server did not answer within {self.startup_timeout:.0f} seconds. "
                        f"Details are in {self.log_path}.",
                        self.log_path,
                    )
                time.sleep(0.1)  # polling a readiness condition, bounded by the deadline
        finally:
            probe.close()


def _close_lifeline(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()


class _Spawner:
    """Starts child processes from one thread that lives as long as the app.

    Linux sends ``PR_SET_PDEATHSIG`` when the *thread* that forked the child ends, not
    the process; ops run on a thread pool whose idle threads expire, which would stop
    the server half a minute after it started. A daemon thread ends only with the app.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]], Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def popen(self, command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="embedded-spawner", daemon=True)
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((lambda: subprocess.Popen(command, **kwargs), done))
        return done.result()

    def _serve(self) -> None:
        while True:
            start, done = self._requests.get()
            try:
                done.set_result(start())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                done.set_exception(exc)


_spawner = _Spawner()


class _PortTaken(Exception):
    """The server could not bind its port (someone took it after we picked it)."""
