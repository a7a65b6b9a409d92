"""How far the embedded server's first-run demo seeding has got, told through a small
JSON file the server rewrites after each batch (``serve --progress-file``) and the app
polls off the GUI thread while it waits for the server (docs/decisions/0037).

A file, not lines on stdout: the server's output goes to its log file, and a file
replaced atomically is always one whole, current answer, however often it is read.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

#: The members are being written (``done`` of ``total``).
MEMBERS = "members"
#: The members are written; orders, tickets, courses, animals and the change feed follow.
FINISHING = "finishing"


@dataclass(frozen=True)
class SeedProgress:
    stage: str
    done: int
    total: int


def write_progress(path: Path, progress: SeedProgress) -> None:
    """Replace the file with ``progress`` (readers never see half of it)."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(json.dumps({"stage": progress.stage, "done": progress.done, "total": progress.total}),
                         encoding="utf-8")
    os.replace(temporary, path)


def read_progress(path: Path) -> SeedProgress | None:
    """The last progress written (None: no seeding reported, or unreadable)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return SeedProgress(str(value["stage"]), int(value["done"]), int(value["total"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def clear_progress(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
