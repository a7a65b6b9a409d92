"""Passwords, staff bearer tokens, and sign-in with its throttle.

Passwords are hashed with argon2id (argon2-cffi's defaults, :mod:`desktop_care.hashing`;
re-hashed on sign-in when those change). Tokens are opaque: ``secrets.token_urlsafe(32)`` is given to the client
once and only its SHA-256 digest is stored, with an expiry. Sign-in takes the same time
whether or not the username exists (unknown users are checked against a dummy hash).

:func:`authenticate` is the one password check, for staff and portal sign-in alike.
Failed attempts are counted per username (known or not) in ``sign_in_throttle``:
after :data:`MAX_FAILED_LOGINS` failures in a row, every further attempt is refused
with 429 and ``Retry-After`` until :func:`throttle_delay` has passed since the last
one, without looking at the password, so right and wrong passwords get the same
answer. See docs/decisions/0008-sign-in-throttle.md.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from desktop_care.hashing import password_hasher
from desktop_care.models import (
    MAX_FAILED_LOGINS,
    SignInThrottle,
    StaffToken,
    User,
    UserCredential,
    UserState,
    clear_sign_in_throttle,
    record,
    utcnow,
)
from desktop_care.models.tokens import IssuedRemembered, find_remembered, remember_sign_in

from .errors import ApiError, Forbidden, Unauthorized

#: How long a staff session lasts.
TOKEN_LIFETIME = dt.timedelta(hours=12)
MIN_PASSWORD_LENGTH = 8
#: The longest a throttled username waits between attempts.
MAX_THROTTLE_DELAY = dt.timedelta(minutes=15)
#: Failures older than this (and not blocking) are forgotten: counting starts again.
FORGET_FAILURES_AFTER = dt.timedelta(hours=24)

WRONG_CREDENTIALS = "wrong username or password"
SIGN_IN_REQUIRED = "sign in required"
SESSION_EXPIRED = "session expired; sign in again"
NOT_STAFF = "not a staff account"
STAFF_NOT_ON_PORTAL = "staff accounts sign in to the Desktop Care console, not the member portal"

_STATE_REFUSALS = {
    UserState.DISABLED: "this account is disabled; staff can enable it",
    UserState.REVOKED: "access for this account has been revoked; it must be invited again",
    UserState.INVITED: "this account is not activated yet; accept the invitation first",
}

def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return password_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return password_hasher().check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- typed sign-in errors ------------------------------------------------------------


class WrongCredentials(Unauthorized):
    """401: unknown username or wrong password (one answer for both)."""

    def __init__(self) -> None:
        super().__init__(WRONG_CREDENTIALS)


class SignInThrottled(ApiError):
    """429: too many failed sign-ins for this username; try again after ``retry_after``
    seconds. Given before the password is looked at, so it says nothing about it."""

    status_code = 429

    def __init__(self, until: dt.datetime, now: dt.datetime) -> None:
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        super().__init__(f"too many failed sign-ins; try again in {_duration(self.retry_after)}")

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class AccountRefused(Forbidden):
    """403: the password was right but this account may not sign in here; ``detail``
    says why (disabled, revoked, not activated, wrong kind of account)."""


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- the throttle ----------------------------------------------------------------------


def throttle_delay(failures: int) -> dt.timedelta | None:
    """How long attempts are refused after ``failures`` failed sign-ins in a row:
    nothing up to MAX_FAILED_LOGINS - 1, then 2 s at the fifth failure, doubling with
    each further one (4 s, 8 s, …), never more than MAX_THROTTLE_DELAY."""
    if failures < MAX_FAILED_LOGINS:
        return None
    exponent = min(failures - MAX_FAILED_LOGINS + 1, 20)
    return min(dt.timedelta(seconds=2**exponent), MAX_THROTTLE_DELAY)


def _insert_ignoring_conflict(session: Session, username: str, now: dt.datetime) -> None:
    values = {"username": username, "failures": 0, "last_failure_at": now, "blocked_until": None}
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sqlite_insert(SignInThrottle).values(values).on_conflict_do_nothing())
    else:
        session.execute(pg_insert(SignInThrottle).values(values).on_conflict_do_nothing())


def _reserve_attempt(session: Session, username: str, now: dt.datetime) -> None:
    """Count this attempt as a failure before the password is checked (a success
    deletes the count again), or raise :class:`SignInThrottled` if attempts must wait.

    Its own short transaction: the first statement writes, so SQLite takes its write
    lock at once and PostgreSQL then locks the row; parallel attempts are counted one
    after the other, and the lock is gone before the slow password check.
    """
    session.commit()
    row = None
    # A parallel successful sign-in may delete the row between our insert and our lock
    # (PostgreSQL, READ COMMITTED): then insert it again.
    for _ in range(5):
        _insert_ignoring_conflict(session, username, now)
        row = session.scalars(
            select(SignInThrottle)
            .where(SignInThrottle.username == username)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if row is not None:
            break
    if row is None:
        raise RuntimeError(f"the sign-in throttle row of {username!r} kept disappearing")
    if row.blocked_until is not None and row.blocked_until > now:
        until = row.blocked_until
        session.commit()
        raise SignInThrottled(until, now)
    stale = now - row.last_failure_at > FORGET_FAILURES_AFTER  # and not blocking (checked above)
    failures = 1 if stale else row.failures + 1
    delay = throttle_delay(failures)
    row.failures = failures
    row.last_failure_at = now
    row.blocked_until = now + delay if delay is not None else None
    session.commit()


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    blocked_until: dt.datetime | None

    def locked(self, now: dt.datetime | None = None) -> bool:
        return self.blocked_until is not None and self.blocked_until > (now or utcnow())


def throttle_state(session: Session, username: str) -> ThrottleState:
    row = session.get(SignInThrottle, username)
    if row is None:
        return ThrottleState(0, None)
    return ThrottleState(row.failures, row.blocked_until)


# --- sign-in ---------------------------------------------------------------------------


class Channel(enum.StrEnum):
    """Where someone signs in: it decides which accounts may, and the audit's name."""

    #: The console's REST API: Society Admin and Society Staff only.
    STAFF = "staff"
    #: The member portal: portal users (Full, Standard) and non-member users.
    PORTAL = "portal"


