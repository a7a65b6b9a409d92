"""Dependencies shared by the routers: one database session per request, and the
signed-in staff member."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.commands import Actor
from desktop_care.models import User
from desktop_care.models.base import MAX_ID

from .errors import FieldsInvalid
from .security import StaffSession, resolve_token

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/login")


_known_query: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> Iterator[str]:
    yield from (param.alias for param in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


async def known_query_only(request: Request) -> None:
    """422 for a query parameter the route does not declare: a typo (``limt=5``) is
    refused rather than silently ignored. Installed on every API route. ``async``
    because it never waits: a plain ``def`` would cost a hop to the thread pool on
    every request (decision 0027)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _known_query.get(id(route))
    if known is None:
        known = frozenset(_query_names(route.dependant))
        _known_query[id(route)] = known
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise FieldsInvalid(dict.fromkeys(unknown, "is not a parameter of this request"))


def get_session(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

# Ids in paths, bounded by their columns: a larger number is a 422, never a database error.
MemberId = Annotated[int, Path(ge=1, le=MAX_ID, description="The member's id")]
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id")]


def get_sessions(request: Request) -> sessionmaker[Session]:
    """The session factory, for routes that run their own transactions."""
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


Sessions = Annotated[sessionmaker[Session], Depends(get_sessions)]


def get_staff_session(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffSession:
    return resolve_token(session, credentials.credentials if credentials is not None else None)


CurrentSession = Annotated[StaffSession, Depends(get_staff_session)]


async def get_current_staff(staff_session: CurrentSession) -> User:  # no I/O: no thread hop
    return staff_session.user


CurrentStaff = Annotated[User, Depends(get_current_staff)]


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


ClientAddress = Annotated[str, Depends(client_address)]


def staff_actor(staff: User, client: str) -> Actor:
    """The actor of a staff request: the token's user and role, never the client's word."""
    return Actor(user_id=staff.id, username=staff.username, client_address=client, role=staff.role)
