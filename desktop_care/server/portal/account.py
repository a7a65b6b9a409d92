"""The signed-in member's first page: "My account"."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .web import CurrentPortalUser, page

router = APIRouter()


@router.get("/account")
def my_account(request: Request, current: CurrentPortalUser) -> Response:
    return page(request, "account.html", user=current.user, member=current.member, title="My account",
                shown_name=current.shown_name, account_user=current.account_user)
