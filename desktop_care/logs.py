"""The app's log: a rotating file in the platform's log directory, owner only.

No Qt here. :func:`setup` is called once by ``desktop-care`` at start; the crash
handler (:mod:`desktop_care.crash`) reads the last lines back into its report.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
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
