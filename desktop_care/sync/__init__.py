"""The workstation side of the server: the REST client, the local store (directory
cache, outbox, Sync issues), offline sign-in and the background syncer."""

from .local_store import LocalStore, RecordedResults, SyncIssue
from .offline_auth import OfflineCredentials
from .syncer import IssuesChanged, MembersChanged, SessionExpired, Syncer, SyncEvent, SyncStatus

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
