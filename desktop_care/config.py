"""Settings and paths, in one place.

Every path the app or the server writes to comes from here, so tests (and a second
profile on one machine) can point the whole program elsewhere with one environment
variable: ``DESKTOP_CARE_DATA_DIR``.
"""

from __future__ import annotations

import os
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


def data_dir() -> Path:
    """The user data directory (created on demand)."""
    override = os.environ.get("DESKTOP_CARE_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
