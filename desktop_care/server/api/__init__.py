"""The REST API under ``/api/v1``: one router per resource."""

from fastapi import APIRouter, Depends

from ..deps import known_query_only
from . import auth, commands, health, members, sync

router = APIRouter(dependencies=[Depends(known_query_only)])
router.include_router(health.router)
router.include_router(auth.router)
router.include_router(members.router)
router.include_router(sync.router)
router.include_router(commands.router)

__all__ = ["router"]
