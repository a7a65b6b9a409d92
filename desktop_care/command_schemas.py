"""The part of the REST contract that carries commands: the command batches and their
results, a portal invitation, the bulk-invite file and rows.

Apart from :mod:`desktop_care.schemas` because these need the command classes
(``desktop_care.commands``, the largest part of the shared core to load), which the
workstation's first screen does not: a start loads them after its first results
(docs/decisions/0044).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .commands import AnyCommand, CommandResult, QueueableCommand
from .commands.accounts import PortalRole
from .commands.base import JsonInt
from .commands.bulk_invite import MAX_CHUNK, MAX_FILE_BYTES, MAX_ROWS, Outcome, RowError
from .schemas import OnlineCommandIn, Schema


class CommandBatch(BaseModel):
    """``POST /sync/commands``: commands to run in order, each once (by op_id)."""

    commands: list[QueueableCommand] = Field(min_length=1, max_length=200)


class CommandRequest(BaseModel):
    """``POST /commands``: one command of any kind, run at once."""

    command: AnyCommand


class CommandBatchResult(Schema):
    results: list[CommandResult]


class InvitationIn(OnlineCommandIn):
    """``POST /members/{id}/invitations``: who to invite to the member's portal account."""

    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(min_length=1, max_length=200)
    role: PortalRole


# ---------------------------------------------------------------- bulk invite (decision 0015)

#: Base64 makes 4 characters of every 3 bytes.
MAX_BASE64 = (MAX_FILE_BYTES + 2) // 3 * 4


class BulkFileIn(BaseModel):
    """``POST /bulk-invitations/dry-run``: the CSV file as the person chose it."""

    model_config = ConfigDict(extra="forbid")
    filename: str = Field(default="", max_length=255, description="Shown back in messages only")
    content_base64: str = Field(min_length=1, max_length=MAX_BASE64,
                                description=f"The file's bytes, base64 (at most {MAX_FILE_BYTES} bytes)")


class BulkRowPlanOut(Schema):
    """What the run would do with one row. ``row``: its row number in a spreadsheet
    (the header is row 1)."""

    row: int
    member_id: str
    member_name: str
    email: str
    role: str
    name: str
    action: Literal["invite", "error"]
    error: RowError | None = None
    message: str


class BulkPlanOut(Schema):
    """The dry run: every row, and how the file was read."""

    filename: str
    encoding: str
    delimiter: str
    columns: list[str]
    total: int
    to_invite: int
    errors: int
    rows: list[BulkRowPlanOut]


class BulkRowIn(BaseModel):
    """One row to invite, as the dry run gave it back."""

    model_config = ConfigDict(extra="forbid")
    row: JsonInt = Field(ge=1, le=10 * MAX_ROWS)
    member_id: str = Field(max_length=40)
    email: str = Field(max_length=254)
    role: str = Field(max_length=40)
    name: str = Field(default="", max_length=200)


class BulkRunIn(BaseModel):
    """``POST /bulk-invitations/run``: one chunk of rows (one transaction)."""

    model_config = ConfigDict(extra="forbid")
    rows: list[BulkRowIn] = Field(min_length=1, max_length=MAX_CHUNK)


class BulkRowResultOut(Schema):
    row: int
    member_id: str
    email: str
    outcome: Outcome
    error: RowError | None = None
    message: str


class BulkRunOut(Schema):
    results: list[BulkRowResultOut]
