"""Workstations against the real server, for the sync tests.

A :class:`Workstation` is what one desk runs: its own LocalStore (a real SQLite file),
a signed-in ApiClient and a Syncer. Members are made on the server with the shared
entities and given feed rows (``backfill_feed``), as the demo seeder does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care import config
from desktop_care.models import Member, PointsType
from desktop_care.models.sync import ProcessedCommand, backfill_feed
from desktop_care.sync import LocalStore, Syncer
from desktop_care.sync.api_client import ApiClient
from desktop_care.sync.local_store import Author
from desktop_care.sync.syncer import SyncEvent, SyncStatus
from tests.support.servers import LiveServer
from tests.ui.arrange import add_members, signed_in_client

FAST = config.Timeouts(connect=1.0, read=2.0)
_authors: dict[str, Author] = {}


def members_on_server(server: LiveServer, last_name: str, count: int, **fields: object) -> list[int]:
    """New members on the server, with feed rows (so workstations pull them)."""
    ids = add_members(server, last_name, count, **fields)
    with Session(server.engine()) as session:
        backfill_feed(session)
        session.commit()
    return ids


def server_member(server: LiveServer, member_id: int) -> Member:
    with Session(server.engine()) as session:
        member = session.get(Member, member_id)
        assert member is not None
        session.expunge(member)
        return member


def applied_op_ids(server: LiveServer, op_ids: set[str]) -> set[str]:
    """Which of ``op_ids`` the server ran and applied."""
    if not op_ids:
        return set()
    with Session(server.engine()) as session:
        rows = session.scalars(select(ProcessedCommand).where(ProcessedCommand.op_id.in_(list(op_ids))))
        return {row.op_id for row in rows if row.result.get("status") == "applied"}


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # polling a condition with a deadline


@dataclass
class Events:
    """Every event a Syncer delivered, thread-safe."""

    items: list[SyncEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: SyncEvent) -> None:
        with self.lock:
            self.items.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        with self.lock:
            return [e for e in self.items if isinstance(e, kind)]

    def statuses(self) -> list[SyncStatus]:
        return self.of(SyncStatus)


@dataclass
class Workstation:
    store: LocalStore
    client: ApiClient
    syncer: Syncer
    events: Events
    #: The staff member signed in here (the author of what the tests queue).
    author: Author

    def sync(self) -> bool:
        """One push-then-pull round, here and now."""
        return self.syncer.sync_once()

    def close(self) -> None:
        self.syncer.stop()
        self.client.close()
        self.store.close()


def workstation(server: LiveServer, path: Path, *, client: ApiClient | None = None, **syncer: Any) -> Workstation:
    """A workstation whose Syncer runs only when told (``sync()``), unless ``autostart``."""
    store = LocalStore(path)
    if client is None:
        client = signed_in_client(server)
        client.timeouts = FAST
    events = Events()
    author = _authors.get(server.url)
    if author is None:  # the server's staff account, which signed_in_client uses
        author = _authors[server.url] = Author.of(signed_in_client(server).me())
    syncer.setdefault("autostart", False)
    return Workstation(store, client, Syncer(store, client, on_event=events, **syncer), events, author)


GOODWILL = PointsType.GOODWILL
