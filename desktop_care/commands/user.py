"""Commands on a user's access: Revoke, Disable, Enable, Unlock, and a staff member's
tier (Society Staff <-> Society Admin). All online-only (users are not replicated).

Who may: any staff member for member and non-member users; a Society Admin when the
user is staff (``staff_target_role``, declared once here and read by the UI too). The
last active Society Admin cannot be revoked, disabled or demoted; the check holds
under concurrency because every change that could remove an active admin first takes
one lock (:func:`_lock_admins`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import field_validator
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..models import SignInThrottle, User, UserRole, UserState, clear_sign_in_throttle, end_sessions
from .base import Actor, NotPermitted, Rejected, UserCommand, role_permits
from .registry import register

#: PostgreSQL advisory lock key serialising changes that could remove an active admin.
_ADMIN_LOCK_KEY = 0x64630006
LAST_ADMIN = (
    "this is the last active Society Admin: make another staff member a Society Admin first, "
    "so that someone can still run the staff side"
)


def _lock_admins(session: Session) -> None:
    """Serialise every change that could leave no active Society Admin. SQLite's write
    transactions are serial already (``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADMIN_LOCK_KEY})


def _other_active_admins(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == UserRole.SOCIETY_ADMIN, User.state == UserState.ACTIVE, User.id != user.id)
    ) or 0


@dataclass(frozen=True)
class TargetFacts:
    """What the availability rules look at: the server builds it from the database,
    the UI from the row it shows, so both apply the same rules."""

    role: UserRole
    state: UserState
    #: Failed sign-ins are on record (whether or not they block right now).
    has_failures: bool
    #: The user is the one running the command.
    is_self: bool
    name: str = ""


def facts_of(user: User, actor: Actor) -> TargetFacts:
    session = Session.object_session(user)
    assert session is not None
    return TargetFacts(
        role=user.role,
        state=user.state,
        has_failures=session.get(SignInThrottle, user.username, populate_existing=True) is not None,
        is_self=actor.user_id == user.id,
        name=user.display_name or user.username,
    )


class AccessCommand(UserCommand):
    """A command on a user's access. Any staff member may run it on member and
    non-member users; on staff, only a ``staff_target_role``."""

    required_role: ClassVar[UserRole] = UserRole.SOCIETY_STAFF
    #: The least tier that may run it when the user is staff.
    staff_target_role: ClassVar[UserRole] = UserRole.SOCIETY_ADMIN
    #: Whether it may take away an active Society Admin (then the last one is kept).
    removes_admin: ClassVar[bool] = False

    @classmethod
    def refusal_for(cls, role: UserRole | None, target_role: UserRole) -> str | None:
        """Why a user of ``role`` may not run this on a user of ``target_role``."""
        reason = cls.refusal(role)
        if reason is None and target_role.is_staff and not role_permits(role, cls.staff_target_role):
            reason = f"{cls.label}: only a {cls.staff_target_role.label} may do this to staff"
        return reason

    @classmethod
    def unavailable(cls, target: TargetFacts) -> str | None:
        """Why this cannot apply to such a user now, in plain words (None if it can)."""
        return None

    def check(self, user: User, actor: Actor) -> None:
        reason = self.refusal_for(actor.role, user.role)
        if reason is not None:
            raise NotPermitted(reason)
        reason = self.unavailable_for(facts_of(user, actor))
        if reason is not None:
            raise Rejected(reason)
        if self.removes_admin and user.role == UserRole.SOCIETY_ADMIN and user.state == UserState.ACTIVE:
            session = Session.object_session(user)
            assert session is not None
            _lock_admins(session)
            if _other_active_admins(session, user) == 0:
                raise Rejected(LAST_ADMIN)

    def unavailable_for(self, target: TargetFacts) -> str | None:
        """:meth:`unavailable`, for rules that also look at the command's payload."""
        return self.unavailable(target)


def _yourself(target: TargetFacts, what: str) -> str | None:
    if target.is_self:
        return f"you cannot {what} your own account; ask another Society Admin"
    return None


def _shut_out(session: Session, user: User, state: UserState) -> dict[str, Any]:
    """Revoke's and Disable's effect: the new state, every session ended; the audit details."""
    before = user.state
    user.state = state
    ended = end_sessions(session, user.id)
    return {"before": before.value, "after": state.value, "sessions_ended": ended}


