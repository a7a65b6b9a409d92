"""The last-resort crash handler's core (no Qt): reports, the run marker, the hooks.

A bug that no op caught ends here: :func:`install` sets ``sys.excepthook`` and
``threading.excepthook`` so an uncaught exception on any thread becomes a
:class:`CrashReport` (version, platform, traceback, the last lines of the log), saved
as ``crash-<time>.txt`` in the log directory and handed to the UI, which shows it in
a dialog with a copyable report (``ui/crash_dialog.py``). ``faulthandler`` writes what
Python can still say about a fatal error (a segfault in Qt, say) to
``fatal-errors.log`` there.

Each run leaves a marker (``last-run.json``) that a clean quit removes
(:meth:`Run.end`). The next start (:func:`start_run`) finds it still there and tells
the person the last run crashed, and where the report is, when this run saved one or
``fatal-errors.log`` grew. A run killed from outside (SIGKILL, power loss) leaves the
marker but no report: it is logged, not announced (nothing of ours went wrong).
"""

from __future__ import annotations

import datetime as dt
import faulthandler
import json
import logging
import os
import platform
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from . import __version__, config, logs

log = logging.getLogger(__name__)

MARKER_NAME = "last-run.json"
FATAL_LOG_NAME = "fatal-errors.log"
LOG_LINES = 40