def refusal(user: User, channel: Channel = Channel.STAFF) -> str | None:
    """Why this user may not sign in through ``channel``, in plain words; None if they may."""
    if channel is Channel.STAFF and not user.role.is_staff:
        return NOT_STAFF
    if channel is Channel.PORTAL and user.role.is_staff:
        return STAFF_NOT_ON_PORTAL
    return _STATE_REFUSALS.get(user.state)


def state_refusal(user: User) -> str | None:
    """Why a user in this state may not sign in anywhere; None if they may."""
    return _STATE_REFUSALS.get(user.state)


def authenticate(
    session: Session,
    username: str,
    password: str,
    client_address: str = "",
    *,
    channel: Channel = Channel.STAFF,
    refuse: Callable[[User], str | None] | None = None,
) -> User:
    """Check a password; the one sign-in check for staff and portal alike.

    ``refuse`` adds the channel's own reasons a user with the right password may not
    sign in (the portal: the member's status); it runs after :func:`refusal`.

    Returns the user when the password is right and the account may sign in through
    ``channel``; the failure count is then cleared, ``last_login_at`` set and
    ``{channel}.login`` audited, all *flushed but not committed*: the caller commits
    together with the session or token it issues.

    Raises, after committing the count and a ``{channel}.login_failed`` audit event:

    - :class:`SignInThrottled` (429, ``retry_after`` seconds) while the username must
      wait, whatever the password;
    - :class:`WrongCredentials` (401) for an unknown username or a wrong password;
    - :class:`AccountRefused` (403, with the reason) for a right password on an
      account that is disabled, revoked, not activated, or of the other channel.

    Parallel attempts are counted exactly (see :func:`_reserve_attempt`). It commits
    the session first: call it on a session with nothing pending of your own.
    """
    username = username.strip().lower()
    now = utcnow()

    def failed(user: User | None, reason: str, **details: object) -> None:
        record(
            session,
            actor_user_id=user.id if user is not None else None,
            actor_name=username[:120],
            action=f"{channel.value}.login_failed",
            entity_type="user",
            entity_id=user.id if user is not None else "",
            details={"reason": reason, **details},
            client_address=client_address,
        )
        session.commit()

    try:
        _reserve_attempt(session, username[:120], now)
    except SignInThrottled as exc:
        user = session.scalar(select(User).where(User.username == username))
        failed(user, "throttled", blocked_until=exc.until.isoformat())
        raise

    user = session.scalar(
        select(User).where(User.username == username).execution_options(populate_existing=True)
    )
    credential = session.get(UserCredential, user.id, populate_existing=True) if user is not None else None
    if user is None or credential is None:
        verify_password(_dummy_hash(), password)
        failed(user, "unknown user" if user is None else "no password set")
        raise WrongCredentials()
    if not verify_password(credential.password_hash, password):
        state = throttle_state(session, username)
        failed(user, "wrong password", failed_logins=state.failures,
               blocked_until=state.blocked_until.isoformat() if state.blocked_until else None)
        raise WrongCredentials()

    clear_sign_in_throttle(session, username)
    reason = refusal(user, channel) or (refuse(user) if refuse is not None else None)
    if reason is not None:
        failed(user, reason)
        raise AccountRefused(reason)

    if needs_rehash(credential.password_hash):
        credential.password_hash = hash_password(password)
    # A plain UPDATE: parallel sign-ins of one user must not trip the row's version.
    session.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    session.refresh(user)
    record(
        session,
        actor_user_id=user.id,
        actor_name=user.username,
        action=f"{channel.value}.login",
        entity_type="user",
        entity_id=user.id,
        client_address=client_address,
    )
    session.flush()
    return user


