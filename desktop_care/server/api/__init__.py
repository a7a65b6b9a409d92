"""The REST API under ``/api/v1``: one router per resource."""

from fastapi import APIRouter, Depends

from ..deps import known_query_only
from . import (
    accounts,
    animals,
    auth,
    bulk_invite,
    commands,
    courses,
    duplicates,
    fraud,
    health,
    ledger,
    member_activity,
    members,
    merges,
    on_behalf,
    orders,
    sync,
    sync_compact,
    tickets,
    timeline,
    users,
)

router = APIRouter(dependencies=[Depends(known_query_only)])
router.include_router(health.router)
router.include_router(auth.router)
router.include_router(duplicates.router)  # before members: no clash with /members/{member_id}
router.include_router(members.router)
router.include_router(merges.router)
router.include_router(member_activity.router)
router.include_router(timeline.router)
router.include_router(sync.router)
router.include_router(sync_compact.router)
router.include_router(commands.router)
router.include_router(accounts.router)
router.include_router(users.router)
router.include_router(on_behalf.router)
router.include_router(orders.router)
router.include_router(ledger.router)
router.include_router(bulk_invite.router)
router.include_router(tickets.router)
router.include_router(fraud.router)
router.include_router(courses.router)
router.include_router(animals.router)

__all__ = ["router"]
