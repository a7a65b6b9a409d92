"""Tables only a workstation has (their own MetaData, never on the server).

The workstation's SQLite file also holds the shared entity tables (``member``,
``address``, ``member_search`` + ``member_fts``), written only with what the server
said; everything the workstation itself knows lives here:

- ``sync_state``: key/value (the feed cursor, the workstation id).
- ``outbox``: commands typed here and not yet answered by the server, in order.
- ``sync_issue``: commands the server refused (conflict or rejected), with both
  versions, until someone resolves them; resolved ones are kept with the resolution.
- ``cached_detail``: full member details fetched online (users, pending transactions).
- ``offline_credential``: argon2 verifiers of the last successful online sign-ins.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..models.base import NAMING_CONVENTION, UTCDateTime, utcnow


class LocalBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SyncState(LocalBase):
    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OutboxEntry(LocalBase):
    """One queued command; ``seq`` orders the queue (the order it was typed)."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    op_id: Mapped[str] = mapped_column(String(36), unique=True)
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AppliedChange(LocalBase):
    """A queued command the server applied, kept laid over the directory until the feed
    brings the member's row at ``member_version`` (the version it produced): until then
    the directory still holds the row from before it, and the old value would show."""

    __tablename__ = "applied_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    op_id: Mapped[str] = mapped_column(String(36), unique=True)
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    member_version: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SyncIssueRow(LocalBase):
    """A command the server did not apply: conflict or rejected, with both versions."""

    __tablename__ = "sync_issue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    op_id: Mapped[str] = mapped_column(String(36), unique=True)
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    member_no: Mapped[str] = mapped_column(String(20), default="")
    name: Mapped[str] = mapped_column(String(220), default="")
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    #: "conflict" or "rejected".
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    #: {"command": payload, "values": the previewed values of the fields it writes}.
    mine: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The server's values of those fields.
    theirs: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The member's version on the server when it answered.
    server_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: "keep_mine" | "take_theirs" | "edit" once resolved (never deleted).
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: The op_id of the command a keep_mine/edit resolution queued.
    resolved_op_id: Mapped[str | None] = mapped_column(String(36), default=None)


class CachedDetail(LocalBase):
    __tablename__ = "cached_detail"

    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``MemberDetail`` as JSON (users and pending transactions are what matter here).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OfflineCredential(LocalBase):
    __tablename__ = "offline_credential"

    server_url: Mapped[str] = mapped_column(String(300), primary_key=True)
    username: Mapped[str] = mapped_column(String(120), primary_key=True)
    #: argon2id hash of the password (never the password).
    verifier: Mapped[str] = mapped_column(Text)
    #: ``StaffPublic`` as JSON.
    staff: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


__all__ = ["CachedDetail", "LocalBase", "OfflineCredential", "OutboxEntry", "SyncIssueRow", "SyncState"]