def store_token(session: Session, user: User, token: str, *, now: dt.datetime | None = None) -> StaffToken:
    """Store the digest of ``token`` as a session of ``user`` (valid for TOKEN_LIFETIME)."""
    now = now or utcnow()
    row = StaffToken(token_hash=token_digest(token), user_id=user.id, created_at=now, expires_at=now + TOKEN_LIFETIME)
    session.add(row)
    return row


@dataclass(frozen=True)
class IssuedToken:
    user: User
    token: str
    expires_at: dt.datetime


    #: "Remember me": the workstation's long-lived credential (for its keyring only).
    remembered: IssuedRemembered | None = None


def sign_in(session: Session, username: str, password: str, *, client_address: str = "",
            remember: bool = False) -> IssuedToken:
    """Staff sign-in: :func:`authenticate` on the staff channel, then a token (and,
    with ``remember``, a remembered sign-in). Commits."""
    user = authenticate(session, username, password, client_address, channel=Channel.STAFF)
    token = new_token()
    row = store_token(session, user, token)
    remembered = remember_sign_in(session, user.id) if remember else None
    session.commit()
    return IssuedToken(user, token, row.expires_at, remembered)


#: What a workstation is told when its remembered sign-in no longer works.
REMEMBERED_ENDED = ("this computer's saved sign-in has expired or was revoked; sign in with your password")


def resume(session: Session, secret: str, *, client_address: str = "") -> IssuedToken:
    """A new staff session from a remembered sign-in (``POST /auth/resume``): 401 when
    it is unknown, expired or revoked; 403 (and it is revoked) when its user may no
    longer use the staff API. Commits."""
    now = utcnow()
    remembered = find_remembered(session, secret)
    if remembered is None or not remembered.usable(now):
        raise Unauthorized(REMEMBERED_ENDED)
    user = session.get(User, remembered.user_id)
    reason = refusal(user) if user is not None else REMEMBERED_ENDED
    if user is None or reason is not None:
        remembered.revoked_at = now
        session.commit()
        raise Forbidden(reason or REMEMBERED_ENDED)
    remembered.last_used_at = now
    session.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    session.refresh(user)
    record(session, actor_user_id=user.id, actor_name=user.username, action="staff.login",
           entity_type="user", entity_id=user.id, details={"with": "remembered sign-in", "remembered_id": remembered.id},
           client_address=client_address)
    token = new_token()
    row = store_token(session, user, token, now=now)
    session.commit()
    return IssuedToken(user, token, row.expires_at)


def forget(session: Session, user_id: int, secret: str) -> bool:
    """End the user's remembered sign-in of ``secret`` (at sign out); False if it was
    not theirs or already ended. Does not commit."""
    remembered = find_remembered(session, secret)
    if remembered is None or remembered.user_id != user_id or remembered.revoked_at is not None:
        return False
    remembered.revoked_at = utcnow()
    return True


@dataclass(frozen=True)
class StaffSession:
    """The signed-in staff member of a request, and the token they used."""

    user: User
    token: StaffToken


def resolve_token(session: Session, token: str | None, *, now: dt.datetime | None = None) -> StaffSession:
    """The staff session a bearer token belongs to.

    Raises :class:`Unauthorized` when there is no token or it is unknown, expired or
    revoked, and :class:`Forbidden` when its user may no longer use the staff API.
    """
    if not token:
        raise Unauthorized(SIGN_IN_REQUIRED)
    # The token and its user in one statement: one round trip on every request.
    found = session.execute(
        select(StaffToken, User).join(User, User.id == StaffToken.user_id)
        .where(StaffToken.token_hash == token_digest(token))
    ).one_or_none()
    now = now or utcnow()
    if found is None:
        raise Unauthorized(SESSION_EXPIRED)
    row, user = found.tuple()
    if row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized(SESSION_EXPIRED)
    reason = refusal(user)
    if reason is not None:
        raise Forbidden(reason)
    return StaffSession(user, row)
