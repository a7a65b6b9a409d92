"""The workstation side of the server: the REST client, the local store (directory
cache, outbox, Sync issues), offline sign-in and the background syncer.

The names below load with their module on first use (``from desktop_care.sync import
LocalStore``), so importing one part (say the REST client) does not load the rest: the
syncer and the store's command handling are not needed by the first screen
(docs/decisions/0044).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .local_store import LocalStore, RecordedResults, SyncIssue
    from .offline_auth import OfflineCredentials
    from .syncer import IssuesChanged, MembersChanged, SessionExpired, Syncer, SyncEvent, SyncStatus

_HOMES = {
    "LocalStore": "local_store",
    "RecordedResults": "local_store",
    "SyncIssue": "local_store",
    "OfflineCredentials": "offline_auth",
    "IssuesChanged": "syncer",
    "MembersChanged": "syncer",
    "SessionExpired": "syncer",
    "SyncEvent": "syncer",
    "SyncStatus": "syncer",
    "Syncer": "syncer",
}

__all__ = [
    "IssuesChanged",
    "LocalStore",
    "MembersChanged",
    "OfflineCredentials",
    "RecordedResults",
    "SessionExpired",
    "SyncEvent",
    "SyncIssue",
    "SyncStatus",
    "Syncer",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
