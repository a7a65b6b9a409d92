"""Timestamps of a start, in the log (and for ``bench/startup.py``).

No Qt here. :func:`mark` logs how long after the process was launched the app reached
a point of its start ("window", "results", "server", "synced") with its resident memory.
With ``DESKTOP_CARE_STARTUP_MARKS=1`` in the environment each mark is also written to
stderr as ``desktop-care-mark NAME MONOTONIC RSS_KB PEAK_KB`` (``time.monotonic()`` is
the system's clock, so the process that launched the app can subtract its own reading).
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger(__name__)

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
    now, rss, peak = time.monotonic(), resident_kb(), peak_kb()
    since = seconds_since_launch()
    log.info("start: %s %s after launch (resident %d MB, peak %d MB)", name,
             f"{since:.2f} s" if since is not None else "?", rss // 1024, peak // 1024)
    if os.environ.get(MARKS_ENV):
        print(f"desktop-care-mark {name} {now:.4f} {rss} {peak}", file=sys.stderr, flush=True)
