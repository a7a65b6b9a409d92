"""Signing in offline: a verifier of the last successful online sign-in, which follows
what the server says.

After a person signs in online, :meth:`OfflineCredentials.remember` keeps an argon2id
hash of the password (never the password) and their staff record, per server and
username. Offline, :meth:`OfflineCredentials.check` checks a password against it and
says why when it does not sign in:

- **The server's word wins.** When the server refuses the account (sign-in answered
  403: locked, disabled, revoked; or a token refused with 403 during a sync), or refuses
  a password the verifier would still accept (changed on the server), the verifier is
  dropped at once (:meth:`refuse`, :meth:`password_refused`): that person can sign in
  on this computer again only online.
- **It lapses.** A verifier older than :data:`OFFLINE_SIGN_IN_DAYS` days (counted from
  the last online sign-in) no longer signs in; the next online sign-in renews it.
- **Guessing is slow.** After :data:`FREE_ATTEMPTS` wrong passwords, each further one
  makes the next attempt wait: :data:`FIRST_DELAY_S` seconds, doubling up to
  :data:`MAX_DELAY_S`; after :data:`MAX_OFFLINE_FAILURES` the verifier is dropped. The
  count and the wait are stored with the verifier, so restarting the app resets
  nothing; the right password (after the wait) or an online sign-in clears them.

The verifiers live in one SQLite file next to the workstation stores
(``<data dir>/workstation/offline_credentials.sqlite3``), in the local-only
``offline_credential`` table.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass
from pathlib import Path

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select, update

from .. import config
from ..hashing import password_hasher
from ..schemas import StaffPublic
from .api_client import normalize_server_url
from .local_models import OfflineCredential
from .local_store import add_missing_columns, open_sqlite, table_of

_table = table_of(OfflineCredential)

#: Days after the last online sign-in during which the password also works offline.
OFFLINE_SIGN_IN_DAYS = 14
#: Wrong offline passwords allowed before any wait (typing slips).
FREE_ATTEMPTS = 3
#: The wait after the first wrong password beyond the free ones; it doubles each time.
FIRST_DELAY_S = 30.0
MAX_DELAY_S = 15 * 60.0
#: This many wrong offline passwords in a row drop the verifier.
MAX_OFFLINE_FAILURES = 10


class OfflineCheck(enum.StrEnum):
    OK = "ok"
    #: This person never signed in to this server on this computer.
    UNKNOWN = "unknown"
    WRONG_PASSWORD = "wrong_password"
    #: Too many wrong passwords: wait ``retry_in`` seconds.
    THROTTLED = "throttled"
    #: No online sign-in for more than OFFLINE_SIGN_IN_DAYS days.
    EXPIRED = "expired"
    #: The server refused the account or the password, or too many wrong passwords.
    REFUSED = "refused"


@dataclass(frozen=True)
class OfflineResult:
    reason: OfflineCheck
    #: The staff record when the password signs in (``reason`` OK).
    staff: StaffPublic | None = None
    #: Seconds until the next attempt is checked (THROTTLED).
    retry_in: float | None = None
    #: Why, in plain words, when it does not sign in.
    message: str = ""


def _key(server_url: str, username: str) -> tuple[str, str]:
    return normalize_server_url(server_url), username.strip().casefold()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def delay_after(failures: int) -> float:
    """Seconds the next attempt waits after ``failures`` wrong passwords in a row."""
    if failures <= FREE_ATTEMPTS:
        return 0.0
    return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (failures - FREE_ATTEMPTS - 1))


def wait_in_words(seconds: float) -> str:
    if seconds < 90:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    n = math.ceil(seconds / 60)
    return f"{n} minutes"


EXPIRED_MESSAGE = (f"Signing in without the server works for {OFFLINE_SIGN_IN_DAYS} days after your last "
                   "sign-in with it, and that was longer ago. Connect to the server to sign in.")
TOO_MANY_MESSAGE = ("Too many wrong passwords were tried on this computer, so signing in without the server is "
                    "off for this account. Connect to the server to sign in.")
CHANGED_MESSAGE = ("Your password was changed on the server, so the old one no longer signs in on this "
                   "computer. Connect to the server and sign in with the new one.")


def refused_message(reason: str) -> str:
    return (f"The server refused this account when it was last reached ({reason.rstrip('.')}), so it cannot "
            "sign in on this computer without the server.")


class OfflineCredentials:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config.data_dir() / "workstation" / "offline_credentials.sqlite3"
        self.engine = open_sqlite(self.path)
        self._writer = self.engine.execution_options(sqlite_immediate=True)
        self._hasher = password_hasher()
        with self._writer.begin() as conn:
            OfflineCredential.metadata.create_all(conn, tables=[_table])
            add_missing_columns(conn, _table)

    def remember(self, server_url: str, username: str, password: str, staff: StaffPublic) -> None:
        """Keep a verifier after a successful online sign-in (replaces an older one,
        and clears any wait, count or refusal)."""
        server, user = _key(server_url, username)
        verifier = self._hasher.hash(password)
        with self._writer.begin() as conn:
            conn.execute(delete(_table).where(_table.c.server_url == server, _table.c.username == user))
            conn.execute(insert(_table).values(
                server_url=server, username=user, verifier=verifier, staff=staff.model_dump(mode="json"),
                updated_at=dt.datetime.now(dt.UTC), failed_attempts=0, blocked_until=None, refused_kind="",
                refused="",
            ))

    def knows(self, server_url: str, username: str) -> bool:
        """Whether this user ever signed in to this server online from this computer."""
        server, user = _key(server_url, username)
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(_table.c.username).where(_table.c.server_url == server, _table.c.username == user)
            )
        return found is not None

    def check(self, server_url: str, username: str, password: str, *, now: dt.datetime | None = None) -> OfflineResult:
        """Whether ``password`` signs ``username`` in offline, and why not (see the module)."""
        server, user = _key(server_url, username)
        now = now or dt.datetime.now(dt.UTC)
        where = (_table.c.server_url == server, _table.c.username == user)
        with self._writer.begin() as conn:  # one transaction: two windows cannot both get a free try
            row = conn.execute(select(_table).where(*where)).one_or_none()
            if row is None:
                return OfflineResult(OfflineCheck.UNKNOWN, message="This user has never signed in to this server "
                                     "on this computer.")
            if row.refused_kind == OfflineCheck.EXPIRED:
                return OfflineResult(OfflineCheck.EXPIRED, message=row.refused or EXPIRED_MESSAGE)
            if row.refused_kind or not row.verifier:
                return OfflineResult(OfflineCheck.REFUSED, message=row.refused or TOO_MANY_MESSAGE)
            signed_in_online = _aware(row.updated_at)
            if signed_in_online is None or now - signed_in_online > dt.timedelta(days=OFFLINE_SIGN_IN_DAYS):
                _drop(conn, where, OfflineCheck.EXPIRED, EXPIRED_MESSAGE)
                return OfflineResult(OfflineCheck.EXPIRED, message=EXPIRED_MESSAGE)
            blocked_until = _aware(row.blocked_until)
            if blocked_until is not None and blocked_until > now:
                wait = (blocked_until - now).total_seconds()
                return OfflineResult(OfflineCheck.THROTTLED, retry_in=wait, message=(
                    f"Too many wrong passwords. Wait {wait_in_words(wait)} before trying again, or sign in when "
                    "the server can be reached."))
            try:
                self._hasher.verify(row.verifier, password)
            except (VerificationError, InvalidHashError):
                failures = row.failed_attempts + 1
                if failures >= MAX_OFFLINE_FAILURES:
                    _drop(conn, where, OfflineCheck.REFUSED, TOO_MANY_MESSAGE)
                    return OfflineResult(OfflineCheck.WRONG_PASSWORD, message=TOO_MANY_MESSAGE)
                delay = delay_after(failures)
                conn.execute(update(_table).where(*where).values(
                    failed_attempts=failures, blocked_until=now + dt.timedelta(seconds=delay) if delay else None,
                ))
                message = "Wrong password (checked offline, against your last sign-in on this computer)."
                if delay:
                    message += f" Wait {wait_in_words(delay)} before the next try."
                return OfflineResult(OfflineCheck.WRONG_PASSWORD, retry_in=delay or None, message=message)
            if row.failed_attempts or row.blocked_until is not None:
                conn.execute(update(_table).where(*where).values(failed_attempts=0, blocked_until=None))
            return OfflineResult(OfflineCheck.OK, staff=StaffPublic.model_validate(row.staff))

    def verify(self, server_url: str, username: str, password: str) -> StaffPublic | None:
        """The staff record if ``password`` signs in offline now; else None."""
        return self.check(server_url, username, password).staff

    def refuse(self, server_url: str, username: str, reason: str) -> bool:
        """The server refused this account (``reason`` in its words): drop the verifier.
        True if there was one."""
        server, user = _key(server_url, username)
        with self._writer.begin() as conn:
            return _drop(conn, (_table.c.server_url == server, _table.c.username == user), OfflineCheck.REFUSED,
                         refused_message(reason))

    def password_refused(self, server_url: str, username: str, password: str) -> bool:
        """The server said ``password`` is wrong: if the verifier would still accept
        it, the password was changed there, so drop the verifier. True if dropped."""
        server, user = _key(server_url, username)
        where = (_table.c.server_url == server, _table.c.username == user)
        with self._writer.begin() as conn:
            verifier = conn.scalar(select(_table.c.verifier).where(*where))
            if not verifier:
                return False
            try:
                self._hasher.verify(verifier, password)
            except (VerificationError, InvalidHashError):
                return False
            return _drop(conn, where, OfflineCheck.REFUSED, CHANGED_MESSAGE)

    def forget(self, server_url: str, username: str) -> None:
        server, user = _key(server_url, username)
        with self._writer.begin() as conn:
            conn.execute(delete(_table).where(_table.c.server_url == server, _table.c.username == user))

    def close(self) -> None:
        self.engine.dispose()


def _drop(conn: Connection, where: tuple[object, ...], kind: OfflineCheck, message: str) -> bool:
    """Empty the verifier and say why (the row stays, so the reason can be told)."""
    result = conn.execute(update(_table).where(*where).values(  # type: ignore[arg-type]
        verifier="", refused_kind=kind.value, refused=message, failed_attempts=0, blocked_until=None,
    ))
    return bool(result.rowcount)


def forget_refused_account(server_url: str, username: str, reason: str) -> None:
    """Drop ``username``'s offline verifier for ``server_url`` in the default file
    (the syncer, when the server refuses the account's token)."""
    credentials = OfflineCredentials()
    try:
        credentials.refuse(server_url, username, reason)
    finally:
        credentials.close()


__all__ = ["OFFLINE_SIGN_IN_DAYS", "OfflineCheck", "OfflineCredentials", "OfflineResult", "forget_refused_account"]
