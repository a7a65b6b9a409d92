"""Member IDs are looked up normalised, like the query: IDs with letters ("M12376948")
were never found because the query is folded to lower case and the stored key was not.

Revision ID: 0010
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Member IDs are ASCII letters and digits, for which lower() is what normalize() does.
    op.execute("UPDATE member_search SET member_no = LOWER(member_no) WHERE member_no <> LOWER(member_no)")


def downgrade() -> None:
    op.execute(
        "UPDATE member_search SET member_no = (SELECT member.member_no FROM member WHERE member.id = member_search.member_id)"
    )