@dataclass(frozen=True)
class CrashReport:
    """What a developer needs to fix it; :meth:`text` is the copyable report."""

    traceback: str
    thread: str = "MainThread"
    when: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    #: e.g. {"Qt": "6.8.1", "PySide6": "6.8.1"}: what the UI adds.
    versions: Mapping[str, str] = field(default_factory=dict)
    log_lines: tuple[str, ...] = ()
    #: Where the report was saved (None until it is).
    path: Path | None = None

    @property
    def summary(self) -> str:
        """The exception's last line, e.g. ``RuntimeError: boom``."""
        lines = [line for line in self.traceback.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else "unknown error"

    def text(self) -> str:
        versions = "".join(f"{name}: {value}\n" for name, value in self.versions.items())
        recent = "\n".join(self.log_lines) if self.log_lines else "(no log lines)"
        return (
            f"Desktop Care crash report\n"
            f"When: {self.when.isoformat(timespec='seconds')}\n"
            f"Version: {__version__}\n"
            f"Platform: {platform.platform()}\n"
            f"Python: {platform.python_version()} ({sys.executable})\n"
            f"{versions}"
            f"Thread: {self.thread}\n"
            f"\n{self.traceback.rstrip()}\n"
            f"\nRecent log lines:\n{recent}\n"
        )


@dataclass(frozen=True)
class PreviousCrash:
    """The last run crashed: what, and where its report is."""

    summary: str
    report_path: Path
    started: str = ""


def report_for(
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
    *,
    thread: str = "MainThread",
    versions: Mapping[str, str] | None = None,
) -> CrashReport:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    return CrashReport(text, thread, versions=dict(versions or {}), log_lines=tuple(logs.tail(lines=LOG_LINES)))


def save(report: CrashReport, directory: Path | None = None) -> CrashReport:
    """Write the report (owner only) as ``crash-<time>.txt``; the report with its path."""
    folder = directory or config.log_dir()
    stamp = report.when.strftime("%Y%m%d-%H%M%S-%f")
    path = config.private_file(folder / f"crash-{stamp}.txt")
    path.write_text(report.text(), encoding="utf-8")
    return CrashReport(report.traceback, report.thread, report.when, report.versions, report.log_lines, path)


# --------------------------------------------------------------------------- the run


class Run:
    """This run's marker; :meth:`end` on a clean quit."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.marker = directory / MARKER_NAME
        self.fatal_log = directory / FATAL_LOG_NAME
        self._fatal_file: IO[str] | None = None
        self._state: dict[str, Any] = {}
        self._lock = threading.Lock()

    def begin(self, *, fault_handler: bool = True) -> None:
        """Leave the marker; with ``fault_handler``, fatal errors go to ``fatal-errors.log``."""
        config.private_file(self.fatal_log)
        self._state = {
            "pid": os.getpid(),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "fatal_log_size": self.fatal_log.stat().st_size,
            "reports": [],
        }
        self._write()
        if fault_handler:
            self._fatal_file = self.fatal_log.open("a", encoding="utf-8")
            faulthandler.enable(self._fatal_file, all_threads=True)

    def record(self, report: CrashReport) -> None:
        """A report of this run: the next start names it if this run does not end cleanly."""
        with self._lock:
            if report.path is not None:
                self._state.setdefault("reports", []).append({"path": str(report.path), "summary": report.summary})
                self._write()

    def end(self) -> None:
        """A clean quit: nothing to tell the next start."""
        if self._fatal_file is not None:
            faulthandler.disable()
            self._fatal_file.close()
            self._fatal_file = None
        self.marker.unlink(missing_ok=True)

    def _write(self) -> None:
        config.private_file(self.marker)
        temporary = self.marker.with_suffix(".tmp")
        config.private_file(temporary).write_text(json.dumps(self._state), encoding="utf-8")
        os.replace(temporary, self.marker)


def previous_crash(directory: Path | None = None) -> PreviousCrash | None:
    """Whether the last run crashed (see the module's docstring); None if it ended
    cleanly, or was stopped from outside without a report."""
    folder = directory or config.log_dir()
    marker = folder / MARKER_NAME
    try:
        state = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log.info("the marker of the last run (%s) cannot be read", marker)
        return None
    started = str(state.get("started", ""))
    reports = state.get("reports") or []
    if reports:
        last = reports[-1]
        return PreviousCrash(str(last.get("summary", "")), Path(last["path"]), started)
    fatal = folder / FATAL_LOG_NAME
    try:
        with fatal.open(encoding="utf-8", errors="replace") as file:
            file.seek(int(state.get("fatal_log_size", 0)))
            dump = file.read()
    except (OSError, ValueError):
        dump = ""
    if dump.strip():
        first = dump.strip().splitlines()[0]
        return PreviousCrash(first, fatal, started)
    log.info("the last run (pid %s, started %s) did not quit normally, without a crash report",
             state.get("pid"), started)
    return None


# --------------------------------------------------------------------------- hooks


class Hooks:
    """``sys.excepthook`` and ``threading.excepthook`` that save a report and hand it on.

    ``on_crash`` may be called on any thread (the UI marshals it to the GUI thread). An
    exception while handling one is printed and otherwise ignored, never recursed into.
    """

    def __init__(self, run: Run | None, on_crash: Callable[[CrashReport], None],
                 versions: Mapping[str, str] | None = None) -> None:
        self.run = run
        self.on_crash = on_crash
        self.versions = dict(versions or {})
        self._handling = threading.local()
        self._previous: tuple[Any, Any] | None = None

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self._handle(exc_type, exc, tb, threading.current_thread().name)

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "unknown thread"
        self._handle(args.exc_type, args.exc_value, args.exc_traceback, name)

    def _handle(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                thread: str) -> None:
        if getattr(self._handling, "active", False):
            sys.__excepthook__(exc_type, exc, tb)  # failed while handling one: do not recurse
            return
        self._handling.active = True
        try:
            log.critical("uncaught exception on %s", thread, exc_info=(exc_type, exc, tb))
            report = report_for(exc_type, exc, tb, thread=thread, versions=self.versions)
            try:
                report = save(report)
            except OSError as err:
                log.error("could not save the crash report: %s", err)
            if self.run is not None:
                self.run.record(report)
            self.on_crash(report)
        except Exception:  # noqa: BLE001 - the last resort must not raise
            traceback.print_exc()
        finally:
            self._handling.active = False


def start_run(directory: Path | None = None, *, fault_handler: bool = True) -> tuple[Run, PreviousCrash | None]:
    """At start: what the last run left (see :func:`previous_crash`), then this run's
    marker and ``faulthandler``."""
    folder = directory or config.log_dir()
    previous = previous_crash(folder)
    run = Run(folder)
    run.begin(fault_handler=fault_handler)
    return run, previous
