"""Passwords, staff bearer tokens, and staff sign-in.

Passwords are hashed with argon2id (argon2-cffi's defaults, re-hashed on sign-in when
those change). Tokens are opaque: ``secrets.token_urlsafe(32)`` is given to the client
once and only its SHA-256 digest is stored, with an expiry. Sign-in takes the same time
whether or not the username exists (unknown users are checked against a dummy hash).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import MAX_FAILED_LOGINS, StaffToken, User, UserCredential, UserState, record, utcnow

from .errors import Forbidden, Unauthorized

#: How long a staff session lasts.
TOKEN_LIFETIME = dt.timedelta(hours=12)
MIN_PASSWORD_LENGTH = 8

WRONG_CREDENTIALS = "wrong username or password"
SIGN_IN_REQUIRED = "sign in required"
SESSION_EXPIRED = "session expired; sign in again"
NOT_STAFF = "not a staff account"
ACCOUNT_LOCKED = f"this account is locked after {MAX_FAILED_LOGINS} failed sign-ins; a Society Admin can unlock it"

_STATE_REFUSALS = {
    UserState.LOCKED: ACCOUNT_LOCKED,
    UserState.DISABLED: "this account is disabled; a Society Admin can enable it",
    UserState.REVOKED: "access for this account has been revoked",
    UserState.INVITED: "this account is not activated yet; accept the invitation first",
}

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def refusal(user: User) -> str | None:
    """Why this user may not use the staff API, in plain words; None if they may."""
    if not user.role.is_staff:
        return NOT_STAFF
    return _STATE_REFUSALS.get(user.state)


def state_refusal(user: User) -> str | None:
    """Why a user in this state may not sign in anywhere; None if they may."""
    return _STATE_REFUSALS.get(user.state)


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


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    client_address: str = "",
    refuse: Callable[[User], str | None] = refusal,
    audit_prefix: str = "staff",
) -> User:
    """Check a password, the lockout and whether the account may sign in here; the
    one check staff sign-in and portal sign-in share.

    ``refuse`` says why a user with the right password may not sign in here (staff:
    :func:`refusal`). Failures are audited as ``<audit_prefix>.login_failed`` and
    committed; :class:`Unauthorized` for a wrong username or password,
    :class:`Forbidden` (with the reason) for accounts that may not sign in. On success
    the failure count is cleared and the hash upgraded if needed; the caller commits.
    """
    username = username.strip().lower()
    user = session.scalar(select(User).where(User.username == username))
    credential = session.get(UserCredential, user.id) if user is not None else None

    def failed(reason: str, **details: object) -> None:
        record(
            session,
            actor_user_id=user.id if user is not None else None,
            actor_name=username,
            action=f"{audit_prefix}.login_failed",
            entity_type="user",
            entity_id=user.id if user is not None else "",
            details={"reason": reason, **details},
            client_address=client_address,
        )
        session.commit()

    if user is None or credential is None:
        verify_password(_dummy_hash(), password)
        failed("unknown user" if user is None else "no password set")
        raise Unauthorized(WRONG_CREDENTIALS)

    if not verify_password(credential.password_hash, password):
        user.failed_logins += 1
        locks_now = user.failed_logins >= MAX_FAILED_LOGINS and user.state == UserState.ACTIVE
        if locks_now:
            user.state = UserState.LOCKED
        failed("wrong password", failed_logins=user.failed_logins, locked=locks_now)
        if locks_now:
            raise Forbidden(ACCOUNT_LOCKED)
        raise Unauthorized(WRONG_CREDENTIALS)

    reason = refuse(user)
    if reason is not None:
        failed(reason)
        raise Forbidden(reason)

    if needs_rehash(credential.password_hash):
        credential.password_hash = hash_password(password)
    user.failed_logins = 0
    user.last_login_at = utcnow()
    return user


def sign_in(session: Session, username: str, password: str, *, client_address: str = "") -> IssuedToken:
    """Check a staff member's password (:func:`authenticate`) and issue a token;
    audits success and failure. Commits."""
    user = authenticate(session, username, password, client_address=client_address)
    token = new_token()
    row = store_token(session, user, token, now=user.last_login_at)
    record(
        session,
        actor_user_id=user.id,
        actor_name=user.username,
        action="staff.login",
        entity_type="user",
        entity_id=user.id,
        client_address=client_address,
    )
    session.commit()
    return IssuedToken(user, token, row.expires_at)


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
    row = session.scalar(select(StaffToken).where(StaffToken.token_hash == token_digest(token)))
    now = now or utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized(SESSION_EXPIRED)
    user = session.get(User, row.user_id)
    if user is None:
        raise Unauthorized(SESSION_EXPIRED)
    reason = refusal(user)
    if reason is not None:
        raise Forbidden(reason)
    return StaffSession(user, row)
