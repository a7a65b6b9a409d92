"""The app's log: a rotating file in the platform's log directory, owner only.

No Qt here. :func:`setup` is called once by ``desktop-care`` at start; the crash
handler (:mod:`desktop_care.crash`) reads the last lines back into its report.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path

from . import config

LOG_NAME = "desktop-care.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A ``RotatingFileHandler`` whose files (the current one and each rotated one) are
    created readable by their owner only."""

    def _open(self) -> io.TextIOWrapper:
        config.private_file(Path(self.baseFilename))  # rotated files keep this mode when renamed
        return super()._open()


def private_file_handler(path: Path, *, max_bytes: int = 2_000_000, backups: int = 3) -> logging.Handler:
    handler = PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    return handler


def log_path() -> Path:
    return config.log_dir() / LOG_NAME


def setup() -> Path:
    """Everything to the rotating log file; warnings also to stderr. Returns the file."""
    path = log_path()
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("desktop-care: %(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[private_file_handler(path), console])
    return path


def tail(path: Path | None = None, lines: int = 40) -> list[str]:
    """The last ``lines`` lines of the log (empty when there is none)."""
    try:
        with (path or log_path()).open(encoding="utf-8", errors="replace") as file:
            return [line.rstrip("\n") for line in file.readlines()[-lines:]]
    except OSError:
        return []


# --------------------------------------------------------------------------- start marks
# How long after the process was launched the app reached a point of its start
# ("window", "results", "server", "synced"), with its resident memory, in the log. With
# ``DESKTOP_CARE_STARTUP_MARKS=1`` each mark also goes to stderr as
# ``desktop-care-mark NAME MONOTONIC RSS_KB PEAK_KB CPU_S`` (``time.monotonic()`` is the
# system's clock, so the process that launched the app can subtract its own reading:
# bench/startup.py; CPU_S is the CPU time the process has used so far, all its threads,
# which a loaded machine moves far less than the time since launch).

_marks_log = logging.getLogger("desktop_care.start")

MARKS_ENV = "DESKTOP_CARE_STARTUP_MARKS"
#: Quit once this mark is reached (bench/startup.py: "results", "synced").
QUIT_AFTER_ENV = "DESKTOP_CARE_QUIT_AFTER"

_seen: set[str] = set()


def seconds_since_launch() -> float | None:
    """Seconds since this process was started (Linux: from /proc), or None elsewhere."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def resident_kb() -> int:
    """The process's resident memory now, in kB (0 where /proc is not there)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_kb() -> int:
    """The highest resident memory so far, in kB (Linux reports kB, macOS bytes)."""
    try:
        import resource  # not on Windows
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def mark(name: str) -> None:
    """Record that the start reached ``name`` (once per name and process)."""
    if name in _seen:
        return
    _seen.add(name)
    now, rss, peak, cpu = time.monotonic(), resident_kb(), peak_kb(), time.process_time()
    since = seconds_since_launch()
    _marks_log.info("%s %s after launch (resident %d MB, peak %d MB)", name,
             f"{since:.2f} s" if since is not None else "?", rss // 1024, peak // 1024)
    if os.environ.get(MARKS_ENV):
        print(f"desktop-care-mark {name} {now:.4f} {rss} {peak} {cpu:.3f}", file=sys.stderr, flush=True)