@register
class RevokeUser(AccessCommand):
    """Block sign-in for good and end every session; the user must be invited again."""

    kind: Literal["revoke_user"] = "revoke_user"
    action: ClassVar[str] = "user.revoke"
    label: ClassVar[str] = "Revoke access"
    removes_admin: ClassVar[bool] = True

    @classmethod
    def unavailable(cls, target: TargetFacts) -> str | None:
        if target.state == UserState.REVOKED:
            return "access for this account is already revoked"
        return _yourself(target, "revoke")

    def apply(self, session: Session, user: User, actor: Actor) -> dict[str, Any]:
        details = _shut_out(session, user, UserState.REVOKED)
        clear_sign_in_throttle(session, user.username)
        return details


@register
class DisableUser(AccessCommand):
    """Stop an active account from signing in (sessions end); Enable undoes it."""

    kind: Literal["disable_user"] = "disable_user"
    action: ClassVar[str] = "user.disable"
    label: ClassVar[str] = "Disable account"
    removes_admin: ClassVar[bool] = True

    @classmethod
    def unavailable(cls, target: TargetFacts) -> str | None:
        if target.state != UserState.ACTIVE:
            return f"only an active account can be disabled; this one is {target.state.label.lower()}"
        return _yourself(target, "disable")

    def apply(self, session: Session, user: User, actor: Actor) -> dict[str, Any]:
        return _shut_out(session, user, UserState.DISABLED)


def _throttle_details(row: SignInThrottle | None) -> dict[str, Any]:
    if row is None:
        return {"failed_sign_ins": 0}
    return {
        "failed_sign_ins": row.failures,
        "locked_until": row.blocked_until.isoformat() if row.blocked_until is not None else None,
    }


@register
class EnableUser(AccessCommand):
    """Let a disabled or locked account sign in again (the HCL manual's "Enable
    customer's account"): active, with its failed sign-ins forgotten."""

    kind: Literal["enable_user"] = "enable_user"
    action: ClassVar[str] = "user.enable"
    label: ClassVar[str] = "Enable account"

    @classmethod
    def unavailable(cls, target: TargetFacts) -> str | None:
        if target.state == UserState.REVOKED:
            return "access for this account was revoked; invite the person again instead"
        if target.state == UserState.INVITED:
            return "this account is not activated yet: the invitation must be accepted first"
        if target.state == UserState.ACTIVE and not target.has_failures:
            return "this account is already enabled and not locked"
        return None

    def apply(self, session: Session, user: User, actor: Actor) -> dict[str, Any]:
        before = user.state
        user.state = UserState.ACTIVE
        cleared = clear_sign_in_throttle(session, user.username)
        return {"before": before.value, "after": user.state.value, **_throttle_details(cleared)}


@register
class UnlockUser(AccessCommand):
    """Forget an account's failed sign-ins, so it may sign in again at once."""

    kind: Literal["unlock_user"] = "unlock_user"
    action: ClassVar[str] = "user.unlock"
    label: ClassVar[str] = "Unlock sign-in"

    @classmethod
    def unavailable(cls, target: TargetFacts) -> str | None:
        if not target.has_failures:
            return "this account has no failed sign-ins to clear"
        return None

    def apply(self, session: Session, user: User, actor: Actor) -> dict[str, Any]:
        return _throttle_details(clear_sign_in_throttle(session, user.username))


@register
class ChangeStaffRole(AccessCommand):
    """Move a staff member between the tiers: Society Staff <-> Society Admin."""

    kind: Literal["change_staff_role"] = "change_staff_role"
    #: The new tier: Society Admin or Society Staff.
    role: UserRole

    @field_validator("role")
    @classmethod
    def _staff_role(cls, value: UserRole) -> UserRole:
        if not value.is_staff:
            raise ValueError("must be society_admin or society_staff")
        return value
    action: ClassVar[str] = "user.change_role"
    label: ClassVar[str] = "Change staff role"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_ADMIN

    @classmethod
    def unavailable(cls, target: TargetFacts) -> str | None:
        if not target.role.is_staff:
            return f"{target.role.label} users are not staff: only staff have a staff role"
        if target.state == UserState.REVOKED:
            return "access for this account is revoked; invite the person again instead"
        return None

    def unavailable_for(self, target: TargetFacts) -> str | None:
        if target.role == self.role:
            return f"{target.name} is already a {self.role.label}"
        return self.unavailable(target)

    def check(self, user: User, actor: Actor) -> None:
        super().check(user, actor)
        if user.role == UserRole.SOCIETY_ADMIN and user.state == UserState.ACTIVE:
            session = Session.object_session(user)
            assert session is not None
            _lock_admins(session)
            if _other_active_admins(session, user) == 0:
                raise Rejected(LAST_ADMIN)

    def apply(self, session: Session, user: User, actor: Actor) -> dict[str, Any]:
        before = user.role
        user.role = self.role
        return {"before": before.value, "after": user.role.value}

    def summary(self) -> str:
        return f"Make {self.role.label}"
