"""The REST API under ``/api/v1``: one router per resource."""

from fastapi import APIRouter

from . import auth, health, members

router = APIRouter()
router.include_router(health.router)
router.include_router(auth.router)
router.include_router(members.router)

__all__ = ["router"]
