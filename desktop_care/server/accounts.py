"""Staff accounts: creating them, and the demo administrator's bootstrap token."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import StaffToken, User, UserCredential, UserRole, UserState, record

from .security import MIN_PASSWORD_LENGTH, hash_password, store_token, token_digest

#: The demo Society Admin the embedded app signs in as.
DEMO_ADMIN = "demo-admin"
DEMO_ADMIN_NAME = "Demo Admin"
DEMO_ADMIN_EMAIL = "demo-admin@example.org"
#: A bootstrap token must be at least this long (``secrets.token_urlsafe(32)`` is 43).
MIN_BOOTSTRAP_TOKEN_LENGTH = 32

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,119}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """Input that cannot make an account, with a plain-words message."""


def normalize_username(username: str) -> str:
    return username.strip().lower()


def create_staff(
    session: Session,
    username: str,
    password: str | None,
    *,
    role: UserRole = UserRole.SOCIETY_ADMIN,
    email: str = "",
    display_name: str = "",
    actor: str = "cli",
) -> User:
    """Add a staff user (audited as ``staff.created``); the caller commits.

    ``password`` None makes an account that cannot sign in with a password (the demo
    administrator, signed in by a bootstrap token).
    """
    if not role.is_staff:
        raise AccountError(f"{role.label} is not a staff role")
    username = normalize_username(username)
    if not _USERNAME.match(username):
        raise AccountError(
            "username must be 1 to 120 characters: letters, digits and . _ @ + -, starting with a letter or digit"
        )
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    email = email.strip()
    if email and not _EMAIL.match(email):
        raise AccountError(f"not an email address: {email!r}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"a user named {username!r} already exists")
    user = User(
        username=username,
        email=email,
        display_name=display_name.strip() or username,
        role=role,
        state=UserState.ACTIVE,
    )
    session.add(user)
    session.flush()
    if password is not None:
        session.add(UserCredential(user_id=user.id, password_hash=hash_password(password)))
    record(
        session,
        actor_user_id=None,
        actor_name=actor,
        action="staff.created",
        entity_type="user",
        entity_id=user.id,
        details={"username": username, "role": role.value},
    )
    return user


def demo_admin(session: Session) -> User:
    """The demo Society Admin, created (without a password) if missing."""
    user = session.scalar(select(User).where(User.username == DEMO_ADMIN))
    if user is None:
        user = create_staff(
            session, DEMO_ADMIN, None, email=DEMO_ADMIN_EMAIL, display_name=DEMO_ADMIN_NAME, actor="server"
        )
    return user


def install_bootstrap_token(session: Session, token: str) -> User:
    """Let ``token`` sign in the demo administrator (it expires like any staff token).

    Idempotent: installing the same token again changes nothing. The caller commits.
    """
    if len(token) < MIN_BOOTSTRAP_TOKEN_LENGTH:
        raise AccountError(f"the bootstrap token must be at least {MIN_BOOTSTRAP_TOKEN_LENGTH} characters")
    user = demo_admin(session)
    if session.scalar(select(StaffToken.id).where(StaffToken.token_hash == token_digest(token))) is None:
        store_token(session, user, token)
    return user
