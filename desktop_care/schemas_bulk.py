"""The REST contract of bulk invite (``/api/v1/bulk-invitations``), beside
:mod:`desktop_care.schemas`: the file for the dry run, the rows of a run, and what
happens to each row."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .commands.base import JsonInt
from .commands.bulk_invite import MAX_CHUNK, MAX_FILE_BYTES, MAX_ROWS, Outcome, RowError
from .schemas import Schema

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
