"""Settings and paths, in one place.

Every path the app or the server writes to comes from here, so tests (and a second
profile on one machine) can point the whole program elsewhere with one environment
variable: ``DESKTOP_CARE_DATA_DIR``.

The workstation's data (member replica, outbox, offline sign-in verifiers, logs) is
personal data of members and staff: its directories are made ``0700`` and its files
``0600`` (:func:`private_dir`, :func:`private_file`) whatever the session's umask. On
Windows the user profile's own permissions already keep it to its owner.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "desktop_care"
APP_AUTHOR = "desktop_care"
API_PREFIX = "/api/v1"

#: Currency of account balances (amounts are stored as integer minor units).
CURRENCY = os.environ.get("DESKTOP_CARE_CURRENCY", "GBP")

#: How many demo members the embedded server seeds on its first run.
DEMO_MEMBERS = 3000


#: Modes of the workstation's own directories and files: its owner only.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) != mode:
        path.chmod(mode)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (created on demand, or tightened)."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read (created empty if missing, or tightened),
    in a private directory."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE))
    _tighten(path, PRIVATE_FILE_MODE)
    return path


def data_dir() -> Path:
    """The user data directory (created on demand, owner only)."""
    override = os.environ.get("DESKTOP_CARE_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    return private_dir(path)


def log_dir() -> Path:
    """The platform's log directory for the app (``~/.local/state/desktop_care/log`` on
    Linux), or ``logs/`` in ``$DESKTOP_CARE_DATA_DIR`` when that is set; owner only."""
    if os.environ.get("DESKTOP_CARE_DATA_DIR"):
        return private_dir(data_dir() / "logs")
    return private_dir(Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)))


def embedded_database_url() -> str:
    """SQLite database of the embedded (local) server."""
    return f"sqlite:///{data_dir() / 'server.sqlite3'}"


def resources_dir() -> Path:
    """``resources/`` beside the package, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


@dataclass(frozen=True)
class Timeouts:
    """Network timeouts of the workstation's API client, in seconds."""

    connect: float = 3.0
    read: float = 15.0


TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class Transport:
    """How the workstation reaches servers (``--ca-file``, ``--allow-insecure-http``;
    the Settings dialog will keep them).

    Certificates are verified against the system's trust store, plus ``ca_file`` (a
    PEM file of the organisation's own certificate authority) when given. Plain
    ``http://`` is used only to this computer (loopback) unless ``allow_insecure_http``.
    """

    ca_file: Path | None = None
    allow_insecure_http: bool = False


#: Environment variable naming a CA file (the command line's ``--ca-file`` wins).
CA_FILE_ENV = "DESKTOP_CARE_CA_FILE"

_transport = Transport(ca_file=Path(os.environ[CA_FILE_ENV]) if os.environ.get(CA_FILE_ENV) else None)


def transport() -> Transport:
    """The workstation's current transport settings."""
    return _transport


def set_transport(value: Transport) -> None:
    """Set at start from the command line (and later by the Settings dialog); clients
    made afterwards use it."""
    global _transport
    _transport = value
