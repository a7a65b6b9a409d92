"""The embedded server's lifeline to the app that started it.

The desktop app runs its local server as a child process (``desktop_care.embedded``).
When the app goes — quit, SIGTERM at a session logout, SIGKILL, a crash — the server
must go too, or it stays on, orphaned, holding the database. Two ways, both in the
child, so the parent needs no ``preexec_fn`` (unsafe in a threaded Qt app):

* **A pipe on standard input** (every platform): the app keeps the write end and never
  writes. The operating system closes it when the app's process ends, however it
  ends, and a watchdog thread here reads end-of-file and stops the server as SIGTERM
  would (gracefully: uvicorn finishes the requests in flight).
* **PR_SET_PDEATHSIG** (Linux only): the kernel sends SIGTERM when the parent dies,
  even while this process is busy before the watchdog runs (migrating, seeding).
  Linux ties it to the parent *thread* that forked the child, so the app forks from a
  thread that lives as long as it does (see ``embedded._Spawner``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent_on_linux() -> bool:
    """Ask the kernel for SIGTERM when the parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _terminate() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _watch(stream: BinaryIO, on_gone: Callable[[], None]) -> None:
    """Block until the parent's end of the pipe closes, then call ``on_gone``."""
    try:
        while stream.read(4096):
            pass  # the app never writes; anything read is ignored
    except (OSError, ValueError):
        pass
    log.info("the app that started this server has gone: stopping")
    on_gone()


def follow_parent(parent_pid: int, stream: BinaryIO | None = None, on_gone: Callable[[], None] = _terminate) -> None:
    """Stop when process ``parent_pid`` does: ``on_gone`` (default: SIGTERM to this
    process) once ``stream`` (default: standard input), the pipe whose other end the
    parent holds, closes."""
    if _die_with_parent_on_linux() and os.getppid() != parent_pid:
        # The parent died before the request took effect: nobody would signal us.
        log.info("the app that started this server (pid %d) has already gone", parent_pid)
        raise SystemExit(0)
    watched = stream if stream is not None else sys.stdin.buffer
    threading.Thread(target=_watch, args=(watched, on_gone), name="parent-watchdog", daemon=True).start()
