"""Staff sign-in: ``POST /auth/login``, ``GET /auth/me``, ``POST /auth/logout``."""

from __future__ import annotations

from fastapi import APIRouter, status

from desktop_care.models import record, utcnow
from desktop_care.schemas import LoginRequest, LoginResponse, StaffPublic

from ..deps import ClientAddress, CurrentSession, CurrentStaff, SessionDep
from ..errors import ERROR_RESPONSES
from ..on_behalf import end_for_staff_token
from ..security import sign_in

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/login", operation_id="login", response_model=LoginResponse)
def login(body: LoginRequest, session: SessionDep, client: ClientAddress) -> LoginResponse:
    """Sign in with a staff username and password; returns a bearer token."""
    issued = sign_in(session, body.username, body.password, client_address=client)
    return LoginResponse(
        access_token=issued.token,
        expires_at=issued.expires_at,
        user=StaffPublic.model_validate(issued.user),
    )


@router.get("/me", operation_id="getMe", response_model=StaffPublic)
def me(staff: CurrentStaff) -> StaffPublic:
    """The signed-in staff member."""
    return StaffPublic.model_validate(staff)


@router.post("/logout", operation_id="logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(current: CurrentSession, session: SessionDep, client: ClientAddress) -> None:
    """End this session: the token stops working at once, and so does every on-behalf
    session it opened."""
    current.token.revoked_at = utcnow()
    end_for_staff_token(session, current.token.id, client_address=client)
    record(
        session,
        actor_user_id=current.user.id,
        actor_name=current.user.username,
        action="staff.logout",
        entity_type="user",
        entity_id=current.user.id,
        client_address=client,
    )
    session.commit()
