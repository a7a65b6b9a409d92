"""``GET /health``: is the server up, and can it reach its database (no sign-in)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from desktop_care import __version__
from desktop_care.schemas import ErrorDetail, Health

from ..deps import SessionDep

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    operation_id="getHealth",
    response_model=Health,
    responses={503: {"model": ErrorDetail, "description": "The database is not available"}},
)
def health(session: SessionDep) -> Health:
    session.execute(select(1))
    return Health(status="ok", version=__version__, database=session.get_bind().dialect.name)
