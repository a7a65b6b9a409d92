"""One registration per kind: the registry, role checks in ``execute``, user targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    Actor,
    AdjustPoints,
    NotPermitted,
    Rejected,
    Status,
    UserCommand,
    execute,
    kinds,
    parse_any,
    parse_command,
    register,
    registry,
)
from desktop_care.models import AuditEvent, PointsType, User, UserRole, UserState
from desktop_care.models.sync import ProcessedCommand
from tests.models.conftest import make_member

STAFF = Actor(user_id=None, username="staff.tester", role=UserRole.SOCIETY_STAFF)
ADMIN = Actor(user_id=None, username="admin.tester", role=UserRole.SOCIETY_ADMIN)
MEMBER_USER = Actor(user_id=None, username="portal.tester", role=UserRole.FULL)


class Rename(UserCommand):
    """A user command of the tests' own: admins only, refuses revoked users."""

    kind: Literal["test_rename_user"] = "test_rename_user"
    display_name: str

    action: ClassVar[str] = "user.test_rename"
    label: ClassVar[str] = "Rename user"
    required_role: ClassVar[UserRole] = UserRole.SOCIETY_ADMIN

    def check(self, user: User, actor: Actor) -> None:
        if user.state == UserState.REVOKED:
            raise Rejected("the user's access was revoked")

    def apply(self, session: Session, user: User, actor: Actor) -> dict[str, Any]:
        before, user.display_name = user.display_name, self.display_name
        return {"before": before, "after": self.display_name}


@pytest.fixture
def rename_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry._adapter.cache_clear()
    register(Rename)
    yield
    registry._adapter.cache_clear()


def make_user(session: Session, state: UserState = UserState.ACTIVE) -> User:
    user = User(username=f"u{id(object())}", role=UserRole.STANDARD, state=state, display_name="Old Name")
    session.add(user)
    session.flush()
    return user


def test_every_kind_declares_who_may_run_it_and_whether_it_can_wait() -> None:
    assert {"update_contact", "set_email_preference", "adjust_points"} <= set(kinds(queueable=True))
    for kind, cls in kinds().items():
        assert cls.label and cls.action, kind
        assert cls.required_role in (UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN), kind


def test_a_kind_cannot_be_registered_twice_or_without_its_declarations(rename_registered: None) -> None:
    class Again(Rename):
        kind: Literal["test_rename_user"] = "test_rename_user"

    with pytest.raises(registry.DuplicateKind):
        register(Again)

    class Nameless(UserCommand):
        kind: Literal["test_nameless"] = "test_nameless"

    with pytest.raises(TypeError, match="action and label"):
        register(Nameless)


def test_online_only_kinds_never_parse_as_queueable(rename_registered: None) -> None:
    payload = Rename(user_id=3, display_name="New").payload()
    assert isinstance(parse_any(payload), Rename)
    with pytest.raises(ValidationError, match="test_rename_user"):
        parse_command(payload)


def test_roles_are_checked_once_in_execute_and_nothing_is_stored(session: Session, rename_registered: None) -> None:
    user = make_user(session)
    command = Rename(user_id=user.id, display_name="New Name")
    with pytest.raises(NotPermitted, match="only a Society Admin"):
        execute(session, command, STAFF)
    assert session.get(ProcessedCommand, str(command.op_id)) is None
    assert user.display_name == "Old Name"

    member = make_member(session)
    with pytest.raises(NotPermitted):
        execute(session, AdjustPoints(member_id=member.id, delta=5, points_type=PointsType.BONUS,
                                      reason="not a staff member"), MEMBER_USER)

    assert execute(session, command, ADMIN).status == Status.APPLIED
    assert user.display_name == "New Name"
    again = execute(session, command, ADMIN)
    assert again.status == Status.DUPLICATE and again.original_status == Status.APPLIED


def test_a_user_command_is_audited_on_the_user_and_stored_under_its_target(
    session: Session, rename_registered: None
) -> None:
    user = make_user(session)
    command = Rename(user_id=user.id, display_name="Audited")
    execute(session, command, ADMIN)
    stored = session.get(ProcessedCommand, str(command.op_id))
    assert stored is not None and (stored.entity, stored.entity_id) == ("user", user.id)
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.test_rename")).one()
    assert (audit.entity_type, audit.entity_id, audit.actor_name) == ("user", str(user.id), "admin.tester")
    assert audit.details["before"] == "Old Name" and audit.details["after"] == "Audited"


def test_a_user_command_follows_the_rules_and_names_a_missing_user(session: Session, rename_registered: None) -> None:
    revoked = make_user(session, UserState.REVOKED)
    result = execute(session, Rename(user_id=revoked.id, display_name="X"), ADMIN)
    assert result.status == Status.REJECTED and "revoked" in result.reason
    missing = execute(session, Rename(user_id=987_654_321, display_name="X"), ADMIN)
    assert missing.status == Status.REJECTED and missing.reason == "no user with id 987654321"
