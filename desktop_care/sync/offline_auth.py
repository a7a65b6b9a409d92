"""Signing in offline: a verifier of the last successful online sign-in.

After a person signs in online, :meth:`OfflineCredentials.remember` keeps an argon2id
hash of the password (never the password) and their staff record, per server and
username. Offline, :meth:`verify` checks a password against it: the right one gives the
staff record back, a wrong one (or an unknown person) gives None.

The verifiers live in one SQLite file next to the workstation stores
(``<data dir>/workstation/offline_credentials.sqlite3``), in the local-only
``offline_credential`` table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select

from .. import config
from ..schemas import StaffPublic
from .api_client import normalize_server_url
from .local_models import OfflineCredential
from .local_store import open_sqlite, table_of

_table = table_of(OfflineCredential)


def _key(server_url: str, username: str) -> tuple[str, str]:
    return normalize_server_url(server_url), username.strip().casefold()


class OfflineCredentials:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config.data_dir() / "workstation" / "offline_credentials.sqlite3"
        self.engine = open_sqlite(self.path)
        self._writer = self.engine.execution_options(sqlite_immediate=True)
        self._hasher = PasswordHasher()
        with self._writer.begin() as conn:
            OfflineCredential.metadata.create_all(conn, tables=[_table])

    def remember(self, server_url: str, username: str, password: str, staff: StaffPublic) -> None:
        """Keep a verifier after a successful online sign-in (replaces an older one)."""
        server, user = _key(server_url, username)
        verifier = self._hasher.hash(password)
        with self._writer.begin() as conn:
            conn.execute(delete(_table).where(_table.c.server_url == server, _table.c.username == user))
            conn.execute(insert(_table).values(
                server_url=server, username=user, verifier=verifier, staff=staff.model_dump(mode="json"),
                updated_at=dt.datetime.now(dt.UTC),
            ))

    def knows(self, server_url: str, username: str) -> bool:
        """Whether this user ever signed in to this server online from this computer."""
        server, user = _key(server_url, username)
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(_table.c.username).where(_table.c.server_url == server, _table.c.username == user)
            )
        return found is not None

    def verify(self, server_url: str, username: str, password: str) -> StaffPublic | None:
        """The staff record if ``password`` is the one last used online; else None."""
        server, user = _key(server_url, username)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_table.c.verifier, _table.c.staff).where(_table.c.server_url == server, _table.c.username == user)
            ).one_or_none()
        if row is None:
            return None
        try:
            self._hasher.verify(row.verifier, password)
        except (VerificationError, InvalidHashError):
            return None
        return StaffPublic.model_validate(row.staff)

    def forget(self, server_url: str, username: str) -> None:
        server, user = _key(server_url, username)
        with self._writer.begin() as conn:
            conn.execute(delete(_table).where(_table.c.server_url == server, _table.c.username == user))

    def close(self) -> None:
        self.engine.dispose()


__all__ = ["OfflineCredentials"]
