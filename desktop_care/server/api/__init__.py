"""The REST API under ``/api/v1``: one router per resource."""

from fastapi import APIRouter

from . import auth, commands, health, members, sync

router = APIRouter()
router.include_router(health.router)
router.include_router(auth.router)
router.include_router(members.router)
router.include_router(sync.router)
router.include_router(commands.router)

__all__ = ["router"]
