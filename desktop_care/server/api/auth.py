"""Staff sign-in: ``POST /auth/login`` (with "Remember me"), ``POST /auth/resume`` (a
remembered sign-in), ``GET /auth/me``, ``POST /auth/logout``."""

from __future__ import annotations

from fastapi import APIRouter, status

from desktop_care.models import record, utcnow
from desktop_care.schemas import LoginRequest, LoginResponse, LogoutRequest, ResumeRequest, StaffPublic

from ..deps import ClientAddress, CurrentSession, CurrentStaff, SessionDep
from ..errors import ERROR_RESPONSES
from ..on_behalf import end_for_staff_token
from ..security import IssuedToken, forget, resume, sign_in

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/login", operation_id="login", response_model=LoginResponse)
def login(body: LoginRequest, session: SessionDep, client: ClientAddress) -> LoginResponse:
    """Sign in with a staff username and password; returns a bearer token (and with
    ``remember``, a remembered sign-in for the workstation's keyring)."""
    return _answer(sign_in(session, body.username, body.password, client_address=client, remember=body.remember))


@router.post("/resume", operation_id="resumeSignIn", response_model=LoginResponse)
def resume_sign_in(body: ResumeRequest, session: SessionDep, client: ClientAddress) -> LoginResponse:
    """Sign in with this workstation's remembered sign-in: a new bearer token. 401 when
    it expired or was revoked, 403 when the user may no longer sign in."""
    return _answer(resume(session, body.remember_token, client_address=client))


def _answer(issued: IssuedToken) -> LoginResponse:
    remembered = issued.remembered
    return LoginResponse(
        access_token=issued.token,
        expires_at=issued.expires_at,
        user=StaffPublic.model_validate(issued.user),
        remember_token=remembered.token if remembered is not None else None,
        remember_expires_at=remembered.row.expires_at if remembered is not None else None,
    )


@router.get("/me", operation_id="getMe", response_model=StaffPublic)
def me(staff: CurrentStaff) -> StaffPublic:
    """The signed-in staff member."""
    return StaffPublic.model_validate(staff)


@router.post("/logout", operation_id="logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(current: CurrentSession, session: SessionDep, client: ClientAddress,
           body: LogoutRequest | None = None) -> None:
    """End this session: the token stops working at once, and so does every on-behalf
    session it opened; with ``remember_token``, so does this workstation's remembered
    sign-in."""
    current.token.revoked_at = utcnow()
    if body is not None and body.remember_token:
        forget(session, current.user.id, body.remember_token)
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
